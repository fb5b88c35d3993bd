package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quantfit/quantfit/bench"
	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/kernels"
)

func init() {
	commands = append(commands, &command{
		name:      "bench",
		usageLine: "bench [-backend cpu,gpu] [-pixels 1e5,1e6,...] [-surrogate lsq,atan,...] [-mode pixel,hist] [-k 1,256] [-repeat N] [-json] [-plot FILE.png] [-o FILE.md] | bench -restore [-backend cpu,gpu] [-pixels 1e6,4e6,1.6e7] [-repeat N] [-json] [-o FILE.md]",
		short:     "benchmark the step and the estimation, CPU against GPU",
		long: `
Bench times one step for every combination of the lists: a fused
loss+gradient step (K = 1) or the exact losses of K candidates in one pass,
in per-pixel or histogram mode, on 8-bit pairs drawn from a real photograph;
warm-up, then the median, min and max of -repeat steps; pixels/s, bytes/s and
the ratio to the device's measured ceiling (CPU: a large copy on all cores;
GPU: a large buffer-to-buffer copy), and the GPU's speed-up over the CPU.
It also times a whole auto estimation per backend and size (histogram
build, upload, every step, readback).

The table goes to stdout (and, as markdown, to -o); -json prints one JSON
object per configuration instead; -plot draws throughput against pixel
count, log-log. -backend gpu takes any OpenGL 4.3 context, llvmpipe
included.

With -restore it times the steps of quantfit restore instead (the fused
gradient, update and projection, edge-aware and Tikhonov energies,
Nesterov's rule) over quantized RGB photographs of about -pixels pixels.`,
		flags: func(fs *flag.FlagSet) any { f := &benchFlags{}; f.declare(fs); return f },
		run:   runBench,
	})
}

type benchFlags struct {
	backends, pixels, surrogates, modes, ks string
	repeat                                  int
	json, noAuto, debug, restore            bool
	plot, out, writeData, compare           string
}

func (f *benchFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.backends, "backend", "cpu,gpu", "comma-separated `backends`: cpu, gpu")
	fs.StringVar(&f.pixels, "pixels", "1e5,1e6,4e6,1.6e7,6.4e7", "comma-separated pixel `counts`")
	fs.StringVar(&f.surrogates, "surrogate", "lsq,atan", "comma-separated `surrogates`")
	fs.StringVar(&f.modes, "mode", "pixel,hist", "comma-separated `modes`: pixel, hist")
	fs.StringVar(&f.ks, "k", "1,256", "comma-separated candidate `counts` per step (1: loss+gradient)")
	fs.IntVar(&f.repeat, "repeat", 20, "timed `steps` per configuration")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per configuration")
	fs.BoolVar(&f.noAuto, "no-auto", false, "skip the end-to-end auto estimations")
	fs.StringVar(&f.plot, "plot", "", "write throughput against pixels to `file.png`")
	fs.StringVar(&f.out, "o", "", "also write the table to `file.md`")
	fs.BoolVar(&f.debug, "debug", false, "GPU: GL debug output and error checks")
	fs.BoolVar(&f.restore, "restore", false, "time the steps of quantfit restore, and its default run end to end (default -pixels 1e6,4e6,1.6e7)")
	fs.StringVar(&f.writeData, "write-data", "", "write the benchmark's pairs for -pixels (one count) to `file` and exit: N original bytes, then N target bytes (for bench/peers)")
	fs.StringVar(&f.compare, "compare", "", "print peer/quantfit ratios from quantfit's -json `file` and the peers' JSON lines (second argument), and exit")
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (f *benchFlags) config() (bench.Config, error) {
	c := bench.Config{Repeat: f.repeat, Auto: !f.noAuto}
	for _, b := range list(f.backends) {
		if b != "cpu" && b != "gpu" {
			return c, options.Usagef("backend", "-backend: unknown backend %q (want cpu, gpu)", b)
		}
		c.Backends = append(c.Backends, b)
	}
	for _, p := range list(f.pixels) {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || !(v >= 1 && v <= 1<<30) || v != math.Trunc(v) {
			return c, options.Usagef("pixels", "-pixels: %q is not a whole count in [1, 2^30]", p)
		}
		c.Pixels = append(c.Pixels, int(v))
	}
	for _, s := range list(f.surrogates) {
		k, err := kernels.ParseSurrogate(s)
		if err != nil {
			return c, options.Flagged(err)
		}
		c.Surrogates = append(c.Surrogates, k)
	}
	for _, m := range list(f.modes) {
		if m != "pixel" && m != "hist" {
			return c, options.Usagef("mode", "-mode: unknown mode %q (want pixel, hist)", m)
		}
		c.Modes = append(c.Modes, m)
	}
	for _, k := range list(f.ks) {
		v, err := strconv.Atoi(k)
		if err != nil || v < 1 || v > gpu.MaxCandidates {
			return c, options.Usagef("k", "-k: %q is not a count in [1, %d]", k, gpu.MaxCandidates)
		}
		c.Ks = append(c.Ks, v)
	}
	switch {
	case len(c.Backends) == 0 || len(c.Pixels) == 0 || len(c.Surrogates) == 0 || len(c.Modes) == 0 || len(c.Ks) == 0:
		return c, options.Usagef("backend", "-backend, -pixels, -surrogate, -mode and -k must each name one value at least")
	case f.repeat < 1 || f.repeat > 1_000_000:
		return c, options.Usagef("repeat", "-repeat %d must be in [1, 1000000]", f.repeat)
	}
	return c, nil
}

func runBench(c *cli, fs *flag.FlagSet, args []string) error {
	f := &benchFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.compare != "" {
		if fs.NArg() != 1 {
			return options.Usagef("compare", "-compare QUANTFIT.jsonl PEERS.jsonl")
		}
		if err := bench.Compare(c.stdout, f.compare, fs.Arg(0)); err != nil {
			return options.UsageError{Flag: "compare", Err: err}
		}
		return nil
	}
	if fs.NArg() != 0 {
		return options.Usagef("", "bench takes no arguments")
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	if f.restore {
		return c.benchRestore(f, fs, cfg)
	}
	if f.writeData != "" {
		if len(cfg.Pixels) != 1 {
			return options.Usagef("write-data", "-write-data needs one -pixels count")
		}
		return atomicfile.Write(f.writeData, func(w io.Writer) error { return bench.WriteData(w, cfg.Pixels[0]) })
	}
	if err := checkOutputs(f.plot, ".png", "-plot"); err != nil {
		return err
	}
	if err := checkOutputs(f.out, ".md", "-o"); err != nil {
		return err
	}
	d, err := c.benchDevice(cfg.Backends, f.debug)
	if err != nil {
		return err
	}
	if d != nil {
		defer d.Close()
		cfg.Device = d
	}
	if fh, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(fh.Fd())) {
		var bar *progressbar.ProgressBar
		cfg.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(c.stderr), progressbar.OptionSetDescription("bench"),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
			}
			bar.Set(done)
		}
		defer fmt.Fprintln(c.stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	ms, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if f.json {
		if err := bench.WriteJSON(c.stdout, ms); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.stdout, "quantfit bench, %s, %d measurements in %s\n\n", time.Now().UTC().Format("2006-01-02"), len(ms), time.Since(start).Round(time.Millisecond))
		bench.WriteMarkdown(c.stdout, ms)
	}
	if f.out != "" {
		if err := atomicfile.Write(f.out, func(w io.Writer) error { bench.WriteMarkdown(w, ms); return nil }); err != nil {
			return fmt.Errorf("-o: %v", err)
		}
	}
	if f.plot != "" {
		if err := atomicfile.Write(f.plot, func(w io.Writer) error { return bench.WritePlot(w, ms) }); err != nil {
			return fmt.Errorf("-plot: %v", err)
		}
	}
	return nil
}

// benchRestore runs bench -restore.
func (c *cli) benchRestore(f *benchFlags, fs *flag.FlagSet, cfg bench.Config) error {
	if err := checkOutputs(f.out, ".md", "-o"); err != nil {
		return err
	}
	if f.plot != "" || f.writeData != "" {
		return options.Usagef("restore", "-restore writes no -plot or -write-data")
	}
	pixels := cfg.Pixels
	if !given(fs, "pixels") {
		pixels = []int{1 << 20, 4 << 20, 16 << 20}
	}
	dev, err := c.benchDevice(cfg.Backends, f.debug)
	if err != nil {
		return err
	}
	if dev != nil {
		defer dev.Close()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ms, err := bench.RunRestore(ctx, cfg.Backends, pixels, cfg.Repeat, dev)
	if err != nil {
		return err
	}
	ds, err := bench.RunDequantize(ctx, cfg.Backends, pixels, dev)
	if err != nil {
		return err
	}
	write := func(w io.Writer) {
		bench.WriteRestoreMarkdown(w, ms)
		fmt.Fprintln(w, "\nEnd to end, restore's defaults (b and the model found blindly):")
		fmt.Fprintln(w)
		bench.WriteDequantizeMarkdown(w, ds)
	}
	if f.json {
		enc := json.NewEncoder(c.stdout)
		for _, m := range ms {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
	} else {
		fmt.Fprintf(c.stdout, "quantfit bench -restore, %s\n\n", time.Now().UTC().Format("2006-01-02"))
		write(c.stdout)
	}
	if f.out != "" {
		return atomicfile.Write(f.out, func(w io.Writer) error { write(w); return nil })
	}
	return nil
}

// benchDevice opens the GPU if backends name it (any OpenGL 4.3 context,
// software renderers included); nil if they do not.
func (c *cli) benchDevice(backends []string, debug bool) (*gpu.Device, error) {
	for _, b := range backends {
		if b == "gpu" {
			d, err := gpu.Open(gpu.Options{AllowSoftware: true, Debug: debug, DebugLog: c.stderr})
			if err != nil {
				return nil, options.UsageError{Flag: "backend", Err: fmt.Errorf("-backend gpu: %w", err)}
			}
			return d, nil
		}
	}
	return nil, nil
}
