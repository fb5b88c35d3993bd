package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRestorationCoarse checks a coarse level against its definition at
// even and odd sizes: 2×2 means of the stored image, bounds and data
// weights (so the stored image stays within the bounds), and each pair
// weight the mean of the fine pairs crossing between two blocks.
func TestRestorationCoarse(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, sz := range [][2]int{{8, 6}, {9, 7}, {1, 5}} {
		w, h := sz[0], sz[1]
		p := restoreProblem(r, w, h, Energy{Kind: EdgeAware, Eps: 0.01}, Rule{})
		c := p.Coarse()
		cw, ch := (w+1)/2, (h+1)/2
		if c.W != cw || c.H != ch || c.Energy != p.Energy || c.Rule != p.Rule {
			t.Fatalf("%d×%d: coarse %d×%d, energy %v, rule %v", w, h, c.W, c.H, c.Energy, c.Rule)
		}
		if err := c.Check(); err != nil {
			t.Fatalf("%d×%d: %v", w, h, err)
		}
		at := func(pl []float32, x, y int) float32 { return pl[min(y, h-1)*w+min(x, w-1)] }
		for k := range p.Q {
			for y := range ch {
				for x := range cw {
					i := y*cw + x
					for _, pl := range []struct {
						name         string
						fine, coarse []float32
					}{{"Q", p.Q[k], c.Q[k]}, {"Lo", p.Lo[k], c.Lo[k]}, {"Hi", p.Hi[k], c.Hi[k]}, {"D", p.D[k], c.D[k]}} {
						want := (at(pl.fine, 2*x, 2*y) + at(pl.fine, 2*x+1, 2*y) + at(pl.fine, 2*x, 2*y+1) + at(pl.fine, 2*x+1, 2*y+1)) / 4
						if math.Abs(float64(pl.coarse[i]-want)) > 1e-6 {
							t.Fatalf("%d×%d: %s[%d] at (%d,%d) = %v, want %v", w, h, pl.name, k, x, y, pl.coarse[i], want)
						}
					}
					if c.Q[k][i] < c.Lo[k][i] || c.Q[k][i] > c.Hi[k][i] {
						t.Fatalf("%d×%d: coarse sample (%d,%d) outside its bounds", w, h, x, y)
					}
					if x+1 < cw && 2*x+2 < w {
						want := (p.Wx[k][2*y*w+2*x+1] + at(p.Wx[k], 2*x+1, 2*y+1)) / 2
						if 2*y+1 >= h {
							want = p.Wx[k][2*y*w+2*x+1]
						}
						if math.Abs(float64(c.Wx[k][i]-want)) > 1e-6 {
							t.Fatalf("%d×%d: Wx at (%d,%d) = %v, want %v", w, h, x, y, c.Wx[k][i], want)
						}
					}
					if y+1 < ch && 2*y+2 < h {
						want := (p.Wy[k][(2*y+1)*w+2*x] + at(p.Wy[k], 2*x+1, 2*y+1)) / 2
						if 2*x+1 >= w {
							want = p.Wy[k][(2*y+1)*w+2*x]
						}
						if math.Abs(float64(c.Wy[k][i]-want)) > 1e-6 {
							t.Fatalf("%d×%d: Wy at (%d,%d) = %v, want %v", w, h, x, y, c.Wy[k][i], want)
						}
					}
				}
			}
		}
	}
}

// TestProlongIsBilinear checks that a plane linear in the sample centres'
// positions prolongs to the same linear function at every fine sample
// whose centre lies within the coarse centres, and that constants stay.
func TestProlongIsBilinear(t *testing.T) {
	cw, ch, w, h := 5, 4, 10, 8
	f := func(x, y float32) float32 { return 0.3 + 0.05*x - 0.02*y }
	lin, cst := make([]float32, cw*ch), make([]float32, cw*ch)
	for y := range ch {
		for x := range cw {
			// the coarse centre in fine units: (x + 0.5)·2 − 0.5
			lin[y*cw+x] = f(2*float32(x)+0.5, 2*float32(y)+0.5)
			cst[y*cw+x] = 0.7
		}
	}
	out := Prolong([][]float32{lin, cst}, cw, ch, w, h)
	for y := range h {
		for x := range w {
			if out[1][y*w+x] != 0.7 {
				t.Fatalf("constant prolonged to %v at (%d,%d)", out[1][y*w+x], x, y)
			}
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				continue // outside the coarse centres: replicated
			}
			if got, want := out[0][y*w+x], f(float32(x), float32(y)); math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("linear plane prolonged to %v at (%d,%d), want %v", got, x, y, want)
			}
		}
	}
}

// TestStartFrom: a coarser restorer starts from its stored image, and
// the finer one starts again from its image prolonged and projected onto
// its own bounds, the rule's state cleared; a restorer of another kind is
// refused.
func TestStartFrom(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	p := restoreProblem(r, 12, 9, Energy{Kind: EdgeAware, Eps: 0.01, Fidelity: 0.3}, Rule{Kind: RuleNesterov, Mu: 0.9})
	fine, err := NewRestorer(p)
	if err != nil {
		t.Fatal(err)
	}
	fine.Step(StepConsts{LR: 0.05, C1: 1, C2: 1})
	cr, err := fine.Coarser()
	if err != nil {
		t.Fatal(err)
	}
	coarse := cr.(*CPURestorer)
	cp := p.Coarse()
	for c, u := range coarse.Image() {
		for i, v := range u {
			if want := cp.Initial(c)[i]; v != want {
				t.Fatalf("coarse channel %d sample %d starts at %v, want %v", c, i, v, want)
			}
		}
	}
	for range 3 {
		coarse.Step(StepConsts{LR: 0.05, C1: 1, C2: 1})
	}
	if err := fine.StartFrom(coarse); err != nil {
		t.Fatal(err)
	}
	up := Prolong(coarse.Image(), cp.W, cp.H, p.W, p.H)
	for c, u := range fine.Image() {
		for i, v := range u {
			if want := min(max(up[c][i], p.Lo[c][i]), p.Hi[c][i]); v != want {
				t.Fatalf("channel %d sample %d starts again at %v, want %v", c, i, v, want)
			}
		}
		for i, m := range fine.m[c] {
			if m != 0 {
				t.Fatalf("channel %d sample %d keeps momentum %v", c, i, m)
			}
		}
	}
	if err := fine.StartFrom(otherRestorer{}); err == nil {
		t.Fatal("a start from another kind of restorer was taken")
	}
}

type otherRestorer struct{ Restorer }
