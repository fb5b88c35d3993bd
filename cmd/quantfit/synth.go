package main

import (
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/quantfit/quantfit/host/atomicfile"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "synth",
		usageLine: "synth -b B [-model midrise] IN OUT",
		short:     "apply the quantizer to an image",
		long: `
Synth applies the quantizer with parameter b to every channel of IN and
writes the result to OUT as PNG: 16-bit when IN is 16-bit, else 8-bit.`,
		flags: func(fs *flag.FlagSet) any { f := &synthFlags{}; f.declare(fs); return f },
		run:   runSynth,
	})
}

type synthFlags struct {
	b         float64
	model     string
	maxPixels int
}

func (f *synthFlags) declare(fs *flag.FlagSet) {
	fs.Float64Var(&f.b, "b", math.NaN(), "the quantizer's parameter `b` (required)")
	fs.StringVar(&f.model, "model", "midrise", "quantizer `model`: midrise, posterize, truncate")
	fs.IntVar(&f.maxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
}

func runSynth(c *cli, fs *flag.FlagSet, args []string) error {
	f := &synthFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := kernels.ParseModel(f.model)
	if err != nil {
		return options.Usagef("-model: %s", options.Trim(err))
	}
	switch {
	case math.IsNaN(f.b):
		return options.Usagef("-b is required")
	case math.IsInf(f.b, 0) || f.b <= m.MinB() || f.b > 1<<16:
		return options.Usagef("-b %v must be in (%v, 65536] for %v", f.b, m.MinB(), m)
	case fs.NArg() != 2:
		return options.Usagef("want IN OUT; got %d arguments", fs.NArg())
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if err := checkOutputs(out, ".png", "OUT"); err != nil {
		return err
	}
	im, err := imageset.Load(in, f.maxPixels)
	if err != nil {
		return options.UsageError{Err: fmt.Errorf("%s", options.Trim(err))}
	}
	q := im.Filter(func(x float64) float64 { return m.Apply(x, f.b) })
	return atomicfile.Write(out, func(w io.Writer) error { return q.EncodePNG(w) })
}
