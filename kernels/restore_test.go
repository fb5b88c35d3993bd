package kernels

import (
	"math/rand/v2"
	"testing"
)

// restoreProblem is a random w×h problem of two channels: values, cells
// around them, pair weights, data weights, and a few samples pinned.
func restoreProblem(r *rand.Rand, w, h int, e Energy, rule Rule) *Restoration {
	p := &Restoration{W: w, H: h, Energy: e, Rule: rule}
	n := w * h
	for range 2 {
		q, lo, hi, wx, wy, d := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range q {
			q[i] = float32(r.IntN(8)) / 7
			lo[i], hi[i] = max(q[i]-0.07, 0), min(q[i]+0.07, 1)
			if r.IntN(10) == 0 {
				lo[i], hi[i] = q[i], q[i]
			}
			wx[i], wy[i], d[i] = r.Float32(), r.Float32(), r.Float32()
		}
		p.Q, p.Lo, p.Hi = append(p.Q, q), append(p.Lo, lo), append(p.Hi, hi)
		p.Wx, p.Wy, p.D = append(p.Wx, wx), append(p.Wy, wy), append(p.D, d)
	}
	return p
}

// update is the rule at one sample, the plain form Rule.row must equal: x the value, g its gradient, m and v
// its state (unused ones ignored); it returns the new value, unprojected.
func (r Rule) update(x, g float32, m, v *float32, c StepConsts) float32 {
	switch r.Kind {
	case RuleMomentum:
		*m = float32(r.Mu)*(*m) + g
		return x - c.LR*(*m)
	case RuleNesterov:
		*m = float32(r.Mu)*(*m) + g
		return x - c.LR*(g+float32(r.Mu)*(*m))
	case RuleAdagrad:
		*m += g * g
		return x - c.LR*g/(sqrt32(*m)+float32(r.Eps))
	case RuleRMSprop:
		rho := float32(r.Rho)
		*m = rho*(*m) + (1-rho)*g*g
		return x - c.LR*g/(sqrt32(*m)+float32(r.Eps))
	case RuleAdam:
		b1, b2 := float32(r.Beta1), float32(r.Beta2)
		*m = b1*(*m) + (1-b1)*g
		*v = b2*(*v) + (1-b2)*g*g
		return x - c.LR*(*m/c.C1)/(sqrt32(*v/c.C2)+float32(r.Eps))
	}
	return x - c.LR*g
}

// referenceStep is Step as the plain loop: gradAt and Rule.update at
// every sample.
func referenceStep(r *CPURestorer, c StepConsts) {
	p := r.p
	for ch := range r.u {
		u, next := r.u[ch], r.next[ch]
		for y := range p.H {
			for x := range p.W {
				i := y*p.W + x
				g := gradAt(p, ch, u, x, y, r.eps, r.fid)
				var dm, dv float32
				pm, pv := &dm, &dv
				if len(r.m) > 0 {
					pm = &r.m[ch][i]
				}
				if len(r.v) > 0 {
					pv = &r.v[ch][i]
				}
				next[i] = Project(p.Rule.update(u[i], g, pm, pv, c), p.Lo[ch][i], p.Hi[ch][i])
			}
		}
		r.u[ch], r.next[ch] = next, u
	}
}

// TestStepIsReference holds Step's row loops to the plain loop, bit for
// bit: gradRow to gradAt at random images, and whole steps, for every
// energy and rule, with and without data weights, on images thinner than
// the interior loops and on images the pool cuts in spans.
func TestStepIsReference(t *testing.T) {
	rules := []Rule{
		{Kind: RuleSGD}, {Kind: RuleMomentum, Mu: 0.9}, {Kind: RuleNesterov, Mu: 0.9},
		{Kind: RuleAdagrad, Eps: 1e-10}, {Kind: RuleRMSprop, Rho: 0.99, Eps: 1e-8},
		{Kind: RuleAdam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
	}
	energies := []Energy{{Kind: Tikhonov, Fidelity: 0.3}, {Kind: TV, Eps: 0.03, Fidelity: 0.5}, {Kind: EdgeAware, Fidelity: 0.1}}
	rnd := rand.New(rand.NewPCG(7, 9))
	for _, size := range [][2]int{{1, 5}, {2, 3}, {3, 3}, {37, 29}, {70, 140}} {
		for _, e := range energies {
			for _, rule := range rules {
				for _, weighted := range []bool{false, true} {
					p := restoreProblem(rnd, size[0], size[1], e, rule)
					if !weighted {
						p.D = nil
					}
					fast, err := NewRestorer(p)
					if err != nil {
						t.Fatal(err)
					}
					// the gradients at a random image, where rounding shows
					for ch := range fast.u {
						u := make([]float32, len(fast.u[ch]))
						for i := range u {
							u[i] = rnd.Float32()
						}
						g := make([]float32, p.W)
						for y := range p.H {
							gradRow(p, ch, u, y, fast.eps, fast.fid, g)
							for x, got := range g {
								if want := gradAt(p, ch, u, x, y, fast.eps, fast.fid); got != want {
									t.Fatalf("%d×%d %v, data weights %v: gradient at (%d, %d) is %g, gradAt's %g", size[0], size[1], e.Kind, weighted, x, y, got, want)
								}
							}
						}
					}
					ref, _ := NewRestorer(p)
					for step := 1; step <= 4; step++ {
						c := rule.Consts(0.01, step)
						fast.Step(c)
						referenceStep(ref, c)
					}
					a, b := fast.Image(), ref.Image()
					for ch := range a {
						for i := range a[ch] {
							if a[ch][i] != b[ch][i] {
								t.Fatalf("%d×%d %v, rule %d, data weights %v: sample %d of channel %d is %g, the plain loop's %g",
									size[0], size[1], e.Kind, rule.Kind, weighted, i, ch, a[ch][i], b[ch][i])
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkRestoreStep times one step of the edge energy with Nesterov's
// rule over a 2-megapixel problem of two channels.
func BenchmarkRestoreStep(b *testing.B) {
	p := restoreProblem(rand.New(rand.NewPCG(1, 1)), 1448, 1448, Energy{Kind: EdgeAware, Fidelity: 0.4}, Rule{Kind: RuleNesterov, Mu: 0.9})
	r, err := NewRestorer(p)
	if err != nil {
		b.Fatal(err)
	}
	c := p.Rule.Consts(0.02, 1)
	b.ResetTimer()
	for range b.N {
		r.Step(c)
	}
}
