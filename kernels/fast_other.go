//go:build !amd64 || purego

package kernels

// fast32 has no assembly on this platform: the Go loops run.
func (e *Evaluator) fast32(xs, ts []float32) (loss, grad float64, ok bool) { return 0, 0, false }

// fast64 has no assembly on this platform: the Go loops run.
func (e *Evaluator) fast64(xs, ts, ws []float64) (loss, grad float64, ok bool) { return 0, 0, false }
