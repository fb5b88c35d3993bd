package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"text/tabwriter"
	"time"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/internal/plots"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "demo",
		usageLine: "demo [-photo NAME] [-seed N] [-plot FILE.png]",
		short:     "quantize a shipped photo and estimate b back, plainly and with auto",
		long: `
Demo quantizes a photograph shipped inside quantfit with a random b, then
estimates b with the plain approach users try first (Adam with the atan
surrogate from a random start, 500 steps) and with quantfit's auto
strategy, prints both against the truth, and draws the plain run on the
loss landscape. Then it does the same for a stack (gamma, gain and bias
before the quantizer), all four parameters fitted jointly. It needs no
arguments and no network.`,
		flags: func(fs *flag.FlagSet) any { f := &demoFlags{}; f.declare(fs); return f },
		run:   runDemo,
	})
}

type demoFlags struct {
	photo string
	seed  uint64
	plot  string
	model string
}

func (f *demoFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.photo, "photo", "ihc.png", "shipped `photo` to quantize (one of internal/photos)")
	fs.Uint64Var(&f.seed, "seed", 0, "random `seed` (default: from the clock)")
	fs.StringVar(&f.plot, "plot", "quantfit-demo.png", "write the figure to `file.png` (empty: none)")
	fs.StringVar(&f.model, "model", "midrise", "quantizer `model`")
}

func runDemo(c *cli, fs *flag.FlagSet, args []string) error {
	f := &demoFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return options.Usagef("", "demo takes no arguments")
	}
	m, err := kernels.ParseModel(f.model)
	if err != nil {
		return options.Flagged(err)
	}
	if err := checkOutputs(f.plot, ".png", "-plot"); err != nil {
		return err
	}
	im, err := photos.Load(f.photo)
	if err != nil {
		return options.UsageError{Flag: "photo", Err: fmt.Errorf("-photo: %w (shipped: %v)", err, photos.Names())}
	}
	seed := f.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	r := rand.New(rand.NewPCG(seed, 0xde40))
	truth := 5 + 25*r.Float64()
	q := im.Filter(func(x float64) float64 { return m.Apply(x, truth) })
	pair, err := imageset.NewPair(im, q)
	if err != nil {
		return err
	}
	set := &imageset.Set{Pairs: []imageset.Pair{pair}}
	kind := "gray"
	if im.Channels == 3 {
		kind = "RGB"
	}
	fmt.Fprintf(c.stdout, "quantfit demo: %s (%dx%d %s) quantized by %v with b = %.4f (seed %d)\n\n",
		f.photo, im.W, im.H, kind, m, truth, seed)

	rec := &traceRecorder{}
	plain := estimate.Settings{Model: m, Strategy: estimate.GD{}, Optim: estimate.Optim{Method: "adam", Steps: 500}, Seed: seed, Recorder: rec}
	d, err := estimate.FromSet(set, estimate.Groups(set, false)[0])
	if err != nil {
		return err
	}
	gd, err := estimate.Estimate(d, plain)
	if err != nil {
		return err
	}
	auto, err := estimate.Estimate(d, estimate.Settings{Model: m, Seed: seed})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tb\t|b - truth|\tloss\tinterval\tsteps\tseconds")
	for _, res := range []*estimate.Result{gd, auto} {
		name := res.Strategy
		if res == gd {
			name = "gd (Adam + " + res.Surrogate + ")"
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.3g\t[%.4f, %.4f]\t%d\t%.3f\n", name, res.B, math.Abs(res.B-truth),
			res.Loss, res.Interval[0], res.Interval[1], res.Steps, res.Seconds)
	}
	tw.Flush()
	if err := demoStack(c.stdout, im, m, r, seed); err != nil {
		return err
	}
	if f.plot == "" {
		return nil
	}
	bs, ls, err := estimate.Landscape(d, estimate.Settings{Model: m}, 2000)
	if err != nil {
		return err
	}
	run := plots.Run{
		Title:     fmt.Sprintf("%s, %v b = %.4f: plain gd ends at %.4f, auto at %.4f", f.photo, m, truth, gd.B, auto.B),
		Reference: truth, ReferenceLabel: "truth", Answer: auto.B, Grid: bs, Landscape: ls,
	}
	for _, row := range rec.rows {
		run.Trajectory = append(run.Trajectory, plots.Point{Step: row.step, B: row.x[0], Loss: row.loss})
	}
	if err := atomicfile.Write(f.plot, func(w io.Writer) error { return plots.WriteRun(w, run) }); err != nil {
		return fmt.Errorf("-plot: %v", err)
	}
	fmt.Fprintf(c.stdout, "\nplot: %s (plain gd on the loss landscape; auto's answer and the truth marked)\n", f.plot)
	return nil
}

// demoStack runs the same comparison on a stylization stack before the
// quantizer, fitted jointly.
func demoStack(w io.Writer, im *imageset.Image, m kernels.Model, r *rand.Rand, seed uint64) error {
	const spec = "gamma,gain,bias,quantize"
	st, err := kernels.ParseStack(spec, kernels.Config{Model: m, Surrogate: kernels.Surrogate{Kind: kernels.Atan}, OutputLevels: 255})
	if err != nil {
		return err
	}
	truth := []float64{0.5 + 1.5*r.Float64(), 0.7 + 0.6*r.Float64(), -0.1 + 0.2*r.Float64(), 5 + 25*r.Float64()}
	pair, err := imageset.NewPair(im, im.Filter(func(x float64) float64 { return st.Forward(x, truth) }))
	if err != nil {
		return err
	}
	set := &imageset.Set{Pairs: []imageset.Pair{pair}}
	d, err := estimate.FromSet(set, estimate.Groups(set, false)[0])
	if err != nil {
		return err
	}
	ps := st.Params()
	ps[3].Lo, ps[3].Hi = 5, 30
	fmt.Fprintf(w, "\nthe same photo through the stack %s at gamma %.4f, gain %.4f, bias %.4f, b %.4f:\n\n", spec, truth[0], truth[1], truth[2], truth[3])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tgamma\tgain\tbias\tb\tloss\tseconds")
	for _, strategy := range []estimate.Strategy{estimate.GD{}, estimate.Auto{}} {
		start := ps
		_, gd := strategy.(estimate.GD)
		if gd { // from a random start, as users begin
			start = append([]kernels.Param(nil), ps...)
			for i := range start {
				start[i].Init = start[i].Lo + (start[i].Hi-start[i].Lo)*r.Float64()
			}
		}
		res, err := estimate.EstimateStack(d, st, start, estimate.Settings{Model: m, Strategy: strategy, Optim: estimate.Optim{Method: "adam"}, Seed: seed})
		if err != nil {
			return err
		}
		name := res.Strategy
		if gd {
			name = "gd (Adam + " + res.Surrogate + ")"
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.3g\t%.3f\n", name, res.Value("gamma"), res.Value("gain"), res.Value("bias"), res.Value("b"), res.Loss, res.Seconds)
	}
	return tw.Flush()
}
