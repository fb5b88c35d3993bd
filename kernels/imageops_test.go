package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomPlanes(r *rand.Rand, w, h, c int) Planes {
	p := NewPlanes(w, h, c)
	for _, pl := range p.C {
		for i := range pl {
			pl[i] = r.Float64()
		}
	}
	return p
}

// TestImageOpDerivatives holds every image operator's tangents to finite
// differences: its own parameters' derivatives, and the chain through an
// earlier parameter (a gain before it, whose tangent is x itself).
func TestImageOpDerivatives(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, op := range []ImageOp{Saturation{}, ColorMatrix{}, Blur{}, Sharpen{}} {
		for _, ch := range []int{3, 1} {
			if _, ok := op.(ColorMatrix); ok && ch == 1 {
				continue
			}
			x := randomPlanes(r, 23, 17, ch)
			var p []float64
			for _, pr := range op.Params() {
				p = append(p, pr.Lo+(pr.Hi-pr.Lo)*(0.25+0.5*r.Float64()))
			}
			y, ty := op.ApplyImage(nil, x, p, []Planes{x}, true)
			if len(ty) != 1+len(p) {
				t.Fatalf("%s: %d tangents, want %d", op.Name(), len(ty), 1+len(p))
			}
			fd := func(f func(h float64) Planes) Planes {
				const h = 1e-6
				a, b := f(h), f(-h)
				d := NewPlanes(x.W, x.H, ch)
				for c := range d.C {
					for i := range d.C[c] {
						d.C[c][i] = (a.C[c][i] - b.C[c][i]) / (2 * h)
					}
				}
				return d
			}
			check := func(what string, got, want Planes) {
				worst := 0.0
				for c := range got.C {
					for i := range got.C[c] {
						worst = math.Max(worst, math.Abs(got.C[c][i]-want.C[c][i]))
					}
				}
				if worst > 1e-6 {
					t.Errorf("%s (%d channels): %s off finite differences by %.3g", op.Name(), ch, what, worst)
				}
			}
			// the tangent of a gain g before the operator, at g = 1
			check("tangent", ty[0], fd(func(h float64) Planes {
				xs := NewPlanes(x.W, x.H, ch)
				for c := range xs.C {
					for i, v := range x.C[c] {
						xs.C[c][i] = (1 + h) * v
					}
				}
				y, _ := op.ApplyImage(nil, xs, p, nil, false)
				return y
			}))
			for k := range p {
				check(op.Params()[k].Name, ty[1+k], fd(func(h float64) Planes {
					q := append([]float64(nil), p...)
					q[k] += h
					y, _ := op.ApplyImage(nil, x, q, nil, false)
					return y
				}))
			}
			y0, _ := op.ApplyImage(nil, x, p, nil, false)
			check("forward without tangents", y0, y)
		}
	}
}

// TestBlurMatchesDirectGaussian: the separable blur equals the 2-D sum of
// the normalized Gaussian taps with replicated edges.
func TestBlurMatchesDirectGaussian(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randomPlanes(r, 19, 13, 1)
	sigma := 1.3
	y, _ := Blur{}.ApplyImage(nil, x, []float64{sigma}, nil, false)
	rad := int(math.Ceil(3 * sigma))
	g := func(i int) float64 { return math.Exp(-float64(i*i) / (2 * sigma * sigma)) }
	z := 0.0
	for i := -rad; i <= rad; i++ {
		z += g(i)
	}
	for yy := range x.H {
		for xx := range x.W {
			v := 0.0
			for dy := -rad; dy <= rad; dy++ {
				for dx := -rad; dx <= rad; dx++ {
					sy, sx := min(max(yy+dy, 0), x.H-1), min(max(xx+dx, 0), x.W-1)
					v += g(dx) * g(dy) / (z * z) * x.C[0][sy*x.W+sx]
				}
			}
			if d := math.Abs(v - y.C[0][yy*x.W+xx]); d > 1e-12 {
				t.Fatalf("(%d,%d): separable %v, direct %v", xx, yy, y.C[0][yy*x.W+xx], v)
			}
		}
	}
}

// TestImageEvaluatorGradient: the evaluator's gradient of a smooth
// spatial stack equals finite differences of its loss.
func TestImageEvaluatorGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	st, err := ParseStack("gamma,blur,saturation,sharpen,colormatrix", Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomPlanes(r, 21, 15, 3)
	tg := randomPlanes(r, 21, 15, 3)
	for c := range tg.C {
		for i := range tg.C[c] {
			tg.C[c][i] = 0.3 + 0.4*tg.C[c][i]
		}
	}
	e, err := NewImageEvaluator(st, []Planes{x}, []Planes{tg})
	if err != nil {
		t.Fatal(err)
	}
	var p []float64
	for _, pr := range st.Params() {
		p = append(p, pr.Init+0.05*(r.Float64()-0.5)*(pr.Hi-pr.Lo))
	}
	g := make([]float64, len(p))
	e.LossGrad(p, g)
	for j := range p {
		const h = 1e-6
		q := append([]float64(nil), p...)
		q[j] += h
		lp := e.Loss(q)
		q[j] -= 2 * h
		lm := e.Loss(q)
		if want := (lp - lm) / (2 * h); math.Abs(g[j]-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s: gradient %v, finite differences %v", st.Params()[j].Name, g[j], want)
		}
	}
	if _, err := NewImageEvaluator(st, []Planes{randomPlanes(r, 4, 4, 1)}, []Planes{randomPlanes(r, 4, 4, 1)}); err == nil {
		t.Error("colormatrix on a grey image: no error")
	}
}

// BenchmarkSpatialStep is one loss and gradient of
// blur,saturation,gamma,quantize over a 16-megapixel RGB image (4 MP with
// -short), every tangent carried: issue 13's figure; with -benchmem the
// steady state's allocations (issue 27).
func BenchmarkSpatialStep(b *testing.B) {
	w, h := 4096, 4096
	if testing.Short() {
		w, h = 2048, 2048
	}
	r := rand.New(rand.NewPCG(7, 7))
	x := randomPlanes(r, w, h, 3)
	st, err := ParseStack("blur,saturation,gamma,quantize", Config{OutputLevels: 255})
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewImageEvaluator(st, []Planes{x}, []Planes{x})
	if err != nil {
		b.Fatal(err)
	}
	p := []float64{1.5, 0.8, 1.2, 11.3}
	g := make([]float64, len(p))
	e.LossGrad(p, g) // the workspace's planes, lent from then on: B/op is a step's
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e.LossGrad(p, g)
	}
	b.ReportMetric(float64(w*h)/1e6, "MP")
}

// TestCellsOfClampedTargets: a stored 1 names the open top cell even where
// the level nearest to it is the one below (b = 24.976: level 24 stores as
// 250/255, level 25 and up clamp to 255/255), and a stored 0 the open
// bottom one.
func TestCellsOfClampedTargets(t *testing.T) {
	c := NewCells(Midrise, 24.976, 255, false)
	if c.Kt != 25 {
		t.Fatalf("Kt = %v, want 25", c.Kt)
	}
	for _, g := range []float64{25.01 / 24.976, 1.3} {
		if r := c.Residual(g, 1); r != 0 {
			t.Errorf("g %.4f against a stored 1: residual %g, want 0", g, r)
		}
	}
	if r := c.Residual(0.99, 1); r >= 0 {
		t.Errorf("g 0.99 (level 24) against a stored 1: residual %g, want below 0", r)
	}
	if r := c.Residual(-0.2, 0); r != 0 {
		t.Errorf("g −0.2 against a stored 0: residual %g, want 0", r)
	}
	if r := c.Residual(24.2/24.976, 250.0/255); r != 0 {
		t.Errorf("level 24 against its own stored value: residual %g", r)
	}
}

// TestConvolveRowsIsPlainLoop holds the horizontal pass, tap by tap with
// its interior unclamped, to the plain per-pixel loop, bit for bit, on
// rows wider and narrower than the kernel.
func TestConvolveRowsIsPlainLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, sigma := range []float64{0.3, 1.7, 4} {
		w, _ := GaussTaps(sigma)
		rad := len(w) - 1
		for _, width := range []int{1, 2, 5, rad, 2*rad + 1, 37, 300} {
			height := 70
			src := make([]float64, width*height)
			for i := range src {
				src[i] = r.Float64()
			}
			got := make([]float64, len(src))
			convolve1(got, src, width, height, w, true)
			for y := range height {
				row := src[y*width : (y+1)*width]
				for x := range width {
					v := w[0] * row[x]
					for i := 1; i <= rad; i++ {
						v += w[i] * (row[max(x-i, 0)] + row[min(x+i, width-1)])
					}
					if g := got[y*width+x]; g != v {
						t.Fatalf("σ %v width %d (%d, %d): %v, the plain loop %v", sigma, width, x, y, g, v)
					}
				}
			}
		}
	}
}
