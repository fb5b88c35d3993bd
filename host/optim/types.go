package optim

import (
	"errors"
	"fmt"
	"time"
)

// Problem is the function to minimize.
type Problem struct {
	// LossGrad returns the loss at x and writes its gradient (or a
	// surrogate of it) into grad. Required unless mini-batches are given.
	LossGrad func(grad, x []float64) float64

	// BatchLossGrad, with NumBatches > 1, evaluates mini-batch batch of
	// epoch epoch instead of the full data; the caller reshuffles per epoch.
	BatchLossGrad func(grad, x []float64, epoch, batch int) float64
	// NumBatches is the number of mini-batches per epoch; 0 or 1 means
	// full-batch gradient descent through LossGrad.
	NumBatches int
	// Loss, if set, is the full-data loss used to rank points and for early
	// stopping under mini-batches, evaluated once per epoch. Under full
	// batch the value LossGrad returns is used.
	Loss func(x []float64) float64
}

// Settings holds the limits and options of a run. Zero values mean the
// defaults documented per field.
type Settings struct {
	// Steps is the number of updates. Default 500.
	Steps int
	// LearningRate is the base step size. Default: the method's
	// DefaultLearningRate.
	LearningRate float64
	// Schedule scales the learning rate per step. Default Constant.
	Schedule Schedule
	// Noise is η of annealed Gaussian gradient noise: each gradient gets
	// noise of variance η/(1+t)^NoiseDecay added. Default 0, none.
	Noise float64
	// NoiseDecay is the decay exponent of the noise variance. Default 0.55.
	NoiseDecay float64
	// Patience stops the run when the loss has not improved by more than
	// Tolerance for this many consecutive steps (epochs under mini-batch).
	// Default 0, never.
	Patience int
	// Tolerance is the improvement that resets patience. Default 0.
	Tolerance float64
	// GradientThreshold stops the run when every |gradient| component is at
	// most this. Default 0, never.
	GradientThreshold float64
	// Lower and Upper, if set, bound x: every update is projected onto the
	// box. Their lengths must equal len(x).
	Lower, Upper []float64
	// Seed seeds the gradient noise. Runs with equal seeds are equal.
	Seed uint64
	// Recorder, if set, sees every step.
	Recorder Recorder
}

// Step is what a Recorder sees: the point before the update, its loss and
// gradient, and the learning rate of the update.
type Step struct {
	Step         int
	X, Grad      []float64
	Loss, LR     float64
	Epoch, Batch int
}

// Recorder records the progress of a run. Slices in Step are reused: copy
// what must outlive the call.
type Recorder interface {
	Record(Step) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(Step) error

// Record calls f.
func (f RecorderFunc) Record(s Step) error { return f(s) }

// Status says why a run ended.
type Status int

const (
	// IterationLimit: all Steps were taken.
	IterationLimit Status = iota
	// EarlyStop: the loss stopped improving for Patience steps.
	EarlyStop
	// GradientThreshold: the gradient fell under the threshold.
	GradientThresholdReached
)

func (s Status) String() string {
	switch s {
	case IterationLimit:
		return "iteration limit"
	case EarlyStop:
		return "early stop"
	case GradientThresholdReached:
		return "gradient threshold"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Stats counts the work of a run.
type Stats struct {
	Steps       int
	Evaluations int // calls of LossGrad, BatchLossGrad and Loss
	Runtime     time.Duration
}

// Result is the outcome of a run: the best point seen, its loss, the last
// point, why the run ended and what it cost.
type Result struct {
	X      []float64
	F      float64
	Last   []float64
	Status Status
	Stats
}

// Method is a first-order update rule.
type Method interface {
	// Init prepares the method's state for dim parameters.
	Init(dim int)
	// Update moves x against the gradient with learning rate lr.
	Update(x, grad []float64, lr float64)
	// DefaultLearningRate is the rate used when Settings leaves it zero.
	DefaultLearningRate() float64
}

var errNoLossGrad = errors.New("optim: Problem.LossGrad is nil and no mini-batches are given")
