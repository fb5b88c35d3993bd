package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

var allModels = []Model{Midrise, Posterize, Truncate}

func allSurrogates() []Surrogate {
	return []Surrogate{
		{Kind: Identity}, {Kind: STE}, {Kind: Sine},
		{Kind: Atan}, {Kind: Atan, Gamma: 0.99}, {Kind: Atan, Gamma: 0.3},
		{Kind: SoftRound}, {Kind: SoftRound, Alpha: 20},
		{Kind: Gaussian, Samples: 4},
	}
}

var allLosses = []Loss{{Kind: MSE}, {Kind: L1}, {Kind: Huber, Delta: 0.01}}

// TestSmoothDerivFD checks every smooth surrogate's dy/db against central
// finite differences of its own smooth function.
func TestSmoothDerivFD(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, m := range allModels {
		for _, s := range allSurrogates() {
			if !s.Kind.Smooth() && s.Kind != Identity {
				continue
			}
			c := Config{Model: m, Surrogate: s, SoftForward: true}.WithDefaults()
			worst := 0.0
			for range 500 {
				x, b := r.Float64(), 5+25*r.Float64()
				y := c.SmoothForward(x, b)
				if y <= 0 || y >= 1 {
					continue
				}
				_, dy := c.Deriv(x, b)
				num := fd.Derivative(func(b float64) float64 { return c.SmoothForward(x, b) }, b,
					&fd.Settings{Formula: fd.Central, Step: 1e-6})
				worst = math.Max(worst, math.Abs(dy-num)/math.Max(1e-3, math.Abs(num)))
			}
			if worst > 1e-4 {
				t.Errorf("%v %v: dy/db off finite differences by %.3g relative", m, s, worst)
			}
		}
	}
}

// TestPeriodicSecondDerivative checks Q” (which builds the tables) against
// finite differences of Q'.
func TestPeriodicSecondDerivative(t *testing.T) {
	for _, s := range allSurrogates() {
		if !s.Kind.Smooth() {
			continue
		}
		s = s.WithDefaults()
		for v := 0.013; v < 1; v += 0.0371 {
			_, q1, q2 := s.periodic(v)
			num := fd.Derivative(func(v float64) float64 { _, q1, _ := s.periodic(v); return q1 }, v,
				&fd.Settings{Formula: fd.Central, Step: 1e-7})
			if math.Abs(q2-num) > 1e-4*math.Max(1, math.Abs(num)) {
				t.Errorf("%v at v=%v: Q''=%v, numeric %v", s, v, q2, num)
			}
			numq := fd.Derivative(func(v float64) float64 { q, _, _ := s.periodic(v); return q }, v,
				&fd.Settings{Formula: fd.Central, Step: 1e-7})
			if math.Abs(q1-numq) > 1e-5*math.Max(1, math.Abs(numq)) {
				t.Errorf("%v at v=%v: Q'=%v, numeric %v", s, v, q1, numq)
			}
		}
	}
}

// TestStoredOutputFitsExactly: with the storage modelled, the true b
// reproduces 8-bit data without error.
func TestStoredOutputFitsExactly(t *testing.T) {
	for _, m := range allModels {
		c := Config{Model: m, OutputLevels: 255}
		for k := 0; k < 256; k++ {
			x := float64(Level8(k))
			want := float32(math.Round(m.Apply(x, 13.37)*255)) / 255
			if got := c.Exact(x, 13.37); math.Abs(got-float64(want)) > 1e-7 {
				t.Fatalf("%v level %d: stored %v, want %v", m, k, got, want)
			}
		}
	}
}

func TestSurrogateLimits(t *testing.T) {
	// Sharp smooth surrogates approach the exact floor away from its jumps.
	for _, s := range []Surrogate{{Kind: Atan, Gamma: 0.999}, {Kind: SoftRound, Alpha: 200}} {
		c := Config{Model: Midrise, Surrogate: s, SoftForward: true}.WithDefaults()
		for _, x := range []float64{0.13, 0.42, 0.77} {
			if got, want := c.SmoothForward(x, 12.3), Midrise.Apply(x, 12.3); math.Abs(got-want) > 0.01 {
				t.Errorf("%v: soft %v, exact %v", s, got, want)
			}
		}
	}
	// The hand-derived rules of the issue.
	c := Config{Model: Midrise, Surrogate: Surrogate{Kind: Identity}}
	if _, dy := c.Deriv(0.3, 10); math.Abs(dy+0.5/100) > 1e-15 {
		t.Errorf("identity midrise: dy/db = %v, want -0.005", dy)
	}
	c.Surrogate.Kind = STE
	z := 0.37 * 10.0
	if _, dy := c.Deriv(0.37, 10); math.Abs(dy+(math.Floor(z)+0.5-z)/100) > 1e-15 {
		t.Errorf("ste midrise: dy/db = %v", dy)
	}
}

func TestTableAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range allSurrogates() {
		if !s.Kind.Smooth() {
			continue
		}
		s = s.WithDefaults()
		tab, err := newTable(s)
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		for range 100000 {
			v := r.Float64()
			q, q1, _ := s.periodic(frac(v + s.shift()))
			tq, tq1 := tab.at(v)
			if math.Abs(tq-q) > 1e-6*math.Max(1, math.Abs(q)) || math.Abs(tq1-q1) > 1e-6*math.Max(1, math.Abs(q1)) {
				t.Fatalf("%v (n=%d) at v=%v: table (%v, %v), closed (%v, %v)", s, tab.n, v, tq, tq1, q, q1)
			}
		}
	}
}

func randomSamples(r *rand.Rand, n int) (Samples, []uint8, []uint8) {
	xs, ts := make([]uint8, n), make([]uint8, n)
	s := Samples{X: make([]float32, n), T: make([]float32, n)}
	for i := range n {
		xs[i] = uint8(r.IntN(256))
		b := 5 + 25*r.Float64()
		ts[i] = uint8(math.Round(Midrise.Apply(float64(Level8(int(xs[i]))), b)*255)) ^ uint8(r.IntN(2))
		s.X[i], s.T[i] = Level8(int(xs[i])), Level8(int(ts[i]))
	}
	return s, xs, ts
}

func configs() []Config {
	var cs []Config
	for _, m := range allModels {
		for _, s := range allSurrogates() {
			for _, l := range allLosses {
				cs = append(cs, Config{Model: m, Surrogate: s, Loss: l}, Config{Model: m, Surrogate: s, Loss: l, OutputLevels: 255})
				if s.Kind.Smooth() && l.Kind == MSE {
					cs = append(cs, Config{Model: m, Surrogate: s, Loss: l, SoftForward: true, OutputLevels: 255})
				}
			}
		}
	}
	return cs
}

func name(c Config) string {
	return fmt.Sprintf("%v/%v/%v/soft=%v/levels=%v", c.Model, c.Surrogate, c.Loss.Kind, c.SoftForward, c.OutputLevels)
}

// TestEvaluatorMatchesReference holds the fast loops to the reference.
func TestEvaluatorMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 70001 // several chunks, not a multiple of anything
	if testing.Short() {
		n = 17011
	}
	s, _, _ := randomSamples(r, n)
	for _, cfg := range configs() {
		cfg = cfg.WithDefaults()
		e, err := NewEvaluator(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eps := cfg.Surrogate.Epsilons()
		for _, b := range []float64{5.3, 12.71, 29.9} {
			wl, wg := 0.0, 0.0
			for i := range s.X {
				l, g := cfg.SampleLossGrad(float64(s.X[i]), float64(s.T[i]), b, eps)
				wl += l
				wg += g
			}
			wl /= float64(len(s.X))
			wg /= float64(len(s.X))
			var grad [1]float64
			gl := e.LossGrad([]float64{b}, grad[:])
			tol := 1e-9
			if cfg.Surrogate.Kind.Smooth() {
				tol = 1e-6
			}
			if !close(gl, wl, 1e-9) || !closeAbs(grad[0], wg, tol, math.Abs(wg)+1e-3*gradScale(cfg, b)) {
				t.Errorf("%s b=%v: got (%v, %v), reference (%v, %v)", name(cfg), b, gl, grad[0], wl, wg)
			}
			if el := e.Loss(b); !close(el, exactLoss(cfg, s, b), 1e-9) {
				t.Errorf("%s b=%v: exact loss %v", name(cfg), b, el)
			}
		}
	}
}

// gradScale is a typical size of one sample's gradient, for tolerances
// where the mean gradient nearly cancels.
func gradScale(c Config, b float64) float64 { return 1 / (b * b) }

func exactLoss(cfg Config, s Samples, b float64) float64 {
	sum := 0.0
	for i := range s.X {
		l, _ := cfg.Loss.Eval(cfg.Exact(float64(s.X[i]), b) - float64(s.T[i]))
		sum += l
	}
	return sum / float64(len(s.X))
}

func close(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

func closeAbs(a, b, rel, scale float64) bool { return math.Abs(a-b) <= rel*scale }

// TestHistogramMatchesPixels: histogram mode equals per-pixel mode to 1e-9.
func TestHistogramMatchesPixels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 50000
	if testing.Short() {
		n = 12000
	}
	s, xs, ts := randomSamples(r, n)
	var h Histogram
	h.Add8(xs, ts)
	if h.Total() != uint64(n) {
		t.Fatalf("histogram counts %d pairs", h.Total())
	}
	// the summaries depend on the loss alone: built once a loss
	type summaries struct{ w, g Weighted }
	byLoss := map[LossKind]*summaries{}
	for _, cfg := range configs() {
		cfg = cfg.WithDefaults()
		ep, _ := NewEvaluator(s, cfg)
		sm := byLoss[cfg.Loss.Kind]
		if sm == nil {
			sm = &summaries{h.Weighted(cfg.Loss.Kind), Group(s, cfg.Loss.Kind)}
			byLoss[cfg.Loss.Kind] = sm
		}
		eh, err := NewWeightedEvaluator(&sm.w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eg, _ := NewWeightedEvaluator(&sm.g, cfg)
		for _, b := range []float64{6.1, 17.35, 28.2} {
			var gp, gh, gg [1]float64
			lp := ep.LossGrad([]float64{b}, gp[:])
			lh := eh.LossGrad([]float64{b}, gh[:])
			lg := eg.LossGrad([]float64{b}, gg[:])
			scale := math.Abs(gp[0]) + 1e-6*gradScale(cfg, b)
			if !close(lp, lh, 1e-9) || !closeAbs(gp[0], gh[0], 1e-9, scale) {
				t.Errorf("%s b=%v: pixels (%v, %v), histogram (%v, %v)", name(cfg), b, lp, gp[0], lh, gh[0])
			}
			if !close(lp, lg, 1e-9) || !closeAbs(gp[0], gg[0], 1e-9, scale) {
				t.Errorf("%s b=%v: pixels (%v, %v), grouped (%v, %v)", name(cfg), b, lp, gp[0], lg, gg[0])
			}
		}
		bs := []float64{5, 7.77, 13.1, 30}
		op, oh := make([]float64, 4), make([]float64, 4)
		ep.Losses(bs, op)
		eh.Losses(bs, oh)
		for k := range bs {
			if !close(op[k], oh[k], 1e-9) || !close(op[k], exactLoss(cfg, s, bs[k]), 1e-9) {
				t.Errorf("%s: Losses[%d] pixels %v, histogram %v", name(cfg), k, op[k], oh[k])
			}
		}
	}
}

func TestGaussianEstimatesSmoothedLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	s, xs, ts := randomSamples(r, 20000)
	var h Histogram
	h.Add8(xs, ts)
	w := h.Weighted(MSE)
	sig := 0.5
	cfg := Config{Model: Midrise, Surrogate: Surrogate{Kind: Gaussian, Sigma: sig, Samples: 4000}}
	e, err := NewWeightedEvaluator(&w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_ = s
	// The smoothed loss by quadrature over ±6σ, then its central difference.
	smooth := func(b float64) float64 {
		sum, norm := 0.0, 0.0
		for u := -6.0; u <= 6; u += 0.002 {
			wt := math.Exp(-u * u / 2)
			sum += wt * e.Loss(b+sig*u)
			norm += wt
		}
		return sum / norm
	}
	for _, b := range []float64{9.3, 21.7} {
		want := (smooth(b+0.05) - smooth(b-0.05)) / 0.1
		var g [1]float64
		e.LossGrad([]float64{b}, g[:])
		if math.Abs(g[0]-want) > 0.1*math.Abs(want)+1e-5 {
			t.Errorf("b=%v: gaussian gradient %v, smoothed loss slope %v", b, g[0], want)
		}
	}
}

func TestLossGradAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	s, _, _ := randomSamples(r, 1<<18)
	for _, k := range []SurrogateKind{STE, Atan, Gaussian} {
		e, _ := NewEvaluator(s, Config{Surrogate: Surrogate{Kind: k, Samples: 2}})
		p, g := []float64{12}, make([]float64, 1)
		if n := testing.AllocsPerRun(20, func() { e.LossGrad(p, g) }); n != 0 {
			t.Errorf("%v: %v allocations per step", k, n)
		}
	}
}

func TestInvalid(t *testing.T) {
	if _, err := NewEvaluator(Samples{X: []float32{0.5}, T: []float32{}}, Config{}); err == nil {
		t.Error("unequal lengths accepted")
	}
	if _, err := NewEvaluator(Samples{}, Config{}); err == nil {
		t.Error("empty samples accepted")
	}
	if _, err := NewEvaluator(Samples{X: []float32{float32(math.NaN())}, T: []float32{0}}, Config{}); err == nil {
		t.Error("NaN accepted")
	}
	one := Samples{X: []float32{0.5}, T: []float32{0.5}}
	for _, c := range []Config{
		{Surrogate: Surrogate{Kind: Atan, Gamma: 1}},
		{Surrogate: Surrogate{Kind: STE}, SoftForward: true},
		{Loss: Loss{Kind: Huber, Delta: -1}},
		{Model: 7},
		{OutputLevels: -1},
	} {
		if _, err := NewEvaluator(one, c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for _, n := range []string{"midrise", "POSTERIZE", "truncate"} {
		if _, err := ParseModel(n); err != nil {
			t.Error(err)
		}
	}
	if k, err := ParseSurrogate("lsq"); err != nil || k != STE {
		t.Errorf("lsq = %v, %v", k, err)
	}
	if _, err := ParseSurrogate("floor"); err == nil {
		t.Error("unknown surrogate accepted")
	}
}

// TestValueIsDerivsY holds Config.Value, the forward pass without
// tangents, to Derivs's y bit for bit, edges of cells and of [0,1] among
// the inputs.
func TestValueIsDerivsY(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range allModels {
		for _, s := range allSurrogates() {
			for _, soft := range []bool{false, true} {
				for _, levels := range []float64{0, 255} {
					c := Config{Model: m, Surrogate: s, SoftForward: soft, OutputLevels: levels}.WithDefaults()
					for k := range 2000 {
						x, b := r.Float64()*1.2-0.1, 5+25*r.Float64()
						if k%4 == 0 {
							b = float64(5 + k%26)
							x = float64(k%17) / b
						}
						y, _, _ := c.Derivs(x, b)
						if v := c.Value(x, b); v != y {
							t.Fatalf("%v: Value(%v, %v) = %v, Derivs's y %v", name(c), x, b, v, y)
						}
					}
				}
			}
		}
	}
}
