package estimate

import (
	"image"

	"github.com/quantfit/quantfit/kernels"
)

// Evaluator is what the strategies evaluate: package kernels' on the CPU,
// package gpu's on the GPU (wired by package gpu/backend: nothing in host/
// imports package gpu).
type Evaluator interface {
	LossGrad(p, grad []float64) float64
	Losses(bs, out []float64)
	Loss(b float64) float64
	SetConfig(kernels.Config) error
	Config() kernels.Config
	// Err reports a failure after which results are NaN (a lost GPU).
	Err() error
}

var _ Evaluator = (*kernels.Evaluator)(nil)

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
	// Images evaluates a spatial stack over pairs of whole images.
	Images(st *kernels.Stack, xs, ts []kernels.Planes) (ImageEvaluator, string, error)
}

// StackEvaluator is what a stack fit evaluates.
type StackEvaluator interface {
	LossGrad(p, grad []float64) float64
	Loss(p []float64) float64
	Err() error
}

var _ StackEvaluator = (*kernels.StackEvaluator)(nil)

// ImageEvaluator is what the fit of a spatial stack evaluates: the loss
// and gradient, and the quantization cells' sums (kernels.Cells).
type ImageEvaluator interface {
	StackEvaluator
	CellSums(p []float64, cells kernels.Cells, jtj, jtr []float64) float64
	// SetInteriors restricts the sums to a rectangle of each pair (tiles
	// with a border), nil to the whole images.
	SetInteriors(rs []image.Rectangle) error
}

var _ ImageEvaluator = (*kernels.ImageEvaluator)(nil)

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

// Images implements Backend.
func (CPU) Images(st *kernels.Stack, xs, ts []kernels.Planes) (ImageEvaluator, string, error) {
	e, err := kernels.NewImageEvaluator(st, xs, ts)
	return e, "cpu", err
}

// Retrier is a Backend that would rather have an estimation run again on
// the CPU than fail when its device fails midway (a lost GPU gives NaNs,
// never a wrong answer). RetryOnCPU says so, and tells the user.
type Retrier interface {
	RetryOnCPU(err error) bool
}

func retryOnCPU(be Backend, err error) bool {
	r, ok := be.(Retrier)
	return ok && r.RetryOnCPU(err)
}

// closer is implemented by evaluators that hold resources (GPU buffers).
type closer interface{ Close() }

func closeEvaluator(e Evaluator) {
	if c, ok := e.(closer); ok && e != nil {
		c.Close()
	}
}
