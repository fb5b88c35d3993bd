package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/look"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/internal/atomicfile"
)

// Runner runs jobs.
type Runner struct {
	// Base holds the options every job starts from.
	Base *options.Options
	// Backend runs the estimations; nil means the CPU.
	Backend estimate.Backend
	// Decoders is the number of CPU workers decoding images. Default
	// GOMAXPROCS.
	Decoders int
	// Estimators is the number of estimations at once. Default: 1 on a GPU
	// backend (one context, used in turn), else GOMAXPROCS.
	Estimators int
	// Progress, if set, is called after each job.
	Progress func(Progress)
	// Restore runs restore jobs' steps; nil means the CPU.
	Restore restore.Backend
}

// Progress is the state of a run.
type Progress struct {
	Done, Failed, Skipped, Total int
	Elapsed                      time.Duration
}

// Line is one line of the output: the job's id and either its report (a
// quantizer's, a stack's or a blind one) or its error.
type Line struct {
	ID       string
	Report   *estimate.Report
	Stack    *estimate.StackReport
	Blind    *estimate.BlindReport
	Applied  *Applied
	Restored *Restored
	Error    string
}

// Restored is the line of a restore job: the quantizer undone, where it
// came from, the run, and where the image went.
type Restored struct {
	Kind      string  `json:"kind"`
	Model     string  `json:"model"`
	B         float64 `json:"b"`
	BFrom     string  `json:"b_from"`
	ModelFrom string  `json:"model_from"`
	// Note is a caveat on b (restore.Quantizer).
	Note string `json:"note,omitempty"`
	// Dither is the kind of dither found ("ordered", "error diffusion"),
	// DitherPeriod an ordered one's period.
	Dither       string `json:"dither,omitempty"`
	DitherPeriod int    `json:"dither_period,omitempty"`
	// Palette is the number of colours of a colour palette found.
	Palette int     `json:"palette,omitempty"`
	Steps   int     `json:"steps"`
	Start   float64 `json:"energy_start"`
	End     float64 `json:"energy_end"`
	Output  string  `json:"output"`
}

// Applied is the line of an apply job: what edit was applied, and where
// the image went.
type Applied struct {
	Kind   string `json:"kind"`
	Edit   string `json:"edit"`
	Output string `json:"output"`
}

// MarshalJSON writes {"id": ..., <the report's fields>} or {"id": ...,
// "error": ...}. The report's wall time is left out, so that a resumed run
// writes the same file as an uninterrupted one.
func (l Line) MarshalJSON() ([]byte, error) {
	type noTime *float64 // shadows the report's seconds
	switch {
	case l.Report != nil:
		return json.Marshal(struct {
			ID string `json:"id"`
			*estimate.Report
			Seconds noTime `json:"seconds,omitempty"`
		}{ID: l.ID, Report: l.Report})
	case l.Stack != nil:
		return json.Marshal(struct {
			ID string `json:"id"`
			*estimate.StackReport
			Seconds noTime `json:"seconds,omitempty"`
		}{ID: l.ID, StackReport: l.Stack})
	case l.Blind != nil:
		return json.Marshal(struct {
			ID string `json:"id"`
			*estimate.BlindReport
		}{ID: l.ID, BlindReport: l.Blind})
	case l.Applied != nil:
		return json.Marshal(struct {
			ID string `json:"id"`
			*Applied
		}{ID: l.ID, Applied: l.Applied})
	case l.Restored != nil:
		return json.Marshal(struct {
			ID string `json:"id"`
			*Restored
		}{ID: l.ID, Restored: l.Restored})
	}
	return json.Marshal(struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}{l.ID, l.Error})
}

type decoded struct {
	seq int
	job Job
	set *imageset.Set
	opt *options.Options
	// an apply job's edit and image; a restore job's images (im, and
	// set's one pair's original)
	edit *look.Edit
	im   *imageset.Image
	orig *imageset.Image
	err  error
}

type finished struct {
	seq  int
	line Line
}

// Run estimates every job whose id the output does not hold yet, appending
// a line per job in job order. It returns the progress; an error means the
// run itself could not go on (the output, a cancelled context).
func (r *Runner) Run(ctx context.Context, jobs []Job, outPath string) (Progress, error) {
	start := time.Now()
	out, done, err := openOutput(outPath)
	if err != nil {
		return Progress{}, err
	}
	defer out.close()
	var todo []Job
	for _, j := range jobs {
		if !done[j.ID] {
			todo = append(todo, j)
		}
	}
	p := Progress{Total: len(jobs), Skipped: len(jobs) - len(todo)}
	base := r.Base
	if base == nil {
		base = options.Default()
	}
	be := r.Backend
	if be == nil {
		be = estimate.CPU{}
	}
	var rb restore.Backend = restore.CPU{}
	if r.Restore != nil {
		rb = r.Restore
	}
	dec := r.Decoders
	if dec <= 0 {
		dec = runtime.GOMAXPROCS(0)
	}
	est := r.Estimators
	if est <= 0 {
		est = runtime.GOMAXPROCS(0)
		if be.Name() == "gpu" {
			est = 1
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Bounded queues: at most dec+est decoded pairs wait in memory.
	seqs := make(chan int)
	decodedQ := make(chan decoded, est)
	results := make(chan finished, est)
	go func() {
		defer close(seqs)
		for i := range todo {
			select {
			case seqs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wd sync.WaitGroup
	for range dec {
		wd.Add(1)
		go func() {
			defer wd.Done()
			for i := range seqs {
				d := r.decode(i, todo[i], base)
				select {
				case decodedQ <- d:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wd.Wait(); close(decodedQ) }()
	var we sync.WaitGroup
	for range est {
		we.Add(1)
		go func() {
			defer we.Done()
			for d := range decodedQ {
				results <- finished{d.seq, estimateOne(d, be, rb)}
			}
		}()
	}
	go func() { we.Wait(); close(results) }()

	// Write in job order: later jobs wait in pending (small reports).
	pending := map[int]Line{}
	next := 0
	var werr error
	for f := range results {
		pending[f.seq] = f.line
		for {
			l, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if werr == nil {
				if werr = out.write(l); werr != nil {
					cancel()
				}
			}
			if werr == nil {
				p.Done++
				if l.Error != "" {
					p.Failed++
				}
				p.Elapsed = time.Since(start)
				if r.Progress != nil {
					r.Progress(p)
				}
			}
		}
	}
	if werr != nil {
		return p, werr
	}
	if next < len(todo) {
		return p, &StopError{Done: next, Total: len(todo), Cause: context.Cause(ctx)}
	}
	return p, nil
}

// StopError is a run stopped before its last job (a signal, a cancelled
// context): rerunning the same run resumes it.
type StopError struct {
	Done, Total int
	Cause       error
}

func (e *StopError) Error() string {
	return fmt.Sprintf("batch: stopped after %d of %d jobs: %v", e.Done, e.Total, e.Cause)
}
func (e *StopError) Unwrap() error { return e.Cause }

// decode loads a job's pair and options; failures travel with it.
func (r *Runner) decode(seq int, j Job, base *options.Options) decoded {
	d := decoded{seq: seq, job: j}
	if j.Kind == KindRestore {
		d.im, d.err = imageset.Load(j.Quantized, base.MaxPixels)
		if d.err == nil && j.Original != "" {
			d.orig, d.err = imageset.Load(j.Original, base.MaxPixels)
		}
		return d
	}
	if j.Kind == KindApply {
		data, err := os.ReadFile(j.Look)
		if err == nil {
			d.edit, err = look.ReadEdit(data)
		}
		if err == nil {
			d.im, err = imageset.Load(j.Original, base.MaxPixels)
		}
		d.err = err
		if err != nil && d.edit == nil {
			d.err = fmt.Errorf("look %s: %w", j.Look, err)
		}
		return d
	}
	opt := base.Clone()
	if err := opt.Apply(j.Options); err != nil {
		d.err = err
		return d
	}
	if err := opt.Check(); err != nil {
		d.err = err // before the images are read
		return d
	}
	d.opt = opt
	if j.Original == "" {
		q, err := imageset.Load(j.Quantized, opt.MaxPixels)
		d.set, d.err = &imageset.Set{Filtered: []*imageset.Image{q}}, err
		return d
	}
	p, err := imageset.LoadPair(j.Original, j.Quantized, opt.MaxPixels)
	d.set, d.err = &imageset.Set{Pairs: []imageset.Pair{p}}, err
	return d
}

func estimateOne(d decoded, be estimate.Backend, rb restore.Backend) Line {
	l := Line{ID: d.job.ID}
	if d.err != nil {
		l.Error = d.err.Error()
		return l
	}
	if d.edit != nil {
		return applyOne(d)
	}
	if d.job.Kind == KindRestore {
		return restoreOne(d, rb)
	}
	out, err := d.opt.Estimate(d.set, be, options.Hooks{})
	if err != nil {
		l.Error = err.Error()
		return l
	}
	l.Report, l.Stack, l.Blind = out.Report, out.Stack, out.Blind
	return l
}

// applyOne applies an apply job's edit and writes its output whole, or
// nothing.
func applyOne(d decoded) Line {
	l := Line{ID: d.job.ID}
	out, err := d.edit.Apply(d.im)
	if err == nil {
		err = atomicfile.Write(d.job.Output, out.EncodePNG)
	}
	if err != nil {
		l.Error = err.Error()
		return l
	}
	l.Applied = &Applied{Kind: KindApply, Edit: d.edit.Kind, Output: d.job.Output}
	return l
}

// restoreOne restores a restore job's image with quantfit restore's
// defaults and writes its output whole, or nothing.
func restoreOne(d decoded, rb restore.Backend) Line {
	l := Line{ID: d.job.ID}
	out, qz, res, err := restore.Dequantize(d.im, d.orig, math.NaN(), nil, restore.Settings{Backend: rb}, d.im.Depth())
	if err == nil {
		err = atomicfile.Write(d.job.Output, out.EncodePNG)
	}
	if err != nil {
		l.Error = err.Error()
		return l
	}
	l.Restored = &Restored{Kind: KindRestore, Model: qz.ModelName(), B: qz.B, BFrom: qz.BFrom, ModelFrom: qz.ModelFrom, Note: qz.Note,
		Steps: res.Steps, Start: res.Start, End: res.Energy, Output: d.job.Output}
	if qz.Dither != nil {
		l.Restored.Dither, l.Restored.DitherPeriod = qz.Dither.Kind(), qz.Dither.P
	}
	l.Restored.Palette = qz.Palette
	return l
}
