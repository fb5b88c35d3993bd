package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

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
	// Tiles, for a spatial stack fitted on tiles of its images, says how
	// many pixels informed the fit and what the verification found.
	Tiles *TileReport `json:"tiles,omitempty"`
}

// StackRun is how a stack was fitted, in a result and in a report.
type StackRun struct {
	Stack string `json:"stack"`
	// Model is the quantizer's model, if the stack has a quantizer.
	Model       string  `json:"model,omitempty"`
	Strategy    string  `json:"strategy"`
	Optimizer   string  `json:"optimizer"`
	Surrogate   string  `json:"surrogate"`
	Mode        string  `json:"mode"`
	Backend     string  `json:"backend"`
	Renderer    string  `json:"renderer,omitempty"`
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

// checkStack validates the settings, the stack and its parameter ranges,
// and returns the settings with their defaults.
func checkStack(st *kernels.Stack, params []kernels.Param, s Settings) (Settings, error) {
	if err := s.Validate(); err != nil {
		return s, err
	}
	s = s.withDefaults()
	switch s.Strategy.(type) {
	case Auto, GD, Multistart:
	default:
		return s, fieldErr("Strategy", s.Strategy.Name(), "fits b alone; a stack takes one of %s", strings.Join(StackStrategies(), ", "))
	}
	if err := st.Validate(); err != nil {
		return s, err
	}
	if len(params) != st.Dim() {
		return s, fieldErr("Params", len(params), "%d parameter ranges for %d parameters", len(params), st.Dim())
	}
	for _, p := range params {
		if !(p.Lo < p.Hi) || !(p.Init >= p.Lo && p.Init <= p.Hi) || !finite(p.Lo) || !finite(p.Hi) {
			return s, fieldErr("Params", p.Name, "range [%v, %v] with start %v is not a range holding its start", p.Lo, p.Hi, p.Init)
		}
	}
	off := 0
	for _, op := range st.Ops {
		if q, ok := op.(kernels.Quantize); ok {
			if b := params[off]; b.Lo <= q.Config.Model.MinB() || b.Hi > maxB {
				return s, fieldErr("Params", b.Name, "range [%v, %v] must lie in (%v, %v] for %v", b.Lo, b.Hi, q.Config.Model.MinB(), maxB, q.Config.Model)
			}
		}
		off += len(op.Params())
	}
	return s, nil
}

// locateQuantizer sets f.q to the index of the quantizer's b when the
// quantizer is the last operator and the only one (-1 without one, -2
// otherwise: the generic path).
func (f *stackFit) locateQuantizer() {
	off := 0
	for i, op := range f.st.Ops {
		if qo, ok := op.(kernels.Quantize); ok {
			if f.q != -1 || i != len(f.st.Ops)-1 {
				f.q = -2
			} else {
				f.q, f.qcfg = off, qo.Config
			}
		}
		off += len(op.Params())
	}
}

// setTolerance sets the loss tolerance of the intervals: a thousandth of
// the loss of one stored level, or unrounded the loss of half the data's
// step.
func (f *stackFit) setTolerance(dataStep float64) {
	tl, _ := f.st.Loss.Eval(1 / math.Max(1, f.st.OutputLevels))
	f.tol = tl / 1000
	if f.st.OutputLevels == 0 {
		f.tol, _ = f.st.Loss.Eval(dataStep / 2)
	}
}

// fit runs the strategy of the settings: gd, one joint descent from the
// starts; auto with the quantizer last, global (b searched globally);
// otherwise multistart. All but gd are then finished. It returns the
// parameters and the strategy's name.
func (f *stackFit) fit(global func(Auto) ([]float64, error), finish func([]float64) []float64) ([]float64, string, error) {
	strategy := "stack-" + f.s.Strategy.Name()
	if _, gd := f.s.Strategy.(GD); gd {
		p, err := f.descend(f.init(), f.s.Optim.Steps)
		return p, strategy, err
	}
	var p []float64
	var err error
	switch a, auto := f.s.Strategy.(Auto); {
	case auto && f.q >= 0:
		p, err = global(a)
	default:
		strategy = "stack-multistart"
		starts := defaultStarts
		if m, ok := f.s.Strategy.(Multistart); ok {
			starts = m.Starts
		}
		p, err = f.multistart(starts)
	}
	if err != nil {
		return nil, "", err
	}
	return finish(p), strategy, nil
}

// result is the report of the fit p, every parameter with its interval
// (interval(p, i, loss)).
func (f *stackFit) result(p []float64, strategy, mode, backend, renderer string, interval func(p []float64, i int, loss float64) [2]float64) *StackResult {
	r := &StackResult{Loss: f.loss(p), StackRun: StackRun{Stack: f.st.Name(), Strategy: strategy, Optimizer: f.s.Optim.Method,
		Surrogate: f.s.Surrogate.String(), Mode: mode, Backend: backend, Renderer: renderer}}
	for _, op := range f.st.Ops {
		if q, ok := op.(kernels.Quantize); ok {
			r.Model = q.Config.Model.String()
			break
		}
	}
	for i, pp := range f.params {
		iv := interval(p, i, r.Loss)
		r.Params = append(r.Params, ParamResult{Name: pp.Name, Value: p[i], Interval: iv, Margin: (iv[1] - iv[0]) / 2})
	}
	r.Steps, r.Evaluations = f.steps, f.evals
	return r
}

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
	s, err := checkStack(st, params, s)
	if err != nil {
		return nil, err
	}
	// The storage rounding is the settings', resolved for these data, on
	// a copy: the caller's stack is left as it was.
	stc := *st
	stc.OutputLevels = resolveLevels(s.Levels, d)
	st = &stc
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
	if s.Optim.BatchSize > 0 {
		if f.batch, err = newStackBatches(d, st, s.Optim.BatchSize, s.Seed); err != nil {
			return nil, err
		}
	}
	f.locateQuantizer()
	f.setTolerance(d.Step)
	p, strategy, err := f.fit(f.structured, func(p []float64) []float64 { return f.center(f.refine(p)) })
	if err != nil {
		return nil, err
	}
	renderer := ""
	if backend == "gpu" {
		renderer = be.Renderer()
	}
	// the stack's evaluators always read the grouped data
	r := f.result(p, strategy, HistMode.String(), backend, renderer, f.paramInterval)
	if err := e.Err(); err != nil {
		if retryOnCPU(be, err) {
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

// multistart fits all parameters jointly with the chosen optimizer and
// surrogate from Starts starts spread over the ranges.
func (f *stackFit) multistart(starts int) ([]float64, error) {
	r := rand.New(rand.NewPCG(f.s.Seed, 0x57ac))
	best, bestLoss := f.init(), f.loss(f.init())
	for k := 0; k < starts; k++ {
		p0 := f.init()
		if k > 0 {
			for i, pp := range f.params {
				p0[i] = pp.Lo + (pp.Hi-pp.Lo)*r.Float64()
			}
		}
		p, err := f.descend(p0, f.s.Optim.Steps)
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
	m, err := optim.ParseMethod(f.s.Optim.Method)
	if err != nil {
		return nil, err
	}
	lo, hi := make([]float64, len(f.params)), make([]float64, len(f.params))
	for i, pp := range f.params {
		lo[i], hi[i] = pp.Lo, pp.Hi
	}
	lr := f.s.Optim.LearningRate
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
	o := f.s.Optim
	set := &optim.Settings{Steps: steps, LearningRate: lr, Schedule: o.Schedule, Noise: o.Noise,
		Lower: lo, Upper: hi, Patience: o.Patience, Tolerance: o.Tolerance, Seed: f.s.Seed + uint64(f.steps)}
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
	q, err := f.descend(p, min(f.s.Optim.Steps, 100))
	if err != nil || f.loss(q) >= f.loss(p) {
		return p
	}
	return q
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
