package kernels

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
)

// Param describes one parameter of an operator.
type Param struct {
	Name string
	// Lo and Hi bound the parameter; Init is where a fit starts.
	Lo, Hi, Init float64
	// Smooth is false for the quantizer's b, which the strategies search
	// globally.
	Smooth bool
}

// Op is a pixel-wise operator of a stack: an exact forward, and the
// derivatives of its output with respect to its input and its parameters.
// Another program can add its own operator by implementing Op.
type Op interface {
	// Name is the operator's name in -stack.
	Name() string
	// Params describes the operator's parameters, in order.
	Params() []Param
	// Apply returns y = f(x; p) and dy/dx, and writes dy/dp into dp (one
	// entry per parameter).
	Apply(x float64, p, dp []float64) (y, dydx float64)
	// GLSL is the body of the operator's GPU twin of Apply; the stack's
	// shader generator wraps it as
	//
	//	double opN(double x, double p[MAXP], out double dx, out double dp[MAXP]) { BODY }
	//
	// so the body sets dx and dp[0..] and returns y, in double (GLSL's
	// double has no exp or log: take those in float).
	GLSL() string
}

// Valuer is an operator that computes its value alone, more cheaply than
// Apply: a forward pass without tangents calls Value, which must return
// Apply's y exactly.
type Valuer interface {
	Value(x float64, p []float64) float64
}

// Gain is y = a·x.
type Gain struct{}

func (Gain) Name() string    { return "gain" }
func (Gain) Params() []Param { return []Param{{Name: "gain", Lo: 0.5, Hi: 2, Init: 1, Smooth: true}} }
func (Gain) Apply(x float64, p, dp []float64) (float64, float64) {
	dp[0] = x
	return p[0] * x, p[0]
}
func (Gain) GLSL() string {
	return "dp[0] = x; dx = p[0]; return p[0] * x;"
}

// Bias is y = x + c.
type Bias struct{}

func (Bias) Name() string { return "bias" }
func (Bias) Params() []Param {
	return []Param{{Name: "bias", Lo: -0.5, Hi: 0.5, Init: 0, Smooth: true}}
}
func (Bias) Apply(x float64, p, dp []float64) (float64, float64) {
	dp[0] = 1
	return x + p[0], 1
}
func (Bias) GLSL() string {
	return "dp[0] = 1.0LF; dx = 1.0LF; return x + p[0];"
}

// Gamma is y = x^γ, and 0 for x ≤ 0 where the power has no real value.
type Gamma struct{}

func (Gamma) Name() string    { return "gamma" }
func (Gamma) Params() []Param { return []Param{{Name: "gamma", Lo: 0.3, Hi: 3, Init: 1, Smooth: true}} }
func (Gamma) Apply(x float64, p, dp []float64) (float64, float64) {
	if x <= 0 {
		dp[0] = 0
		return 0, 0
	}
	lx := math.Log(x)
	y := math.Exp(p[0] * lx)
	dp[0] = y * lx
	return y, p[0] * y / x
}
func (Gamma) GLSL() string {
	// GLSL has no double log or exp: the power is taken in float, the
	// derivatives from it. Parity with the CPU is then to float precision.
	return `
	if (x <= 0.0LF) { dx = 0.0LF; dp[0] = 0.0LF; return 0.0LF; }
	double lx = double(log(float(x)));
	double y = double(exp(float(p[0] * lx)));
	dp[0] = y * lx;
	dx = p[0] * y / x;
	return y;
`
}

// Contrast is y = (x − 0.5)·k + 0.5.
type Contrast struct{}

func (Contrast) Name() string { return "contrast" }
func (Contrast) Params() []Param {
	return []Param{{Name: "contrast", Lo: 0.5, Hi: 2, Init: 1, Smooth: true}}
}
func (Contrast) Apply(x float64, p, dp []float64) (float64, float64) {
	dp[0] = x - 0.5
	return (x-0.5)*p[0] + 0.5, p[0]
}
func (Contrast) GLSL() string {
	return "dp[0] = x - 0.5LF; dx = p[0]; return (x - 0.5LF) * p[0] + 0.5LF;"
}

// Clamp is y = clamp(x, 0, 1).
type Clamp struct{}

func (Clamp) Name() string    { return "clamp" }
func (Clamp) Params() []Param { return nil }
func (Clamp) Apply(x float64, _, _ []float64) (float64, float64) {
	if x < 0 {
		return 0, 0
	}
	if x > 1 {
		return 1, 0
	}
	return x, 1
}
func (Clamp) GLSL() string {
	return "if (x < 0.0LF) { dx = 0.0LF; return 0.0LF; } if (x > 1.0LF) { dx = 0.0LF; return 1.0LF; } dx = 1.0LF; return x;"
}

// Quantize is the quantizer of Config (its storage rounding excluded: the
// stack rounds its final output) with the surrogate's derivatives.
type Quantize struct {
	Config Config
}

func (q Quantize) Name() string { return "quantize" }
func (q Quantize) Params() []Param {
	return []Param{{Name: "b", Lo: 5, Hi: 30, Init: 12, Smooth: false}}
}
func (q Quantize) Apply(x float64, p, dp []float64) (float64, float64) {
	y, db, dx := q.Config.Derivs(x, p[0])
	dp[0] = db
	return y, dx
}
func (q Quantize) Value(x float64, p []float64) float64 { return q.Config.Value(x, p[0]) }
func (q Quantize) GLSL() string {
	return "return quantizeOp(x, p[0], dx, dp[0]);"
}

// Stack is operators applied in order, then the storage rounding of the
// output and a loss against the target.
type Stack struct {
	Ops  []Op
	Loss Loss
	// OutputLevels rounds the final output as a stored file does: 255 for
	// 8-bit; 0 leaves it unrounded.
	OutputLevels float64
}

// namedOps are the operators of ParseStack without settings of their own.
var namedOps = map[string]Op{
	"gain": Gain{}, "bias": Bias{}, "gamma": Gamma{}, "contrast": Contrast{}, "clamp": Clamp{},
	"saturation": Saturation{}, "colormatrix": ColorMatrix{}, "blur": Blur{}, "sharpen": Sharpen{},
}

// ParseStack builds a stack from comma-separated operator names; cfg sets
// the quantizer (model, surrogate) and the loss.
func ParseStack(spec string, cfg Config) (*Stack, error) {
	cfg = cfg.WithDefaults()
	st := &Stack{Loss: cfg.Loss, OutputLevels: cfg.OutputLevels}
	q := cfg
	q.OutputLevels = 0
	for _, name := range strings.Split(spec, ",") {
		key := strings.TrimSpace(strings.ToLower(name))
		if op, ok := namedOps[key]; ok {
			st.Ops = append(st.Ops, op)
			continue
		}
		switch key {
		case "quantize":
			if q.Surrogate.Kind == Gaussian {
				return nil, fieldError("Surrogate.Kind", "gaussian", "smooths a loss, not an operator: a stack cannot use it")
			}
			st.Ops = append(st.Ops, Quantize{Config: q})
		default:
			return nil, fieldError("Stack", spec, "unknown operator %q; want gain, bias, gamma, contrast, clamp, saturation, colormatrix, blur, sharpen, quantize", name)
		}
	}
	return st, st.Validate()
}

// MaxOps and MaxParams bound a stack: the per-sample loops keep each
// operator's derivative and each parameter's in fixed arrays, so that a
// sample costs no allocation (and a shader's in registers).
const (
	MaxOps    = 16
	MaxParams = 32
)

// Validate checks the stack.
func (st *Stack) Validate() error {
	names := st.Name()
	switch n := len(st.Params()); {
	case len(st.Ops) == 0:
		return fieldError("Stack", names, "empty stack")
	case len(st.Ops) > MaxOps:
		return fieldError("Stack", names, "%d operators; a stack has at most %d", len(st.Ops), MaxOps)
	case n > MaxParams:
		return fieldError("Stack", names, "%d parameters; a stack has at most %d", n, MaxParams)
	}
	return st.Loss.WithDefaults().Validate()
}

// Name is the stack as -stack spells it: the operators' names, comma
// separated.
func (st *Stack) Name() string {
	names := make([]string, len(st.Ops))
	for i, op := range st.Ops {
		names[i] = op.Name()
	}
	return strings.Join(names, ",")
}

// Params lists the parameters of every operator in order; names are made
// unique by a suffix (gain, gain2, ...).
func (st *Stack) Params() []Param {
	var ps []Param
	seen := map[string]int{}
	for _, op := range st.Ops {
		for _, p := range op.Params() {
			seen[p.Name]++
			if n := seen[p.Name]; n > 1 {
				p.Name = fmt.Sprintf("%s%d", p.Name, n)
			}
			ps = append(ps, p)
		}
	}
	return ps
}

// Dim is the number of parameters.
func (st *Stack) Dim() int { return len(st.Params()) }

// Forward returns the exact output of the stack at x: every operator in
// order, the storage rounding at the end.
func (st *Stack) Forward(x float64, p []float64) float64 {
	var dp [MaxParams]float64
	return st.forward(x, p, st.sizes(), dp[:])
}

// sizes returns the number of parameters of each operator: asked of the
// operators once per evaluator, not per sample, as Params allocates.
func (st *Stack) sizes() []int {
	n := make([]int, len(st.Ops))
	for i, op := range st.Ops {
		n[i] = len(op.Params())
	}
	return n
}

// forward is Forward with the sizes and dp, scratch for the operators'
// derivatives: an array declared here would escape to the heap through
// the operators' interface and cost an allocation a sample.
func (st *Stack) forward(x float64, p []float64, sizes []int, dp []float64) float64 {
	for i, op := range st.Ops {
		n := sizes[i]
		if v, ok := op.(Valuer); ok {
			x = v.Value(x, p[:n])
		} else {
			x, _ = op.Apply(x, p[:n], dp[:n])
		}
		p = p[n:]
	}
	return st.store(x)
}

func (st *Stack) store(y float64) float64 {
	y = clamp01(y)
	if st.OutputLevels == 0 {
		return y
	}
	return math.Floor(y*st.OutputLevels+0.5) * (1 / st.OutputLevels)
}

// SampleLossGrad is the reference loss of one sample and adds its
// gradient in the parameters to grad, by the chain rule backwards through
// the operators. scratch holds Dim values.
func (st *Stack) SampleLossGrad(x, t float64, p, grad, scratch []float64) float64 {
	return st.sampleLossGrad(x, t, p, grad, scratch, st.sizes())
}

func (st *Stack) sampleLossGrad(x, t float64, p, grad, scratch []float64, sizes []int) float64 {
	n := len(p)
	dps := scratch[:n]
	var opDx [MaxOps]float64
	off := 0
	for i, op := range st.Ops {
		k := sizes[i]
		x, opDx[i] = op.Apply(x, p[off:off+k], dps[off:off+k])
		off += k
	}
	y := st.store(x)
	if x < 0 || x > 1 {
		return st.lossOnly(y, t)
	}
	l, g := st.Loss.Eval(y - t)
	// Backwards: g is dℓ/d(output of op i).
	off = n
	for i := len(st.Ops) - 1; i >= 0; i-- {
		k := sizes[i]
		off -= k
		for j := 0; j < k; j++ {
			grad[off+j] += g * dps[off+j]
		}
		g *= opDx[i]
	}
	return l
}

func (st *Stack) lossOnly(y, t float64) float64 {
	l, _ := st.Loss.Eval(y - t)
	return l
}

// StackEvaluator evaluates a stack's mean loss and gradient over grouped
// samples (a histogram's, or the sorted pixels'), on all cores.
type StackEvaluator struct {
	st     *Stack
	sizes  []int
	w      *Weighted
	total  float64
	chunks int
	p      []float64
	exact  bool
	loss   []float64
	grads  [][]float64
	wg     sync.WaitGroup
}

// NewStackEvaluator returns an evaluator of st over w.
func NewStackEvaluator(st *Stack, w *Weighted) (*StackEvaluator, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	if w.MSEOnly && st.Loss.Kind != MSE {
		return nil, fmt.Errorf("kernels: data grouped for mse cannot evaluate %v", st.Loss.Kind)
	}
	if st.Spatial() {
		return nil, errors.New("kernels: a stack with image operators is evaluated on whole images (NewImageEvaluator), not on grouped samples")
	}
	e := &StackEvaluator{st: st, sizes: st.sizes(), w: w, total: w.Total()}
	if e.total <= 0 {
		return nil, errors.New("kernels: no samples")
	}
	e.chunks = max(1, min(4*workers(), w.Len()/1024))
	e.loss = make([]float64, e.chunks)
	for range e.chunks {
		e.grads = append(e.grads, make([]float64, 2*st.Dim()))
	}
	return e, nil
}

// Err is always nil: the CPU cannot fail.
func (e *StackEvaluator) Err() error { return nil }

// Stack returns the evaluator's stack.
func (e *StackEvaluator) Stack() *Stack { return e.st }

// LossGrad returns the mean loss at p and writes the mean gradient.
func (e *StackEvaluator) LossGrad(p, grad []float64) float64 {
	e.p, e.exact = p, false
	runChunks(e, e.chunks, &e.wg)
	n := len(p)
	clear(grad[:n])
	l := e.w.Offset
	for c := range e.chunks {
		l += e.loss[c]
		for j := 0; j < n; j++ {
			grad[j] += e.grads[c][j]
		}
	}
	for j := 0; j < n; j++ {
		grad[j] /= e.total
	}
	return l / e.total
}

// Loss returns the exact mean loss at p.
func (e *StackEvaluator) Loss(p []float64) float64 {
	e.p, e.exact = p, true
	runChunks(e, e.chunks, &e.wg)
	l := e.w.Offset
	for c := range e.chunks {
		l += e.loss[c]
	}
	return l / e.total
}

func (e *StackEvaluator) runChunk(c int) {
	lo, hi := c*e.w.Len()/e.chunks, (c+1)*e.w.Len()/e.chunks
	n := len(e.p)
	g := e.grads[c][:n]
	scratch := e.grads[c][n:]
	clear(g)
	sum := 0.0
	for i := lo; i < hi; i++ {
		var l float64
		if e.exact {
			l = e.st.lossOnly(e.st.forward(e.w.X[i], e.p, e.sizes, scratch), e.w.T[i])
		} else {
			var tmp [MaxParams]float64
			gi := tmp[:n]
			l = e.st.sampleLossGrad(e.w.X[i], e.w.T[i], e.p, gi, scratch, e.sizes)
			for j := range gi {
				g[j] += e.w.W[i] * gi[j]
			}
		}
		sum += e.w.W[i] * l
	}
	e.loss[c] = sum
}
