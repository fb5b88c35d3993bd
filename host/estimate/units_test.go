package estimate

import (
	"math"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// Direct tests of the pieces behind the strategies, on synthetic data
// with known answers.

// TestHull: the points of (v−3)² at most 1 are [2, 4]; the window starts
// narrow and must widen to find them.
func TestHull(t *testing.T) {
	losses := func(vs, out []float64) {
		for i, v := range vs {
			out[i] = (v - 3) * (v - 3)
		}
	}
	h := hull(3, 0, 10, 0.05, 2001, 1, losses)
	if math.Abs(h[0]-2) > 1e-2 || math.Abs(h[1]-4) > 1e-2 {
		t.Errorf("hull %v, want [2, 4]", h)
	}
	if h := hull(3, 2.5, 10, 0.05, 2001, 1, losses); h[0] != 2.5 {
		t.Errorf("hull %v must stop at the range's start 2.5", h)
	}
}

// midriseData is every 8-bit level through midrise at b, unrounded.
func midriseData(b float64) *kernels.Weighted {
	w := &kernels.Weighted{}
	for v := range 256 {
		x := float64(v) / 255
		w.X, w.T, w.W = append(w.X, x), append(w.T, kernels.Midrise.Apply(x, b)), append(w.W, 1)
	}
	return w
}

// TestPolishIsExact: the polish of a bracket finds the truth up to
// floating point, with zero loss (unrounded outputs: one point).
func TestPolishIsExact(t *testing.T) {
	for _, b := range []float64{5.77, 12.34, 27.9} {
		w := midriseData(b)
		cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}}.WithDefaults()
		p := polish(w, kernels.NewLevelRuns(w), cfg, b-0.7, b+0.9, b)
		if !(p.lo-1e-9 <= b && b <= p.hi+1e-9) || math.Abs(p.b-b) > 1e-9 || p.b < p.lo || p.b > p.hi {
			t.Errorf("b %v: polish %+v does not hold it", b, p)
		}
		e, err := kernels.NewWeightedEvaluator(w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if l := e.Loss(p.b); l > 1e-24 {
			t.Errorf("b %v: loss %v at the polished %v", b, l, p.b)
		}
	}
}

// stackFitOf is a stack fit of st over the ramp through it at truth.
func stackFitOf(t *testing.T, spec string, truth []float64) *stackFit {
	t.Helper()
	st, err := kernels.ParseStack(spec, kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}})
	if err != nil {
		t.Fatal(err)
	}
	d := rampData(st, truth)
	w, err := d.grouped(kernels.MSE)
	if err != nil {
		t.Fatal(err)
	}
	f := &stackFit{st: st, params: st.Params(), w: w, s: Settings{}.withDefaults(), q: len(truth) - 1}
	f.qcfg = st.Ops[len(st.Ops)-1].(kernels.Quantize).Config
	return f
}

// TestLM fits a line through exact points: y = 0.8x + 0.1.
func TestLM(t *testing.T) {
	f := stackFitOf(t, "gain,bias,quantize", []float64{1, 0, 10})
	xs := []float64{0.1, 0.3, 0.5, 0.7, 0.9}
	p := f.lm([]float64{1, 0, 10}, []int{0, 1}, len(xs), func(p []float64, r int, jac []float64) float64 {
		if jac != nil {
			jac[0], jac[1], jac[2] = xs[r], 1, 0
		}
		return p[0]*xs[r] + p[1] - (0.8*xs[r] + 0.1)
	})
	if math.Abs(p[0]-0.8) > 1e-6 || math.Abs(p[1]-0.1) > 1e-6 || p[2] != 10 {
		t.Errorf("lm %v, want [0.8 0.1 10]", p)
	}
}

// TestFitAt: at the true b, the inner fit finds the smooth operators from
// the level crossings alone.
func TestFitAt(t *testing.T) {
	truth := []float64{0.9, 0.04, 11.2}
	f := stackFitOf(t, "gain,bias,quantize", truth)
	p := f.fitAt(truth[2])
	if math.Abs(p[0]-truth[0]) > 0.02 || math.Abs(p[1]-truth[1]) > 0.01 || p[2] != truth[2] {
		t.Errorf("fitAt %v, truth %v", p, truth)
	}
}
