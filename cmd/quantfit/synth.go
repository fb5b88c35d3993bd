package main

import (
	"flag"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "synth",
		usageLine: "synth -b B [-model midrise] [-stack OPS -p NAME=VALUE ...] IN OUT",
		short:     "apply the quantizer to an image",
		long: `
Synth applies the quantizer with parameter b to every channel of IN and
writes the result to OUT as PNG: 16-bit when IN is 16-bit, else 8-bit.
With -stack, it applies the stack of operators instead, each parameter
from -p (b from -b), the others at their defaults (gain 1, bias 0, gamma 1,
contrast 1).`,
		flags: func(fs *flag.FlagSet) any { f := &synthFlags{}; f.declare(fs); return f },
		run:   runSynth,
	})
}

type synthFlags struct {
	b         float64
	model     string
	maxPixels int
	stack     string
	values    []string
}

func (f *synthFlags) declare(fs *flag.FlagSet) {
	fs.Float64Var(&f.b, "b", math.NaN(), "the quantizer's parameter `b` (required)")
	fs.StringVar(&f.model, "model", "midrise", "quantizer `model`: midrise, posterize, truncate")
	fs.IntVar(&f.maxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
	fs.StringVar(&f.stack, "stack", "", "apply a `stack` of operators, e.g. gamma,gain,bias,quantize")
	fs.Func("p", "a stack parameter, `name=value` (repeatable)", func(v string) error { f.values = append(f.values, v); return nil })
}

func runSynth(c *cli, fs *flag.FlagSet, args []string) error {
	f := &synthFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := kernels.ParseModel(f.model)
	if err != nil {
		return options.Flagged(err)
	}
	switch {
	case math.IsNaN(f.b) && (f.stack == "" || strings.Contains(f.stack, "quantize")):
		return options.Usagef("b", "-b is required")
	case !math.IsNaN(f.b) && (math.IsInf(f.b, 0) || f.b <= m.MinB() || f.b > 1<<16):
		return options.Usagef("b", "-b %v must be in (%v, 65536] for %v", f.b, m.MinB(), m)
	case fs.NArg() != 2:
		return options.Usagef("", "want IN OUT; got %d arguments", fs.NArg())
	}
	if f.stack != "" {
		if _, _, err := synthStack(f.stack, m, f.b, f.values); err != nil {
			return err
		}
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if err := checkOutputs(out, ".png", "OUT"); err != nil {
		return err
	}
	im, err := imageset.Load(in, f.maxPixels)
	if err != nil {
		return options.UsageError{Err: err}
	}
	q := im.Filter(func(x float64) float64 { return m.Apply(x, f.b) })
	if f.stack != "" {
		st, p, err := synthStack(f.stack, m, f.b, f.values)
		if err != nil {
			return err
		}
		if q, err = estimate.ApplyStack(im, st, p); err != nil {
			return options.UsageError{Err: err}
		}
	}
	return atomicfile.Write(out, func(w io.Writer) error { return q.EncodePNG(w) })
}

// synthStack builds the stack and its parameter vector from -p values.
func synthStack(spec string, m kernels.Model, b float64, values []string) (*kernels.Stack, []float64, error) {
	st, err := kernels.ParseStack(spec, kernels.Config{Model: m, Surrogate: kernels.Surrogate{Kind: kernels.STE}})
	if err != nil {
		return nil, nil, options.Flagged(err)
	}
	ps := st.Params()
	p := make([]float64, len(ps))
	for i, pp := range ps {
		p[i] = pp.Init
		if pp.Name == "b" {
			p[i] = b
		}
	}
	for _, v := range values {
		name, val, ok := strings.Cut(v, "=")
		x, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil, options.Usagef("p", "-p %q: want name=value", v)
		}
		found := false
		for i, pp := range ps {
			if pp.Name == name {
				p[i], found = x, true
			}
		}
		if !found {
			return nil, nil, options.Usagef("p", "-p %q: the stack has no parameter %q", v, name)
		}
	}
	return st, p, nil
}
