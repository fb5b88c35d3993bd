//go:build linux && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// TestRefineParity holds refine.comp to its CPU twin
// (kernels.RefineApply): grey and colour images of odd size
// (neighbourhoods cut at every edge), images anywhere in their cells,
// known samples among them, random weights, two rounds.
func TestRefineParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(13, 14))
	for _, channels := range []int{1, 3} {
		p := restoration(r, 45, 29, channels, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: 0.1}, kernels.Rule{Kind: kernels.RuleSGD})
		for c := range p.Q {
			for i := range p.Q[c] {
				p.Q[c][i] = p.Lo[c][i] + r.Float32()*(p.Hi[c][i]-p.Lo[c][i])
			}
		}
		const inv = 7
		var wt kernels.RefineWeights
		for k := range wt {
			for t := range wt[k] {
				wt[k][t] = 0.6 * (r.Float32() - 0.5)
			}
			wt[k][kernels.RefineCentre] += 0.8
		}
		g, err := d.NewRestorer(p)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := g.Refine(&wt, inv); err != nil {
				t.Fatal(err)
			}
		}
		got := g.Image()
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		g.Close()
		worst, moved, n := 0.0, 0, channels*p.W*p.H
		for c := range p.Q {
			u := p.Initial(c)
			want := make([]float32, len(u))
			for range 2 {
				kernels.RefineApply(want, u, p.Lo[c], p.Hi[c], p.W, p.H, inv, &wt)
				u, want = want, u
			}
			init := p.Initial(c)
			for i := range u {
				worst = max(worst, math.Abs(float64(got[c][i]-u[i])))
				if u[i] != init[i] {
					moved++
				}
			}
		}
		t.Logf("%d channels: %d of %d samples moved; GPU and CPU at most %.3g apart", channels, moved, n, worst)
		if moved < n/4 {
			t.Errorf("%d channels: the regression moved %d of %d samples; the test wants it to work", channels, moved, n)
		}
		if worst > 1e-5 {
			t.Errorf("%d channels: GPU and CPU %.3g apart; want 1e-5 at most", channels, worst)
		}
	}
}
