// Package options holds the estimation options by their flag names: the
// command line, batch manifests and the service's requests all set them
// through one FlagSet, so each option has one name, one default and one
// check everywhere, and Estimate is the one path from options and images
// to a report.
package options

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// Options are the estimation options. The zero value is not ready: use
// Default, or Declare on a FlagSet. Copy with Clone, never by assignment:
// a copy would share the parameter ranges and the set of given flags.
type Options struct {
	model, surrogate, loss, optimizer, schedule, strategy, mode, blocks string
	gamma, alpha, sigma, delta                                          float64
	samples                                                             int
	softForward                                                         bool
	lr, decay, decaySteps, noise, tol, init, bmin, bmax, levels         float64
	steps, batch, patience, starts, scanPoints, stages                  int
	seed                                                                uint64
	tileBudget                                                          int
	// MaxPixels is the largest image accepted.
	MaxPixels  int
	PerChannel bool
	backend    string
	debug      bool
	// Stack, if set, is a comma-separated stack of operators estimated
	// jointly (estimate -stack); ParamRanges override their ranges.
	Stack       string
	ParamRanges []string

	// fs is the FlagSet the options were declared on: the flags it was
	// given count as given. given holds the names set by Apply.
	fs    *flag.FlagSet
	given map[string]bool
}

// Default returns the options at their defaults.
func Default() *Options {
	o := &Options{}
	o.Declare(flag.NewFlagSet("options", flag.ContinueOnError))
	return o
}

// Clone returns an independent copy: Apply on it leaves o as it was.
func (o *Options) Clone() *Options {
	c := *o
	c.ParamRanges = slices.Clone(o.ParamRanges)
	c.given = maps.Clone(o.given)
	if c.given == nil {
		c.given = map[string]bool{}
	}
	if o.fs != nil {
		o.fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	}
	c.fs = nil
	return &c
}

// isGiven reports whether the option was set explicitly.
func (o *Options) isGiven(name string) bool {
	if o.given[name] {
		return true
	}
	found := false
	if o.fs != nil {
		o.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	}
	return found
}

// process names the options that belong to a process, not to one job.
var process = map[string]bool{"backend": true, "debug": true, "max-pixels": true}

// Apply sets options by name, as a batch manifest's columns or a service
// request's fields give them; a process-wide option, an unknown name or a
// bad value is a UsageError naming it. Apply changes o: Clone a shared
// base first.
func (o *Options) Apply(values map[string]string) error {
	fs := flag.NewFlagSet("options", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// Declare resets every field to its default: put back the current
	// values before applying the new ones.
	cur := o.Clone()
	o.Declare(fs)
	*o = *cur
	names := slices.Sorted(maps.Keys(values))
	for _, k := range names {
		if process[k] || fs.Lookup(k) == nil {
			return UsageError{Flag: k, Err: fmt.Errorf("unknown option %q", k)}
		}
		if err := fs.Set(k, values[k]); err != nil {
			return UsageError{Flag: k, Err: fmt.Errorf("option %s: %v", k, err)}
		}
		o.given[k] = true
	}
	return nil
}

// Declare defines every option as a flag of fs.
func (o *Options) Declare(fs *flag.FlagSet) {
	o.fs, o.given = fs, map[string]bool{}
	fs.StringVar(&o.model, "model", "midrise", "quantizer `model`: "+strings.Join(kernels.Models(), ", ")+", or auto (the one of them that fits best)")
	fs.StringVar(&o.surrogate, "surrogate", "atan", "surrogate `gradient`: "+strings.Join(kernels.Surrogates(), ", ")+", lsq")
	fs.Float64Var(&o.gamma, "gamma", 0.9, "atan surrogate damping `γ` in [0,1)")
	fs.Float64Var(&o.alpha, "alpha", 4, "softround surrogate sharpness `α`")
	fs.Float64Var(&o.sigma, "sigma", 0.25, "gaussian surrogate width `σ` in b")
	fs.IntVar(&o.samples, "samples", 16, "gaussian surrogate antithetic sample `pairs`")
	fs.BoolVar(&o.softForward, "soft-forward", false, "run gradient steps through the smooth surrogate's forward pass")
	fs.StringVar(&o.loss, "loss", "mse", "`loss`: "+strings.Join(kernels.LossNames(), ", "))
	fs.Float64Var(&o.delta, "delta", 0.02, "Huber threshold `δ`")
	fs.StringVar(&o.optimizer, "optimizer", "adam", "`optimizer`: "+strings.Join(optim.MethodNames(), ", "))
	fs.Float64Var(&o.lr, "lr", 0, "learning `rate` (default: the optimizer's)")
	DeclareSchedule(fs, &o.schedule, &o.decay, &o.decaySteps)
	fs.IntVar(&o.steps, "steps", 500, "gradient `steps` per run")
	fs.IntVar(&o.batch, "batch", 0, "mini-batch `size` in samples, reshuffled each epoch (0: full batch)")
	fs.Float64Var(&o.noise, "noise", 0, "annealed gradient noise `η` (variance η/(1+t)^0.55)")
	fs.IntVar(&o.patience, "patience", 0, "stop a run after `n` steps without improvement (0: never)")
	fs.Float64Var(&o.tol, "tol", 0, "improvement `tolerance` for -patience")
	fs.StringVar(&o.strategy, "strategy", "auto", "`strategy`: "+strings.Join(estimate.Strategies(), ", "))
	fs.Float64Var(&o.init, "init", 0, "start `b` of gd and continuation (default: random in [bmin, bmax])")
	fs.Float64Var(&o.bmin, "bmin", 5, "lower bound of `b`")
	fs.Float64Var(&o.bmax, "bmax", 30, "upper bound of `b`")
	fs.StringVar(&o.mode, "mode", "auto", "evaluation `mode`: auto (hist for images), pixel, hist")
	fs.StringVar(&o.blocks, "blocks", "auto", "rank the loss's basins by `block` means, which lossy codecs keep: auto (when a filtered image is JPEG or lossy WebP), on, off")
	fs.BoolVar(&o.PerChannel, "per-channel", false, "estimate b for R, G and B separately")
	fs.IntVar(&o.starts, "starts", 16, "`runs` of multistart; basins auto refines")
	fs.IntVar(&o.scanPoints, "scan-points", 0, "grid `points` of scan (default 25001) and auto's coarse scan")
	fs.IntVar(&o.stages, "stages", 10, "sharpness `stages` of continuation")
	fs.Float64Var(&o.levels, "levels", 0, "output `levels` of the stored filtered image (0: 255 for 8-bit, none otherwise; -1: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "random `seed`")
	fs.IntVar(&o.tileBudget, "tile-budget", -1, "spatial stacks on larger images are fitted on tiles of at most this many `pixels`, chosen to cover tones, edges and levels and verified on held-out tiles and the whole images (-1: 65536 a parameter, at least 131072; 0: whole images)")
	fs.IntVar(&o.MaxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
	fs.StringVar(&o.Stack, "stack", "", "estimate a `stack` of operators jointly, e.g. gamma,gain,bias,quantize (operators: gain, bias, gamma, contrast, clamp, quantize; image operators: saturation, colormatrix, blur, sharpen)")
	o.ParamRanges = nil
	// A comma-separated list, too: a manifest column or a form field holds
	// one value.
	fs.Func("param", "a stack parameter's range and start, `name=lo:hi[:init]` (repeatable, or a comma-separated list; b defaults to -bmin:-bmax)", func(v string) error {
		for _, r := range strings.Split(v, ",") {
			o.ParamRanges = append(o.ParamRanges, strings.TrimSpace(r))
		}
		return nil
	})
	fs.StringVar(&o.backend, "backend", "auto", "`backend`: auto (a hardware GPU if there is one, else the CPU), cpu, gpu (any OpenGL 4.3 context, software renderers included)")
	fs.BoolVar(&o.debug, "debug", false, "GPU: GL debug output, and a glGetError check after every GL call")
}

// Backend returns the backend the options ask for (auto, cpu or gpu) and
// whether GPU calls are to be checked (-debug). The program opens it: the
// options do not import package gpu.
func (o *Options) Backend() (name string, debug bool) { return o.backend, o.debug }

// fieldFlags names the flag of each settings field, by the Field of
// package kernels' and estimate's errors.
var fieldFlags = map[string]string{
	"Model": "model", "Surrogate.Kind": "surrogate", "Surrogate.Gamma": "gamma", "Surrogate.Alpha": "alpha",
	"Surrogate.Sigma": "sigma", "Surrogate.Samples": "samples", "Loss.Kind": "loss", "Loss.Delta": "delta",
	"SoftForward": "soft-forward", "Levels": "levels", "Range.Min": "bmin", "Range.Max": "bmax",
	"Optim.Method": "optimizer", "Optim.LearningRate": "lr", "Optim.Steps": "steps", "Optim.BatchSize": "batch",
	"Optim.Noise": "noise", "Optim.Patience": "patience", "Optim.Tolerance": "tol", "Strategy": "strategy",
	"Strategy.Init": "init", "Strategy.Basins": "starts", "Strategy.Starts": "starts",
	"Strategy.ScanPoints": "scan-points", "Strategy.Points": "scan-points", "Strategy.Stages": "stages",
	"Mode": "mode", "Stack": "stack", "Params": "param", "Blocks": "blocks",
}

// DeclareSchedule declares -schedule, -decay and -decay-steps, the
// flags of optim.ParseSchedule, for estimation and restoration alike.
func DeclareSchedule(fs *flag.FlagSet, name *string, factor, steps *float64) {
	fs.StringVar(name, "schedule", "constant", "learning-rate `schedule`: "+strings.Join(optim.Schedules(), ", "))
	fs.Float64Var(factor, "decay", 0, "schedule `factor`: step multiplier (default 0.5), exp per-step decay (default 0.99)")
	fs.Float64Var(steps, "decay-steps", 0, "schedule `steps`: step interval (default 100), inv time constant (default 100)")
}

// Flagged turns a settings error of package kernels or estimate into a
// UsageError naming the flag; other errors are returned as they are.
func Flagged(err error) error {
	var fe *kernels.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name, ok := fieldFlags[fe.Field]
	if !ok {
		return UsageError{Err: err}
	}
	return UsageError{Flag: name, Err: fmt.Errorf("-%s %s: %s", name, kernels.FormatValue(fe.Value), fe.Reason)}
}

// only says for which choices an option means something: given
// otherwise, it would be ignored, and is refused instead.
var only = []struct {
	flag, when string
	ok         func(o *Options) bool
}{
	{"param", "with -stack", func(o *Options) bool { return o.Stack != "" }},
	{"init", "with -strategy gd or continuation (a stack: gd or multistart)", func(o *Options) bool {
		if o.Stack != "" {
			return o.strategy == "gd" || o.strategy == "multistart"
		}
		return o.strategy == "gd" || o.strategy == "continuation"
	}},
	{"starts", "with -strategy auto or multistart", func(o *Options) bool { return o.strategy == "auto" || o.strategy == "multistart" }},
	{"scan-points", "with -strategy auto or scan", func(o *Options) bool { return o.strategy == "auto" || o.strategy == "scan" }},
	{"stages", "with -strategy continuation", func(o *Options) bool { return o.strategy == "continuation" }},
	{"gamma", "with -surrogate atan", func(o *Options) bool { return strings.EqualFold(o.surrogate, "atan") }},
	{"alpha", "with -surrogate softround", func(o *Options) bool { return strings.EqualFold(o.surrogate, "softround") }},
	{"sigma", "with -surrogate gaussian", func(o *Options) bool { return strings.EqualFold(o.surrogate, "gaussian") }},
	{"samples", "with -surrogate gaussian", func(o *Options) bool { return strings.EqualFold(o.surrogate, "gaussian") }},
	{"delta", "with -loss huber", func(o *Options) bool { return strings.EqualFold(o.loss, "huber") }},
	{"decay", "with -schedule step or exp", func(o *Options) bool { return o.schedule == "step" || o.schedule == "exp" }},
	{"decay-steps", "with -schedule step or inv", func(o *Options) bool { return o.schedule == "step" || o.schedule == "inv" }},
	{"tol", "with -patience", func(o *Options) bool { return o.patience > 0 }},
}

// descents names the options of gradient descent, which -strategy scan
// does not run.
var descents = []string{"optimizer", "lr", "schedule", "steps", "batch", "noise", "patience", "surrogate", "soft-forward"}

// Settings checks the options and turns them into estimate settings. Its
// errors are UsageErrors naming the flag.
func (o *Options) Settings() (estimate.Settings, error) {
	var s estimate.Settings
	for _, r := range only {
		if o.isGiven(r.flag) && !r.ok(o) {
			return s, Usagef(r.flag, "-%s means something only %s", r.flag, r.when)
		}
	}
	if o.strategy == "scan" {
		for _, f := range descents {
			if o.isGiven(f) {
				return s, Usagef(f, "-%s: -strategy scan runs no gradient descent", f)
			}
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"gamma", o.gamma}, {"alpha", o.alpha}, {"sigma", o.sigma}, {"delta", o.delta}, {"lr", o.lr},
		{"decay", o.decay}, {"decay-steps", o.decaySteps}, {"noise", o.noise}, {"tol", o.tol},
		{"init", o.init}, {"bmin", o.bmin}, {"bmax", o.bmax}, {"levels", o.levels}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return s, Usagef(f.name, "-%s must be a finite number, not %v", f.name, f.v)
		}
	}
	// Counts whose zero the layers below read as "default": given as 0,
	// they are refused, not replaced.
	for _, f := range []struct {
		name string
		v    int
	}{{"steps", o.steps}, {"starts", o.starts}, {"stages", o.stages}, {"samples", o.samples}} {
		if f.v < 1 {
			return s, Usagef(f.name, "-%s %d must be at least 1", f.name, f.v)
		}
	}
	switch {
	case o.lr < 0:
		return s, Usagef("lr", "-lr %v must be positive", o.lr)
	case o.decay < 0:
		return s, Usagef("decay", "-decay %v must be positive", o.decay)
	case o.decaySteps < 0:
		return s, Usagef("decay-steps", "-decay-steps %v must be positive", o.decaySteps)
	case o.MaxPixels < 1:
		return s, Usagef("max-pixels", "-max-pixels %d must be positive", o.MaxPixels)
	case o.levels < -1:
		return s, Usagef("levels", "-levels %v must be -1, 0 or positive", o.levels)
	case o.backend != "auto" && o.backend != "cpu" && o.backend != "gpu":
		return s, Usagef("backend", "-backend: unknown backend %q (want auto, cpu or gpu)", o.backend)
	}
	m := kernels.Midrise // under auto, each model in turn (Estimate)
	if o.model != autoModel {
		var err error
		if m, err = kernels.ParseModel(o.model); err != nil {
			return s, Flagged(err)
		}
	}
	k, err := kernels.ParseSurrogate(o.surrogate)
	if err != nil {
		return s, Flagged(err)
	}
	l, err := kernels.ParseLoss(o.loss)
	if err != nil {
		return s, Flagged(err)
	}
	mode, err := estimate.ParseMode(o.mode)
	if err != nil {
		return s, Flagged(err)
	}
	strategy, err := estimate.ParseStrategy(o.strategy)
	if err != nil {
		return s, Flagged(err)
	}
	blocks, err := estimate.ParseBlocks(o.blocks)
	if err != nil {
		return s, Flagged(err)
	}
	switch st := strategy.(type) {
	case estimate.Auto:
		strategy = estimate.Auto{Basins: o.starts, ScanPoints: o.scanPoints}
	case estimate.GD:
		st.Init = o.init
		strategy = st
	case estimate.Multistart:
		strategy = estimate.Multistart{Starts: o.starts}
	case estimate.Continuation:
		strategy = estimate.Continuation{Init: o.init, Stages: o.stages}
	case estimate.Scan:
		strategy = estimate.Scan{Points: o.scanPoints}
	}
	sched, err := optim.ParseSchedule(o.schedule, o.decay, o.decaySteps)
	if err != nil {
		return s, Usagef("schedule", "-schedule: %v", err)
	}
	gamma := o.gamma
	if gamma == 0 {
		gamma = math.SmallestNonzeroFloat64 // an explicit γ = 0 must not read as "default"
	}
	s = estimate.Settings{
		Model:       m,
		Surrogate:   kernels.Surrogate{Kind: k, Gamma: gamma, Alpha: o.alpha, Sigma: o.sigma, Samples: o.samples, Seed: o.seed + 1},
		Loss:        kernels.Loss{Kind: l, Delta: o.delta},
		SoftForward: o.softForward,
		Levels:      o.levels,
		Range:       estimate.Range{Min: o.bmin, Max: o.bmax},
		Optim: estimate.Optim{Method: o.optimizer, LearningRate: o.lr, Schedule: sched, Steps: o.steps,
			BatchSize: o.batch, Noise: o.noise, Patience: o.patience, Tolerance: o.tol},
		Strategy: strategy,
		Mode:     mode,
		Blocks:   blocks,
		Seed:     o.seed,
	}
	switch {
	case o.tileBudget == 0:
		s.TileBudget = -1
	case o.tileBudget == -1:
		s.TileBudget = 0
	case o.tileBudget < 4096:
		return s, Usagef("tile-budget", "-tile-budget %d: at least 4096 pixels, 0 for whole images, or -1 for the default", o.tileBudget)
	default:
		s.TileBudget = o.tileBudget
	}
	if err := s.Validate(); err != nil {
		return s, Flagged(err)
	}
	return s, nil
}

// StackOf builds the -stack with its parameters' ranges: the operators'
// defaults, b from -bmin, -bmax and -init, then each -param.
func (o *Options) StackOf() (*kernels.Stack, []kernels.Param, error) {
	s, err := o.Settings()
	if err != nil {
		return nil, nil, err
	}
	if o.Stack == "" {
		return nil, nil, Usagef("stack", "no -stack given")
	}
	if !slices.Contains(estimate.StackStrategies(), s.Strategy.Name()) {
		return nil, nil, Usagef("strategy", "-strategy %s fits b alone; with -stack use one of %s", s.Strategy.Name(), strings.Join(estimate.StackStrategies(), ", "))
	}
	// The storage rounding is set per data by estimate.EstimateStack.
	st, err := kernels.ParseStack(o.Stack, kernels.Config{Model: s.Model, Surrogate: s.Surrogate, Loss: s.Loss,
		SoftForward: s.SoftForward})
	if err != nil {
		return nil, nil, Flagged(err)
	}
	ps := st.Params()
	for i := range ps {
		if ps[i].Name == "b" {
			ps[i].Lo, ps[i].Hi = s.Range.Min, s.Range.Max
			ps[i].Init = (s.Range.Min + s.Range.Max) / 2
			if o.init != 0 {
				ps[i].Init = o.init
			}
		}
	}
	for _, r := range o.ParamRanges {
		name, spec, ok := strings.Cut(r, "=")
		parts := strings.Split(spec, ":")
		var vals []float64
		for _, v := range parts {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false
			}
			vals = append(vals, f)
		}
		if !ok || len(vals) < 2 || len(vals) > 3 {
			return nil, nil, Usagef("param", "-param %q: want name=lo:hi or name=lo:hi:init", r)
		}
		found := false
		for i := range ps {
			if ps[i].Name == name {
				found = true
				ps[i].Lo, ps[i].Hi = vals[0], vals[1]
				if len(vals) == 3 {
					ps[i].Init = vals[2]
				} else if ps[i].Init < vals[0] || ps[i].Init > vals[1] {
					ps[i].Init = (vals[0] + vals[1]) / 2
				}
			}
		}
		if !found {
			return nil, nil, Usagef("param", "-param %q: the stack has no parameter %q", r, name)
		}
	}
	for _, p := range ps {
		if !(p.Lo < p.Hi) || p.Init < p.Lo || p.Init > p.Hi {
			return nil, nil, Usagef("param", "-param %s: range [%v, %v] must hold its start %v", p.Name, p.Lo, p.Hi, p.Init)
		}
		if p.Name == "b" && p.Lo <= s.Model.MinB() {
			return nil, nil, Usagef("param", "-param b: the range must lie above %v for %v", s.Model.MinB(), s.Model)
		}
		if p.Name == "b" && p.Hi > 1<<16 {
			return nil, nil, Usagef("param", "-param b: the range must end at or below 65536")
		}
	}
	return st, ps, nil
}

// Check reports the first bad option, before any image is read.
func (o *Options) Check() error {
	if o.Stack != "" && o.model == autoModel {
		return Usagef("model", "-model auto chooses the model of the quantizer alone: not with -stack")
	}
	if o.Stack != "" {
		_, _, err := o.StackOf()
		return err
	}
	_, err := o.Settings()
	return err
}

// Outcome is what Estimate made: the report of b alone (Report, with a
// Result per channel group) or of a stack (Stack, with StackResults).
type Outcome struct {
	Report       *estimate.Report
	Results      []*estimate.Result
	Stack        *estimate.StackReport
	StackResults []*estimate.StackResult
	// Blind is the report of a set of filtered images alone.
	Blind *estimate.BlindReport
}

// JSON returns the report to print, answer or write.
func (r Outcome) JSON() any {
	switch {
	case r.Stack != nil:
		return r.Stack
	case r.Blind != nil:
		return r.Blind
	}
	return r.Report
}

// Hooks let a caller watch an estimate; each may be nil.
type Hooks struct {
	// Recorder sees every gradient step.
	Recorder optim.Recorder
	// Before is told the index of each channel group before its estimate.
	Before func(group int)
	// Progress is told where a long fit stands (estimate.Settings).
	Progress func(estimate.Progress)
}

// Estimate runs the options on set with be (nil: the CPU): the one path
// from options to a report, shared by the command, batch and the service.
// A set of filtered images alone is estimated blind. Bad options are
// UsageErrors naming the flag.
func (o *Options) Estimate(set *imageset.Set, be estimate.Backend, h Hooks) (Outcome, error) {
	var out Outcome
	s, err := o.Settings()
	if err != nil {
		return out, err
	}
	before := h.Before
	s.Backend, s.Recorder, s.Progress = be, h.Recorder, h.Progress
	if len(set.Pairs) == 0 && len(set.Filtered) > 0 {
		if o.Stack != "" {
			return out, Usagef("stack", "filtered images alone are estimated blind, by their values' levels: not with -stack, which needs originals")
		}
		out.Blind, err = estimate.EstimateBlindSet(set, o.PerChannel, o.Models(), s.Range)
		return out, Flagged(err)
	}
	if o.Stack != "" {
		st, ps, err := o.StackOf()
		if err != nil {
			return out, err
		}
		out.Stack, out.StackResults, err = estimate.EstimateStackSet(set, o.PerChannel, st, ps, s, before)
		return out, Flagged(err)
	}
	if o.model == autoModel {
		return o.estimateModels(set, s, before)
	}
	out.Report, out.Results, err = estimate.EstimateSet(set, o.PerChannel, s, before)
	return out, Flagged(err)
}

// autoModel is the -model value that fits every model and keeps the best.
const autoModel = "auto"

// ModelAuto reports whether the model is to be chosen (-model auto).
func (o *Options) ModelAuto() bool { return o.model == autoModel }

// Models returns the models to fit, in kernels.Models order: the one
// -model names, or under -model auto every model whose b can reach -bmin.
// The options must have passed Settings.
func (o *Options) Models() []kernels.Model {
	if !o.ModelAuto() {
		m, _ := kernels.ParseModel(o.model)
		return []kernels.Model{m}
	}
	return estimate.ModelsFrom(o.bmin)
}

// estimateModels estimates b under each model whose range is valid and
// keeps the best (estimate.EstimateModels).
func (o *Options) estimateModels(set *imageset.Set, s estimate.Settings, before func(group int)) (Outcome, error) {
	rep, rs, err := estimate.EstimateModels(set, o.PerChannel, s, o.Models(), before)
	return Outcome{Report: rep, Results: rs}, Flagged(err)
}

// UsageError is bad usage or bad input: exit status 2, HTTP 400. Flag
// names the option at fault, if one is.
type UsageError struct {
	Flag string
	Err  error
}

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError naming flag ("" for none).
func Usagef(flag, format string, args ...any) error {
	return UsageError{Flag: flag, Err: fmt.Errorf(format, args...)}
}
