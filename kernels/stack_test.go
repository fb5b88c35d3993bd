package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

// TestOpDerivatives checks every operator's dy/dx and dy/dp against
// central finite differences.
func TestOpDerivatives(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	soft := Config{Surrogate: Surrogate{Kind: Atan}, SoftForward: true}.WithDefaults()
	for _, op := range []Op{Gain{}, Bias{}, Gamma{}, Contrast{}, Clamp{}, Quantize{Config: soft}} {
		ps := op.Params()
		for range 200 {
			x := 0.02 + 0.96*r.Float64()
			p := make([]float64, len(ps))
			for i, pp := range ps {
				p[i] = pp.Lo + (pp.Hi-pp.Lo)*(0.1+0.8*r.Float64())
			}
			dp := make([]float64, len(p))
			y, dx := op.Apply(x, p, dp)
			if y <= 0 || y >= 1 && op.Name() == "quantize" {
				continue
			}
			num := fd.Derivative(func(x float64) float64 { y, _ := op.Apply(x, p, make([]float64, len(p))); return y }, x,
				&fd.Settings{Formula: fd.Central, Step: 1e-6})
			if math.Abs(num-dx) > 1e-4*math.Max(1, math.Abs(num)) {
				t.Errorf("%s at x=%v p=%v: dy/dx %v, numeric %v", op.Name(), x, p, dx, num)
			}
			for i := range p {
				num := fd.Derivative(func(v float64) float64 {
					q := append([]float64(nil), p...)
					q[i] = v
					y, _ := op.Apply(x, q, make([]float64, len(q)))
					return y
				}, p[i], &fd.Settings{Formula: fd.Central, Step: 1e-6})
				if math.Abs(num-dp[i]) > 1e-4*math.Max(1, math.Abs(num)) {
					t.Errorf("%s at x=%v p=%v: dy/dp%d %v, numeric %v", op.Name(), x, p, i, dp[i], num)
				}
			}
		}
	}
	var dp [1]float64
	if y, dx := (Gamma{}).Apply(0, []float64{0.5}, dp[:]); y != 0 || dx != 0 || dp[0] != 0 {
		t.Errorf("gamma at 0: %v %v %v", y, dx, dp[0])
	}
}

// TestStackGradient holds the chain rule to finite differences of the
// whole loss, for random stacks with a smooth (soft-forward) quantizer.
func TestStackGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	specs := []string{"gamma,gain,bias,quantize", "contrast,quantize", "gain,clamp,gamma,quantize,bias", "bias,gamma,contrast,gain,quantize"}
	s, _, _ := randomSamples(r, 400)
	for _, spec := range specs {
		st, err := ParseStack(spec, Config{Surrogate: Surrogate{Kind: Atan, Gamma: 0.6}, SoftForward: true})
		if err != nil {
			t.Fatal(err)
		}
		ps := st.Params()
		p := make([]float64, len(ps))
		for i, pp := range ps {
			p[i] = pp.Init + 0.1*(r.Float64()-0.5)
			if !pp.Smooth {
				p[i] = 11.3
			}
		}
		loss := func(p []float64) float64 {
			sum := 0.0
			scratch := make([]float64, len(p))
			for i := range s.X {
				sum += st.SampleLossGrad(float64(s.X[i]), float64(s.T[i]), p, make([]float64, len(p)), scratch)
			}
			return sum
		}
		grad := make([]float64, len(p))
		scratch := make([]float64, len(p))
		for i := range s.X {
			st.SampleLossGrad(float64(s.X[i]), float64(s.T[i]), p, grad, scratch)
		}
		num := fd.Gradient(nil, loss, p, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		for i := range p {
			if math.Abs(num[i]-grad[i]) > 1e-3*math.Max(1e-3, math.Abs(num[i])) {
				t.Errorf("%s: d/d%s = %v, numeric %v", spec, ps[i].Name, grad[i], num[i])
			}
		}
	}
}

func TestStackEvaluatorMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	s, xs, ts := randomSamples(r, 30000)
	var h Histogram
	h.Add8(xs, ts)
	for _, l := range []LossKind{MSE, L1} {
		st, err := ParseStack("gamma,gain,bias,quantize", Config{Surrogate: Surrogate{Kind: STE}, Loss: Loss{Kind: l}, OutputLevels: 255})
		if err != nil {
			t.Fatal(err)
		}
		w := h.Weighted(l)
		e, err := NewStackEvaluator(st, &w)
		if err != nil {
			t.Fatal(err)
		}
		p := []float64{1.3, 0.9, 0.05, 14.2}
		grad := make([]float64, 4)
		got := e.LossGrad(p, grad)
		want, wantEx := 0.0, 0.0
		wg := make([]float64, 4)
		scratch := make([]float64, 4)
		for i := range s.X {
			want += st.SampleLossGrad(float64(s.X[i]), float64(s.T[i]), p, wg, scratch)
			lv, _ := st.Loss.Eval(st.Forward(float64(s.X[i]), p) - float64(s.T[i]))
			wantEx += lv
		}
		n := float64(len(s.X))
		if !close(got, want/n, 1e-9) || !close(e.Loss(p), wantEx/n, 1e-9) {
			t.Errorf("%v: loss %v, reference %v; exact %v, reference %v", l, got, want/n, e.Loss(p), wantEx/n)
		}
		for j := range grad {
			if math.Abs(grad[j]-wg[j]/n) > 1e-9*math.Max(1e-6, math.Abs(wg[j]/n)) {
				t.Errorf("%v: grad[%d] %v, reference %v", l, j, grad[j], wg[j]/n)
			}
		}
	}
	if _, err := ParseStack("gain,emboss", Config{}); err == nil {
		t.Error("unknown operator accepted")
	}
	if _, err := ParseStack("quantize", Config{Surrogate: Surrogate{Kind: Gaussian}}); err == nil {
		t.Error("gaussian quantizer accepted in a stack")
	}
	st, _ := ParseStack("gain,gain,quantize", Config{})
	if ps := st.Params(); ps[1].Name != "gain2" || ps[2].Name != "b" {
		t.Errorf("params %+v", ps)
	}
}

// poly3 is an own operator of three parameters: y = x + a·x(1−x) + c·x²(1−x) + e·x(1−x)².
type poly3 struct{}

func (poly3) Name() string { return "poly3" }
func (poly3) Params() []Param {
	return []Param{{Name: "a", Lo: -0.1, Hi: 0.1, Smooth: true}, {Name: "c", Lo: -0.1, Hi: 0.1, Smooth: true},
		{Name: "e", Lo: -0.1, Hi: 0.1, Smooth: true}}
}
func (poly3) Apply(x float64, p, dp []float64) (float64, float64) {
	u, v, w := x*(1-x), x*x*(1-x), x*(1-x)*(1-x)
	dp[0], dp[1], dp[2] = u, v, w
	return x + p[0]*u + p[1]*v + p[2]*w, 1 + p[0]*(1-2*x) + p[1]*(2*x-3*x*x) + p[2]*(1-4*x+3*x*x)
}
func (poly3) GLSL() string { return "" }

// TestStackLimits: a stack over MaxParams parameters is refused by
// Validate (it used to pass and then index past fixed arrays); one of
// exactly MaxParams runs.
func TestStackLimits(t *testing.T) {
	q := Quantize{Config: Config{Surrogate: Surrogate{Kind: STE}}}
	over := &Stack{Ops: append(slices.Repeat([]Op{poly3{}}, 11), q)} // 34 parameters
	if err := over.Validate(); err == nil {
		t.Fatalf("a stack of %d parameters passed Validate", over.Dim())
	}
	full := &Stack{Ops: append(append(slices.Repeat([]Op{poly3{}}, 10), Gain{}), q)} // 32
	if err := full.Validate(); err != nil || full.Dim() != MaxParams {
		t.Fatalf("%d parameters: %v", full.Dim(), err)
	}
	p := make([]float64, full.Dim())
	p[len(p)-2], p[len(p)-1] = 1, 12
	w := &Weighted{X: []float64{0.2, 0.5, 0.9}, T: []float64{0.2, 0.5, 0.9}, W: []float64{1, 1, 1}}
	e, err := NewStackEvaluator(full, w)
	if err != nil {
		t.Fatal(err)
	}
	g := make([]float64, len(p))
	if l := e.LossGrad(p, g); math.IsNaN(l) {
		t.Errorf("loss %v", l)
	}
	if y := full.Forward(0.5, p); !(y >= 0 && y <= 1) {
		t.Errorf("forward %v", y)
	}
}
