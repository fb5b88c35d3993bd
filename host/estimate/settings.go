package estimate

import (
	"fmt"
	"math"
	"strings"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// Settings are the choices of an estimation. Zero values mean the defaults
// documented per field.
type Settings struct {
	Model     kernels.Model
	Surrogate kernels.Surrogate // Default kind: atan
	Loss      kernels.Loss
	// SoftForward runs gradient steps through the smooth surrogate's
	// forward pass instead of the exact quantizer.
	SoftForward bool
	// OutputLevels models the storage of the filtered data: outputs are
	// rounded to multiples of 1/OutputLevels before the loss. Default (0):
	// 255 when every target is 8-bit, none otherwise (16-bit rounding moves
	// b by less than 1e-3); negative: none.
	OutputLevels float64
	// SurrogateSet marks Surrogate.Kind as chosen; without it the zero
	// kind (identity) is replaced by the default, atan.
	SurrogateSet bool

	// Optimizer is a name of optim.ParseMethod. Default adam.
	Optimizer string
	// LearningRate is the base rate. Default: the optimizer's.
	LearningRate float64
	// Schedule scales the rate per step. Default constant.
	Schedule optim.Schedule
	// Steps is the number of steps of one gradient run. Default 500.
	Steps int
	// BatchSize, if positive, makes gradient runs stochastic over
	// mini-batches of this many samples, reshuffled each epoch (per-pixel;
	// for a stack, its joint descents).
	BatchSize int
	// Noise is η of annealed gradient noise. Default 0.
	Noise float64
	// Patience and Tolerance stop a gradient run early. Default never.
	Patience  int
	Tolerance float64

	// Strategy is one of Strategies(). Default auto.
	Strategy string
	// Init is the start of gd and continuation. Default: uniform at
	// random in [BMin, BMax] from Seed.
	Init float64
	// BMin and BMax bound b. Default 5 and 30.
	BMin, BMax float64
	// Mode picks how gradient steps read the data. Default AutoMode.
	Mode Mode
	// Starts is the number of runs of multistart and the number of basins
	// auto refines and polishes. Default 16.
	Starts int
	// ScanPoints is the grid of scan (default 25001) and auto's coarse
	// scan (default: up to 4096, fewer on large non-8-bit data).
	ScanPoints int
	// Stages is the number of sharpness stages of continuation. Default 10.
	Stages int
	// Backend runs the evaluations. Default CPU.
	Backend Backend
	// Seed makes every random choice reproducible.
	Seed uint64
	// Recorder, if set, sees every gradient step of every run, numbered
	// consecutively.
	Recorder optim.Recorder
}

// Strategies lists the strategy names.
func Strategies() []string { return []string{"auto", "gd", "multistart", "continuation", "scan"} }

func (s Settings) withDefaults() Settings {
	if !s.SurrogateSet && s.Surrogate.Kind == kernels.Identity {
		s.Surrogate.Kind = kernels.Atan
	}
	s.Surrogate = s.Surrogate.WithDefaults()
	s.Loss = s.Loss.WithDefaults()
	if s.Optimizer == "" {
		s.Optimizer = "adam"
	}
	if s.Steps == 0 {
		s.Steps = 500
	}
	if s.Strategy == "" {
		s.Strategy = "auto"
	}
	if s.BMin == 0 && s.BMax == 0 {
		s.BMin, s.BMax = 5, 30
	}
	if s.Starts == 0 {
		s.Starts = 16
	}
	if s.Stages == 0 {
		s.Stages = 10
	}
	return s
}

func (s Settings) config() kernels.Config {
	return kernels.Config{Model: s.Model, Surrogate: s.Surrogate, Loss: s.Loss, SoftForward: s.SoftForward,
		OutputLevels: max(0, s.OutputLevels)}
}

// Validate reports the first invalid setting, naming it as the command line
// does.
// maxB bounds b: 16-bit data holds at most 65536 levels.
const maxB = 1 << 16

func (s Settings) Validate() error {
	s = s.withDefaults()
	if err := s.config().Validate(); err != nil {
		return fmt.Errorf("estimate: %s", strings.TrimPrefix(err.Error(), "kernels: "))
	}
	if _, err := optim.ParseMethod(s.Optimizer); err != nil {
		return fmt.Errorf("estimate: %s", strings.TrimPrefix(err.Error(), "optim: "))
	}
	known := false
	for _, n := range Strategies() {
		known = known || n == s.Strategy
	}
	switch {
	case !known:
		return fmt.Errorf("estimate: unknown strategy %q (want one of %s)", s.Strategy, strings.Join(Strategies(), ", "))
	case !finite(s.BMin) || !finite(s.BMax) || s.BMin >= s.BMax:
		return fmt.Errorf("estimate: bmin %v must be below bmax %v", s.BMin, s.BMax)
	case s.BMin <= s.Model.MinB():
		return fmt.Errorf("estimate: bmin %v must exceed %v for %v", s.BMin, s.Model.MinB(), s.Model)
	case s.BMax > maxB:
		return fmt.Errorf("estimate: bmax %v above %v", s.BMax, maxB)
	case s.Init != 0 && (!finite(s.Init) || s.Init < s.BMin || s.Init > s.BMax):
		return fmt.Errorf("estimate: init %v outside [bmin, bmax] = [%v, %v]", s.Init, s.BMin, s.BMax)
	case s.Steps < 0 || s.Steps > 10_000_000:
		return fmt.Errorf("estimate: steps %d out of range [1, 10000000]", s.Steps)
	case !(s.LearningRate >= 0) || math.IsInf(s.LearningRate, 0):
		return fmt.Errorf("estimate: learning rate %v must be positive", s.LearningRate)
	case !(s.Noise >= 0) || math.IsInf(s.Noise, 0):
		return fmt.Errorf("estimate: noise %v must be non-negative", s.Noise)
	case s.BatchSize < 0:
		return fmt.Errorf("estimate: batch size %d is negative", s.BatchSize)
	case s.Patience < 0 || !(s.Tolerance >= 0):
		return fmt.Errorf("estimate: patience %d and tolerance %v must be non-negative", s.Patience, s.Tolerance)
	case s.Starts < 1 || s.Starts > 4096:
		return fmt.Errorf("estimate: starts %d out of range [1, 4096]", s.Starts)
	case s.ScanPoints < 0 || s.ScanPoints == 1 || s.ScanPoints > 10_000_000:
		return fmt.Errorf("estimate: scan points %d out of range [2, 10000000]", s.ScanPoints)
	case s.Stages < 1 || s.Stages > 1000:
		return fmt.Errorf("estimate: stages %d out of range [1, 1000]", s.Stages)
	case s.Mode < 0 || s.Mode > HistMode:
		return fmt.Errorf("estimate: unknown mode %v", s.Mode)
	}
	if s.Strategy == "continuation" && !sharpenable(s.Surrogate.Kind) {
		return fmt.Errorf("estimate: continuation anneals a surrogate's sharpness: use atan, softround or gaussian, not %v", s.Surrogate.Kind)
	}
	return nil
}

func sharpenable(k kernels.SurrogateKind) bool {
	return k == kernels.Atan || k == kernels.SoftRound || k == kernels.Gaussian
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
