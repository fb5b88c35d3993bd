package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/look"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/tiles"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "look",
		usageLine: "look fit [flags] -o LOOK.json ORIG EDITED [ORIG EDITED ...] | look apply [flags] LOOK.json IN OUT | look export [flags] LOOK.json OUT.cube|OUT.png",
		short:     "fit a colour edit from example pairs, apply it to other images, export it as a LUT",
		long: `
Look fit learns a pixel-wise colour edit (a "look": a tool's preset, a
grading, a posterized poster style) from pairs of original and edited
images and writes it to LOOK.json. The look is the simplest stack that
reproduces held-out tiles of the pairs best: per-channel tone curves; a
3×3 colour matrix with offset and output curves; or tone curves plus a 3D
lattice. When the edited values lie on a quantizer's lattice, the look
ends in that quantizer (midrise, posterize, truncate; b found blindly) and
the smooth stack is fitted to the quantization cells. The fit reads tiles
chosen to cover the pairs' colours (-budget pixels) and is judged on
others. A JSON report goes to stdout: the stack, every candidate's PSNR
on training and held-out tiles, each pair's PSNR, the PSNR of the look
baked into a LUT, and the share of pixels no pixel-wise edit explains
(a warning when the edit is not pixel-wise: a blur, a crop, a retouch).

Look apply applies LOOK.json, or the JSON report of quantfit estimate (b,
or a stack), to IN and writes OUT as PNG at IN's depth (8 or 16 bits);
with IN a directory, to every image in it, into the directory OUT. Each
output is written only when its image succeeds.

Look export bakes LOOK.json into OUT.cube (an Adobe/Resolve 3D LUT,
-size nodes a side, for ffmpeg's lut3d and graders) or OUT.png (a Hald
CLUT of level -level, 16-bit, for ImageMagick's -hald-clut). A look
ending in a quantizer cannot be a LUT exactly: export bakes it and warns
with the PSNR lost on the training pairs.

Exit status: 0 on success, 1 when the work fails (some image of a
directory), 2 on bad usage or input.` + lookFlagHelp(),
		run: runLook,
	})
}

// lookFlagHelp lists each subcommand's flags for quantfit help look.
func lookFlagHelp() string {
	var b strings.Builder
	for _, sub := range []struct {
		name    string
		declare func(fs *flag.FlagSet)
	}{
		{"fit", func(fs *flag.FlagSet) { (&lookFitFlags{}).declare(fs) }},
		{"apply", func(fs *flag.FlagSet) { (&lookApplyFlags{}).declare(fs) }},
		{"export", func(fs *flag.FlagSet) { (&lookExportFlags{}).declare(fs) }},
	} {
		fs := flag.NewFlagSet(sub.name, flag.ContinueOnError)
		sub.declare(fs)
		fmt.Fprintf(&b, "\nFlags of look %s:\n", sub.name)
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	return "\n" + strings.TrimRight(b.String(), "\n")
}

func runLook(c *cli, fs *flag.FlagSet, args []string) error {
	if len(args) == 0 {
		return options.Usagef("", "want a subcommand: fit, apply or export")
	}
	switch args[0] {
	case "fit":
		return runLookFit(c, fs, args[1:])
	case "apply":
		return runLookApply(c, fs, args[1:])
	case "export":
		return runLookExport(c, fs, args[1:])
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	}
	return options.Usagef("", "unknown subcommand %q: want fit, apply or export", args[0])
}

// lookFitFlags are look fit's flags.
type lookFitFlags struct {
	out       string
	stacks    string
	quantize  string
	lutSize   int
	smooth    float64
	budget    int
	seed      uint64
	maxPixels int
	backend   string
}

func (f *lookFitFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.backend, "backend", "auto", "`backend` of the per-sample passes: auto, cpu, gpu")
	fs.StringVar(&f.out, "o", "", "write the look to `LOOK.json` (required)")
	fs.StringVar(&f.stacks, "stacks", strings.Join(look.Stacks(), ","), "smooth `stacks` to try, simplest first")
	fs.StringVar(&f.quantize, "quantize", "auto", "end in a quantizer: auto (when the edited values lie on a lattice), off, or a `model`")
	fs.IntVar(&f.lutSize, "lut-size", 17, "the lattice's `nodes` a side (2 to 129)")
	fs.Float64Var(&f.smooth, "smooth", 1, "`weight` of the curves' and lattice's smoothness prior")
	fs.IntVar(&f.budget, "budget", 2<<20, "most `pixels` the fit reads (tiles covering the pairs' colours)")
	fs.Uint64Var(&f.seed, "seed", 1, "`seed` of the held-out tiles' draw")
	fs.IntVar(&f.maxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
}

func runLookFit(c *cli, fs *flag.FlagSet, args []string) error {
	f := &lookFitFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case f.out == "":
		return options.Usagef("o", "-o LOOK.json is required")
	case fs.NArg() == 0 || fs.NArg()%2 != 0:
		return options.Usagef("", "want pairs of images ORIG EDITED; got %d arguments", fs.NArg())
	case f.lutSize < 2 || f.lutSize > 129:
		return options.Usagef("lut-size", "-lut-size %d: want 2 to 129", f.lutSize)
	case !(f.smooth > 0) || math.IsInf(f.smooth, 0):
		return options.Usagef("smooth", "-smooth %v must be positive", f.smooth)
	case f.budget < 4096:
		return options.Usagef("budget", "-budget %d: want 4096 pixels or more", f.budget)
	case f.maxPixels < 1:
		return options.Usagef("max-pixels", "-max-pixels %d must be positive", f.maxPixels)
	}
	if err := checkOutputs(f.out, ".json", "-o"); err != nil {
		return err
	}
	stacks := strings.Split(f.stacks, ",")
	for _, s := range stacks {
		if !slices.Contains(look.Stacks(), s) {
			return options.Usagef("stacks", "-stacks: unknown stack %q; want some of %s", s, strings.Join(look.Stacks(), ","))
		}
	}
	if f.quantize != "auto" && f.quantize != "off" {
		if _, err := kernels.ParseModel(f.quantize); err != nil {
			return options.Usagef("quantize", "-quantize %q: want auto, off or a model (%v)", f.quantize, err)
		}
	}
	var pairs []imageset.Pair
	for i := 0; i < fs.NArg(); i += 2 {
		p, err := imageset.LoadPair(fs.Arg(i), fs.Arg(i+1), f.maxPixels)
		if err != nil {
			return options.UsageError{Err: err}
		}
		pairs = append(pairs, p)
	}
	be, release, err := backend.Open(f.backend, gpu.Options{}, c.stderr)
	if err != nil {
		return options.UsageError{Flag: "backend", Err: fmt.Errorf("-backend %s: %w", f.backend, err)}
	}
	defer release()
	progress, finish := stageProgress(c.stderr)
	l, err := look.Fit(pairs, look.Settings{Stacks: stacks, Quantize: f.quantize, LUTSize: f.lutSize, Smooth: f.smooth,
		Tiles: tiles.Settings{Budget: f.budget, Seed: f.seed}, Progress: progress, Backend: backend.Looks(be)})
	finish()
	if err != nil {
		return err
	}
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.out, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return err
	}
	for _, w := range l.Fit.Warnings {
		fmt.Fprintf(c.stderr, "quantfit look: warning: %s\n", w)
	}
	return writeJSON(c.stdout, struct {
		Look string `json:"look"`
		*look.Report
		Quantizer *lookQuantizer `json:"quantizer,omitempty"`
	}{f.out, l.Fit, quantizerOf(l)})
}

// lookQuantizer is the quantizer in look fit's report.
type lookQuantizer struct {
	Model string  `json:"model"`
	B     float64 `json:"b"`
}

func quantizerOf(l *look.Look) *lookQuantizer {
	if l.Quantizer == nil {
		return nil
	}
	return &lookQuantizer{l.Quantizer.Model, l.Quantizer.B}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readEdit reads LOOK.json or an estimate report; a bad one is the user's.
func readEdit(path string) (*look.Edit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, options.UsageError{Err: fmt.Errorf("%s: %w", path, unwrapPath(err))}
	}
	e, err := look.ReadEdit(data)
	if err != nil {
		return nil, options.UsageError{Err: fmt.Errorf("%s: %w", path, err)}
	}
	return e, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type lookApplyFlags struct {
	maxPixels int
}

func (f *lookApplyFlags) declare(fs *flag.FlagSet) {
	fs.IntVar(&f.maxPixels, "max-pixels", imageset.DefaultMaxPixels, "largest image accepted, in `pixels`")
}

type lookExportFlags struct {
	size, level int
}

func (f *lookExportFlags) declare(fs *flag.FlagSet) {
	fs.IntVar(&f.size, "size", look.DefaultCubeSize, "the .cube's `nodes` a side (2 to 256)")
	fs.IntVar(&f.level, "level", look.DefaultHaldLevel, "the Hald CLUT's `level` (2 to 16: level² nodes a side, a level³-pixel square)")
}

// appliedFile is one image of look apply's report.
type appliedFile struct {
	In      string  `json:"in"`
	Out     string  `json:"out,omitempty"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
}

func runLookApply(c *cli, fs *flag.FlagSet, args []string) error {
	f := &lookApplyFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return options.Usagef("", "want LOOK.json IN OUT; got %d arguments", fs.NArg())
	}
	if f.maxPixels < 1 {
		return options.Usagef("max-pixels", "-max-pixels %d must be positive", f.maxPixels)
	}
	e, err := readEdit(fs.Arg(0))
	if err != nil {
		return err
	}
	in, out := fs.Arg(1), fs.Arg(2)
	st, err := os.Stat(in)
	if err != nil {
		return options.UsageError{Err: fmt.Errorf("%s: %w", in, unwrapPath(err))}
	}
	if !st.IsDir() {
		if err := checkOutputs(out, ".png", "OUT"); err != nil {
			return err
		}
		r := applyFile(e, in, out, f.maxPixels)
		if r.Error != "" {
			return options.UsageError{Err: errors.New(r.Error)}
		}
		return writeJSON(c.stdout, struct {
			Edit string `json:"edit"`
			appliedFile
		}{e.Kind, r})
	}
	if ost, err := os.Stat(out); err == nil && !ost.IsDir() {
		return options.Usagef("", "IN %s is a directory, but OUT %s is a file", in, out)
	}
	ents, err := os.ReadDir(in)
	if err != nil {
		return options.UsageError{Err: fmt.Errorf("%s: %w", in, unwrapPath(err))}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return options.UsageError{Err: fmt.Errorf("OUT %s: %w", out, unwrapPath(err))}
	}
	rep := struct {
		Edit   string        `json:"edit"`
		Files  []appliedFile `json:"files"`
		Failed int           `json:"failed"`
	}{Edit: e.Kind}
	for _, ent := range ents {
		if ent.IsDir() || !imageset.IsImageName(ent.Name()) {
			continue
		}
		name := strings.TrimSuffix(ent.Name(), filepath.Ext(ent.Name())) + ".png"
		r := applyFile(e, filepath.Join(in, ent.Name()), filepath.Join(out, name), f.maxPixels)
		if r.Error != "" {
			rep.Failed++
			fmt.Fprintf(c.stderr, "quantfit look apply: %s\n", r.Error)
		}
		rep.Files = append(rep.Files, r)
	}
	if err := writeJSON(c.stdout, rep); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d images failed", rep.Failed, len(rep.Files))
	}
	return nil
}

// applyFile applies e to the image in and writes out whole, or nothing.
func applyFile(e *look.Edit, in, out string, maxPixels int) appliedFile {
	start := time.Now()
	r := appliedFile{In: in}
	im, err := imageset.Load(in, maxPixels)
	if err == nil {
		var res *imageset.Image
		if res, err = e.Apply(im); err == nil {
			err = atomicfile.Write(out, res.EncodePNG)
		}
	}
	if err != nil {
		r.Error = err.Error()
	} else {
		r.Out = out
	}
	r.Seconds = time.Since(start).Seconds()
	return r
}

func runLookExport(c *cli, fs *flag.FlagSet, args []string) error {
	f := &lookExportFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return options.Usagef("", "want LOOK.json OUT.cube|OUT.png; got %d arguments", fs.NArg())
	}
	out := fs.Arg(1)
	ext := strings.ToLower(filepath.Ext(out))
	switch {
	case ext != ".cube" && ext != ".png":
		return options.Usagef("", "OUT %q: the file name must end in .cube or .png", out)
	case f.size < 2 || f.size > 256:
		return options.Usagef("size", "-size %d: want 2 to 256", f.size)
	case f.level < 2 || f.level > 16:
		return options.Usagef("level", "-level %d: want 2 to 16", f.level)
	}
	e, err := readEdit(fs.Arg(0))
	if err != nil {
		return err
	}
	if e.Look == nil {
		return options.Usagef("", "%s is an estimate report (%s), not a look: export needs look fit's LOOK.json", fs.Arg(0), e.Kind)
	}
	l := e.Look
	key, write := fmt.Sprintf("cube-%d", f.size), func(w io.Writer) error { return l.WriteCube(w, f.size) }
	if ext == ".png" {
		key, write = fmt.Sprintf("hald-%d", f.level), func(w io.Writer) error { return l.WriteHald(w, f.level) }
	}
	if err := atomicfile.Write(out, write); err != nil {
		return err
	}
	if l.Quantizer != nil {
		msg := fmt.Sprintf("the look ends in a quantizer (%s, b = %.4g), which a LUT smears between its nodes", l.Quantizer.Model, l.Quantizer.B)
		if l.Fit != nil && l.Fit.Baked[key] > 0 {
			msg += fmt.Sprintf(": on the training pairs the LUT gives %.2f dB against the look's %.2f dB (%.2f dB lost)",
				l.Fit.Baked[key], l.Fit.TrainPSNR, l.Fit.TrainPSNR-l.Fit.Baked[key])
		}
		fmt.Fprintf(c.stderr, "quantfit look export: warning: %s\n", msg)
	}
	return writeJSON(c.stdout, struct {
		Out   string `json:"out"`
		Stack string `json:"stack"`
	}{out, l.Stack})
}
