// Package options holds the estimation options by their flag names: the
// command line, batch manifests and the service's requests all set them
// through one FlagSet, so each option has one name, one default and one
// check everywhere.
package options

import (
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// Options are the estimation options. The zero value is not ready: use
// Default, or Declare on a FlagSet.
type Options struct {
	model, surrogate, loss, optimizer, schedule, strategy, mode string
	gamma, alpha, sigma, delta                                  float64
	samples                                                     int
	softForward                                                 bool
	lr, decay, decaySteps, noise, tol, init, bmin, bmax, levels float64
	steps, batch, patience, starts, scanPoints, stages          int
	seed                                                        uint64
	// MaxPixels is the largest image accepted.
	MaxPixels  int
	PerChannel bool
	backend    string
	debug      bool
	// Stack, if set, is a comma-separated stack of operators estimated
	// jointly (estimate -stack); ParamRanges override their ranges.
	Stack       string
	ParamRanges []string
}

// Default returns the options at their defaults.
func Default() *Options {
	o := &Options{}
	o.Declare(flag.NewFlagSet("options", flag.ContinueOnError))
	return o
}

// process names the options that belong to a process, not to one job.
var process = map[string]bool{"backend": true, "debug": true, "max-pixels": true}

// Apply sets options by name, as a batch manifest's columns or a service
// request's fields give them; a process-wide option, an unknown name or a
// bad value is a UsageError naming it.
func (o *Options) Apply(values map[string]string) error {
	fs := flag.NewFlagSet("options", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// Declare resets every field to its default: put back the current
	// values before applying the new ones.
	cur := *o
	o.Declare(fs)
	*o = cur
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if process[k] || fs.Lookup(k) == nil {
			return Usagef("unknown option %q", k)
		}
		if err := fs.Set(k, values[k]); err != nil {
			return Usagef("option %s: %v", k, err)
		}
	}
	return nil
}

// Declare defines every option as a flag of fs.
func (o *Options) Declare(fs *flag.FlagSet) {
	fs.StringVar(&o.model, "model", "midrise", "quantizer `model`: "+strings.Join(kernels.Models(), ", "))
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
	fs.StringVar(&o.schedule, "schedule", "constant", "learning-rate `schedule`: constant, step, exp, inv")
	fs.Float64Var(&o.decay, "decay", 0, "schedule `factor`: step multiplier (default 0.5), exp per-step decay (default 0.99)")
	fs.Float64Var(&o.decaySteps, "decay-steps", 0, "schedule `steps`: step interval (default 100), inv time constant (default 100)")
	fs.IntVar(&o.steps, "steps", 500, "gradient `steps` per run")
	fs.IntVar(&o.batch, "batch", 0, "mini-batch `size` in samples, reshuffled each epoch (0: full batch)")
	fs.Float64Var(&o.noise, "noise", 0, "annealed gradient noise `η` (variance η/(1+t)^0.55)")
	fs.IntVar(&o.patience, "patience", 0, "stop a run after `n` steps without improvement (0: never)")
	fs.Float64Var(&o.tol, "tol", 0, "improvement `tolerance` for -patience")
	fs.StringVar(&o.strategy, "strategy", "auto", "`strategy`: "+strings.Join(estimate.Strategies(), ", "))
	fs.Float64Var(&o.init, "init", 0, "start `b` of gd and continuation (default: random in [bmin, bmax])")
	fs.Float64Var(&o.bmin, "bmin", 5, "lower bound of `b`")
	fs.Float64Var(&o.bmax, "bmax", 30, "upper bound of `b`")
	fs.StringVar(&o.mode, "mode", "auto", "evaluation `mode`: auto (hist for 8-bit data), pixel, hist")
	fs.BoolVar(&o.PerChannel, "per-channel", false, "estimate b for R, G and B separately")
	fs.IntVar(&o.starts, "starts", 16, "`runs` of multistart; basins auto refines")
	fs.IntVar(&o.scanPoints, "scan-points", 0, "grid `points` of scan (default 25001) and auto's coarse scan")
	fs.IntVar(&o.stages, "stages", 10, "sharpness `stages` of continuation")
	fs.Float64Var(&o.levels, "levels", 0, "output `levels` of the stored filtered image (0: 255 for 8-bit, none otherwise; -1: none)")
	fs.Uint64Var(&o.seed, "seed", 1, "random `seed`")
	fs.IntVar(&o.MaxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
	fs.StringVar(&o.Stack, "stack", "", "estimate a `stack` of operators jointly, e.g. gamma,gain,bias,quantize (operators: gain, bias, gamma, contrast, clamp, quantize)")
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
	fs.BoolVar(&o.debug, "debug", false, "GPU: GL debug output and an error check after every GL call")
}

// OpenBackend opens the backend the options ask for; release frees it.
func (o *Options) OpenBackend(stderr io.Writer) (estimate.Backend, func(), error) {
	none := func() {}
	switch o.backend {
	case "cpu":
		return estimate.CPU{}, none, nil
	case "gpu":
		d, err := gpu.Open(gpu.Options{AllowSoftware: true, Debug: o.debug, DebugLog: stderr})
		if err != nil {
			return nil, none, Usagef("-backend gpu: %s", trim(err))
		}
		return &estimate.GPU{Device: d}, d.Close, nil
	case "auto":
		d, err := gpu.Open(gpu.Options{Debug: o.debug, DebugLog: stderr})
		if err != nil {
			fmt.Fprintln(stderr, "quantfit: no hardware GPU with OpenGL 4.3 compute shaders; using the CPU (-backend gpu accepts a software renderer)")
			return estimate.CPU{}, none, nil
		}
		return &estimate.GPU{Device: d, MinSamples: 1 << 16, Fallback: true, Warn: stderr}, d.Close, nil
	}
	return nil, none, Usagef("-backend: unknown backend %q (want auto, cpu or gpu)", o.backend)
}

// Settings checks the options and turns them into estimate settings. Its
// errors are UsageErrors naming the flag.
func (o *Options) Settings() (estimate.Settings, error) {
	var s estimate.Settings
	m, err := kernels.ParseModel(o.model)
	if err != nil {
		return s, Usagef("-model: %v", trim(err))
	}
	k, err := kernels.ParseSurrogate(o.surrogate)
	if err != nil {
		return s, Usagef("-surrogate: %v", trim(err))
	}
	l, err := kernels.ParseLoss(o.loss)
	if err != nil {
		return s, Usagef("-loss: %v", trim(err))
	}
	mode, err := estimate.ParseMode(o.mode)
	if err != nil {
		return s, Usagef("-mode: %v", trim(err))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"-gamma", o.gamma}, {"-alpha", o.alpha}, {"-sigma", o.sigma}, {"-delta", o.delta}, {"-lr", o.lr},
		{"-decay", o.decay}, {"-decay-steps", o.decaySteps}, {"-noise", o.noise}, {"-tol", o.tol},
		{"-init", o.init}, {"-bmin", o.bmin}, {"-bmax", o.bmax}, {"-levels", o.levels}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return s, Usagef("%s must be a finite number, not %v", f.name, f.v)
		}
	}
	if o.gamma == 0 {
		o.gamma = 1e-300 // an explicit γ = 0 must not read as "default"
	}
	switch {
	case o.lr < 0:
		return s, Usagef("-lr %v must be positive", o.lr)
	case o.decay < 0 || o.decaySteps < 0:
		return s, Usagef("-decay and -decay-steps must be positive")
	case o.steps < 1 || o.steps > 10_000_000:
		return s, Usagef("-steps %d must be in range [1, 10000000]", o.steps)
	case o.MaxPixels < 1:
		return s, Usagef("-max-pixels %d must be positive", o.MaxPixels)
	case o.levels < -1:
		return s, Usagef("-levels %v must be -1, 0 or positive", o.levels)
	case o.backend != "auto" && o.backend != "cpu" && o.backend != "gpu":
		return s, Usagef("-backend: unknown backend %q (want auto, cpu or gpu)", o.backend)
	}
	var sched optim.Schedule
	switch o.schedule {
	case "constant":
		sched = optim.Constant{}
	case "step":
		sched = optim.StepDecay{Every: int(o.decaySteps), Factor: o.decay}
	case "exp":
		sched = optim.Exponential{Decay: o.decay}
	case "inv":
		sched = optim.InverseTime{Tau: o.decaySteps}
	default:
		return s, Usagef("-schedule: unknown schedule %q (want constant, step, exp, inv)", o.schedule)
	}
	s = estimate.Settings{
		Model:        m,
		Surrogate:    kernels.Surrogate{Kind: k, Gamma: o.gamma, Alpha: o.alpha, Sigma: o.sigma, Samples: o.samples, Seed: o.seed + 1},
		SurrogateSet: true,
		Loss:         kernels.Loss{Kind: l, Delta: o.delta},
		SoftForward:  o.softForward,
		Optimizer:    o.optimizer,
		LearningRate: o.lr,
		Schedule:     sched,
		Steps:        o.steps,
		BatchSize:    o.batch,
		Noise:        o.noise,
		Patience:     o.patience,
		Tolerance:    o.tol,
		Strategy:     o.strategy,
		Init:         o.init,
		BMin:         o.bmin,
		BMax:         o.bmax,
		Mode:         mode,
		Starts:       o.starts,
		ScanPoints:   o.scanPoints,
		Stages:       o.stages,
		Seed:         o.seed,
		OutputLevels: o.levels,
	}
	if err := s.Validate(); err != nil {
		return s, UsageError{flagged(err)}
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
	levels := s.OutputLevels
	if levels == 0 {
		levels = 255 // resolved per data by estimate.EstimateStack
	}
	if !slices.Contains(estimate.StackStrategies(), s.Strategy) {
		return nil, nil, Usagef("-strategy %s fits b alone; with -stack use one of %s", s.Strategy, strings.Join(estimate.StackStrategies(), ", "))
	}
	st, err := kernels.ParseStack(o.Stack, kernels.Config{Model: s.Model, Surrogate: s.Surrogate, Loss: s.Loss,
		SoftForward: s.SoftForward, OutputLevels: math.Max(0, levels)})
	if err != nil {
		return nil, nil, Usagef("-stack: %s", trim(err))
	}
	ps := st.Params()
	for i := range ps {
		if ps[i].Name == "b" {
			ps[i].Lo, ps[i].Hi = s.BMin, s.BMax
			ps[i].Init = (s.BMin + s.BMax) / 2
			if s.Init != 0 {
				ps[i].Init = s.Init
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
			return nil, nil, Usagef("-param %q: want name=lo:hi or name=lo:hi:init", r)
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
			return nil, nil, Usagef("-param %q: the stack has no parameter %q", r, name)
		}
	}
	for _, p := range ps {
		if !(p.Lo < p.Hi) || p.Init < p.Lo || p.Init > p.Hi {
			return nil, nil, Usagef("-param %s: range [%v, %v] must hold its start %v", p.Name, p.Lo, p.Hi, p.Init)
		}
		if p.Name == "b" && p.Lo <= s.Model.MinB() {
			return nil, nil, Usagef("-param b: the range must lie above %v for %v", s.Model.MinB(), s.Model)
		}
		if p.Name == "b" && p.Hi > 1<<16 {
			return nil, nil, Usagef("-param b: the range must end at or below 65536")
		}
	}
	return st, ps, nil
}

// flagged rewrites a validation error of package estimate in terms of the
// flag that sets the value.
func flagged(err error) error {
	msg := trim(err)
	for _, f := range []string{"bmin", "bmax", "init", "steps", "starts", "stages", "gamma", "alpha", "sigma", "delta", "noise", "patience", "strategy", "optimizer", "mode", "batch", "samples", "levels"} {
		if strings.HasPrefix(msg, f+" ") || strings.Contains(msg, "unknown "+f) {
			return fmt.Errorf("-%s: %s", f, msg)
		}
	}
	for _, m := range [...]struct{ prefix, flag string }{
		{"soft forward", "soft-forward"}, {"continuation", "strategy"}, {"huber delta", "delta"},
		{"gaussian samples", "samples"}, {"learning rate", "lr"}, {"scan points", "scan-points"},
		{"output levels", "levels"}, {"batch size", "batch"},
	} {
		if strings.HasPrefix(msg, m.prefix) {
			return fmt.Errorf("-%s: %s", m.flag, msg)
		}
	}
	return fmt.Errorf("%s", msg)
}

// UsageError is bad usage or bad input: exit status 2, HTTP 400.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Trim drops a package prefix from an error message.
func Trim(err error) string { return trim(err) }

func trim(err error) string {
	msg := err.Error()
	for _, p := range []string{"estimate: ", "kernels: ", "optim: ", "imageset: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}
