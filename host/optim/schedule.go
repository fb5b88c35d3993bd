package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of step t (0-based) from the base rate.
type Schedule interface {
	Rate(base float64, t int) float64
}

var (
	_ Schedule = Constant{}
	_ Schedule = StepDecay{}
	_ Schedule = Exponential{}
	_ Schedule = InverseTime{}
)

// Constant keeps the base rate.
type Constant struct{}

// Rate implements Schedule.
func (Constant) Rate(base float64, _ int) float64 { return base }

// StepDecay multiplies the rate by Factor every Every steps.
type StepDecay struct {
	// Every is the interval in steps. Default 100.
	Every int
	// Factor is the multiplier. Default 0.5.
	Factor float64
}

// Rate implements Schedule.
func (s StepDecay) Rate(base float64, t int) float64 {
	every := s.Every
	if every <= 0 {
		every = 100
	}
	return base * math.Pow(orDefault(s.Factor, 0.5), float64(t/every))
}

// Exponential is base·Decay^t.
type Exponential struct {
	// Decay is the per-step factor. Default 0.99.
	Decay float64
}

// Rate implements Schedule.
func (s Exponential) Rate(base float64, t int) float64 {
	return base * math.Pow(orDefault(s.Decay, 0.99), float64(t))
}

// InverseTime is base/(1 + t/Tau).
type InverseTime struct {
	// Tau is the time constant in steps. Default 100.
	Tau float64
}

// Rate implements Schedule.
func (s InverseTime) Rate(base float64, t int) float64 {
	return base / (1 + float64(t)/orDefault(s.Tau, 100))
}

// Schedules names the schedules ParseSchedule reads.
func Schedules() []string { return []string{"constant", "step", "exp", "inv"} }

// ParseSchedule returns the schedule named name with its factor (step's
// multiplier, exp's per-step decay) and steps (step's interval, inv's
// time constant); zeros mean the defaults.
func ParseSchedule(name string, factor, steps float64) (Schedule, error) {
	switch name {
	case "constant":
		return Constant{}, nil
	case "step":
		return StepDecay{Every: int(steps), Factor: factor}, nil
	case "exp":
		return Exponential{Decay: factor}, nil
	case "inv":
		return InverseTime{Tau: steps}, nil
	}
	return nil, fmt.Errorf("unknown schedule %q (want constant, step, exp, inv)", name)
}
