//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"

	"github.com/quantfit/quantfit/kernels"
	"github.com/quantfit/quantfit/shaders"
)

const (
	local = 256 // workgroup size of lossgrad.comp
	// maxGroups bounds the workgroups of a grid-stride dispatch: enough to
	// fill a large GPU (an H100 has 132 multiprocessors), few enough that
	// the second stage is short.
	maxGroups = 2048
	// maxLossesGroups bounds the workgroups of a K-candidate dispatch.
	maxLossesGroups = 512
)

type dataKind int

const (
	dataF32 dataKind = iota
	dataU8
	dataWeighted
)

// Evaluator evaluates the loss and its surrogate gradient on the GPU over
// data uploaded once: the counterpart of kernels.Evaluator, with the same
// results within floating-point reordering. Methods run on the device's
// thread; an Evaluator is not safe for concurrent use.
type Evaluator struct {
	d      *Device
	cfg    kernels.Config
	kind   dataKind
	n      int
	total  float64
	offset float64

	data                  []buffer
	scales, table, eps    buffer
	partial, result       buffer
	partialCap, tableSegs int
	epsVals               []float64
	err                   error
}

// NewEvaluator uploads per-pixel float32 samples.
func (d *Device) NewEvaluator(s kernels.Samples, cfg kernels.Config) (*Evaluator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{d: d, kind: dataF32, n: s.Len(), total: float64(s.Len())}
	return e, e.init(cfg, func() {
		e.data = []buffer{d.buf(4*e.n, unsafe.Pointer(&s.X[0])), d.buf(4*e.n, unsafe.Pointer(&s.T[0]))}
	})
}

// NewEvaluator8 uploads 8-bit pairs packed to two bytes each.
func (d *Device) NewEvaluator8(x, t []uint8, cfg kernels.Config) (*Evaluator, error) {
	if len(x) != len(t) || len(x) == 0 {
		return nil, fmt.Errorf("gpu: %d originals and %d targets", len(x), len(t))
	}
	packed := pack8(x, t)
	e := &Evaluator{d: d, kind: dataU8, n: len(x), total: float64(len(x))}
	return e, e.init(cfg, func() {
		var lv [256]float32
		for i := range lv {
			lv[i] = kernels.Level8(i)
		}
		e.data = []buffer{d.buf(4*len(packed), unsafe.Pointer(&packed[0])), d.buf(4*256, unsafe.Pointer(&lv[0]))}
	})
}

// pack8 puts pair i in the 16 bits at (i%2)·16 of word i/2: x low, t high.
func pack8(x, t []uint8) []uint32 {
	p := make([]uint32, (len(x)+1)/2)
	for i := range x {
		p[i>>1] |= (uint32(x[i]) | uint32(t[i])<<8) << (16 * (i & 1))
	}
	return p
}

// NewWeightedEvaluator uploads grouped samples (histogram mode).
func (d *Device) NewWeightedEvaluator(w *kernels.Weighted, cfg kernels.Config) (*Evaluator, error) {
	if len(w.X) != len(w.T) || len(w.X) != len(w.W) || len(w.X) == 0 {
		return nil, errors.New("gpu: weighted data empty or of unequal lengths")
	}
	if w.MSEOnly && cfg.Loss.Kind != kernels.MSE {
		return nil, fmt.Errorf("gpu: data grouped for mse cannot evaluate %v", cfg.Loss.Kind)
	}
	e := &Evaluator{d: d, kind: dataWeighted, n: w.Len(), total: w.Total(), offset: w.Offset}
	return e, e.init(cfg, func() {
		e.data = []buffer{
			d.buf(8*e.n, unsafe.Pointer(&w.X[0])),
			d.buf(8*e.n, unsafe.Pointer(&w.T[0])),
			d.buf(8*e.n, unsafe.Pointer(&w.W[0])),
		}
	})
}

func (e *Evaluator) init(cfg kernels.Config, upload func()) error {
	err := e.d.do(func() error {
		upload()
		e.result = e.d.buf(8*MaxCandidates, nil)
		e.scales = e.d.buf(64*(2*4096+1), nil)
		return glErr("upload")
	})
	if err != nil {
		e.Close()
		if errors.Is(err, errOutOfMemory) {
			return err
		}
		return fmt.Errorf("gpu: uploading %d samples: %w", e.n, err)
	}
	if err := e.SetConfig(cfg); err != nil {
		e.Close()
		return err
	}
	return nil
}

var errOutOfMemory = errors.New("gpu: out of GPU memory")

// SetConfig changes the model, surrogate or loss; the programs for it are
// compiled now, so a shader that fails on this driver fails here.
func (e *Evaluator) SetConfig(cfg kernels.Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	var coef []float64
	if cfg.Surrogate.Kind.Smooth() {
		c, n, ok := kernels.Table(cfg.Surrogate)
		if !ok {
			return fmt.Errorf("gpu: the %v surrogate needs its closed form, which the shaders do not have", cfg.Surrogate)
		}
		coef, e.tableSegs = c, n
	}
	e.epsVals = nil
	if cfg.Surrogate.Kind == kernels.Gaussian {
		e.epsVals = cfg.Surrogate.Epsilons()
		if len(e.epsVals) > 4096 {
			return errors.New("gpu: at most 4096 gaussian samples")
		}
	}
	e.cfg = cfg
	return e.d.do(func() error {
		if coef != nil {
			e.d.free(e.table)
			e.table = e.d.buf(8*len(coef), unsafe.Pointer(&coef[0]))
		}
		if e.epsVals != nil {
			e.d.free(e.eps)
			e.eps = e.d.buf(8*len(e.epsVals), unsafe.Pointer(&e.epsVals[0]))
		}
		if _, err := e.programFor(true, 1); err != nil {
			return err
		}
		_, err := e.programFor(false, 1)
		return err
	})
}

// Config returns the configuration in use.
func (e *Evaluator) Config() kernels.Config { return e.cfg }

// Total returns the number of samples the data stand for.
func (e *Evaluator) Total() float64 { return e.total }

// Err returns the first GL failure of a LossGrad or Losses, after which
// their results are NaN.
func (e *Evaluator) Err() error { return e.err }

// dataDefines specializes data.glsl: the layout, the loss, the storage.
func dataDefines(kind dataKind, loss kernels.LossKind, stored bool) []string {
	var ds []string
	switch kind {
	case dataF32:
		ds = append(ds, "DATA_F32")
	case dataU8:
		ds = append(ds, "DATA_U8")
	default:
		ds = append(ds, "DATA_WEIGHTED")
	}
	switch loss {
	case kernels.MSE:
		ds = append(ds, "LOSS_MSE")
	case kernels.L1:
		ds = append(ds, "LOSS_L1")
	default:
		ds = append(ds, "LOSS_HUBER")
	}
	if stored {
		ds = append(ds, "STORED")
	}
	return ds
}

func (e *Evaluator) defines(lossgrad bool, kper int) []string {
	ds := append([]string{fmt.Sprintf("LOCAL=%du", local)}, dataDefines(e.kind, e.cfg.Loss.Kind, e.cfg.OutputLevels > 0)...)
	if !lossgrad {
		return append(ds, "MODE_LOSSES", fmt.Sprintf("KPER=%d", kper))
	}
	ds = append(ds, "MODE_LOSSGRAD")
	c := e.cfg
	switch k := c.Surrogate.Kind; {
	case k == kernels.STE:
		ds = append(ds, "SUR_STE")
	case k == kernels.Identity && c.SoftForward:
		ds = append(ds, "SUR_IDENTITY_SOFT")
	case k == kernels.Identity:
		ds = append(ds, "SUR_IDENTITY")
	case k == kernels.Gaussian:
		ds = append(ds, "SUR_GAUSS", fmt.Sprintf("GAUSS_M=%d", len(e.epsVals)))
	default:
		ds = append(ds, "SUR_TABLE")
		if c.SoftForward {
			ds = append(ds, "SOFT")
		}
	}
	return ds
}

func (e *Evaluator) programFor(lossgrad bool, kper int) (program, error) {
	src, err := shaders.Source("lossgrad.comp", e.defines(lossgrad, kper)...)
	if err != nil {
		return 0, err
	}
	return e.d.program(src)
}

// ensurePartial grows the partial-sum buffer to n doubles.
func (e *Evaluator) ensurePartial(n int) {
	if n > e.partialCap {
		e.d.free(e.partial)
		e.partial = e.d.buf(8*n, nil)
		e.partialCap = n
	}
}

type gpuScale struct{ s, c, d, inv, inv2, lv, linv, pad float64 }

func (e *Evaluator) scaleOf(b float64) gpuScale {
	v := kernels.ScaleOf(e.cfg, b)
	return gpuScale{v[0], v[1], v[2], v[3], v[4], v[5], v[6], 0}
}

func groups(n, most int) int { return max(1, min(most, (n+local-1)/local)) }

func (e *Evaluator) bindData() {
	for i, b := range e.data {
		b.bind(uint32(i))
	}
	e.scales.bind(3)
	if e.table != 0 {
		e.table.bind(4)
	}
	if e.eps != 0 {
		e.eps.bind(5)
	}
	e.partial.bind(6)
	e.result.bind(7)
}

// reduce sums partial[rows][width] into result and reads it back.
func (e *Evaluator) reduce(rows, width int, out []float64) error {
	return e.d.reduce(e.result, rows, width, out)
}

// reduce is the second stage of every reduction: the column sums of the
// partial sums bound at 6, partial[rows][width], into result (bound at 7),
// read back into out. On the device's thread.
func (d *Device) reduce(result buffer, rows, width int, out []float64) error {
	src, err := shaders.Source("reduce.comp")
	if err != nil {
		return err
	}
	r, err := d.program(src)
	if err != nil {
		return err
	}
	r.use()
	r.uniformUint("rows", uint32(rows))
	r.uniformUint("width", uint32(width))
	dispatch(uint32((width+63)/64), 1)
	result.read(0, 8*width, unsafe.Pointer(&out[0]))
	return nil
}

// LossGrad returns the mean loss at p[0] = b and writes the mean surrogate
// gradient into grad.
func (e *Evaluator) LossGrad(p, grad []float64) float64 {
	if e.err != nil {
		grad[0] = math.NaN()
		return math.NaN()
	}
	b := p[0]
	sc := []gpuScale{e.scaleOf(b)}
	norm := 0.0
	if e.epsVals != nil {
		sig := e.cfg.Surrogate.Sigma
		for _, ep := range e.epsVals {
			sc = append(sc, e.scaleOf(b+sig*ep))
		}
		for _, ep := range e.epsVals {
			sc = append(sc, e.scaleOf(b-sig*ep))
		}
		norm = 1 / (2 * sig * float64(len(e.epsVals)))
	}
	var sums [2]float64
	err := e.d.do(func() error {
		prog, err := e.programFor(true, 1)
		if err != nil {
			return err
		}
		nwg := groups(e.n, maxGroups)
		e.ensurePartial(2 * nwg)
		e.scales.write(0, int(unsafe.Sizeof(gpuScale{}))*len(sc), unsafe.Pointer(&sc[0]))
		e.bindData()
		prog.use()
		prog.uniformUint("n", uint32(e.n))
		prog.uniformDouble("fn", float64(e.tableSegs))
		prog.uniformDouble("delta", e.cfg.Loss.Delta)
		prog.uniformDouble("gnorm", norm)
		dispatch(uint32(nwg), 1)
		return e.reduce(nwg, 2, sums[:])
	})
	if err != nil {
		e.err = err
		grad[0] = math.NaN()
		return math.NaN()
	}
	grad[0] = sums[1] / e.total
	return (sums[0] + e.offset) / e.total
}

// Loss returns the exact mean loss at b.
func (e *Evaluator) Loss(b float64) float64 {
	var out [1]float64
	e.Losses([]float64{b}, out[:])
	return out[0]
}

// Losses writes the exact mean loss at each candidate into out, reading
// the data once per MaxCandidates candidates.
func (e *Evaluator) Losses(bs, out []float64) {
	for lo := 0; lo < len(bs); lo += MaxCandidates {
		hi := min(lo+MaxCandidates, len(bs))
		e.losses(bs[lo:hi], out[lo:hi])
	}
}

func (e *Evaluator) losses(bs, out []float64) {
	if e.err != nil {
		for i := range out[:len(bs)] {
			out[i] = math.NaN()
		}
		return
	}
	k := len(bs)
	sc := make([]gpuScale, k)
	for i, b := range bs {
		sc[i] = e.scaleOf(b)
	}
	kper := 1
	for kper*local < k {
		kper *= 2
	}
	err := e.d.do(func() error {
		prog, err := e.programFor(false, kper)
		if err != nil {
			return err
		}
		nwg := groups(e.n, maxLossesGroups)
		e.ensurePartial(nwg * k)
		e.scales.write(0, int(unsafe.Sizeof(gpuScale{}))*k, unsafe.Pointer(&sc[0]))
		e.bindData()
		prog.use()
		prog.uniformUint("n", uint32(e.n))
		prog.uniformUint("k", uint32(k))
		prog.uniformDouble("delta", e.cfg.Loss.Delta)
		dispatch(uint32(nwg), 1)
		return e.reduce(nwg, k, out)
	})
	if err != nil {
		e.err = err
		for i := range out[:k] {
			out[i] = math.NaN()
		}
		return
	}
	for i := range out[:k] {
		out[i] = (out[i] + e.offset) / e.total
	}
}

// Close frees the evaluator's buffers; the device stays open.
func (e *Evaluator) Close() {
	bufs := append([]buffer{e.scales, e.table, e.eps, e.partial, e.result}, e.data...)
	e.data = nil
	e.scales, e.table, e.eps, e.partial, e.result = 0, 0, 0, 0, 0
	_ = e.d.do(func() error {
		for _, b := range bufs {
			e.d.free(b)
		}
		return nil
	})
}

// Histogram builds the joint (x, t) histogram of 8-bit pairs on the GPU.
func (d *Device) Histogram(x, t []uint8) (*kernels.Histogram, error) {
	if len(x) != len(t) {
		return nil, fmt.Errorf("gpu: %d originals and %d targets", len(x), len(t))
	}
	h := new(kernels.Histogram)
	if len(x) == 0 {
		return h, nil
	}
	const tile = 8192
	packed := pack8(x, t)
	counts := make([]uint32, 65536)
	err := d.do(func() error {
		src, err := shaders.Source("hist.comp", fmt.Sprintf("TILE=%du", tile))
		if err != nil {
			return err
		}
		p, err := d.program(src)
		if err != nil {
			return err
		}
		in := d.buf(4*len(packed), unsafe.Pointer(&packed[0]))
		defer d.free(in)
		out := d.buf(4*65536, unsafe.Pointer(&counts[0]))
		defer d.free(out)
		in.bind(0)
		out.bind(1)
		p.use()
		p.uniformUint("n", uint32(len(x)))
		words := len(packed)
		dispatch(uint32(max(1, min(256, (words+255)/256))), 65536/tile)
		out.read(0, 4*65536, unsafe.Pointer(&counts[0]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range counts {
		h.Counts[i] = uint64(c)
	}
	return h, nil
}

// CopyBandwidth measures the device's memory bandwidth, the ceiling of the
// memory-bound kernels: bytes per second of a buffer-to-buffer copy of
// size bytes (each byte read once and written once counts twice), best of
// repeat copies.
func (d *Device) CopyBandwidth(size, repeat int) (float64, error) {
	best := math.Inf(1)
	err := d.do(func() error {
		// not from the spares: these are too large to keep
		src, dst := newBuffer(size, nil), newBuffer(size, nil)
		defer src.delete()
		defer dst.delete()
		gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(src))
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, uint32(dst))
		gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, 0, 0, size) // warm-up
		gl.Finish()
		for range max(1, repeat) {
			t := time.Now()
			gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, 0, 0, size)
			gl.Finish()
			best = math.Min(best, time.Since(t).Seconds())
		}
		return glErr("copy")
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(size) / best, nil
}
