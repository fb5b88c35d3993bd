// Package backend puts package gpu behind estimate.Backend, so that the
// estimation code in host/ sees a GPU only through that interface and the
// program that wires them (cmd/quantfit, bench) chooses.
//
// Under "auto" the device is opened lazily, on the first evaluator that
// would run there: an 8-bit estimate in histogram mode never pays the
// probe for a GPU (tens of milliseconds of driver loading when there is
// none).
package backend

import (
	"fmt"
	"io"
	"sync"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/kernels"
)

var (
	_ estimate.Evaluator      = (*gpu.Evaluator)(nil)
	_ estimate.StackEvaluator = (*gpu.StackEvaluator)(nil)
	_ estimate.ImageEvaluator = (*gpu.ImageEvaluator)(nil)
	_ estimate.Backend        = (*GPU)(nil)
	_ estimate.Backend        = (*Auto)(nil)
	_ estimate.Retrier        = (*GPU)(nil)
	_ estimate.Retrier        = (*Auto)(nil)
)

// MinSamples is the size below which Auto keeps data on the CPU, where a
// step costs less than one GPU round trip: histogram mode's few hundred
// groups.
const MinSamples = 1 << 16

// Open returns the backend named by name: "cpu", "gpu" (opened now, any
// OpenGL 4.3 context, software renderers included; its failure is
// returned) or "auto" (a hardware GPU opened on first need, else the
// CPU). release frees what it opened.
func Open(name string, o gpu.Options, warn io.Writer) (be estimate.Backend, release func(), err error) {
	switch name {
	case "cpu":
		return estimate.CPU{}, func() {}, nil
	case "gpu":
		o.AllowSoftware = true
		d, err := gpu.Open(o)
		if err != nil {
			return nil, func() {}, err
		}
		return &GPU{Device: d}, d.Close, nil
	case "auto":
		a := &Auto{Options: o, Warn: warn}
		return a, a.Close, nil
	}
	return nil, func() {}, fmt.Errorf("backend: unknown backend %q (want auto, cpu or gpu)", name)
}

// GPU is the backend of an open device.
type GPU struct {
	Device *gpu.Device
	// MinSamples sends data of fewer samples (or groups) to the CPU. 0
	// puts everything on the GPU.
	MinSamples int
	// Fallback, if set, runs on the CPU what the GPU cannot (a shader this
	// driver rejects, an upload over its memory), after a line to Warn.
	Fallback bool
	Warn     io.Writer
}

// Name implements estimate.Backend.
func (g *GPU) Name() string { return "gpu" }

// Renderer implements estimate.Backend.
func (g *GPU) Renderer() string { return g.Device.Info().Renderer }

// Pixels implements estimate.Backend.
func (g *GPU) Pixels(s kernels.Samples, x8, t8 []uint8, cfg kernels.Config) (estimate.Evaluator, string, error) {
	if pixelCount(s, x8) < g.MinSamples {
		return estimate.CPU{}.Pixels(s, x8, t8, cfg)
	}
	var e *gpu.Evaluator
	var err error
	if x8 != nil {
		e, err = g.Device.NewEvaluator8(x8, t8, cfg)
	} else {
		e, err = g.Device.NewEvaluator(s, cfg)
	}
	if err != nil {
		return fallback(g, err, func() (estimate.Evaluator, string, error) { return estimate.CPU{}.Pixels(s, x8, t8, cfg) })
	}
	return e, "gpu", nil
}

// Weighted implements estimate.Backend.
func (g *GPU) Weighted(w *kernels.Weighted, cfg kernels.Config) (estimate.Evaluator, string, error) {
	if w.Len() < g.MinSamples {
		return estimate.CPU{}.Weighted(w, cfg)
	}
	e, err := g.Device.NewWeightedEvaluator(w, cfg)
	if err != nil {
		return fallback(g, err, func() (estimate.Evaluator, string, error) { return estimate.CPU{}.Weighted(w, cfg) })
	}
	return e, "gpu", nil
}

// Stack implements estimate.Backend.
func (g *GPU) Stack(st *kernels.Stack, w *kernels.Weighted) (estimate.StackEvaluator, string, error) {
	if w.Len() < g.MinSamples {
		return estimate.CPU{}.Stack(st, w)
	}
	e, err := g.Device.NewStackEvaluatorWeighted(st, w)
	if err != nil {
		return fallback(g, err, func() (estimate.StackEvaluator, string, error) { return estimate.CPU{}.Stack(st, w) })
	}
	return e, "gpu", nil
}

// Images implements estimate.Backend.
func (g *GPU) Images(st *kernels.Stack, xs, ts []kernels.Planes) (estimate.ImageEvaluator, string, error) {
	if samples(xs) < g.MinSamples {
		return estimate.CPU{}.Images(st, xs, ts)
	}
	e, err := g.Device.NewImageEvaluator(st, xs, ts)
	if err != nil {
		return fallback(g, err, func() (estimate.ImageEvaluator, string, error) { return estimate.CPU{}.Images(st, xs, ts) })
	}
	return e, "gpu", nil
}

// samples counts the samples of images.
func samples(xs []kernels.Planes) int {
	n := 0
	for _, x := range xs {
		n += x.W * x.H * len(x.C)
	}
	return n
}

// RetryOnCPU implements estimate.Retrier.
func (g *GPU) RetryOnCPU(err error) bool {
	if g.Fallback && g.Warn != nil {
		fmt.Fprintf(g.Warn, "quantfit: %v; running again on the CPU\n", err)
	}
	return g.Fallback
}

func fallback[E any](g *GPU, err error, cpu func() (E, string, error)) (E, string, error) {
	if !g.Fallback {
		var zero E
		return zero, "", err
	}
	if g.Warn != nil {
		fmt.Fprintf(g.Warn, "quantfit: %v; running on the CPU\n", err)
	}
	return cpu()
}

func pixelCount(s kernels.Samples, x8 []uint8) int {
	if x8 != nil {
		return len(x8)
	}
	return s.Len()
}

// Auto is the default backend: data of MinSamples or more go to a
// hardware GPU, opened when they first come; everything else, and
// everything when there is no such GPU, runs on the CPU.
type Auto struct {
	Options gpu.Options
	// Warn receives one line when no GPU could be opened, and one for
	// each evaluator the GPU could not make.
	Warn io.Writer

	mu     sync.Mutex
	tried  bool
	gpu    *GPU
	closed bool
}

// device opens the GPU on the first call; nil if there is none.
func (a *Auto) device() *GPU {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tried || a.closed {
		return a.gpu
	}
	a.tried = true
	o := a.Options
	o.AllowSoftware = false
	d, err := gpu.Open(o)
	if err != nil {
		if a.Warn != nil {
			fmt.Fprintln(a.Warn, "quantfit: no hardware GPU with OpenGL 4.3 compute shaders; using the CPU (-backend gpu accepts a software renderer)")
		}
		return nil
	}
	a.gpu = &GPU{Device: d, MinSamples: MinSamples, Fallback: true, Warn: a.Warn}
	return a.gpu
}

// Opened reports whether a GPU has been opened, without opening one.
func (a *Auto) Opened() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gpu != nil
}

// Name implements estimate.Backend: "gpu" once a GPU is open, else "cpu".
// It opens none: a service that wants to know asks Probe first.
func (a *Auto) Name() string {
	if a.Opened() {
		return "gpu"
	}
	return "cpu"
}

// Probe opens the GPU now if there is one, for a long-running program
// that would rather know at start.
func (a *Auto) Probe() { a.device() }

// Renderer implements estimate.Backend.
func (a *Auto) Renderer() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gpu == nil {
		return ""
	}
	return a.gpu.Renderer()
}

// Pixels implements estimate.Backend.
func (a *Auto) Pixels(s kernels.Samples, x8, t8 []uint8, cfg kernels.Config) (estimate.Evaluator, string, error) {
	if pixelCount(s, x8) >= MinSamples {
		if g := a.device(); g != nil {
			return g.Pixels(s, x8, t8, cfg)
		}
	}
	return estimate.CPU{}.Pixels(s, x8, t8, cfg)
}

// Weighted implements estimate.Backend.
func (a *Auto) Weighted(w *kernels.Weighted, cfg kernels.Config) (estimate.Evaluator, string, error) {
	if w.Len() >= MinSamples {
		if g := a.device(); g != nil {
			return g.Weighted(w, cfg)
		}
	}
	return estimate.CPU{}.Weighted(w, cfg)
}

// Stack implements estimate.Backend.
func (a *Auto) Stack(st *kernels.Stack, w *kernels.Weighted) (estimate.StackEvaluator, string, error) {
	if w.Len() >= MinSamples {
		if g := a.device(); g != nil {
			return g.Stack(st, w)
		}
	}
	return estimate.CPU{}.Stack(st, w)
}

// Images implements estimate.Backend.
func (a *Auto) Images(st *kernels.Stack, xs, ts []kernels.Planes) (estimate.ImageEvaluator, string, error) {
	if samples(xs) >= MinSamples {
		if g := a.device(); g != nil {
			return g.Images(st, xs, ts)
		}
	}
	return estimate.CPU{}.Images(st, xs, ts)
}

// RetryOnCPU implements estimate.Retrier: always, after a line to Warn.
func (a *Auto) RetryOnCPU(err error) bool {
	if a.Warn != nil {
		fmt.Fprintf(a.Warn, "quantfit: %v; running again on the CPU\n", err)
	}
	return true
}

// Close releases the GPU if one was opened; later evaluators run on the
// CPU.
func (a *Auto) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.gpu != nil {
		a.gpu.Device.Close()
		a.gpu = nil
	}
}
