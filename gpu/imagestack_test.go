//go:build linux && cgo

package gpu

import (
	"image"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// texture is a w×h image of smooth ramps, waves and noise, values in
// [0, 1]: detail at every scale for the blurs to act on.
func texture(r *rand.Rand, w, h, channels int) kernels.Planes {
	p := kernels.NewPlanes(w, h, channels)
	for c := range p.C {
		fx, fy, ph := 0.05+0.3*r.Float64(), 0.05+0.3*r.Float64(), 6*r.Float64()
		for y := range h {
			for x := range w {
				v := 0.5 + 0.3*math.Sin(fx*float64(x)+fy*float64(y)+ph) + 0.15*float64(x-y)/float64(w+h) + 0.05*r.NormFloat64()
				p.C[c][y*w+x] = math.Min(1, math.Max(0, v))
			}
		}
	}
	return p
}

// imagePairs are two pairs of odd sizes (tiles cut at the edges) through
// st at p, targets stored at 8 bits.
func imagePairs(t *testing.T, r *rand.Rand, st *kernels.Stack, p []float64, channels int) (xs, ts []kernels.Planes) {
	for _, sz := range [][2]int{{71, 37}, {300, 9}} {
		x := texture(r, sz[0], sz[1], channels)
		e, err := kernels.NewImageEvaluator(st, []kernels.Planes{x}, []kernels.Planes{x})
		if err != nil {
			t.Fatal(err)
		}
		y, _ := e.Forward(0, len(st.Ops), p, false)
		for _, pl := range y.C {
			for i, v := range pl {
				pl[i] = math.Round(255*math.Min(1, math.Max(0, v))) / 255
			}
		}
		xs, ts = append(xs, x), append(ts, y)
	}
	return xs, ts
}

// randomParams draws parameters about the truth p: within a tenth of each
// range, b anywhere.
func randomParams(r *rand.Rand, ps []kernels.Param, p []float64) []float64 {
	q := make([]float64, len(ps))
	for i, pp := range ps {
		q[i] = math.Min(pp.Hi, math.Max(pp.Lo, p[i]+0.1*(r.Float64()-0.5)*(pp.Hi-pp.Lo)))
		if pp.Name == "b" {
			q[i] = 5 + 25*r.Float64()
		}
	}
	return q
}

// TestImageStackParity holds image.comp to kernels.ImageEvaluator: the
// loss, its gradient and the cells' sums, for every image operator and
// random stacks, colour and grey. The state is float on the GPU, so a
// sample within float rounding of a quantizer step may fall to the other
// side: the loss may differ by a few samples' worth, no more.
func TestImageStackParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(5, 6))
	specs := []string{"blur,quantize", "saturation,quantize", "colormatrix,quantize", "sharpen,quantize",
		"blur,saturation,gamma,quantize", "gain,blur,sharpen,colormatrix,quantize", "saturation,blur"}
	ops := []string{"gain", "bias", "gamma", "contrast", "blur", "sharpen", "saturation", "colormatrix"}
	for range 4 {
		var parts []string
		for range 1 + r.IntN(4) {
			parts = append(parts, ops[r.IntN(len(ops))])
		}
		specs = append(specs, strings.Join(append(parts, "quantize"), ","))
	}
	points, compared := 0, 0
	for k, spec := range specs {
		cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255}
		if k%2 == 1 {
			cfg = kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.Atan}, Loss: kernels.Loss{Kind: kernels.Huber}, OutputLevels: 255}
		}
		st, err := kernels.ParseStack(spec, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, channels := range []int{3, 1} {
			if channels == 1 && strings.Contains(spec, "colormatrix") {
				continue
			}
			ps := st.Params()
			truth := randomParams(r, ps, initOf(ps))
			xs, ts := imagePairs(t, r, st, truth, channels)
			cpu, err := kernels.NewImageEvaluator(st, xs, ts)
			if err != nil {
				t.Fatal(err)
			}
			g, err := d.NewImageEvaluator(st, xs, ts)
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			if k%2 == 0 {
				// tiles' interiors: the border read, not summed
				var rs []image.Rectangle
				for _, x := range xs {
					rs = append(rs, image.Rect(4, 3, x.W-5, x.H-2))
				}
				if err := cpu.SetInteriors(rs); err != nil {
					t.Fatal(err)
				}
				if err := g.SetInteriors(rs); err != nil {
					t.Fatal(err)
				}
			}
			samples := float64(channels * (71*37 + 300*9))
			for range 2 {
				p := randomParams(r, ps, truth)
				step := 1.0 / 25
				// a few samples flipped across a step, each worth at most
				// a level squared
				slack := 4 * step * step / samples
				lc, lg := cpu.Loss(p), g.Loss(p)
				if math.Abs(lc-lg) > 1e-5*lc+slack {
					t.Errorf("%s ×%d at %.4g: loss cpu %.9g gpu %.9g", spec, channels, p, lc, lg)
				}
				gc, gg := make([]float64, len(p)), make([]float64, len(p))
				lc, lg = cpu.LossGrad(p, gc), g.LossGrad(p, gg)
				if math.Abs(lc-lg) > 1e-5*lc+slack {
					t.Errorf("%s ×%d: surrogate loss cpu %.9g gpu %.9g", spec, channels, lc, lg)
				}
				// near the answer the mean gradient is a small sum of
				// large terms: where a sample fell across a step (the
				// losses differ), its terms differ; compare the others
				points++
				if math.Abs(lc-lg) <= 2e-6*lc+1e-15 {
					compared++
					norm := 0.0
					for _, v := range gc {
						norm = math.Max(norm, math.Abs(v))
					}
					for j := range gc {
						if math.Abs(gc[j]-gg[j]) > 1e-3*norm+1e-6 {
							t.Errorf("%s ×%d: ∂/∂%s cpu %.6g gpu %.6g", spec, channels, ps[j].Name, gc[j], gg[j])
						}
					}
				}
				if _, ok := st.Ops[len(st.Ops)-1].(kernels.Quantize); !ok {
					continue
				}
				q := len(p) - 1
				for _, middle := range []bool{true, false} {
					cells := kernels.NewCells(kernels.Midrise, p[q], 255, middle)
					jc, rc := make([]float64, q*q), make([]float64, q)
					jg, rg := make([]float64, q*q), make([]float64, q)
					cc, cg := cpu.CellSums(p[:q], cells, jc, rc), g.CellSums(p[:q], cells, jg, rg)
					// the middle residual jumps by half a cell at its edges:
					// a sample there on either side costs (0.5/b)²
					flip := 0.0
					if middle {
						flip = 4 * math.Pow(0.5/p[q], 2)
					}
					if math.Abs(cc-cg) > 1e-5*cc+flip || math.Abs(cpu.CellSums(p[:q], cells, nil, nil)-cg) > 1e-5*cc+flip {
						t.Errorf("%s ×%d middle=%v: cells' cost cpu %.9g gpu %.9g", spec, channels, middle, cc, cg)
					}
					// a sample on an edge adds its J·Jᵀ on one side only:
					// where none is (the costs agree) compare to 1%
					points++
					if math.Abs(cc-cg) > 1e-5*cc {
						continue
					}
					compared++
					for a := range jc {
						if math.Abs(jc[a]-jg[a]) > 1e-2*math.Sqrt(math.Abs(jc[a/q*q+a/q]*jc[a%q*q+a%q]))+1e-9 {
							t.Errorf("%s ×%d: JᵀJ[%d] cpu %.6g gpu %.6g", spec, channels, a, jc[a], jg[a])
						}
					}
					for a := range rc {
						if math.Abs(rc[a]-rg[a]) > 1e-2*math.Sqrt(jc[a*q+a]*cc)+1e-9 {
							t.Errorf("%s ×%d: Jᵀr[%d] cpu %.6g gpu %.6g", spec, channels, a, rc[a], rg[a])
						}
					}
				}
			}
			if err := g.Err(); err != nil {
				t.Errorf("%s: %v", spec, err)
			}
			g.Close()
		}
	}
	if compared < 3*points/4 {
		t.Errorf("gradients and normal equations compared at %d of %d points: samples fell across steps at the others", compared, points)
	}
}

func initOf(ps []kernels.Param) []float64 {
	p := make([]float64, len(ps))
	for i, pp := range ps {
		p[i] = pp.Init
	}
	return p
}

// brokenColour is a colour operator whose GLSL does not compile.
type brokenColour struct{ kernels.Saturation }

func (brokenColour) ColorGLSL() (string, string) { return "v[0] = undefinedThing;", "" }

// TestImageStackCompileError: an operator's broken GLSL part fails the
// evaluator's construction with the compiler's log, not a later step.
func TestImageStackCompileError(t *testing.T) {
	d := device(t)
	st := &kernels.Stack{Ops: []kernels.Op{brokenColour{}}}
	x := kernels.NewPlanes(8, 8, 3)
	_, err := d.NewImageEvaluator(st, []kernels.Planes{x}, []kernels.Planes{x})
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Fatalf("error %v, want the compiler's log naming undefinedThing", err)
	}
}
