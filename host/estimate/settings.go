package estimate

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// Settings are the choices of an estimation, grouped by concern. Zero
// values mean the defaults documented per field.
type Settings struct {
	// Model, Surrogate, Loss and SoftForward decide the per-sample
	// mathematics (kernels.Config). The zero values are midrise, atan
	// (γ 0.9) and mse.
	Model       kernels.Model
	Surrogate   kernels.Surrogate
	Loss        kernels.Loss
	SoftForward bool
	// Levels models the storage of the filtered data: outputs are rounded
	// to multiples of 1/Levels before the loss. 0: detected from the data
	// (255 when every target is 8-bit, none otherwise: 16-bit rounding
	// moves b by less than 1e-3); negative: none.
	Levels float64
	// Range bounds b. Default [5, 30].
	Range Range
	// Optim is the gradient descent every strategy but Scan runs.
	Optim Optim
	// Strategy searches b. Default (nil) Auto{}.
	Strategy Strategy
	// Mode picks how gradient steps read the data. Default AutoMode.
	Mode Mode
	// Blocks decides whether the basins of the exact loss are ranked by
	// block means, which lossy codecs keep (see blocks.go). Default
	// BlocksAuto: when a filtered image was decoded from a lossy codec.
	Blocks Blocks
	// Backend runs the evaluations. Default CPU.
	Backend Backend
	// Seed makes every random choice reproducible.
	Seed uint64
	// TileBudget bounds the pixels a spatial stack is fitted on: images
	// larger than 1.5 times it are fitted on tiles within this budget,
	// chosen to cover their tones, edges and the targets' levels, and the
	// fit is verified on held-out tiles and on the whole images (see
	// TileReport). Default (0) 65536 pixels a parameter, at least
	// 131072; negative: whole images.
	TileBudget int
	// Recorder, if set, sees every gradient step of every run, numbered
	// consecutively.
	Recorder optim.Recorder
	// Progress, if set, is told where a fit of a stack on whole images or
	// tiles stands, at each stage and each pass over the data; it runs on
	// the fit's goroutine and should return at once.
	Progress func(Progress)
}

// Range is the interval of b searched.
type Range struct{ Min, Max float64 }

// Optim is one gradient run's optimizer and its limits.
type Optim struct {
	// Method is a name of optim.ParseMethod. Default adam.
	Method string
	// LearningRate is the base rate. Default: the method's.
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
}

// Strategy is how an estimate searches b: Auto, GD, Multistart,
// Continuation or Scan (a stack takes Auto, GD or Multistart). Each is a
// value holding its own parameters, zero meaning their defaults.
type Strategy interface {
	// Name is the strategy's name on the command line and in reports.
	Name() string
	// check reports an invalid parameter, given the settings around it.
	check(s Settings) error
}

// Auto is the default strategy: a coarse exact-loss scan, a short gradient
// refinement (the chosen optimizer and surrogate) from the best basins,
// then the exact polish of a bracket around each; the least loss wins.
// For a stack whose last operator is the quantizer: b on a grid with the
// smooth operators fitted at each point, then the best basins finished.
type Auto struct {
	// Basins is the number of basins refined and polished. Default 16.
	Basins int
	// ScanPoints is the coarse grid. Default: up to 4096 points, fewer on
	// large non-8-bit data (a stack: a step of 0.02 in b, at most 4096).
	ScanPoints int
}

// GD is one gradient run from Init: what users try first, kept so they
// can see it stall.
type GD struct {
	// Init is the start. Default: uniform at random in the range, from
	// the seed. (A stack starts from its parameters' Init.)
	Init float64
}

// Multistart is Starts gradient runs, one from each equal part of the
// range, the least exact loss kept.
type Multistart struct {
	// Starts is the number of runs. Default 16.
	Starts int
}

// Continuation anneals the surrogate's sharpness over Stages stages that
// share the steps, each starting where the last ended.
type Continuation struct {
	// Init is the start, as GD's.
	Init float64
	// Stages is the number of sharpness stages. Default 10.
	Stages int
}

// Scan is the best point of a dense exact-loss grid.
type Scan struct {
	// Points is the grid. Default 25001.
	Points int
}

// Name implements Strategy.
func (Auto) Name() string { return "auto" }

// Name implements Strategy.
func (GD) Name() string { return "gd" }

// Name implements Strategy.
func (Multistart) Name() string { return "multistart" }

// Name implements Strategy.
func (Continuation) Name() string { return "continuation" }

// Name implements Strategy.
func (Scan) Name() string { return "scan" }

var (
	_ Strategy = Auto{}
	_ Strategy = GD{}
	_ Strategy = Multistart{}
	_ Strategy = Continuation{}
	_ Strategy = Scan{}
)

// Strategies lists the strategy names.
func Strategies() []string { return []string{"auto", "gd", "multistart", "continuation", "scan"} }

// StackStrategies lists the strategies that fit a stack.
func StackStrategies() []string { return []string{"auto", "gd", "multistart"} }

// ParseStrategy returns the strategy of that name with its default
// parameters.
func ParseStrategy(name string) (Strategy, error) {
	switch strings.ToLower(name) {
	case "auto", "":
		return Auto{}, nil
	case "gd":
		return GD{}, nil
	case "multistart":
		return Multistart{}, nil
	case "continuation":
		return Continuation{}, nil
	case "scan":
		return Scan{}, nil
	}
	return nil, fieldErr("Strategy", name, "unknown strategy; want one of %s", strings.Join(Strategies(), ", "))
}

// maxB bounds b: 16-bit data holds at most 65536 levels.
const maxB = 1 << 16

const (
	defaultBasins       = 16
	defaultStarts       = 16
	defaultStages       = 10
	defaultScanPoints   = 25001
	defaultSteps        = 500
	defaultMethod       = "adam"
	defaultMin          = 5
	defaultMax          = 30
	maxStarts           = 4096
	maxGridPoints       = 10_000_000
	maxSteps            = 10_000_000
	maxContinuationStep = 1000
)

func (s Settings) withDefaults() Settings {
	s.Surrogate = s.Surrogate.WithDefaults()
	s.Loss = s.Loss.WithDefaults()
	if s.Optim.Method == "" {
		s.Optim.Method = defaultMethod
	}
	if s.Optim.Steps == 0 {
		s.Optim.Steps = defaultSteps
	}
	if s.Range == (Range{}) {
		s.Range = Range{defaultMin, defaultMax}
	}
	switch st := s.Strategy.(type) {
	case nil:
		s.Strategy = Auto{Basins: defaultBasins}
	case Auto:
		st.Basins = orDefault(st.Basins, defaultBasins)
		s.Strategy = st
	case Multistart:
		st.Starts = orDefault(st.Starts, defaultStarts)
		s.Strategy = st
	case Continuation:
		st.Stages = orDefault(st.Stages, defaultStages)
		s.Strategy = st
	case Scan:
		st.Points = orDefault(st.Points, defaultScanPoints)
		s.Strategy = st
	}
	return s
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// config is the per-sample mathematics with the storage rounding resolved
// to levels (0: none).
func (s Settings) config(levels float64) kernels.Config {
	return kernels.Config{Model: s.Model, Surrogate: s.Surrogate, Loss: s.Loss, SoftForward: s.SoftForward,
		OutputLevels: levels}
}

func fieldErr(field string, value any, format string, args ...any) error {
	return &kernels.FieldError{Pkg: "estimate", Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid setting as a *kernels.FieldError
// naming its field in Settings.
func (s Settings) Validate() error {
	s = s.withDefaults()
	if err := s.config(math.Max(0, s.Levels)).Validate(); err != nil {
		var fe *kernels.FieldError
		if errors.As(err, &fe) {
			e := *fe
			e.Pkg = "estimate"
			if e.Field == "OutputLevels" {
				e.Field = "Levels"
			}
			return &e
		}
		return err
	}
	if _, err := optim.ParseMethod(s.Optim.Method); err != nil {
		return fieldErr("Optim.Method", s.Optim.Method, "unknown optimizer; want one of %s", strings.Join(optim.MethodNames(), ", "))
	}
	o := s.Optim
	switch r := s.Range; {
	case !finite(r.Min) || !finite(r.Max) || r.Min >= r.Max:
		return fieldErr("Range.Min", r.Min, "must be below the range's end %v", r.Max)
	case r.Min <= s.Model.MinB():
		return fieldErr("Range.Min", r.Min, "must exceed %v for %v", s.Model.MinB(), s.Model)
	case r.Max > maxB:
		return fieldErr("Range.Max", r.Max, "must be at most %v", maxB)
	case !finite(s.Levels) || s.Levels > 1<<24:
		return fieldErr("Levels", s.Levels, "must be at most 2^24")
	case o.Steps < 1 || o.Steps > maxSteps:
		return fieldErr("Optim.Steps", o.Steps, "out of range [1, %d]", maxSteps)
	case !(o.LearningRate >= 0) || math.IsInf(o.LearningRate, 0):
		return fieldErr("Optim.LearningRate", o.LearningRate, "must be positive")
	case !(o.Noise >= 0) || math.IsInf(o.Noise, 0):
		return fieldErr("Optim.Noise", o.Noise, "must be non-negative")
	case o.BatchSize < 0:
		return fieldErr("Optim.BatchSize", o.BatchSize, "must be non-negative")
	case o.Patience < 0:
		return fieldErr("Optim.Patience", o.Patience, "must be non-negative")
	case !(o.Tolerance >= 0) || math.IsInf(o.Tolerance, 0):
		return fieldErr("Optim.Tolerance", o.Tolerance, "must be non-negative")
	case s.Mode < 0 || s.Mode > HistMode:
		return fieldErr("Mode", s.Mode, "unknown mode")
	case s.Blocks < 0 || s.Blocks > BlocksOff:
		return fieldErr("Blocks", s.Blocks, "unknown choice")
	}
	return s.Strategy.check(s)
}

func (a Auto) check(s Settings) error {
	switch {
	case a.Basins < 1 || a.Basins > maxStarts:
		return fieldErr("Strategy.Basins", a.Basins, "out of range [1, %d]", maxStarts)
	case a.ScanPoints < 0 || a.ScanPoints == 1 || a.ScanPoints > maxGridPoints:
		return fieldErr("Strategy.ScanPoints", a.ScanPoints, "out of range [2, %d]", maxGridPoints)
	}
	return nil
}

func (g GD) check(s Settings) error { return checkInit(g.Init, s.Range) }

func (m Multistart) check(s Settings) error {
	if m.Starts < 1 || m.Starts > maxStarts {
		return fieldErr("Strategy.Starts", m.Starts, "out of range [1, %d]", maxStarts)
	}
	return nil
}

func (c Continuation) check(s Settings) error {
	if c.Stages < 1 || c.Stages > maxContinuationStep {
		return fieldErr("Strategy.Stages", c.Stages, "out of range [1, %d]", maxContinuationStep)
	}
	if !sharpenable(s.Surrogate.Kind) {
		return fieldErr("Strategy", c.Name(), "anneals a surrogate's sharpness: use atan, softround or gaussian, not %v", s.Surrogate.Kind)
	}
	return checkInit(c.Init, s.Range)
}

func (c Scan) check(s Settings) error {
	if c.Points < 2 || c.Points > maxGridPoints {
		return fieldErr("Strategy.Points", c.Points, "out of range [2, %d]", maxGridPoints)
	}
	return nil
}

func checkInit(init float64, r Range) error {
	if init != 0 && (!finite(init) || init < r.Min || init > r.Max) {
		return fieldErr("Strategy.Init", init, "outside the range [%v, %v]", r.Min, r.Max)
	}
	return nil
}

func sharpenable(k kernels.SurrogateKind) bool {
	return k == kernels.Atan || k == kernels.SoftRound || k == kernels.Gaussian
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
