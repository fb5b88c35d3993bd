package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Minimize runs method from x0 on p. nil settings and nil method mean the
// defaults (Adam). x0 is not modified.
func Minimize(p Problem, x0 []float64, settings *Settings, method Method) (*Result, error) {
	start := time.Now()
	if p.LossGrad == nil && (p.NumBatches <= 1 || p.BatchLossGrad == nil) {
		return nil, errNoLossGrad
	}
	var s Settings
	if settings != nil {
		s = *settings
	}
	if method == nil {
		method = &Adam{}
	}
	dim := len(x0)
	if dim == 0 {
		return nil, fmt.Errorf("optim: no parameters")
	}
	if err := s.validate(dim); err != nil {
		return nil, err
	}
	steps := s.Steps
	if steps == 0 {
		steps = 500
	}
	lr0 := s.LearningRate
	if lr0 == 0 {
		lr0 = method.DefaultLearningRate()
	}
	sched := s.Schedule
	if sched == nil {
		sched = Constant{}
	}
	decay := orDefault(s.NoiseDecay, 0.55)
	rng := rand.New(rand.NewPCG(s.Seed, 0x5851f42d4c957f2d))
	batches := max(1, p.NumBatches)
	if batches > 1 && p.BatchLossGrad == nil {
		return nil, fmt.Errorf("optim: %d batches but Problem.BatchLossGrad is nil", batches)
	}

	method.Init(dim)
	x := append([]float64(nil), x0...)
	project(x, s.Lower, s.Upper)
	grad := make([]float64, dim)
	res := &Result{X: append([]float64(nil), x...), F: math.Inf(1), Status: IterationLimit}
	sinceBest, bestForPatience := 0, math.Inf(1)

	// observe ranks x by f and reports whether the run should stop early.
	observe := func(f float64, x []float64) bool {
		if f < res.F {
			res.F = f
			copy(res.X, x)
		}
		if s.Patience <= 0 {
			return false
		}
		if f < bestForPatience-s.Tolerance {
			bestForPatience, sinceBest = f, 0
			return false
		}
		sinceBest++
		return sinceBest >= s.Patience
	}

	for t := 0; t < steps; t++ {
		epoch, batch := t/batches, t%batches
		var f float64
		if batches > 1 {
			f = p.BatchLossGrad(grad, x, epoch, batch)
		} else {
			f = p.LossGrad(grad, x)
		}
		res.Evaluations++
		lr := sched.Rate(lr0, t)
		if s.Recorder != nil {
			if err := s.Recorder.Record(Step{Step: t, X: x, Grad: grad, Loss: f, LR: lr, Epoch: epoch, Batch: batch}); err != nil {
				return nil, fmt.Errorf("optim: recorder: %w", err)
			}
		}
		if batches == 1 {
			if observe(f, x) {
				res.Status = EarlyStop
				break
			}
		} else if batch == 0 && p.Loss != nil {
			// the point at the start of each epoch, on the full data
			res.Evaluations++
			if observe(p.Loss(x), x) {
				res.Status = EarlyStop
				break
			}
		}
		if s.GradientThreshold > 0 && maxAbs(grad) <= s.GradientThreshold {
			res.Status = GradientThresholdReached
			break
		}
		if s.Noise > 0 {
			sd := math.Sqrt(s.Noise / math.Pow(1+float64(t), decay))
			for i := range grad {
				grad[i] += sd * rng.NormFloat64()
			}
		}
		method.Update(x, grad, lr)
		project(x, s.Lower, s.Upper)
		res.Steps++
	}
	// The last point has not been evaluated yet.
	if res.Status == IterationLimit && (p.Loss != nil || p.LossGrad != nil) {
		var f float64
		if p.Loss != nil {
			f = p.Loss(x)
		} else {
			f = p.LossGrad(grad, x)
		}
		res.Evaluations++
		if f < res.F {
			res.F = f
			copy(res.X, x)
		}
	}
	res.Last = x
	res.Runtime = time.Since(start)
	return res, nil
}

func (s *Settings) validate(dim int) error {
	switch {
	case s.Steps < 0:
		return fmt.Errorf("optim: steps %d is negative", s.Steps)
	case !(s.LearningRate >= 0) || math.IsInf(s.LearningRate, 0):
		return fmt.Errorf("optim: learning rate %v must be positive", s.LearningRate)
	case !(s.Noise >= 0) || math.IsInf(s.Noise, 0):
		return fmt.Errorf("optim: noise %v must be non-negative", s.Noise)
	case s.Patience < 0:
		return fmt.Errorf("optim: patience %d is negative", s.Patience)
	case s.Lower != nil && len(s.Lower) != dim, s.Upper != nil && len(s.Upper) != dim:
		return fmt.Errorf("optim: bounds of length %d, %d for %d parameters", len(s.Lower), len(s.Upper), dim)
	}
	for i := range s.Lower {
		if s.Upper != nil && !(s.Lower[i] <= s.Upper[i]) {
			return fmt.Errorf("optim: lower bound %v above upper bound %v", s.Lower[i], s.Upper[i])
		}
	}
	return nil
}

func project(x, lo, hi []float64) {
	for i := range x {
		if lo != nil && x[i] < lo[i] {
			x[i] = lo[i]
		}
		if hi != nil && x[i] > hi[i] {
			x[i] = hi[i]
		}
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// MethodNames lists the names ParseMethod accepts.
func MethodNames() []string {
	return []string{"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
}

// ParseMethod returns a new method of the given name with default
// parameters.
func ParseMethod(name string) (Method, error) {
	switch name {
	case "sgd":
		return &SGD{}, nil
	case "momentum":
		return &Momentum{}, nil
	case "nesterov":
		return &Nesterov{}, nil
	case "adagrad":
		return &Adagrad{}, nil
	case "rmsprop":
		return &RMSprop{}, nil
	case "adam":
		return &Adam{}, nil
	}
	return nil, fmt.Errorf("optim: unknown optimizer %q (want one of sgd, momentum, nesterov, adagrad, rmsprop, adam)", name)
}
