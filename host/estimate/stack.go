package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// ParamResult is one fitted parameter of a stack with its interval: the
// values that, the others held, explain the data as well as the answer
// within the rounding tolerance (the rule of Result.Interval).
type ParamResult struct {
	Name     string     `json:"name"`
	Value    float64    `json:"value"`
	Interval [2]float64 `json:"interval"`
	Margin   float64    `json:"margin"`
}

// StackResult is a fitted stack.
type StackResult struct {
	StackRun
	Params []ParamResult `json:"params"`
	Loss   float64       `json:"loss"`
}

// StackRun is how a stack was fitted, in a result and in a report.
type StackRun struct {
	Stack       string  `json:"stack"`
	Strategy    string  `json:"strategy"`
	Optimizer   string  `json:"optimizer"`
	Surrogate   string  `json:"surrogate"`
	Backend     string  `json:"backend"`
	Steps       int     `json:"steps"`
	Evaluations int     `json:"evaluations"`
	Seconds     float64 `json:"seconds"`
}

// Value returns the fitted value of the named parameter, NaN if none.
func (r *StackResult) Value(name string) float64 {
	for _, p := range r.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return math.NaN()
}

// stackFit is the state of one stack estimation.
type stackFit struct {
	st     *kernels.Stack
	params []kernels.Param
	w      *kernels.Weighted
	eval   StackEvaluator
	s      Settings
	q      int // index of the quantizer's b; -1 without one
	qcfg   kernels.Config
	evals  int
	steps  int
	tol    float64
	// recStep numbers the recorded steps across descents.
	recStep int
	batch   *stackBatches
}

// stackBatches is the mini-batch state of the joint descents
// (Settings.BatchSize): per-pixel samples drawn in a permutation renewed
// each epoch, evaluated on the CPU, where a small batch costs less than a
// GPU round trip.
type stackBatches struct {
	smp   kernels.Samples
	w     kernels.Weighted
	eval  *kernels.StackEvaluator
	perm  []int32
	rng   *rand.Rand
	epoch int
}

func newStackBatches(d *Data, st *kernels.Stack, size int, seed uint64) (*stackBatches, error) {
	smp, err := d.Samples()
	if err != nil {
		return nil, err
	}
	n := min(size, smp.Len())
	b := &stackBatches{smp: smp, epoch: -1, rng: rand.New(rand.NewPCG(seed, 0xba7c5))}
	b.w = kernels.Weighted{X: make([]float64, n), T: make([]float64, n), W: make([]float64, n)}
	for i := range n {
		b.w.X[i], b.w.T[i], b.w.W[i] = float64(smp.X[i]), float64(smp.T[i]), 1
	}
	if b.eval, err = kernels.NewStackEvaluator(st, &b.w); err != nil {
		return nil, err
	}
	b.perm = make([]int32, smp.Len())
	for i := range b.perm {
		b.perm[i] = int32(i)
	}
	return b, nil
}

// lossGrad evaluates mini-batch batch of the epoch's permutation.
func (b *stackBatches) lossGrad(g, x []float64, epoch, batch int) float64 {
	if epoch != b.epoch {
		b.rng.Shuffle(len(b.perm), func(i, j int) { b.perm[i], b.perm[j] = b.perm[j], b.perm[i] })
		b.epoch = epoch
	}
	n := b.w.Len()
	for k, idx := range b.perm[batch*n : (batch+1)*n] {
		b.w.X[k], b.w.T[k] = float64(b.smp.X[idx]), float64(b.smp.T[idx])
	}
	return b.eval.LossGrad(x, g)
}

// StackStrategies lists the strategies that fit a stack: auto (the
// structured search below when the quantizer comes last, else
// multistart), gd (one joint descent from the starts given, with the
// chosen optimizer and surrogate: what users usually try) and multistart.
func StackStrategies() []string { return []string{"auto", "gd", "multistart"} }

// EstimateStack fits every parameter of st to d. params gives the ranges
// and initial values (st.Params() with any overrides). When the quantizer
// is the last operator, b is searched globally: on a grid of b, the levels
// of the targets fix an interval for each original value's pre-quantizer
// output, the smooth parameters are fitted to the interval middles by
// Levenberg–Marquardt, and the exact loss ranks b; then a fine scan of b
// with the same inner fit, the middle of the least-loss run, and a joint
// refinement with the chosen optimizer and surrogate, kept only if it
// lowers the exact loss. Other stacks are fitted jointly with the
// optimizer from Starts starts.
func EstimateStack(d *Data, st *kernels.Stack, params []kernels.Param, s Settings) (*StackResult, error) {
	start := time.Now()
	s = s.withDefaults()
	if !slices.Contains(StackStrategies(), s.Strategy) {
		return nil, errorf("strategy %s fits b alone; a stack takes one of %s", s.Strategy, strings.Join(StackStrategies(), ", "))
	}
	if len(params) != st.Dim() {
		return nil, errorf("%d parameter ranges for %d parameters", len(params), st.Dim())
	}
	for _, p := range params {
		if !(p.Lo < p.Hi) || !(p.Init >= p.Lo && p.Init <= p.Hi) || !finite(p.Lo) || !finite(p.Hi) {
			return nil, errorf("parameter %s: range [%v, %v] with start %v is not a range holding its start", p.Name, p.Lo, p.Hi, p.Init)
		}
	}
	off := 0
	for _, op := range st.Ops {
		if q, ok := op.(kernels.Quantize); ok {
			if b := params[off]; b.Lo <= q.Config.Model.MinB() || b.Hi > maxB {
				return nil, errorf("parameter %s: range [%v, %v] must lie in (%v, %v] for %v", b.Name, b.Lo, b.Hi, q.Config.Model.MinB(), maxB, q.Config.Model)
			}
		}
		off += len(op.Params())
	}
	if d.hist == nil && d.levels() == 0 && st.OutputLevels == 255 {
		st.OutputLevels = 0
	}
	w, err := d.grouped(st.Loss.Kind)
	if err != nil {
		return nil, err
	}
	be := s.Backend
	if be == nil {
		be = CPU{}
	}
	e, backend, err := be.Stack(st, w)
	if err != nil {
		return nil, err
	}
	if c, ok := e.(interface{ Close() }); ok {
		defer c.Close()
	}
	f := &stackFit{st: st, params: params, w: w, eval: e, s: s, q: -1}
	if s.BatchSize > 0 {
		if f.batch, err = newStackBatches(d, st, s.BatchSize, s.Seed); err != nil {
			return nil, err
		}
	}
	off = 0
	for i, op := range st.Ops {
		if qo, ok := op.(kernels.Quantize); ok {
			if f.q >= 0 || i != len(st.Ops)-1 {
				f.q = -2 // the generic path
			} else {
				f.q, f.qcfg = off, qo.Config
			}
		}
		off += len(op.Params())
	}
	tl, _ := st.Loss.Eval(1 / math.Max(1, st.OutputLevels))
	f.tol = tl / 1000
	if st.OutputLevels == 0 {
		tl, _ = st.Loss.Eval(d.Step / 2)
		f.tol = tl
	}
	var p []float64
	strategy := "stack-" + s.Strategy
	switch {
	case s.Strategy == "gd":
		p, err = f.descend(f.init(), s.Steps)
	case s.Strategy == "auto" && f.q >= 0:
		p, err = f.structured()
	default:
		strategy = "stack-multistart"
		p, err = f.multistart()
	}
	if err != nil {
		return nil, err
	}
	if s.Strategy != "gd" {
		p = f.center(f.refine(p))
	}
	r := &StackResult{Loss: f.loss(p), StackRun: StackRun{Strategy: strategy, Optimizer: s.Optimizer, Surrogate: s.Surrogate.String(), Backend: backend}}
	for i, op := range st.Ops {
		if i > 0 {
			r.Stack += ","
		}
		r.Stack += op.Name()
	}
	for i, pp := range params {
		iv := f.paramInterval(p, i, r.Loss)
		r.Params = append(r.Params, ParamResult{Name: pp.Name, Value: p[i], Interval: iv, Margin: (iv[1] - iv[0]) / 2})
	}
	r.Steps, r.Evaluations = f.steps, f.evals
	if err := e.Err(); err != nil {
		if g, ok := be.(*GPU); ok && g.Fallback {
			s.Backend = CPU{}
			return EstimateStack(d, st, params, s)
		}
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

func (f *stackFit) loss(p []float64) float64 {
	f.evals++
	return f.eval.Loss(p)
}

func (f *stackFit) init() []float64 {
	p := make([]float64, len(f.params))
	for i, pp := range f.params {
		p[i] = pp.Init
	}
	return p
}

// structured searches b on a grid with the inner fit, then finely.
func (f *stackFit) structured() ([]float64, error) {
	bp := f.params[f.q]
	// A step of 0.02 in b; over ranges that would take more than 4096
	// points, 4096 spaced in proportion to b, as the basins of the loss
	// widen with b (about b/255 for 8-bit data).
	const maxGrid = 4096
	k := f.s.ScanPoints
	geometric := false
	if k == 0 {
		k = int(math.Ceil((bp.Hi-bp.Lo)/0.02)) + 1
		if k > maxGrid {
			k, geometric = maxGrid, true
		}
	}
	k = max(k, 2)
	bs := make([]float64, k)
	ls := make([]float64, k)
	fits := make([][]float64, k)
	for i := range bs {
		t := float64(i) / float64(k-1)
		if geometric {
			bs[i] = bp.Lo * math.Pow(bp.Hi/bp.Lo, t)
		} else {
			bs[i] = bp.Lo + (bp.Hi-bp.Lo)*t
		}
		fits[i] = f.fitAt(bs[i])
		ls[i] = f.loss(fits[i])
	}
	// The inner fit is not the exact minimum, so the least grid point may
	// sit in the wrong basin: finish the best few basins and keep the least.
	var out []float64
	outLoss := math.Inf(1)
	bas := basins(ls)
	for _, i := range bas[:min(8, len(bas))] {
		h := (bs[min(i+1, k-1)] - bs[max(i-1, 0)]) / 2
		p := f.finish(fits[i], h)
		if l := f.loss(p); l < outLoss {
			out, outLoss = p, l
		}
	}
	return f.pattern(out), nil
}

// finish scans b finely around the fit p with the inner fit, takes the
// middle of the run of least loss, and polishes the candidates on the
// exact loss one parameter at a time.
func (f *stackFit) finish(best []float64, h float64) []float64 {
	bp := f.params[f.q]
	bestLoss := f.loss(best)
	b0 := best[f.q]
	lo, hi := math.Max(bp.Lo, b0-2*h), math.Min(bp.Hi, b0+2*h)
	const n = 41
	var run []float64
	runLoss := math.Inf(1)
	for i := range n {
		b := lo + (hi-lo)*float64(i)/(n-1)
		l := f.loss(f.fitAt(b))
		switch {
		case l < runLoss*(1-1e-9)-1e-300:
			runLoss, run = l, []float64{b}
		case l <= runLoss*(1+1e-9):
			run = append(run, b)
		}
	}
	cands := [][]float64{best}
	if runLoss <= bestLoss {
		cands = append(cands, f.fitAt((run[0]+run[len(run)-1])/2), f.fitAt(run[0]))
	}
	var out []float64
	outLoss := math.Inf(1)
	for _, c := range cands {
		c = f.coordinate(c)
		if l := f.loss(c); l < outLoss {
			out, outLoss = c, l
		}
	}
	return out
}

// fitAt fits the smooth parameters for a fixed b. The targets' levels
// tell, for every original value, the level its pre-quantizer value g(x)
// fell in; where the level changes between two consecutive original values
// xa < xb, g crossed the boundaries between them. The smooth operators are
// fitted by Levenberg–Marquardt to cross each boundary at (xa + xb)/2,
// one residual per crossing: the middle of what the data allow, whatever
// the pixel counts. (Fitting every value to its level's middle instead
// pulls g towards a staircase and biased γ by 0.2 on photos.) Where the
// middles leave some crossing outside (xa, xb], as they do where crossings
// crowd, a second fit pulls only the crossings that are out back in: the
// data fix a thin set of parameters there, which the middles miss and the
// exact loss, flat around it, does not lead to.
func (f *stackFit) fitAt(b float64) []float64 {
	p := f.init()
	p[f.q] = b
	m := f.qcfg.Model
	s := b - m.Shift()
	c, d := m.Offsets()
	// Outputs clamp to [0, 1], so every level up to kb stores 0 and every
	// level from kt stores 1 (after rounding to the stored levels): those
	// targets say only that g stayed below boundary kb+1 or reached kt.
	half := 0.0
	if l := f.st.OutputLevels; l > 0 {
		half = 0.5 / l
	}
	kb := math.Ceil(s*half-d) - 1
	kt := math.Ceil(s*(1-half) - d)
	// the level of each distinct original value, from its mean target
	var xs, ks []float64
	for r := 0; r < f.w.Len(); {
		x, sw, st := f.w.X[r], 0.0, 0.0
		for ; r < f.w.Len() && f.w.X[r] == x; r++ {
			sw += f.w.W[r]
			st += f.w.W[r] * f.w.T[r]
		}
		k := math.Max(kb, math.Min(kt, math.Round(st/sw*s-d)))
		xs, ks = append(xs, x), append(ks, k)
	}
	var cx []crossing
	for i := 0; i+1 < len(xs); i++ {
		lo, hi := ks[i], ks[i+1]
		if lo == hi {
			continue
		}
		up := lo < hi
		if !up {
			lo, hi = hi, lo
		}
		for j := lo + 1; j <= hi; j++ {
			cx = append(cx, crossing{xa: xs[i], xb: xs[i+1], y: (j - c) / s, up: up})
		}
	}
	var idx []int
	for i := range p {
		if i != f.q {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 || len(cx) == 0 {
		return p
	}
	smooth := f.st.Ops[:len(f.st.Ops)-1]
	sizes := make([]int, len(smooth))
	for i, op := range smooth {
		sizes[i] = len(op.Params())
	}
	var dps, dxs [16]float64
	// g returns g(x) and, with jac, its derivatives in the parameters.
	g := func(x float64, p, jac []float64) float64 {
		off := 0
		for i, op := range smooth {
			k := sizes[i]
			x, dxs[i] = op.Apply(x, p[off:off+k], dps[off:off+k])
			off += k
		}
		if jac != nil {
			d := 1.0
			off = f.q
			for i := len(smooth) - 1; i >= 0; i-- {
				k := sizes[i]
				off -= k
				for j := 0; j < k; j++ {
					jac[off+j] = d * dps[off+j]
				}
				d *= dxs[i]
			}
		}
		return x
	}
	p = f.lm(p, idx, len(cx), func(p []float64, r int, jac []float64) float64 {
		return g((cx[r].xa+cx[r].xb)/2, p, jac) - cx[r].y
	})
	// out returns by how much crossing r lies outside its interval, signed
	// so that the residual grows as g moves further out. The interval is
	// narrowed by a margin far below any precision that matters and far
	// above rounding, because the fit stops on the interval's edge, where
	// a crossing exactly at y falls either way.
	const margin = 1e-7
	ja := make([]float64, len(p))
	out := func(p []float64, r int, jac []float64) float64 {
		x := cx[r]
		lo, hi := x.xa, x.xb
		if !x.up {
			lo, hi = hi, lo
		}
		// g(lo) < y ≤ g(hi) inside
		if v := g(lo, p, ja); v > x.y-margin {
			if jac != nil {
				copy(jac, ja)
			}
			return v - (x.y - margin)
		}
		if v := g(hi, p, ja); v < x.y+margin {
			if jac != nil {
				copy(jac, ja)
			}
			return v - (x.y + margin)
		}
		if jac != nil {
			clear(jac)
		}
		return 0
	}
	for r := range cx {
		if out(p, r, nil) != 0 {
			return f.lm(p, idx, len(cx), out)
		}
	}
	return p
}

// crossing is a level boundary y that g crosses between the consecutive
// original values xa < xb, upwards or downwards.
type crossing struct {
	xa, xb, y float64
	up        bool
}

// lm minimizes Σ res(p, r)² over the parameters idx by Levenberg–
// Marquardt, within the ranges. res returns residual r and, given jac,
// writes its derivatives in every parameter there.
func (f *stackFit) lm(p []float64, idx []int, n int, res func(p []float64, r int, jac []float64) float64) []float64 {
	cost := func(p []float64) float64 {
		sum := 0.0
		for r := 0; r < n; r++ {
			e := res(p, r, nil)
			sum += e * e
		}
		return sum
	}
	lambda := 1e-3
	cur := cost(p)
	dim := len(idx)
	jac := make([]float64, len(p))
	jtj := make([]float64, dim*dim)
	jtr := make([]float64, dim)
	for iter := 0; iter < 50 && cur > 0; iter++ {
		clear(jtj)
		clear(jtr)
		for r := 0; r < n; r++ {
			e := res(p, r, jac)
			if e == 0 {
				continue
			}
			for a := 0; a < dim; a++ {
				ja := jac[idx[a]]
				jtr[a] += ja * e
				for bb := 0; bb < dim; bb++ {
					jtj[a*dim+bb] += ja * jac[idx[bb]]
				}
			}
		}
		improved := false
		for try := 0; try < 12; try++ {
			step, ok := solve(jtj, jtr, dim, lambda)
			if !ok {
				lambda *= 10
				continue
			}
			q := append([]float64(nil), p...)
			for a := 0; a < dim; a++ {
				i := idx[a]
				q[i] = math.Min(math.Max(q[i]-step[a], f.params[i].Lo), f.params[i].Hi)
			}
			if nc := cost(q); nc < cur {
				improved = cur-nc > 1e-15*cur
				p, cur = q, nc
				lambda = math.Max(lambda/10, 1e-12)
				break
			}
			lambda *= 10
		}
		if !improved {
			break
		}
	}
	return p
}

// solve solves (JᵀJ + λ·diag(JᵀJ)) x = Jᵀr, the damped normal equations.
func solve(jtj, jtr []float64, n int, lambda float64) ([]float64, bool) {
	a := mat.NewSymDense(n, append([]float64(nil), jtj...))
	for i := 0; i < n; i++ {
		a.SetSym(i, i, a.At(i, i)+lambda*math.Max(a.At(i, i), 1e-12))
	}
	var c mat.Cholesky
	if !c.Factorize(a) {
		return nil, false
	}
	x := mat.NewVecDense(n, nil)
	if err := c.SolveVecTo(x, mat.NewVecDense(n, append([]float64(nil), jtr...))); err != nil {
		return nil, false
	}
	return x.RawVector().Data, true
}

// multistart fits all parameters jointly with the chosen optimizer and
// surrogate from Starts starts spread over the ranges.
func (f *stackFit) multistart() ([]float64, error) {
	r := rand.New(rand.NewPCG(f.s.Seed, 0x57ac))
	best, bestLoss := f.init(), f.loss(f.init())
	for k := 0; k < f.s.Starts; k++ {
		p0 := f.init()
		if k > 0 {
			for i, pp := range f.params {
				p0[i] = pp.Lo + (pp.Hi-pp.Lo)*r.Float64()
			}
		}
		p, err := f.descend(p0, f.s.Steps)
		if err != nil {
			return nil, err
		}
		if l := f.loss(p); l < bestLoss {
			best, bestLoss = p, l
		}
	}
	return best, nil
}

// descend runs the chosen optimizer on the surrogate loss from p0.
func (f *stackFit) descend(p0 []float64, steps int) ([]float64, error) {
	m, err := optim.ParseMethod(f.s.Optimizer)
	if err != nil {
		return nil, err
	}
	lo, hi := make([]float64, len(f.params)), make([]float64, len(f.params))
	for i, pp := range f.params {
		lo[i], hi[i] = pp.Lo, pp.Hi
	}
	lr := f.s.LearningRate
	if lr == 0 {
		lr = 0.01
	}
	prob := optim.Problem{
		LossGrad: func(g, x []float64) float64 { f.evals++; return f.eval.LossGrad(x, g) },
		Loss:     f.loss,
	}
	if b := f.batch; b != nil && len(b.perm)/b.w.Len() > 1 {
		prob.NumBatches = len(b.perm) / b.w.Len()
		prob.BatchLossGrad = func(g, x []float64, epoch, batch int) float64 {
			f.evals++
			return b.lossGrad(g, x, epoch, batch)
		}
	}
	set := &optim.Settings{Steps: steps, LearningRate: lr, Schedule: f.s.Schedule, Noise: f.s.Noise,
		Lower: lo, Upper: hi, Patience: f.s.Patience, Tolerance: f.s.Tolerance, Seed: f.s.Seed + uint64(f.steps)}
	if f.s.Recorder != nil {
		set.Recorder = optim.RecorderFunc(func(st optim.Step) error {
			st.Step = f.recStep
			f.recStep++
			return f.s.Recorder.Record(st)
		})
	}
	res, err := optim.Minimize(prob, p0, set, m)
	if err != nil {
		return nil, err
	}
	f.steps += res.Steps
	return res.X, nil
}

// refine is the joint refinement with the optimizer and surrogate, kept
// only where it lowers the exact loss.
func (f *stackFit) refine(p []float64) []float64 {
	q, err := f.descend(p, min(f.s.Steps, 100))
	if err != nil || f.loss(q) >= f.loss(p) {
		return p
	}
	return q
}

// pattern searches the exact loss from p, the last step of the fit: the
// stored outputs make the loss piecewise constant in every parameter,
// which gradients do not see, and its valleys run along correlated
// directions (γ against gain and bias), which steps along one parameter at
// a time do not follow. Coordinate steps first, then lines in random
// directions with a shrinking radius.
func (f *stackFit) pattern(p []float64) []float64 {
	p = f.coordinate(p)
	r := rand.New(rand.NewPCG(f.s.Seed, 0x9a77e2))
	cur := f.loss(p)
	radius := 0.02
	u := make([]float64, len(p))
	for fails := 0; radius > 1e-5 && cur > 0; {
		for i, pp := range f.params {
			u[i] = r.NormFloat64() * (pp.Hi - pp.Lo) * radius
		}
		best, bestT := cur, 0.0
		for _, t := range [...]float64{1, -1, 0.5, -0.5, 0.25, -0.25, 0.125, -0.125, 0.0625, -0.0625} {
			q := f.along(p, u, t)
			if l := f.loss(q); l < best {
				best, bestT = l, t
			}
		}
		if bestT != 0 {
			p, cur, fails = f.along(p, u, bestT), best, 0
			continue
		}
		if fails++; fails >= 60 {
			radius, fails = radius/2, 0
		}
	}
	return p
}

// along returns p + t·u clipped to the ranges.
func (f *stackFit) along(p, u []float64, t float64) []float64 {
	q := make([]float64, len(p))
	for i, pp := range f.params {
		q[i] = math.Min(math.Max(p[i]+t*u[i], pp.Lo), pp.Hi)
	}
	return q
}

// coordinate is a Hooke–Jeeves search along one parameter at a time.
func (f *stackFit) coordinate(p []float64) []float64 {
	p = append([]float64(nil), p...)
	step := make([]float64, len(p))
	for i, pp := range f.params {
		step[i] = (pp.Hi - pp.Lo) / 500
	}
	cur := f.loss(p)
	for round := 0; round < 12; round++ {
		improved := false
		for i := range p {
			for _, dir := range []float64{1, -1} {
				for {
					q := append([]float64(nil), p...)
					q[i] = math.Min(math.Max(p[i]+dir*step[i], f.params[i].Lo), f.params[i].Hi)
					l := f.loss(q)
					if !(l < cur) {
						break
					}
					p, cur, improved = q, l, true
				}
			}
		}
		if !improved {
			for i := range step {
				step[i] /= 3
			}
		}
	}
	return p
}

// center returns the mean of the set of parameters that fit the data as
// well as p, sampled by hit-and-run: the middle of what the data allow
// (the posterior mean under a flat prior), which the minimum itself, on
// the edge of the set, is not. The set can be long, thin, oblique and
// curved (γ, gain and bias trade against each other: on a photo with 145
// grey levels every bias in [0.04, 0.116] fit exactly), so one parameter
// at a time would not find its middle, and the walk mixes slowly along
// it: 1500 samples hold the mean to about 0.005 in bias there, where 400
// wandered by 0.02 between seeds; fewer parameters need fewer. (The
// sample with the most neighbours, a mode, did no better than the mean
// on 80 trials.)
func (f *stackFit) center(p []float64) []float64 {
	// The limit admits the rounding noise of the sums (1e-16 where the data
	// fit exactly), which would otherwise cut the set into crumbs, and not
	// one more stored value off by one level.
	loss := f.loss(p)
	lim := loss + 1e-9*loss + 1e-6*f.tol
	in := func(q []float64) bool {
		for i, pp := range f.params {
			if q[i] < pp.Lo || q[i] > pp.Hi {
				return false
			}
		}
		return f.loss(q) <= lim
	}
	r := rand.New(rand.NewPCG(f.s.Seed, 0xce47e2))
	n := len(p)
	cur := append([]float64(nil), p...)
	u := make([]float64, n)
	q := make([]float64, n)
	at := func(t float64) []float64 {
		for i := range q {
			q[i] = cur[i] + t*u[i]
		}
		return q
	}
	// chord returns the ends of the set's chord through cur along u, to
	// 1/2000 of its length: from the last chord's length (u is scaled to
	// the set, so lengths vary little), doubling out or halving in.
	last := 1.0
	chord := func() (float64, float64) {
		edge := func(sgn float64) float64 {
			lo, hi := 0.0, sgn*last
			if in(at(hi)) {
				for lo = hi; in(at(2 * lo)); lo *= 2 {
					if math.Abs(lo) > 1e6 {
						return lo
					}
				}
				hi = 2 * lo
			} else {
				for k := 0; k < 40; k++ {
					if t := hi / 2; in(at(t)) {
						lo = t
						break
					}
					hi /= 2
				}
				if lo == 0 {
					return 0
				}
			}
			for k := 0; k < 11; k++ {
				mid := (lo + hi) / 2
				if in(at(mid)) {
					lo = mid
				} else {
					hi = mid
				}
			}
			return lo
		}
		a, b := edge(-1), edge(1)
		if b-a > 0 {
			last = (b - a) / 2
		}
		return a, b
	}
	// Hit-and-run. Directions follow the shape of the set seen so far (the
	// Cholesky factor of the samples' covariance, renewed as they spread),
	// so that a long thin set is crossed along its length; one in four
	// runs along one parameter, scaled to its spread, so that the walk
	// leaves a corner where the shaped directions all miss the set.
	const burn, renew = 100, 50
	samples := float64(min(1500, 400*n))
	seen := mat.NewDense(burn+int(samples), n, nil)
	var l mat.TriDense
	shaped := false
	z := make([]float64, n)
	mean := make([]float64, n)
	spread := make([]float64, n)
	for i, pp := range f.params {
		spread[i] = pp.Hi - pp.Lo
	}
	for it := 0; it < burn+int(samples); it++ {
		if it >= renew && it%renew == 0 {
			var chol mat.Cholesky
			c := covariance(seen.Slice(0, it, 0, n).(*mat.Dense))
			if chol.Factorize(c) {
				chol.LTo(&l)
				shaped = true
				for i := range spread {
					spread[i] = math.Sqrt(c.At(i, i))
				}
			}
		}
		switch {
		case r.IntN(4) == 0:
			clear(u)
			i := r.IntN(n)
			u[i] = spread[i]
		case shaped:
			for i := range z {
				z[i] = r.NormFloat64()
			}
			mat.NewVecDense(n, u).MulVec(&l, mat.NewVecDense(n, z))
		default:
			for i := range u {
				u[i] = r.NormFloat64() * spread[i]
			}
		}
		a, b := chord()
		cur = append([]float64(nil), at(a+(b-a)*r.Float64())...)
		seen.SetRow(it, cur)
		if it >= burn {
			for i := range mean {
				mean[i] += cur[i] / samples
			}
		}
	}
	if in(mean) {
		return mean
	}
	return p
}

// covariance returns the covariance of the rows of pts, with a small
// ridge so that a flat direction keeps some reach.
func covariance(pts *mat.Dense) *mat.SymDense {
	var c mat.SymDense
	stat.CovarianceMatrix(&c, pts, nil)
	n := c.SymmetricDim()
	for i := 0; i < n; i++ {
		c.SetSym(i, i, c.At(i, i)*(1+1e-6)+1e-12)
	}
	return &c
}

// run returns the hull of the values of parameter i, the others held,
// whose loss is at most lim.
func (f *stackFit) run(p []float64, i int, lim float64) [2]float64 {
	pp := f.params[i]
	q := append([]float64(nil), p...)
	return hull(p[i], pp.Lo, pp.Hi, (pp.Hi-pp.Lo)/200, 201, lim, func(vs, out []float64) {
		for j, v := range vs {
			q[i] = v
			out[j] = f.loss(q)
		}
	})
}

// paramInterval scans parameter i alone around p on a fine grid, widening
// while the hull of the points within tolerance touches the window.
func (f *stackFit) paramInterval(p []float64, i int, loss float64) [2]float64 {
	return f.run(p, i, loss+f.tol+1e-12*loss)
}

func (r *StackResult) String() string {
	s := r.Stack + ":"
	for _, p := range r.Params {
		s += fmt.Sprintf(" %s=%.4f±%.4f", p.Name, p.Value, p.Margin)
	}
	return s
}
