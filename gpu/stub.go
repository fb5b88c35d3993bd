//go:build !linux || !cgo

package gpu

import (
	"image"

	"github.com/quantfit/quantfit/kernels"
)

// Device is unavailable in this build.
type Device struct{}

// Evaluator is unavailable in this build.
type Evaluator struct{}

// Open reports that this build has no GPU support.
func Open(Options) (*Device, error) { return nil, ErrUnavailable }

func (d *Device) Info() Info { return Info{} }
func (d *Device) Close()     {}
func (d *Device) NewEvaluator(kernels.Samples, kernels.Config) (*Evaluator, error) {
	return nil, ErrUnavailable
}
func (d *Device) NewEvaluator8(x, t []uint8, cfg kernels.Config) (*Evaluator, error) {
	return nil, ErrUnavailable
}
func (d *Device) NewWeightedEvaluator(*kernels.Weighted, kernels.Config) (*Evaluator, error) {
	return nil, ErrUnavailable
}
func (d *Device) Histogram(x, t []uint8) (*kernels.Histogram, error) { return nil, ErrUnavailable }
func (e *Evaluator) LossGrad(p, grad []float64) float64              { return 0 }
func (e *Evaluator) Loss(b float64) float64                          { return 0 }
func (e *Evaluator) Losses(bs, out []float64)                        {}
func (e *Evaluator) SetConfig(kernels.Config) error                  { return ErrUnavailable }
func (e *Evaluator) Config() kernels.Config                          { return kernels.Config{} }
func (e *Evaluator) Total() float64                                  { return 0 }
func (e *Evaluator) Err() error                                      { return ErrUnavailable }
func (e *Evaluator) Close()                                          {}
func (d *Device) CopyBandwidth(size, repeat int) (float64, error)    { return 0, ErrUnavailable }

// StackEvaluator is unavailable in this build.
type StackEvaluator struct{}

func (d *Device) NewStackEvaluator8(*kernels.Stack, []uint8, []uint8) (*StackEvaluator, error) {
	return nil, ErrUnavailable
}
func (d *Device) NewStackEvaluatorWeighted(*kernels.Stack, *kernels.Weighted) (*StackEvaluator, error) {
	return nil, ErrUnavailable
}
func (e *StackEvaluator) LossGrad(p, grad []float64) float64 { return 0 }
func (e *StackEvaluator) Loss(p []float64) float64           { return 0 }
func (e *StackEvaluator) Err() error                         { return ErrUnavailable }
func (e *StackEvaluator) Close()                             {}

// ImageEvaluator is unavailable in this build.
type ImageEvaluator struct{}

func (d *Device) NewImageEvaluator(*kernels.Stack, []kernels.Planes, []kernels.Planes) (*ImageEvaluator, error) {
	return nil, ErrUnavailable
}
func (e *ImageEvaluator) LossGrad(p, grad []float64) float64 { return 0 }
func (e *ImageEvaluator) Loss(p []float64) float64           { return 0 }
func (e *ImageEvaluator) CellSums([]float64, kernels.Cells, []float64, []float64) float64 {
	return 0
}
func (e *ImageEvaluator) Err() error                           { return ErrUnavailable }
func (e *ImageEvaluator) SetInteriors([]image.Rectangle) error { return ErrUnavailable }
func (e *ImageEvaluator) Close()                               {}

// Restorer is unavailable in this build.
type Restorer struct{}

func (d *Device) NewRestorer(*kernels.Restoration) (*Restorer, error) { return nil, ErrUnavailable }
func (r *Restorer) Step(kernels.StepConsts)                           {}
func (r *Restorer) Energy() float64                                   { return 0 }
func (r *Restorer) Image() [][]float32                                { return nil }
func (r *Restorer) Err() error                                        { return ErrUnavailable }
func (r *Restorer) Close()                                            {}

// Look is unavailable in this build.
type Look struct{}

func (d *Device) NewLook(*kernels.LookData) (*Look, error) { return nil, ErrUnavailable }
func (l *Look) Targets(*kernels.LookStack)                 {}
func (l *Look) CurveSystems([]kernels.Curve, [][4]float64, *kernels.Lattice) []*kernels.CurveSystem {
	return nil
}
func (l *Look) LatticeRHS(int, []kernels.Curve) []float64 { return nil }
func (l *Look) T() [3][]float32                           { return [3][]float32{} }
func (l *Look) Err() error                                { return ErrUnavailable }
func (l *Look) Close()                                    {}

func (d *Device) Contours([]int32, []int32, int, int) (kernels.Contours, error) {
	return kernels.Contours{}, ErrUnavailable
}
