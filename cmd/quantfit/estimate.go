package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/internal/plots"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "estimate",
		usageLine: "estimate [flags] ORIG QUANT [ORIG QUANT ...] | estimate [flags] -pairs DIR_ORIG DIR_QUANT | estimate [flags] -blind QUANT [QUANT ...]",
		short:     "estimate the quantizer's b from original and filtered images",
		long: `
Estimate fits the parameter b of the quantizer to one or more pairs of an
original image and its filtered version (PNG, JPEG, GIF, TIFF, WebP or BMP, 8
or 16 bits, gray or colour), all pairs jointly, and prints one JSON object
with the answer and how it was found. With -pairs, the files of DIR_ORIG are matched
with the files of the same name in DIR_QUANT.

With -blind, the arguments are filtered images alone: b is the one whose
stored levels hold every value of the images and leave the fewest of their
levels empty (so not a multiple of b). It assumes clean values: compressed
or dithered images are warned about, not modelled.

Exit status: 0 on success, 1 when the estimation fails, 2 on bad usage or
input.`,
		flags: func(fs *flag.FlagSet) any { f := &estimateFlags{}; f.declare(fs); return f },
		run:   runEstimate,
	})
}

type estimateFlags struct {
	options.Options
	pairs  bool
	blind  bool
	trace  string
	plot   string
	truth  float64
	window bool
}

func (f *estimateFlags) declare(fs *flag.FlagSet) {
	f.Options.Declare(fs)
	fs.BoolVar(&f.pairs, "pairs", false, "arguments are two directories of images matched by file name")
	fs.BoolVar(&f.blind, "blind", false, "arguments are filtered images alone: estimate b from their values' levels")
	fs.StringVar(&f.trace, "trace", "", "write every gradient step to `file.csv` (step, b, loss, grad, lr; with -stack every parameter and its gradient)")
	fs.StringVar(&f.plot, "plot", "", "write b per step and the loss landscape to `file.png`")
	fs.Float64Var(&f.truth, "truth", math.NaN(), "the true `b`, if known: drawn on the plot and reported")
	fs.BoolVar(&f.window, "window", false, "show the loss landscape and the trajectory live in a window (builds with -tags glfw, with a display)")
}

// traceRecorder keeps every step of every channel for -trace and -plot.
type traceRecorder struct {
	channel int
	rows    []traceRow
	window  *gpu.Window // shows channel 0's steps live, if set
}

type traceRow struct {
	channel, step int
	x, grad       []float64
	loss, lr      float64
}

func (t *traceRecorder) Record(s optim.Step) error {
	t.rows = append(t.rows, traceRow{t.channel, s.Step, slices.Clone(s.X), slices.Clone(s.Grad), s.Loss, s.LR})
	if t.window != nil && t.channel == 0 {
		t.window.Add(s.X[0], s.Loss)
	}
	return nil
}

// liveWindow opens the -window view with the landscape of the first
// channel group.
func liveWindow(set *imageset.Set, perChannel bool, s estimate.Settings) (*gpu.Window, error) {
	w, err := gpu.OpenWindow("quantfit estimate", 900, 500)
	if err != nil {
		return nil, options.UsageError{Flag: "window", Err: fmt.Errorf("-window: %w", err)}
	}
	d, err := estimate.FromSet(set, estimate.Groups(set, perChannel)[0])
	if err == nil {
		s.Recorder = nil
		var bs, ls []float64
		if bs, ls, err = estimate.Landscape(d, s, 2000); err == nil {
			w.SetLandscape(bs, ls)
		}
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// writeCSV writes the steps: the parameters (b alone, or a stack's), the
// loss, the gradient (grad, or grad_NAME per parameter) and the rate.
func (t *traceRecorder) writeCSV(w io.Writer, perChannel bool, names []string) error {
	var buf bytes.Buffer
	if perChannel {
		buf.WriteString("channel,")
	}
	buf.WriteString("step," + strings.Join(names, ",") + ",loss,")
	if len(names) == 1 {
		buf.WriteString("grad")
	} else {
		for i, n := range names {
			if i > 0 {
				buf.WriteString(",")
			}
			buf.WriteString("grad_" + n)
		}
	}
	buf.WriteString(",lr\n")
	for _, r := range t.rows {
		if perChannel {
			fmt.Fprintf(&buf, "%d,", r.channel)
		}
		fmt.Fprintf(&buf, "%d,", r.step)
		for _, v := range r.x {
			fmt.Fprintf(&buf, "%.10g,", v)
		}
		fmt.Fprintf(&buf, "%.10g,", r.loss)
		for _, v := range r.grad {
			fmt.Fprintf(&buf, "%.10g,", v)
		}
		fmt.Fprintf(&buf, "%.10g\n", r.lr)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func runEstimate(c *cli, fs *flag.FlagSet, args []string) error {
	f := &estimateFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.Check(); err != nil {
		return err
	}
	if f.blind {
		return c.runBlind(f, fs.Args())
	}
	s, _ := f.Settings()
	if err := checkOutputs(f.trace, ".csv", "-trace"); err != nil {
		return err
	}
	if err := checkOutputs(f.plot, ".png", "-plot"); err != nil {
		return err
	}
	if f.Stack != "" && (f.plot != "" || f.window) {
		return options.Usagef("stack", "-plot and -window show one b: not with -stack")
	}
	if f.ModelAuto() && (f.plot != "" || f.window) {
		return options.Usagef("model", "-plot and -window show one model's loss: name the model, not -model auto")
	}
	set, err := loadSet(fs.Args(), f.pairs, f.MaxPixels)
	if err != nil {
		return err
	}
	be, release, err := openBackend(&f.Options, c.stderr, false)
	if err != nil {
		return err
	}
	defer release()
	s.Backend = be
	rec := &traceRecorder{}
	var recorder optim.Recorder
	if f.trace != "" || f.plot != "" {
		recorder = rec
	}
	if f.window {
		w, err := liveWindow(set, f.PerChannel, s)
		if err != nil {
			return err
		}
		defer w.Close()
		rec.window = w
		recorder = rec
		defer func() {
			fmt.Fprintln(c.stderr, "quantfit: close the window to exit")
			w.Wait(0)
		}()
	}
	progress, done := fitProgress(c.stderr)
	out, err := f.Estimate(set, be, options.Hooks{Recorder: recorder, Before: func(ch int) { rec.channel = ch }, Progress: progress})
	done()
	if err != nil {
		return err
	}
	var losses []float64
	names := []string{"b"}
	poorLoss := s.Loss
	for _, r := range out.Results {
		if r.Blocks {
			// the codec's errors are in the pixels: judge the fit by the
			// block means it keeps
			losses, poorLoss = append(losses, r.BlockLoss), kernels.Loss{Kind: kernels.MSE}
			continue
		}
		losses = append(losses, r.Loss)
	}
	for i, r := range out.StackResults {
		losses = append(losses, r.Loss)
		if i == 0 {
			names = names[:0]
			for _, p := range r.Params {
				names = append(names, p.Name)
			}
		}
	}
	warnPoorFit(c.stderr, losses, set.TargetStep(), poorLoss)
	for i, r := range out.Results {
		where := ""
		if len(out.Results) > 1 {
			where = fmt.Sprintf(" (channel %d)", i)
		}
		warnAtEdge(c.stderr, where, r.B, s.Range)
		warnAmbiguous(c.stderr, where, r)
	}
	if rec.window != nil {
		rec.window.Mark(out.Results[0].B)
	}
	if out.Report != nil && !math.IsNaN(f.truth) {
		t := estimate.Number(f.truth)
		out.Report.Truth = &t
	}
	if f.trace != "" {
		if err := atomicfile.Write(f.trace, func(w io.Writer) error { return rec.writeCSV(w, f.PerChannel, names) }); err != nil {
			return fmt.Errorf("-trace: %v", err)
		}
	}
	if f.plot != "" {
		if err := writePlot(f.plot, set, s, out.Results[0], rec, f.truth, f.PerChannel); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out.JSON()); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}

func writePlot(path string, set *imageset.Set, s estimate.Settings, r *estimate.Result, rec *traceRecorder, truth float64, perChannel bool) error {
	title := fmt.Sprintf("%s, %s, %s: b = %.4f", r.Strategy, r.Optimizer, r.Surrogate, r.B)
	if perChannel {
		title += " (channel 0)"
	}
	d, err := estimate.FromSet(set, estimate.Groups(set, perChannel)[0])
	if err != nil {
		return err
	}
	s.Recorder = nil
	bs, ls, err := estimate.Landscape(d, s, 2000)
	if err != nil {
		return err
	}
	run := plots.Run{Title: title, Reference: r.B, ReferenceLabel: "answer", Answer: r.B, Grid: bs, Landscape: ls}
	if !math.IsNaN(truth) {
		run.Reference, run.ReferenceLabel = truth, "truth"
	}
	for _, row := range rec.rows {
		if row.channel == 0 {
			run.Trajectory = append(run.Trajectory, plots.Point{Step: row.step, B: row.x[0], Loss: row.loss})
		}
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return plots.WriteRun(w, run) }); err != nil {
		return fmt.Errorf("-plot: %v", err)
	}
	return nil
}

// checkOutputs refuses an output path with the wrong extension before any
// work is done.
func checkOutputs(path, ext, what string) error {
	if path != "" && !strings.HasSuffix(strings.ToLower(path), ext) {
		return options.Usagef("", "%s %q: the file name must end in %s", what, path, ext)
	}
	return nil
}

// loadSet loads the pairs named by the arguments.
func loadSet(args []string, dirs bool, maxPixels int) (*imageset.Set, error) {
	var names [][2]string
	if dirs {
		if len(args) != 2 {
			return nil, options.Usagef("pairs", "-pairs needs two directories, DIR_ORIG DIR_QUANT; got %d arguments", len(args))
		}
		ps, err := imageset.MatchDirs(args[0], args[1])
		if err != nil {
			return nil, options.UsageError{Err: err}
		}
		names = ps
	} else {
		if len(args) == 0 || len(args)%2 != 0 {
			return nil, options.Usagef("", "want pairs of images ORIG QUANT; got %d arguments", len(args))
		}
		for i := 0; i < len(args); i += 2 {
			names = append(names, [2]string{args[i], args[i+1]})
		}
	}
	set := &imageset.Set{}
	for _, n := range names {
		p, err := imageset.LoadPair(n[0], n[1], maxPixels)
		if err != nil {
			if errors.Is(err, imageset.ErrTooLarge) {
				err = fmt.Errorf("%w (raise it with -max-pixels)", err)
			}
			return nil, options.UsageError{Err: err}
		}
		set.Pairs = append(set.Pairs, p)
	}
	return set, nil
}

// warnAtEdge says so on stderr when b sits at an end of the range
// searched: the loss may fall further beyond it, so the true b may lie
// outside (a tool with more levels than -bmax allows).
func warnAtEdge(w io.Writer, where string, b float64, r estimate.Range) {
	tol := 1e-3 * (r.Max - r.Min)
	switch {
	case b >= r.Max-tol:
		fmt.Fprintf(w, "quantfit: warning%s: b = %.4g sits at the upper end of the range [%g, %g]; the answer may lie beyond it: widen it with -bmax\n", where, b, r.Min, r.Max)
	case b <= r.Min+tol:
		fmt.Fprintf(w, "quantfit: warning%s: b = %.4g sits at the lower end of the range [%g, %g]; the answer may lie below it: widen it with -bmin\n", where, b, r.Min, r.Max)
	}
}

// warnAmbiguous says so on stderr when the block means of lossy targets
// rank another answer close to the one given: the codec's damage leaves
// both possible.
func warnAmbiguous(w io.Writer, where string, r *estimate.Result) {
	if !r.Blocks || r.BlockRivalB == 0 || r.BlockRivalLoss > estimate.BlockClear*r.BlockLoss {
		return
	}
	fmt.Fprintf(w, "quantfit: warning%s: the targets are lossy and their block means fit b = %.4g (%.3g) and b = %.4g (%.3g) almost as well; the answer may be either\n",
		where, r.B, r.BlockLoss, r.BlockRivalB, r.BlockRivalLoss)
}

// warnPoorFit says so on stderr when even the best b leaves residuals far
// beyond what quantization and storage explain (a few levels of the
// targets): the pair is likely not a quantization of that original, or is
// heavily compressed, and the answer is unreliable.
func warnPoorFit(w io.Writer, losses []float64, step float64, l kernels.Loss) {
	for i, loss := range losses {
		if levels := estimate.ResidualLevels(loss, l, step); levels > estimate.PoorFitLevels {
			where := ""
			if len(losses) > 1 {
				where = fmt.Sprintf(" (channel %d)", i)
			}
			fmt.Fprintf(w, "quantfit: warning%s: the best fit leaves residuals of about %.0f target levels; these images may not be a quantization of each other, and the answer is unreliable\n", where, levels)
		}
	}
}
