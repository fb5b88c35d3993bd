//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
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

	// The programs of this configuration, resolved by SetConfig (losses
	// by log2 of candidates per thread, on first use), and what a call
	// hands to its function on the device's thread: stepFn and lossesFn
	// are bound once, so a step allocates nothing.
	grad             *kernel
	lossKernels      [maxKper]*kernel
	sc               []kernels.Scale
	sums             []float64 // its own allocation: cgo refuses a pointer into a struct holding pointers
	gnorm            float64
	k, kperLog       int
	out              []float64
	stepFn, lossesFn func() error
}

// maxKper bounds the log2 of candidates per thread: MaxCandidates/local.
const maxKper = 5

// NewEvaluator uploads per-pixel float32 samples.
func (d *Device) NewEvaluator(s kernels.Samples, cfg kernels.Config) (*Evaluator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e := newEvaluator(d, dataF32, s.Len(), float64(s.Len()), 0)
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
	e := newEvaluator(d, dataU8, len(x), float64(len(x)), 0)
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
	e := newEvaluator(d, dataWeighted, w.Len(), w.Total(), w.Offset)
	return e, e.init(cfg, func() {
		e.data = uploadWeighted(d, w)
	})
}

// uploadWeighted uploads groups as float x, t and w: every x is a float32
// value already (Level8, or a per-pixel sample), the mean targets and the
// counts round to 2^-24 relative. On the device's thread.
func uploadWeighted(d *Device, w *kernels.Weighted) []buffer {
	n := w.Len()
	f := make([]float32, n)
	bufs := make([]buffer, 3)
	for i, col := range [][]float64{w.X, w.T, w.W} {
		for j, v := range col {
			f[j] = float32(v)
		}
		bufs[i] = d.buf(4*n, unsafe.Pointer(&f[0]))
	}
	return bufs
}

func newEvaluator(d *Device, kind dataKind, n int, total, offset float64) *Evaluator {
	e := &Evaluator{d: d, kind: kind, n: n, total: total, offset: offset, sums: make([]float64, 2)}
	e.stepFn, e.lossesFn = e.step, e.runLosses
	return e
}

func (e *Evaluator) init(cfg kernels.Config, upload func()) error {
	err := e.d.do(func() error {
		upload()
		e.result = e.d.buf(8*MaxCandidates, nil)
		e.scales = e.d.dyn(kernels.ScaleSize * (2*maxGaussSamples + 1))
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
	var coef []float32
	if cfg.Surrogate.Kind.Smooth() {
		c, n, ok := kernels.Table(cfg.Surrogate)
		if !ok {
			return fmt.Errorf("gpu: the %v surrogate needs its closed form, which the shaders do not have", cfg.Surrogate)
		}
		coef, e.tableSegs = floatTable(c), n
	}
	e.epsVals = nil
	var eps32 []float32
	if cfg.Surrogate.Kind == kernels.Gaussian {
		e.epsVals = cfg.Surrogate.Epsilons()
		if len(e.epsVals) > maxGaussSamples {
			return fmt.Errorf("gpu: at most %d gaussian samples", maxGaussSamples)
		}
		eps32 = float32s(e.epsVals)
	}
	e.cfg = cfg
	return e.d.do(func() error {
		if coef != nil {
			e.d.free(e.table)
			e.table = e.d.buf(4*len(coef), unsafe.Pointer(&coef[0]))
		}
		if eps32 != nil {
			e.d.free(e.eps)
			e.eps = e.d.buf(4*len(eps32), unsafe.Pointer(&eps32[0]))
		}
		e.lossKernels = [maxKper]*kernel{}
		var err error
		if e.grad, err = e.kernelFor(true, 0); err != nil {
			return err
		}
		e.lossKernels[0], err = e.kernelFor(false, 0)
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
	return append(ds, lossDefines(loss, stored)...)
}

// lossDefines specializes loss.glsl and the storage rounding.
func lossDefines(loss kernels.LossKind, stored bool) []string {
	var ds []string
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

func (e *Evaluator) defines(lossgrad bool, kperLog int) []string {
	kper := 1 << kperLog
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

// kernelFor builds and compiles the program of this configuration: once
// per configuration, never per step. On the device's thread.
func (e *Evaluator) kernelFor(lossgrad bool, kperLog int) (*kernel, error) {
	src, err := source("lossgrad.comp", e.defines(lossgrad, kperLog)...)
	if err != nil {
		return nil, err
	}
	return e.d.kernel(src)
}

// ensurePartial grows the partial-sum buffer to n doubles.
func (e *Evaluator) ensurePartial(n int) {
	if n > e.partialCap {
		e.d.free(e.partial)
		e.partial = e.d.buf(8*n, nil)
		e.partialCap = n
	}
}

// The shaders' struct Scale is kernels.Scale, uploaded as it is: these
// two lines fail to compile if its size is not the std430 size.
var (
	_ [kernels.ScaleSize - unsafe.Sizeof(kernels.Scale{})]byte
	_ [unsafe.Sizeof(kernels.Scale{}) - kernels.ScaleSize]byte
)

// maxGaussSamples bounds the gaussian surrogate's samples: 2M+1 scales.
const maxGaussSamples = 4096

// floatTable is the surrogate table for quant.glsl's float path: per
// segment the eight coefficients and the low part of the first of Q'.
func floatTable(coef []float64) []float32 {
	f := make([]float32, 0, len(coef)/8*9)
	for i := 0; i < len(coef); i += 8 {
		for _, c := range coef[i : i+8] {
			f = append(f, float32(c))
		}
		f = append(f, float32(coef[i+4]-float64(float32(coef[i+4]))))
	}
	return f
}

func float32s(v []float64) []float32 {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}

func (e *Evaluator) scaleOf(b float64) kernels.Scale { return kernels.NewScale(e.cfg, b) }

func groups(n, most int) int { return max(1, min(most, (n+local-1)/local)) }

// bindData binds the data at bindData0.. in order, and the rest.
func (e *Evaluator) bindData() {
	for i, b := range e.data {
		b.bind(uint32(bindData0 + i))
	}
	e.scales.bind(bindScales)
	if e.table != 0 {
		e.table.bind(bindTable)
	}
	if e.eps != 0 {
		e.eps.bind(bindEps)
	}
	e.partial.bind(bindPartial)
	e.result.bind(bindResult)
}

// reduce sums partial[rows][width] into result and reads it back.
func (e *Evaluator) reduce(rows, width int, out []float64) error {
	return e.d.reduce(e.result, rows, width, out)
}

// LossGrad returns the mean loss at p[0] = b and writes the mean surrogate
// gradient into grad.
func (e *Evaluator) LossGrad(p, grad []float64) float64 {
	if e.err != nil {
		grad[0] = math.NaN()
		return math.NaN()
	}
	b := p[0]
	e.sc = append(e.sc[:0], e.scaleOf(b))
	e.gnorm = 0
	if e.epsVals != nil {
		sig := e.cfg.Surrogate.Sigma
		for _, ep := range e.epsVals {
			e.sc = append(e.sc, e.scaleOf(b+sig*ep))
		}
		for _, ep := range e.epsVals {
			e.sc = append(e.sc, e.scaleOf(b-sig*ep))
		}
		e.gnorm = 1 / (2 * sig * float64(len(e.epsVals)))
	}
	if err := e.d.do(e.stepFn); err != nil {
		e.err = err
		grad[0] = math.NaN()
		return math.NaN()
	}
	grad[0] = e.sums[1] / e.total
	return (e.sums[0] + e.offset) / e.total
}

// step is one loss+gradient dispatch of the scales in e.sc into e.sums.
// On the device's thread.
func (e *Evaluator) step() error {
	nwg := groups(e.n, maxGroups)
	e.ensurePartial(2 * nwg)
	e.scales.write(0, kernels.ScaleSize*len(e.sc), unsafe.Pointer(&e.sc[0]))
	e.bindData()
	k := e.grad
	k.p.use()
	k.n.setUint(uint32(e.n))
	k.fn.setFloat(float32(e.tableSegs))
	k.delta.setFloat(float32(e.cfg.Loss.Delta))
	k.gnorm.setFloat(float32(e.gnorm))
	dispatch(uint32(nwg), 1)
	return e.reduce(nwg, 2, e.sums)
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
	e.k = len(bs)
	e.sc = e.sc[:0]
	for _, b := range bs {
		e.sc = append(e.sc, e.scaleOf(b))
	}
	e.kperLog = 0
	for (1<<e.kperLog)*local < e.k {
		e.kperLog++
	}
	e.out = out
	err := e.d.do(e.lossesFn)
	e.out = nil
	if err != nil {
		e.err = err
		for i := range out[:e.k] {
			out[i] = math.NaN()
		}
		return
	}
	for i := range out[:e.k] {
		out[i] = (out[i] + e.offset) / e.total
	}
}

// runLosses is one dispatch of the exact losses of the e.k candidates in
// e.sc into e.out. On the device's thread.
func (e *Evaluator) runLosses() error {
	k := e.lossKernels[e.kperLog]
	if k == nil {
		var err error
		if k, err = e.kernelFor(false, e.kperLog); err != nil {
			return err
		}
		e.lossKernels[e.kperLog] = k
	}
	nwg := groups(e.n, maxLossesGroups)
	e.ensurePartial(nwg * e.k)
	e.scales.write(0, kernels.ScaleSize*e.k, unsafe.Pointer(&e.sc[0]))
	e.bindData()
	k.p.use()
	k.n.setUint(uint32(e.n))
	k.k.setUint(uint32(e.k))
	k.delta.setFloat(float32(e.cfg.Loss.Delta))
	dispatch(uint32(nwg), 1)
	return e.reduce(nwg, e.k, e.out)
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

// Pairs are 8-bit (original, target) pairs resident on the GPU, packed two
// bytes a pair, for the histogram to be built where they already are.
type Pairs struct {
	d            *Device
	n            int
	data         buffer
	counts, list buffer
	host         []uint32 // the list read back: (key, count) from host[2]
	h            *kernels.Histogram
	histFn       func() error
	// the histogram's programs, resolved on first use
	count, listK *kernel
}

// Histogram's private tables: slots of (key, count) in shared memory,
// 8 bytes a slot, 32 KiB a workgroup (every OpenGL 4.3 driver offers
// 32 KiB), and how far a key probes before it goes to the global counts.
const (
	histSlotsLog2 = 12
	histProbes    = 16
	histLocal     = 256
	// histGroups bounds the workgroups: a few per multiprocessor, each
	// adding its table to the global counts once.
	histGroups = 1024
	// histListed is how many bins the first readback takes: a photo's
	// non-zero bins; more (noise) take a second.
	histListed = 4096
)

// NewPairs uploads the pairs (x[i], t[i]).
func (d *Device) NewPairs(x, t []uint8) (*Pairs, error) {
	if len(x) != len(t) {
		return nil, fmt.Errorf("gpu: %d originals and %d targets", len(x), len(t))
	}
	p := &Pairs{d: d, n: len(x), host: make([]uint32, 2*65537)}
	p.histFn = p.histogram
	packed := pack8(x, t)
	if len(packed) == 0 {
		packed = []uint32{0}
	}
	err := d.do(func() error {
		p.data = d.buf(4*len(packed), unsafe.Pointer(&packed[0]))
		p.counts = d.buf(4*65536, nil)
		p.list = d.buf(8*65537, nil)
		return nil
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Histogram builds the joint histogram of the pairs into h (which it
// resets) on the GPU.
func (p *Pairs) Histogram(h *kernels.Histogram) error {
	p.h = h
	err := p.d.do(p.histFn)
	p.h = nil
	return err
}

func (p *Pairs) histogram() error {
	d := p.d
	if p.count == nil {
		var err error
		if p.count, err = d.program("hist.comp", fmt.Sprintf("LOCAL=%du", histLocal), fmt.Sprintf("SLOTS=%du", 1<<histSlotsLog2),
			fmt.Sprintf("SLOTS_LOG2=%du", histSlotsLog2), fmt.Sprintf("PROBES=%du", histProbes)); err != nil {
			return err
		}
		if p.listK, err = d.program("histlist.comp"); err != nil {
			return err
		}
	}
	k, kl := p.count, p.listK
	p.counts.zero(4 * 65536)
	p.list.zero(8)
	p.data.bind(bindData0)
	p.counts.bind(bindData1)
	p.list.bind(bindPartial)
	k.p.use()
	k.n.setUint(uint32(p.n))
	vecs := (p.n + 7) / 8
	dispatch(uint32(max(1, min(histGroups, (vecs+histLocal-1)/histLocal))), 1)
	kl.p.use()
	dispatch(65536/256, 1)
	d.read(p.list, 0, 8*(1+histListed), unsafe.Pointer(&p.host[0]))
	nz := int(p.host[0])
	if nz > histListed {
		d.read(p.list, 8*(1+histListed), 8*(nz-histListed), unsafe.Pointer(&p.host[2*(1+histListed)]))
	}
	p.h.Counts = [65536]uint64{}
	for i := 1; i <= nz; i++ {
		p.h.Counts[p.host[2*i]] = uint64(p.host[2*i+1])
	}
	return nil
}

// Close frees the pairs' buffers.
func (p *Pairs) Close() {
	bufs := []buffer{p.data, p.counts, p.list}
	p.data, p.counts, p.list = 0, 0, 0
	_ = p.d.do(func() error {
		for _, b := range bufs {
			p.d.free(b)
		}
		return nil
	})
}

// Histogram builds the joint (x, t) histogram of 8-bit pairs on the GPU:
// the pairs are uploaded, counted and freed.
func (d *Device) Histogram(x, t []uint8) (*kernels.Histogram, error) {
	h := new(kernels.Histogram)
	if len(x) == 0 && len(t) == 0 {
		return h, nil
	}
	p, err := d.NewPairs(x, t)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := p.Histogram(h); err != nil {
		return nil, err
	}
	return h, nil
}

// CopyBandwidth measures the device's memory bandwidth, the ceiling of the
// memory-bound kernels: bytes per second of a compute-shader copy of size
// bytes (rounded down to 16; each byte read once and written once counts
// twice), best of repeat copies.
func (d *Device) CopyBandwidth(size, repeat int) (float64, error) {
	size &^= 15
	if size == 0 {
		return 0, errors.New("gpu: copy of less than 16 bytes")
	}
	best := math.Inf(1)
	err := d.do(func() error {
		k, err := d.program("copy.comp")
		if err != nil {
			return err
		}
		// not from the spares: these are too large to keep
		from, to := newBuffer(size, nil), newBuffer(size, nil)
		defer from.delete()
		defer to.delete()
		from.bind(bindData0)
		to.bind(bindData1)
		k.p.use()
		k.n.setUint(uint32(size / 16))
		pass := func() {
			dispatch(uint32(groups(size/16, 8*maxGroups)), 1)
			finish()
		}
		pass() // warm-up
		for range max(1, repeat) {
			t := time.Now()
			pass()
			best = math.Min(best, time.Since(t).Seconds())
		}
		return glErr("copy")
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(size) / best, nil
}
