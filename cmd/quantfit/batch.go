package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/batch"
	"github.com/quantfit/quantfit/host/options"
)

func init() {
	commands = append(commands, &command{
		name:      "batch",
		images:    true,
		usageLine: "batch [flags] MANIFEST | batch [flags] -pairs DIR_ORIG DIR_QUANT",
		short:     "estimate many pairs, resumably, into JSON Lines",
		long: `
Batch estimates every pair of a manifest and appends one JSON line per job
to the output (-o): the job's id with the estimate's report, or with an
error field. One bad job never stops the batch. Rerunning with the same
output skips the jobs it already holds, so a killed batch resumes where it
stopped; lines are written whole, synced, in manifest order, and without
the wall time, so a resumed run writes the same file as an uninterrupted
one.

MANIFEST is CSV with a header row naming id, original, quantized and any
option columns (model, strategy, bmin, bmax, ... as the flags below), or
JSON Lines of objects with those keys; a job with no original (an empty
field, or none) is estimated blind from its filtered image. A job of kind
apply (columns kind, look, original, output) applies look (look fit's
LOOK.json or an estimate's report) to original and writes output, a PNG,
whole or not at all; its line names the output. A job of kind restore
(columns kind, quantized, output, and original if known) restores
quantized as quantfit restore does by default (b from the pair, else
blindly) and writes output the same way. Relative paths
are taken from the manifest's directory. With -pairs, each image of DIR_ORIG is a job, id the
file name, paired with the file of that name in DIR_QUANT.

-shard i/n runs the jobs of shard i of n only (by a hash of the id), so
that n machines share a manifest; in a Kubernetes Indexed Job, -shards n
takes i from JOB_COMPLETION_INDEX (deploy/ has an example). The shards'
outputs are disjoint: cat shard-*.jsonl > results.jsonl merges them.

Exit status: 0 when every job succeeded, 1 when some failed or the batch
was interrupted, 2 on bad usage, a bad manifest or an unusable output.`,
		flags: func(fs *flag.FlagSet) any { f := &batchFlags{}; f.declare(fs); return f },
		run:   runBatch,
	})
}

type batchFlags struct {
	options.Options
	out      string
	pairs    bool
	shard    string
	shards   int
	decoders int
}

func (f *batchFlags) declare(fs *flag.FlagSet) {
	f.Options.Declare(fs)
	fs.StringVar(&f.out, "o", "results.jsonl", "results `file` (JSON Lines), appended to and resumed from")
	fs.BoolVar(&f.pairs, "pairs", false, "arguments are two directories of images matched by file name")
	fs.StringVar(&f.shard, "shard", "", "run shard `i/n` of the jobs only")
	fs.IntVar(&f.shards, "shards", 0, "run shard JOB_COMPLETION_INDEX of `n` (Kubernetes Indexed Jobs)")
	fs.IntVar(&f.decoders, "decoders", 0, "image-decoding `workers` (default: one per core)")
}

func runBatch(c *cli, fs *flag.FlagSet, args []string) error {
	f := &batchFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := f.Settings(); err != nil {
		return err
	}
	shard, n, err := f.shardOf()
	if err != nil {
		return err
	}
	var jobs []batch.Job
	switch {
	case f.pairs && fs.NArg() == 2:
		jobs, err = batch.FromDirs(fs.Arg(0), fs.Arg(1))
	case f.pairs:
		return options.Usagef("pairs", "-pairs needs two directories, DIR_ORIG DIR_QUANT; got %d arguments", fs.NArg())
	case fs.NArg() == 1:
		jobs, err = readManifest(fs.Arg(0), &f.Options)
	default:
		return options.Usagef("", "want one MANIFEST; got %d arguments", fs.NArg())
	}
	if err != nil {
		return options.UsageError{Err: err}
	}
	if n > 1 {
		if jobs, err = batch.Shard(jobs, shard, n); err != nil {
			return options.UsageError{Err: err}
		}
	}
	be, release, err := openBackend(&f.Options, c.stderr, false)
	if err != nil {
		return err
	}
	defer release()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &batch.Runner{Base: &f.Options, Backend: be, Restore: backend.Restore(be), Decoders: f.decoders}
	var finish func()
	r.Progress, finish = progressReporter(c.stderr, len(jobs))
	p, err := r.Run(ctx, jobs, f.out)
	finish()
	if err != nil {
		var stop *batch.StopError
		if errors.As(err, &stop) {
			return fmt.Errorf("stopped after %d of %d jobs (%v); rerun the same command to resume", stop.Done, stop.Total, stop.Cause)
		}
		return options.UsageError{Err: err}
	}
	fmt.Fprintf(c.stderr, "batch: %d jobs: %d estimated, %d failed, %d already done (%s) in %s\n",
		p.Total, p.Done-p.Failed, p.Failed, p.Skipped, f.out, p.Elapsed.Round(time.Millisecond))
	if p.Failed > 0 {
		return fmt.Errorf("%d of %d jobs failed; their lines in %s carry the reasons", p.Failed, p.Total, f.out)
	}
	return nil
}

func (f *batchFlags) shardOf() (int, int, error) {
	switch {
	case f.shard != "" && f.shards != 0:
		return 0, 0, options.Usagef("shard", "-shard and -shards exclude each other")
	case f.shard != "":
		a, b, ok := strings.Cut(f.shard, "/")
		i, err1 := strconv.Atoi(a)
		n, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
			return 0, 0, options.Usagef("shard", "-shard %q: want i/n with 0 <= i < n", f.shard)
		}
		return i, n, nil
	case f.shards != 0:
		v := os.Getenv("JOB_COMPLETION_INDEX")
		i, err := strconv.Atoi(v)
		if f.shards < 1 || err != nil || i < 0 || i >= f.shards {
			return 0, 0, options.Usagef("shards", "-shards %d: JOB_COMPLETION_INDEX %q must be an index below it", f.shards, v)
		}
		return i, f.shards, nil
	}
	return 0, 1, nil
}

func readManifest(path string, base *options.Options) ([]batch.Job, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return batch.ParseManifest(fh, path, filepath.Dir(path), base)
}

// progressReporter draws a bar (jobs/s, ETA) when w is a terminal, and
// prints a plain status line every 10 s otherwise; finish ends the bar's
// line.
func progressReporter(w io.Writer, total int) (report func(batch.Progress), finish func()) {
	if fh, ok := w.(*os.File); ok && term.IsTerminal(int(fh.Fd())) {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("batch"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("jobs"),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		bar.Add(0)
		return func(p batch.Progress) { bar.Set(p.Done + p.Skipped) }, func() { fmt.Fprintln(w) }
	}
	var last time.Time
	return func(p batch.Progress) {
		if time.Since(last) < 10*time.Second && p.Done+p.Skipped < p.Total {
			return
		}
		last = time.Now()
		rate := float64(p.Done) / p.Elapsed.Seconds()
		eta := time.Duration(float64(p.Total-p.Done-p.Skipped)/rate) * time.Second
		fmt.Fprintf(w, "batch: %d/%d jobs, %d failed, %.1f jobs/s, ETA %s\n", p.Done+p.Skipped, p.Total, p.Failed, rate, eta.Round(time.Second))
	}, func() {}
}
