package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "restore",
		images:    true,
		usageLine: "restore [flags] QUANT OUT",
		short:     "restore a quantized image, or inpaint missing pixels, by energy minimization",
		long: `
Restore dequantizes QUANT, an image stored by the quantizer: it finds the
smoothest image (by -energy) whose every sample stays in the quantization
cell of its stored value, starting from the stored image, by the per-pixel
update rule of -optimizer. b is -b, or estimated in [5, 64] from the
pair -orig ORIG QUANT, or blindly from QUANT alone. -model auto (the
default) takes the quantizer that fits best: the least loss on the pair
with -orig, else the lattice that QUANT's values fit best (ImageMagick's
-posterize is the posterize model, for one). Where no model's lattice
holds the values as their quantizer but a channel takes 128 values at
most (a contrast stretch of an 8-bit file, levels spaced in another
gamma, a palette), each value is a level, its cell reaching halfway to
its neighbours: the model "levels", b the most values a channel takes. A
dithered QUANT (ffmpeg's low-depth formats, -ordered-dither), which no b
explains sample by sample, takes b from its values' lattice even with
-orig. Each of these says so in a warning and in the report's note. An
ordered dither (a threshold pattern repeating every 2 to 16 pixels:
ImageMagick's -ordered-dither maps, swscale's 2×2 to 8×8) is found from
QUANT's levels: each sample is then restored within the cell its
threshold gives it, which takes the pattern out; the report's dither
says "ordered" and dither_period the period. A colour palette (256
colours at most, few of its channels' combinations: ImageMagick's
-colors and -remap, ffmpeg's paletteuse, GIF and PNG8 files), whose
cells are regions of colour space and not boxes of levels, is restored
towards its neighbours' mean where the image varies no more than the
palette's noise does, no cell kept; the report's palette says how many
colours. That noise is larger where neighbouring pixels differ in colour
more often than pixels two apart (an error diffusion, which ffmpeg's
bgr8 writes too: dither says "error diffusion").
Without -b or -orig, an image whose many values lie on no lattice
(compressed after the quantizer, or never quantized: a video frame, a
JPEG photograph) is refused, the best guess named: a restore with it
would flatten the image.

With -inpaint, the pixels named missing (by a mask image whose non-zero
pixels are missing, or "extremes": pixels at 0 or at full scale) are
filled by the same minimization with the known pixels fixed.

The steps run on the GPU where -backend puts them (fused gradient, update
and projection per pixel), else on all CPU cores. OUT is a PNG of -depth
bits, written only when the run succeeds. A JSON report goes to stdout.

Exit status: 0 on success, 1 when the restoration fails, 2 on bad usage or
input.`,
		flags: func(fs *flag.FlagSet) any { f := &restoreFlags{}; f.declare(fs); return f },
		run:   runRestore,
	})
}

type restoreFlags struct {
	b          float64
	model      string
	orig       string
	inpaint    string
	energy     string
	eps        float64
	fidelity   float64
	optimizer  string
	lr         float64
	schedule   string
	decay      float64
	decaySteps float64
	steps      int
	levels     int
	tol        float64
	every      int
	depth      int
	trace      string
	window     bool
	backend    string
	maxPixels  int
	shrink     int
	refine     bool
}

func (f *restoreFlags) declare(fs *flag.FlagSet) {
	f.b = math.NaN()
	fs.Func("b", "the quantizer's `b` (default: from -orig, else estimated blindly)", func(v string) error {
		var err error
		f.b, err = strconv.ParseFloat(v, 64)
		return err
	})
	fs.StringVar(&f.model, "model", "auto", "quantizer `model`: "+strings.Join(kernels.Models(), ", ")+", or auto (the one that fits best)")
	fs.StringVar(&f.orig, "orig", "", "an `original` of QUANT, to estimate b from the pair")
	fs.StringVar(&f.inpaint, "inpaint", "", "inpaint instead: the missing pixels, a `mask` image (non-zero: missing) or extremes (pixels at 0 or full scale)")
	fs.StringVar(&f.energy, "energy", "", "smoothness `energy`: tikhonov, tv, edge (default: edge; tikhonov when inpainting)")
	fs.Float64Var(&f.eps, "eps", 0, "total variation's `ε` (default: a fifth of a cell; 0.01 when inpainting)")
	fs.Float64Var(&f.fidelity, "fidelity", restore.DefaultFidelity, "`weight` of the data term, per cell: (b − shift)·weight·Σ(u − stored)², lowered by edge where smoothing recovers a ramp (dequantizing)")
	fs.StringVar(&f.optimizer, "optimizer", "nesterov", "update `rule`: "+strings.Join(optim.MethodNames(), ", "))
	fs.Float64Var(&f.lr, "lr", 0, "learning `rate` (default: the rule's for the energy)")
	options.DeclareSchedule(fs, &f.schedule, &f.decay, &f.decaySteps)
	fs.IntVar(&f.steps, "steps", 300, "most `steps`")
	fs.IntVar(&f.levels, "levels", 0, "coarser `levels` solved first, each half the size (0: as many as fit where nothing pulls band interiors onto ramps, as with tikhonov and tv, none with edge; -1: none)")
	fs.Float64Var(&f.tol, "tol", 0, "stop when the energy falls by less than this `share` between checks (0: 1e-5; negative: never)")
	fs.IntVar(&f.every, "every", 10, "`steps` between energy checks")
	fs.BoolVar(&f.refine, "refine", true, "the in-cell regression after the prior, learnt from a coarser quantization of the image's own restore (dequantizing; -refine=false: none)")
	fs.IntVar(&f.shrink, "shrink", restore.DefaultShrinkPasses, "`passes` of the block-sparsity prior after the solve, every sample kept in its cell (dequantizing; 0: none)")
	fs.IntVar(&f.depth, "depth", 8, "bits per sample of OUT: 8 or 16")
	fs.StringVar(&f.trace, "trace", "", "write the energy at every check to `file.csv` (step, energy, lr)")
	fs.BoolVar(&f.window, "window", false, "show the image as it improves (builds with -tags glfw, with a display)")
	fs.StringVar(&f.backend, "backend", "auto", "`backend`: auto, cpu, gpu")
	fs.IntVar(&f.maxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
}

// restoreReport is the JSON report of a run.
type restoreReport struct {
	Mode  string `json:"mode"`
	Model string `json:"model,omitempty"`
	// ModelFrom says how the model was chosen: "flag", "pair" or "blind".
	ModelFrom string  `json:"model_from,omitempty"`
	B         float64 `json:"b,omitempty"`
	BFrom     string  `json:"b_from,omitempty"`
	// Note is a caveat on b (restore.Quantizer), also printed as a warning.
	Note string `json:"note,omitempty"`
	// Dither is the kind of dither found ("ordered", "error diffusion"),
	// DitherPeriod an ordered one's period.
	Dither       string `json:"dither,omitempty"`
	DitherPeriod int    `json:"dither_period,omitempty"`
	// Palette is the number of colours of a colour palette found.
	Palette int     `json:"palette,omitempty"`
	Energy  string  `json:"energy"`
	Missing int     `json:"missing,omitempty"`
	Start   float64 `json:"energy_start"`
	End     float64 `json:"energy_end"`
	Steps   int     `json:"steps"`
	// Levels counts the coarser levels solved before OUT's own size.
	Levels   int             `json:"levels,omitempty"`
	Status   string          `json:"status"`
	Method   string          `json:"optimizer"`
	LR       float64         `json:"lr"`
	Backend  string          `json:"backend"`
	Renderer string          `json:"renderer,omitempty"`
	Seconds  float64         `json:"seconds"`
	PSNRIn   estimate.Number `json:"psnr_stored,omitempty"`
	PSNROut  estimate.Number `json:"psnr_restored,omitempty"`
	// FalseIn and FalseOut count the steps of half a cell or more where
	// the original moves less than a quarter (restore.FalseSteps): the
	// false contours before and after.
	FalseIn  *int `json:"false_steps_stored,omitempty"`
	FalseOut *int `json:"false_steps_restored,omitempty"`
}

func (f *restoreFlags) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() != 2:
		return options.Usagef("", "want QUANT OUT; got %d arguments", fs.NArg())
	case f.steps < 1:
		return options.Usagef("steps", "-steps %d must be at least 1", f.steps)
	case f.shrink < 0 || f.shrink > 100:
		return options.Usagef("shrink", "-shrink %d: want 0 to 100 passes", f.shrink)
	case f.levels < -1 || f.levels > 30:
		return options.Usagef("levels", "-levels %d: want -1 to 30", f.levels)
	case f.every < 1:
		return options.Usagef("every", "-every %d must be at least 1", f.every)
	case f.depth != 8 && f.depth != 16:
		return options.Usagef("depth", "-depth %d: want 8 or 16", f.depth)
	case math.IsNaN(f.tol) || math.IsInf(f.tol, 0):
		return options.Usagef("tol", "-tol %v must be a share (negative: never stop early)", f.tol)
	case !(f.lr >= 0) || math.IsInf(f.lr, 0):
		return options.Usagef("lr", "-lr %v must be positive", f.lr)
	case !(f.eps >= 0) || math.IsInf(f.eps, 0):
		return options.Usagef("eps", "-eps %v must be positive", f.eps)
	case !(f.fidelity >= 0) || math.IsInf(f.fidelity, 0):
		return options.Usagef("fidelity", "-fidelity %v must be 0 or more", f.fidelity)
	case f.maxPixels < 1:
		return options.Usagef("max-pixels", "-max-pixels %d must be positive", f.maxPixels)
	case f.inpaint != "" && (f.orig != "" || !math.IsNaN(f.b) || given(fs, "fidelity")):
		return options.Usagef("inpaint", "-inpaint fills missing pixels: not with -b, -orig or -fidelity")
	case f.orig != "" && !math.IsNaN(f.b):
		return options.Usagef("orig", "give -b or -orig, not both")
	case !math.IsNaN(f.b) && (math.IsInf(f.b, 0) || f.b > 1<<16):
		return options.Usagef("b", "-b %v is not a quantizer's", f.b)
	}
	return checkOutputs(fs.Arg(1), ".png", "OUT")
}

func runRestore(c *cli, fs *flag.FlagSet, args []string) error {
	f := &restoreFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.check(fs); err != nil {
		return err
	}
	if err := checkOutputs(f.trace, ".csv", "-trace"); err != nil {
		return err
	}
	// the models that reach the blind estimate's range of b
	models := estimate.ModelsFrom(restore.BlindRange.Min)
	if f.model != "auto" {
		m, err := kernels.ParseModel(f.model)
		if err != nil {
			return options.Usagef("model", "-model %q: want auto or one of %s", f.model, strings.Join(kernels.Models(), ", "))
		}
		models = []kernels.Model{m}
	}
	method, err := optim.ParseMethod(f.optimizer)
	if err != nil {
		return options.Usagef("optimizer", "-optimizer: %v", err)
	}
	if _, err := restore.Rule(method); err != nil {
		return options.Usagef("optimizer", "-optimizer %s: %v", f.optimizer, err)
	}
	sched, err := optim.ParseSchedule(f.schedule, f.decay, f.decaySteps)
	if err != nil {
		return options.Usagef("schedule", "-schedule: %v", err)
	}
	energyName := f.energy
	if energyName == "" {
		energyName = "edge"
		if f.inpaint != "" {
			energyName = "tikhonov"
		}
	}
	kind, err := kernels.ParseSmoothness(energyName)
	if err != nil {
		return options.Usagef("energy", "-energy: %v", err)
	}
	e := kernels.Energy{Kind: kind, Eps: f.eps, Fidelity: f.fidelity}
	q, err := imageset.Load(fs.Arg(0), f.maxPixels)
	if err != nil {
		return options.UsageError{Err: err}
	}
	// the backend restores, and finds a dequantization's seeds
	be, release, err := backend.Open(f.backend, gpu.Options{}, c.stderr)
	if err != nil {
		return options.UsageError{Flag: "backend", Err: fmt.Errorf("-backend %s: %w", f.backend, err)}
	}
	defer release()
	rep := &restoreReport{Energy: energyName}
	var p *kernels.Restoration
	cell := 1.0
	var orig *imageset.Image
	if f.inpaint != "" {
		rep.Mode = "inpaint"
		missing := restore.Extremes(q)
		if f.inpaint != "extremes" {
			mask, err := imageset.Load(f.inpaint, f.maxPixels)
			if err != nil {
				return options.UsageError{Flag: "inpaint", Err: err}
			}
			if mask.W != q.W || mask.H != q.H {
				return options.Usagef("inpaint", "-inpaint %s is %d×%d, %s is %d×%d", f.inpaint, mask.W, mask.H, fs.Arg(0), q.W, q.H)
			}
			missing = func(_, i int) bool { return mask.Value(0, i) > 0 }
		}
		if p, err = restore.Inpainting(q, missing, e); err != nil {
			return options.UsageError{Err: err}
		}
		for c := range q.Channels {
			for i := range q.W * q.H {
				if missing(c, i) {
					rep.Missing++
				}
			}
		}
	} else {
		rep.Mode = "dequantize"
		if f.orig != "" {
			if orig, err = imageset.Load(f.orig, f.maxPixels); err != nil {
				return options.UsageError{Err: err}
			}
		}
		qz, err := restore.FindQuantizer(q, orig, f.b, models)
		if err != nil {
			var ie *imageset.InputError
			if errors.As(err, &ie) {
				return options.UsageError{Err: err}
			}
			return err
		}
		rep.BFrom, rep.ModelFrom, rep.Note = qz.BFrom, qz.ModelFrom, qz.Note
		if qz.Dither != nil {
			rep.Dither, rep.DitherPeriod = qz.Dither.Kind(), qz.Dither.P
		}
		rep.Palette = qz.Palette
		if qz.Note != "" {
			fmt.Fprintf(c.stderr, "quantfit: warning: %s\n", qz.Note)
		}
		rep.B, rep.Model = qz.B, qz.ModelName()
		if p, cell, err = qz.Dequantization(q, e, backend.Restore(be)); err != nil {
			var bad *restore.BackendError
			if errors.As(err, &bad) {
				return err
			}
			return options.UsageError{Flag: "b", Err: err}
		}
	}
	s := restore.Settings{Method: method, LearningRate: f.lr, Schedule: sched, Steps: f.steps,
		Levels: f.levels, Tolerance: f.tol, Every: f.every, Backend: backend.Restore(be)}
	if f.inpaint == "" {
		s.Shrink = f.shrink
		if f.refine {
			s.Refine = 1
		}
	}
	var trace strings.Builder
	trace.WriteString("step,energy,lr\n")
	progress, finish := restoreProgress(c.stderr, f.steps)
	defer finish()
	var win *gpu.Window
	if f.window {
		scale := min(1, 1024/float64(max(q.W, q.H)))
		if win, err = gpu.OpenWindow("quantfit restore", int(scale*float64(q.W)), int(scale*float64(q.H))); err != nil {
			return options.UsageError{Flag: "window", Err: fmt.Errorf("-window: %w", err)}
		}
		defer win.Close()
		s.WantImage = true
	}
	s.Recorder = func(ck restore.Check) error {
		fmt.Fprintf(&trace, "%d,%.10g,%.10g\n", ck.Step, ck.Energy, ck.LR)
		progress(ck.Step)
		if win != nil && ck.Image != nil {
			win.ShowImage(rgba(ck.Image, q.W, q.H), q.W, q.H)
		}
		return nil
	}
	res, err := restore.Run(p, cell, s)
	if err != nil {
		return err
	}
	out, err := restore.Image(res.Planes, q.W, q.H, f.depth, q.Name)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(fs.Arg(1), func(w io.Writer) error { return out.EncodePNG(w) }); err != nil {
		return err
	}
	if f.trace != "" {
		if err := atomicfile.Write(f.trace, func(w io.Writer) error { _, err := io.WriteString(w, trace.String()); return err }); err != nil {
			return err
		}
	}
	rep.Start, rep.End, rep.Steps, rep.Status = res.Start, res.Energy, res.Steps, res.Status.String()
	rep.Levels = res.Levels
	rep.Method, rep.LR, rep.Backend, rep.Renderer, rep.Seconds = res.Method, res.LearningRate, res.Backend, res.Renderer, res.Seconds
	if orig != nil {
		stored, restored := restore.Planes(q), restore.Planes(out)
		// an OUT equal to ORIG is +Inf dB, null in the report
		rep.PSNRIn, rep.PSNROut = estimate.Number(restore.PSNR(stored, orig)), estimate.Number(restore.PSNR(restored, orig))
		in, out := restore.FalseSteps(stored, orig, cell), restore.FalseSteps(restored, orig, cell)
		rep.FalseIn, rep.FalseOut = &in, &out
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if win != nil {
		defer func() {
			fmt.Fprintln(c.stderr, "quantfit: close the window to exit")
			win.Wait(0)
		}()
	}
	return enc.Encode(rep)
}

// rgba packs planes (grey or RGB) for the window.
func rgba(planes [][]float32, w, h int) []uint8 {
	out := make([]uint8, 4*w*h)
	for i := range w * h {
		for c := range 3 {
			v := planes[min(c, len(planes)-1)][i]
			out[4*i+c] = uint8(math.Round(255 * float64(min(max(v, 0), 1))))
		}
		out[4*i+3] = 255
	}
	return out
}

// given reports whether flag name was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
