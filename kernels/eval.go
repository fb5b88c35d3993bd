package kernels

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Evaluator computes the mean loss and its surrogate gradient over one data
// set in one fused pass, on all cores, without allocating per call. It is
// not safe for concurrent use.
type Evaluator struct {
	cfg Config
	pix Samples
	wt  *Weighted
	// runs sums the exact MSE loss over runs of levels (large grouped
	// data, such as a 16-bit image's); nil otherwise
	runs  *LevelRuns
	n     int
	total float64 // samples the data stands for
	tab   *table
	eps   []float64

	// per-call state read by the chunks
	kind   int
	b      float64
	sc     scale
	gauss  []scale // b+σε_j then b−σε_j
	cands  []scale
	chunks int
	parts  []part
	kparts []float64
	wg     sync.WaitGroup
}

// scale is the per-b constants of a configuration; lv and linv are the
// output levels and their inverse (lv = 0: no rounding).
type scale struct{ s, c, d, inv, inv2, lv, linv float64 }

func newScale(cfg *Config, b float64) scale {
	s := b - cfg.Model.Shift()
	if s < 1e-9 {
		s = 1e-9
	}
	c, d := cfg.Model.Offsets()
	sc := scale{s: s, c: c, d: d, inv: 1 / s, inv2: 1 / (s * s)}
	if cfg.OutputLevels > 0 {
		sc.lv, sc.linv = cfg.OutputLevels, 1/cfg.OutputLevels
	}
	return sc
}

// Scale is the per-b constants of the quantizer as the shaders read them,
// one per candidate b: the GPU receives a []Scale byte for byte (shaders/
// quant.glsl declares the same struct, std430; package gpu checks
// ScaleSize). The doubles are the ones every CPU loop computes with; the
// float fields serve the fp32 fast path of the shaders, which decides the
// level and the stored value from them only where the decision is certain
// and falls back to the doubles where it is not.
type Scale struct {
	S, C, D, Inv, Inv2, Lv, Linv float64 // as in Config.Derivs; Lv = 0: no storage rounding
	_                            float64
	// Float twins, each pair hi+lo to about 48 bits: S, 1/S, Lv/S (the
	// stored level's scale) and 1/Lv; Top is the stored level of y = 1,
	// floor(Lv + 0.5).
	SHi, SLo, C32, D32, InvHi, InvLo, Inv232, QHi, QLo, LinvHi, LinvLo, Top float32
}

// ScaleSize is the size of Scale in bytes, as std430 lays it out.
const ScaleSize = 112

// NewScale returns the constants of b under cfg.
func NewScale(cfg Config, b float64) Scale {
	sc := newScale(&cfg, b)
	g := Scale{S: sc.s, C: sc.c, D: sc.d, Inv: sc.inv, Inv2: sc.inv2, Lv: sc.lv, Linv: sc.linv,
		C32: float32(sc.c), D32: float32(sc.d), Inv232: float32(sc.inv2), Top: float32(math.Floor(sc.lv + 0.5))}
	g.SHi, g.SLo = split(sc.s)
	g.InvHi, g.InvLo = split(sc.inv)
	g.LinvHi, g.LinvLo = split(sc.linv)
	if sc.lv != 0 {
		g.QHi, g.QLo = split(sc.lv / sc.s)
	}
	return g
}

// split returns hi + lo = v to about 48 bits, hi = float32(v).
func split(v float64) (hi, lo float32) {
	hi = float32(v)
	return hi, float32(v - float64(hi))
}

// Table returns the cubic Hermite pieces of a smooth surrogate, eight
// coefficients per segment (Q then Q' in the local coordinate), and the
// number of segments; ok is false when no table reaches the accuracy and
// the closed form must run.
func Table(s Surrogate) (coef []float64, n int, ok bool) {
	t, err := newTable(s.WithDefaults())
	if err != nil {
		return nil, 0, false
	}
	coef = make([]float64, 0, 8*t.n)
	for i := range t.coef {
		coef = append(coef, t.coef[i][:]...)
	}
	return coef, t.n, true
}

// store is Config.store with the scale's constants.
func (sc *scale) store(y float64) float64 {
	if sc.lv == 0 {
		return y
	}
	return floorPos(y*sc.lv+0.5) * sc.linv
}

type part struct {
	loss, grad float64
	_          [6]float64 // a cache line each: no false sharing
}

const (
	doLossGrad = iota
	doLosses
)

// chunkLen is the smallest number of samples worth a chunk of its own.
const chunkLen = 1 << 14

// NewEvaluator returns an evaluator over per-pixel samples.
func NewEvaluator(s Samples, cfg Config) (*Evaluator, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{pix: s, n: s.Len(), total: float64(s.Len())}
	return e, e.init(cfg)
}

// NewWeightedEvaluator returns an evaluator over grouped samples, such as
// a histogram's (histogram mode).
func NewWeightedEvaluator(w *Weighted, cfg Config) (*Evaluator, error) {
	if len(w.X) != len(w.T) || len(w.X) != len(w.W) {
		return nil, errors.New("kernels: weighted data of unequal lengths")
	}
	e := &Evaluator{wt: w, n: w.Len(), total: w.Total(), runs: NewLevelRuns(w)}
	if e.total <= 0 {
		return nil, errors.New("kernels: no samples")
	}
	return e, e.init(cfg)
}

func (e *Evaluator) init(cfg Config) error {
	e.chunks = max(1, min(4*workers(), e.n/chunkLen))
	if w := workers(); e.chunks > w {
		// whole rounds of the pool: 3 chunks on 2 workers take 2 chunks' time
		e.chunks = (e.chunks + w - 1) / w * w
	}
	if e.wt != nil && e.wt.rows != nil {
		e.chunks = 1 // SetConfig may pick the rows, which are one pass
	}
	e.parts = make([]part, e.chunks)
	return e.SetConfig(cfg)
}

// SetConfig changes the surrogate, loss or model, for example to anneal a
// surrogate's sharpness; it rebuilds the surrogate's table.
func (e *Evaluator) SetConfig(cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if e.wt != nil && e.wt.MSEOnly && cfg.Loss.Kind != MSE {
		return fmt.Errorf("kernels: data grouped for mse cannot evaluate %v", cfg.Loss.Kind)
	}
	e.cfg = cfg
	e.tab = nil
	if cfg.Surrogate.Kind.Smooth() {
		// An inaccurate table leaves tab nil: the closed form then runs.
		e.tab, _ = newTable(cfg.Surrogate)
	}
	e.eps = nil
	if cfg.Surrogate.Kind == Gaussian {
		e.eps = cfg.Surrogate.Epsilons()
		e.gauss = make([]scale, 2*len(e.eps))
	}
	return nil
}

// Config returns the configuration in use, defaults filled in.
func (e *Evaluator) Config() Config { return e.cfg }

// Total returns the number of samples the data stands for.
func (e *Evaluator) Total() float64 { return e.total }

// Dim is the number of parameters: b.
func (e *Evaluator) Dim() int { return 1 }

// LossGrad returns the mean loss at parameters p (p[0] = b) and writes the
// mean surrogate gradient into grad.
func (e *Evaluator) LossGrad(p, grad []float64) float64 {
	b := p[0]
	e.kind, e.b, e.sc = doLossGrad, b, newScale(&e.cfg, b)
	if e.eps != nil {
		sig := e.cfg.Surrogate.Sigma
		for j, ep := range e.eps {
			e.gauss[j] = newScale(&e.cfg, b+sig*ep)
			e.gauss[len(e.eps)+j] = newScale(&e.cfg, b-sig*ep)
		}
	}
	runChunks(e, e.chunks, &e.wg)
	loss, g := 0.0, 0.0
	for i := range e.parts {
		loss += e.parts[i].loss
		g += e.parts[i].grad
	}
	if e.wt != nil {
		loss += e.wt.Offset
	}
	grad[0] = g / e.total
	return loss / e.total
}

// Loss returns the exact mean loss at b.
func (e *Evaluator) Loss(b float64) float64 {
	var out [1]float64
	e.Losses([]float64{b}, out[:])
	return out[0]
}

// Losses writes into out the exact mean loss at each candidate b, reading
// the data once for all of them.
func (e *Evaluator) Losses(bs, out []float64) {
	if len(out) < len(bs) {
		panic("kernels: Losses output shorter than candidates")
	}
	e.kind = doLosses
	e.cands = e.cands[:0]
	for _, b := range bs {
		e.cands = append(e.cands, newScale(&e.cfg, b))
	}
	if e.runs != nil && e.cfg.Loss.Kind == MSE {
		for k := range e.cands {
			out[k] = (e.runs.exactLoss(&e.cands[k]) + e.wt.Offset) / e.total
		}
		return
	}
	if cap(e.kparts) < e.chunks*len(bs) {
		e.kparts = make([]float64, e.chunks*len(bs))
	}
	e.kparts = e.kparts[:e.chunks*len(bs)]
	runChunks(e, e.chunks, &e.wg)
	off := 0.0
	if e.wt != nil {
		off = e.wt.Offset
	}
	for k := range bs {
		sum := off
		for c := 0; c < e.chunks; c++ {
			sum += e.kparts[c*len(bs)+k]
		}
		out[k] = sum / e.total
	}
}

func (e *Evaluator) runChunk(i int) {
	lo, hi := i*e.n/e.chunks, (i+1)*e.n/e.chunks
	if e.wt != nil {
		e.chunk(i, e.wt.X[lo:hi], e.wt.T[lo:hi], e.wt.W[lo:hi])
	} else {
		e.chunk32(i, e.pix.X[lo:hi], e.pix.T[lo:hi])
	}
}

func (e *Evaluator) chunk32(i int, xs, ts []float32) {
	if e.kind == doLosses {
		lossesLoop(e, e.kparts[i*len(e.cands):(i+1)*len(e.cands)], xs, ts, nil)
		return
	}
	if l, g, ok := e.fast32(xs, ts); ok {
		e.parts[i].loss, e.parts[i].grad = l, g
		return
	}
	e.parts[i].loss, e.parts[i].grad = lossGradLoop(e, xs, ts, nil)
}

func (e *Evaluator) chunk(i int, xs, ts, ws []float64) {
	if e.wt.rows != nil && e.cfg.Loss.Kind != MSE {
		// one chunk: the rows are few
		switch {
		case e.kind == doLosses:
			e.rowsLosses(e.kparts[i*len(e.cands) : (i+1)*len(e.cands)])
		case e.eps != nil:
			e.parts[i].loss, e.parts[i].grad = e.rowsGauss()
		default:
			e.parts[i].loss, e.parts[i].grad = e.rowsLossGrad()
		}
		return
	}
	if e.kind == doLosses {
		lossesLoop(e, e.kparts[i*len(e.cands):(i+1)*len(e.cands)], xs, ts, ws)
		return
	}
	if l, g, ok := e.fast64(xs, ts, ws); ok {
		e.parts[i].loss, e.parts[i].grad = l, g
		return
	}
	e.parts[i].loss, e.parts[i].grad = lossGradLoop(e, xs, ts, ws)
}

type real interface{ ~float32 | ~float64 }

// lossGradLoop picks the loop for the surrogate; each loop must equal
// Config.SampleLossGrad summed over the samples (weighted by ws when given).
func lossGradLoop[E real](e *Evaluator, xs, ts []E, ws []float64) (float64, float64) {
	c := &e.cfg
	switch k := c.Surrogate.Kind; {
	case (k == STE || k == Identity) && !c.SoftForward:
		a := 1.0
		if k == Identity {
			a = 0
		}
		if ws == nil && c.Loss.Kind == MSE {
			return steMSE(e.sc, a, xs, ts)
		}
		return steLoop(e.sc, a, c.Loss, xs, ts, ws)
	case k.Smooth() && e.tab != nil:
		if c.Loss.Kind == MSE && !c.SoftForward {
			return tableMSE(e.sc, e.tab, xs, ts, ws)
		}
		return tableLoop(e.sc, e.tab, c.SoftForward, c.Loss, xs, ts, ws)
	case k == Gaussian:
		return gaussLoop(e, xs, ts, ws)
	default:
		return closedLoop(c, e.b, xs, ts, ws)
	}
}

// steLoop serves STE (a = 1) and Identity (a = 0) with the exact forward:
// dy/ds = (a·(z − floor z) − c − d)/s².
func steLoop[E real](sc scale, a float64, l Loss, xs, ts []E, ws []float64) (loss, grad float64) {
	ts = ts[:len(xs)]
	cd := sc.c + sc.d
	for i, xv := range xs {
		z := float64(xv)*sc.s + sc.c
		fl := floorPos(z)
		y := (fl + sc.d) * sc.inv
		dy := (a*(z-fl) - cd) * sc.inv2
		if y > 1 {
			y, dy = 1, 0
		}
		y = sc.store(y)
		var lv, dl float64
		r := y - float64(ts[i])
		if l.Kind == MSE {
			lv, dl = r*r, 2*r
		} else {
			lv, dl = l.Eval(r)
		}
		if ws != nil {
			lv, dl = lv*ws[i], dl*ws[i]
		}
		loss += lv
		grad += dl * dy
	}
	return loss, grad
}

// steMSE is steLoop for unweighted samples under MSE, two samples per
// iteration on separate accumulators so the adds do not wait on each other.
func steMSE[E real](sc scale, a float64, xs, ts []E) (loss, grad float64) {
	ts = ts[:len(xs)]
	s, c, d, inv, lv, linv := sc.s, sc.c, sc.d, sc.inv, sc.lv, sc.linv
	cd := c + d
	var l0, l1, g0, g1 float64
	i := 0
	for ; i+1 < len(xs); i += 2 {
		z0, z1 := float64(xs[i])*s+c, float64(xs[i+1])*s+c
		f0, f1 := floorPos(z0), floorPos(z1)
		y0, y1 := (f0+d)*inv, (f1+d)*inv
		q0, q1 := a*(z0-f0)-cd, a*(z1-f1)-cd
		if y0 > 1 {
			y0, q0 = 1, 0
		}
		if y1 > 1 {
			y1, q1 = 1, 0
		}
		if lv != 0 {
			y0, y1 = floorPos(y0*lv+0.5)*linv, floorPos(y1*lv+0.5)*linv
		}
		r0, r1 := y0-float64(ts[i]), y1-float64(ts[i+1])
		l0 += r0 * r0
		g0 += r0 * q0
		l1 += r1 * r1
		g1 += r1 * q1
	}
	loss, grad = l0+l1, 2*(g0+g1)*sc.inv2
	if i < len(xs) {
		l, g := steLoop(sc, a, Loss{Kind: MSE}, xs[i:], ts[i:], nil)
		loss += l
		grad += g
	}
	return loss, grad
}

// floorPos is floor for z ≥ 0 (x in [0,1], s > 0 and c ≥ 0 make every z
// here non-negative): a truncating conversion, which never falls back to a
// call the way math.Floor does without SSE4.1 guaranteed at build time.
func floorPos(z float64) float64 { return float64(int64(z)) }

// tableMSE is tableLoop under MSE with the exact forward, two samples a
// round, weighted by ws when given (groups).
func tableMSE[E real](sc scale, t *table, xs, ts []E, ws []float64) (loss, grad float64) {
	ts = ts[:len(xs)]
	// unweighted: every weight is one[0]
	one, step := [1]float64{1}, 1
	if ws == nil {
		ws, step = one[:], 0
	}
	s, c, d, inv := sc.s, sc.c, sc.d, sc.inv
	cd := c + d
	var l0, l1, g0, g1 float64
	i := 0
	for ; i+1 < len(xs); i += 2 {
		x0, x1 := float64(xs[i]), float64(xs[i+1])
		z0, z1 := x0*s+c, x1*s+c
		f0, f1 := floorPos(z0), floorPos(z1)
		q0, d0 := t.at(z0 - f0)
		q1, d1 := t.at(z1 - f1)
		y0, y1 := (f0+d)*inv, (f1+d)*inv
		// dy·s² = (1+Q')(z−c) − (z+Q) − d = Q'·(z−c) − Q − c − d
		g0v, g1v := d0*(z0-c)-q0-cd, d1*(z1-c)-q1-cd
		if y0 > 1 {
			y0, g0v = 1, 0
		}
		if y1 > 1 {
			y1, g1v = 1, 0
		}
		if sc.lv != 0 {
			y0, y1 = floorPos(y0*sc.lv+0.5)*sc.linv, floorPos(y1*sc.lv+0.5)*sc.linv
		}
		r0, r1 := y0-float64(ts[i]), y1-float64(ts[i+1])
		w0, w1 := ws[i*step], ws[(i+1)*step]
		l0 += w0 * r0 * r0
		g0 += w0 * r0 * g0v
		l1 += w1 * r1 * r1
		g1 += w1 * r1 * g1v
	}
	if i < len(xs) {
		var wt []float64
		if step != 0 {
			wt = ws[i:]
		}
		l, g := tableLoop(sc, t, false, Loss{Kind: MSE}, xs[i:], ts[i:], wt)
		l0 += l
		g0 += g / (2 * sc.inv2)
	}
	return l0 + l1, 2 * (g0 + g1) * sc.inv2
}

// tableLoop serves the smooth surrogates through their tables.
func tableLoop[E real](sc scale, t *table, soft bool, l Loss, xs, ts []E, ws []float64) (loss, grad float64) {
	ts = ts[:len(xs)]
	for i, xv := range xs {
		z := float64(xv)*sc.s + sc.c
		fl := floorPos(z)
		q, q1 := t.at(z - fl)
		fz := z + q
		y := (fl + sc.d) * sc.inv
		if soft {
			y = (fz + sc.d) * sc.inv
		}
		dy := ((1+q1)*(z-sc.c) - fz - sc.d) * sc.inv2
		if y > 1 || y < 0 {
			y, dy = clamp01(y), 0
		}
		if !soft {
			y = sc.store(y)
		}
		var lv, dl float64
		r := y - float64(ts[i])
		if l.Kind == MSE {
			lv, dl = r*r, 2*r
		} else {
			lv, dl = l.Eval(r)
		}
		if ws != nil {
			lv, dl = lv*ws[i], dl*ws[i]
		}
		loss += lv
		grad += dl * dy
	}
	return loss, grad
}

// closedLoop is the reference itself, for configurations without a fast
// loop (soft identity, a surrogate whose table cannot reach the accuracy).
func closedLoop[E real](c *Config, b float64, xs, ts []E, ws []float64) (loss, grad float64) {
	for i, xv := range xs {
		l, g := c.SampleLossGrad(float64(xv), float64(ts[i]), b, nil)
		if ws != nil {
			l, g = l*ws[i], g*ws[i]
		}
		loss += l
		grad += g
	}
	return loss, grad
}

func exactY(sc *scale, x float64) float64 {
	y := (level(sc, x) + sc.d) * sc.inv
	if y > 1 {
		y = 1
	}
	return sc.store(y)
}

func gaussLoop[E real](e *Evaluator, xs, ts []E, ws []float64) (loss, grad float64) {
	l := e.cfg.Loss
	m := len(e.eps)
	plus, minus := e.gauss[:m], e.gauss[m:]
	norm := 1 / (2 * e.cfg.Surrogate.Sigma * float64(m))
	for i, xv := range xs {
		x, t := float64(xv), float64(ts[i])
		lv, _ := l.Eval(exactY(&e.sc, x) - t)
		g := 0.0
		for j, ep := range e.eps {
			lp, _ := l.Eval(exactY(&plus[j], x) - t)
			lm, _ := l.Eval(exactY(&minus[j], x) - t)
			g += ep * (lp - lm)
		}
		g *= norm
		if ws != nil {
			lv, g = lv*ws[i], g*ws[i]
		}
		loss += lv
		grad += g
	}
	return loss, grad
}

// lossesBlock keeps a block of samples in L1 while all candidates pass it.
const lossesBlock = 2048

func lossesLoop[E real](e *Evaluator, out []float64, xs, ts []E, ws []float64) {
	clear(out)
	l := e.cfg.Loss
	for lo := 0; lo < len(xs); lo += lossesBlock {
		hi := min(lo+lossesBlock, len(xs))
		bx, bt := xs[lo:hi], ts[lo:hi]
		var bw []float64
		if ws != nil {
			bw = ws[lo:hi]
		}
		for k := range e.cands {
			sc := &e.cands[k]
			sum := 0.0
			for i, xv := range bx {
				y := exactY(sc, float64(xv))
				r := y - float64(bt[i])
				var lv float64
				if l.Kind == MSE {
					lv = r * r
				} else {
					lv, _ = l.Eval(r)
				}
				if bw != nil {
					lv *= bw[i]
				}
				sum += lv
			}
			out[k] += sum
		}
	}
}

// Err is always nil: the CPU loops cannot fail. It completes the interface
// that the GPU evaluator shares.
func (e *Evaluator) Err() error { return nil }
