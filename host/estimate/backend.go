package estimate

import (
	"fmt"
	"io"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/kernels"
)

// Evaluator is what the strategies evaluate: package kernels' on the CPU,
// package gpu's on the GPU.
type Evaluator interface {
	LossGrad(p, grad []float64) float64
	Losses(bs, out []float64)
	Loss(b float64) float64
	SetConfig(kernels.Config) error
	Config() kernels.Config
	// Err reports a failure after which results are NaN (a lost GPU).
	Err() error
}

var (
	_ Evaluator = (*kernels.Evaluator)(nil)
	_ Evaluator = (*gpu.Evaluator)(nil)
)

// Backend makes the evaluators of an estimation.
type Backend interface {
	// Name is "cpu" or "gpu".
	Name() string
	// Renderer names the device: the GL renderer of a GPU.
	Renderer() string
	// Pixels evaluates per-pixel data: 8-bit pairs if x8 is set, else s.
	Pixels(s kernels.Samples, x8, t8 []uint8, cfg kernels.Config) (Evaluator, string, error)
	// Weighted evaluates grouped data.
	Weighted(w *kernels.Weighted, cfg kernels.Config) (Evaluator, string, error)
	// Stack evaluates a stack of operators over grouped data.
	Stack(st *kernels.Stack, w *kernels.Weighted) (StackEvaluator, string, error)
}

// StackEvaluator is what a stack fit evaluates.
type StackEvaluator interface {
	LossGrad(p, grad []float64) float64
	Loss(p []float64) float64
	Err() error
}

var (
	_ StackEvaluator = (*kernels.StackEvaluator)(nil)
	_ StackEvaluator = (*gpu.StackEvaluator)(nil)
)

// CPU is the backend of package kernels.
type CPU struct{}

// Name implements Backend.
func (CPU) Name() string { return "cpu" }

// Renderer implements Backend.
func (CPU) Renderer() string { return "" }

// Pixels implements Backend.
func (CPU) Pixels(s kernels.Samples, _, _ []uint8, cfg kernels.Config) (Evaluator, string, error) {
	e, err := kernels.NewEvaluator(s, cfg)
	return e, "cpu", err
}

// Weighted implements Backend.
func (CPU) Weighted(w *kernels.Weighted, cfg kernels.Config) (Evaluator, string, error) {
	e, err := kernels.NewWeightedEvaluator(w, cfg)
	return e, "cpu", err
}

// Stack implements Backend.
func (CPU) Stack(st *kernels.Stack, w *kernels.Weighted) (StackEvaluator, string, error) {
	e, err := kernels.NewStackEvaluator(st, w)
	return e, "cpu", err
}

// GPU is the backend of package gpu.
type GPU struct {
	Device *gpu.Device
	// MinSamples sends data of fewer samples (or groups) to the CPU, where
	// a step costs less than one GPU round trip: histogram mode's few
	// hundred groups. 0 puts everything on the GPU.
	MinSamples int
	// Fallback, if set, runs on the CPU what the GPU cannot (a shader this
	// driver rejects, an upload over its memory), after a line to Warn.
	Fallback bool
	Warn     io.Writer
}

// Name implements Backend.
func (g *GPU) Name() string { return "gpu" }

// Renderer implements Backend.
func (g *GPU) Renderer() string { return g.Device.Info().Renderer }

// Pixels implements Backend.
func (g *GPU) Pixels(s kernels.Samples, x8, t8 []uint8, cfg kernels.Config) (Evaluator, string, error) {
	n := s.Len()
	if x8 != nil {
		n = len(x8)
	}
	if n < g.MinSamples {
		return CPU{}.Pixels(s, x8, t8, cfg)
	}
	var e *gpu.Evaluator
	var err error
	if x8 != nil {
		e, err = g.Device.NewEvaluator8(x8, t8, cfg)
	} else {
		e, err = g.Device.NewEvaluator(s, cfg)
	}
	if err != nil {
		return g.fallback(err, func() (Evaluator, string, error) { return CPU{}.Pixels(s, x8, t8, cfg) })
	}
	return e, "gpu", nil
}

// Weighted implements Backend.
func (g *GPU) Weighted(w *kernels.Weighted, cfg kernels.Config) (Evaluator, string, error) {
	if w.Len() < g.MinSamples {
		return CPU{}.Weighted(w, cfg)
	}
	e, err := g.Device.NewWeightedEvaluator(w, cfg)
	if err != nil {
		return g.fallback(err, func() (Evaluator, string, error) { return CPU{}.Weighted(w, cfg) })
	}
	return e, "gpu", nil
}

// Stack implements Backend.
func (g *GPU) Stack(st *kernels.Stack, w *kernels.Weighted) (StackEvaluator, string, error) {
	if w.Len() < g.MinSamples {
		return CPU{}.Stack(st, w)
	}
	e, err := g.Device.NewStackEvaluatorWeighted(st, w)
	if err != nil {
		if !g.Fallback {
			return nil, "", err
		}
		if g.Warn != nil {
			fmt.Fprintf(g.Warn, "quantfit: %v; running on the CPU\n", err)
		}
		return CPU{}.Stack(st, w)
	}
	return e, "gpu", nil
}

func (g *GPU) fallback(err error, cpu func() (Evaluator, string, error)) (Evaluator, string, error) {
	if !g.Fallback {
		return nil, "", err
	}
	if g.Warn != nil {
		fmt.Fprintf(g.Warn, "quantfit: %v; running on the CPU\n", err)
	}
	return cpu()
}

// closer is implemented by evaluators that hold resources (GPU buffers).
type closer interface{ Close() }

func closeEvaluator(e Evaluator) {
	if c, ok := e.(closer); ok && e != nil {
		c.Close()
	}
}
