package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// restoration is a problem over a textured w×h image quantized at b = 7:
// cells as bounds, random pair weights, a few samples fixed as known, and
// random data weights where the energy has a data term.
func restoration(r *rand.Rand, w, h, channels int, e kernels.Energy, rule kernels.Rule) *kernels.Restoration {
	x := texture(r, w, h, channels)
	cells := kernels.NewCells(kernels.Midrise, 7, 255, false)
	p := &kernels.Restoration{W: w, H: h, Energy: e, Rule: rule}
	for c := range channels {
		n := w * h
		q, lo, hi, wx, wy := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i, v := range x.C[c] {
			t := math.Round(255*kernels.Midrise.Apply(v, 7)) / 255
			l, hh := cells.Bounds(t)
			q[i], lo[i], hi[i] = float32(t), float32(l), float32(hh)
			if r.IntN(10) == 0 {
				lo[i], hi[i] = q[i], q[i]
			}
			wx[i], wy[i] = r.Float32(), r.Float32()
		}
		p.Q, p.Lo, p.Hi = append(p.Q, q), append(p.Lo, lo), append(p.Hi, hi)
		p.Wx, p.Wy = append(p.Wx, wx), append(p.Wy, wy)
		if e.Fidelity > 0 {
			dw := make([]float32, n)
			for i := range dw {
				dw[i] = r.Float32()
			}
			p.D = append(p.D, dw)
		}
	}
	return p
}

// TestRestoreParity holds restore.comp to kernels.CPURestorer: every
// energy and update rule, 25 steps on an image of odd size (workgroups cut
// at the edges), the images after the first step and at the end, the
// energies along the way. Total variation under the adaptive rules is held
// looser after the first step: NVIDIA's sqrt and division are not
// correctly rounded, and those rules divide a gradient by its own size, so
// where TV's gradient cancels to nearly zero a last-bit difference turns a
// step of lr around (seen on the H100: 0.015 apart after 25 steps, the
// energies within 3e-4).
func TestRestoreParity(t *testing.T) {
	d := device(t)
	rules := []kernels.Rule{
		{Kind: kernels.RuleSGD}, {Kind: kernels.RuleMomentum, Mu: 0.9}, {Kind: kernels.RuleNesterov, Mu: 0.9},
		{Kind: kernels.RuleAdagrad, Eps: 1e-10}, {Kind: kernels.RuleRMSprop, Rho: 0.99, Eps: 1e-8},
		{Kind: kernels.RuleAdam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
	}
	energies := []kernels.Energy{{Kind: kernels.Tikhonov}, {Kind: kernels.TV, Eps: 0.03, Fidelity: 0.5}, {Kind: kernels.EdgeAware, Fidelity: 0.1}}
	r := rand.New(rand.NewPCG(5, 8))
	for _, e := range energies {
		for _, rule := range rules {
			p := restoration(r, 75, 66, 2, e, rule) // partial 32×32 tiles in both directions
			cpu, err := kernels.NewRestorer(p)
			if err != nil {
				t.Fatal(err)
			}
			g, err := d.NewRestorer(p)
			if err != nil {
				t.Fatal(err)
			}
			lr := 0.02
			if rule.Kind >= kernels.RuleAdagrad {
				lr = 0.01
			}
			loose := e.Kind == kernels.TV && rule.Kind >= kernels.RuleAdagrad
			compare := func(when string, tol, meanTol float64) {
				a, b := cpu.Image(), g.Image()
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				worst, sum, n := 0.0, 0.0, 0
				for c := range a {
					for i := range a[c] {
						d := math.Abs(float64(a[c][i] - b[c][i]))
						worst, sum, n = math.Max(worst, d), sum+d, n+1
					}
				}
				if worst > tol || sum/float64(n) > meanTol {
					t.Errorf("%v rule %d %s: images differ by %.3g at most, %.3g on average", e.Kind, rule.Kind, when, worst, sum/float64(n))
				}
			}
			for step := 1; step <= 25; step++ {
				c := rule.Consts(lr, step)
				cpu.Step(c)
				g.Step(c)
				if step == 1 && loose {
					// a first adaptive step is ±lr wherever g ≠ 0: a
					// cancelled g of the other sign moves 2·lr the other way
					compare("after a step", 2.5*lr, 1e-4)
				} else if step == 1 {
					compare("after a step", 2e-5, 2e-5)
				}
				if step%5 == 0 {
					ec, eg := cpu.Energy(), g.Energy()
					tol := 1e-5
					if loose {
						tol = 1e-3
					}
					if math.Abs(ec-eg) > tol*math.Max(1, ec) {
						t.Errorf("%v rule %d step %d: energy cpu %.8g, gpu %.8g", e.Kind, rule.Kind, step, ec, eg)
					}
				}
			}
			if loose {
				compare("after 25 steps", 0.05, 1e-3)
			} else {
				compare("after 25 steps", 2e-5, 2e-5)
			}
			g.Close()
		}
	}
}

// TestMultiscaleParity holds shaders/multiscale.comp to kernels'
// Restoration.Coarse, Prolong and the CPU's StartFrom: a coarser level
// restricted on the device from resident planes (odd size, so edge
// blocks repeat), steps there, and the finer level started again from it,
// for an energy with data and pair weights and one without, under a rule
// with state. A CPU restorer is refused as a start.
func TestMultiscaleParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(15, 16))
	for _, e := range []kernels.Energy{{Kind: kernels.EdgeAware, Fidelity: 0.1}, {Kind: kernels.Tikhonov}} {
		p := restoration(r, 75, 66, 2, e, kernels.Rule{Kind: kernels.RuleNesterov, Mu: 0.9})
		cpu, err := kernels.NewRestorer(p)
		if err != nil {
			t.Fatal(err)
		}
		g, err := d.NewRestorer(p)
		if err != nil {
			t.Fatal(err)
		}
		compare := func(when string, a, b kernels.Restorer, tol float64) {
			ia, ib := a.Image(), b.Image()
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for c := range ia {
				if len(ia[c]) != len(ib[c]) {
					t.Fatalf("%v %s: %d samples on the CPU, %d on the GPU", e.Kind, when, len(ia[c]), len(ib[c]))
				}
				for i := range ia[c] {
					worst = math.Max(worst, math.Abs(float64(ia[c][i]-ib[c][i])))
				}
			}
			if worst > tol {
				t.Errorf("%v %s: images differ by %.3g", e.Kind, when, worst)
			}
			if ea, eb := a.Energy(), b.Energy(); math.Abs(ea-eb) > 1e-5*math.Max(1, ea) {
				t.Errorf("%v %s: energy cpu %.8g, gpu %.8g", e.Kind, when, ea, eb)
			}
		}
		cc, err := cpu.Coarser()
		if err != nil {
			t.Fatal(err)
		}
		gc, err := g.Coarser()
		if err != nil {
			t.Fatal(err)
		}
		compare("restricted", cc, gc, 1e-7)
		for step := 1; step <= 10; step++ {
			c := p.Rule.Consts(0.02, step)
			cc.Step(c)
			gc.Step(c)
		}
		compare("after 10 coarse steps", cc, gc, 2e-5)
		if err := cpu.StartFrom(cc); err != nil {
			t.Fatal(err)
		}
		if err := g.StartFrom(gc); err != nil {
			t.Fatal(err)
		}
		compare("prolonged", cpu, g, 2e-5)
		for step := 1; step <= 5; step++ {
			c := p.Rule.Consts(0.02, step)
			cpu.Step(c)
			g.Step(c)
		}
		compare("after 5 fine steps", cpu, g, 2e-5)
		if err := g.StartFrom(cc); err == nil {
			t.Error("the GPU's restorer started from the CPU's")
		}
		gc.Close()
		g.Close()
	}
}
