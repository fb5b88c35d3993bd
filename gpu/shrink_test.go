package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// TestShrinkParity holds shrink.comp to its CPU twins (kernels.
// ShrinkBounds and ShrinkPass): grey and colour images of odd size
// (blocks cut at every edge), strides 4 and 2, three passes, samples in
// the first cell and known ones among them. A coefficient within a
// rounding of the threshold may fall on either side on the two, moving
// its block's samples by up to a threshold over 8: such samples are
// counted, and must stay rare.
func TestShrinkParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, channels := range []int{1, 3} {
		for _, stride := range []int{4, 2} {
			p := restoration(r, 45, 29, channels, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: 0.1}, kernels.Rule{Kind: kernels.RuleSGD})
			const cell = 1.0 / 7
			tau := make([]float32, channels)
			for c := range tau {
				tau[c] = float32(0.3 * cell * float64(c+1))
			}
			reach := float32(0.25 * cell)
			g, err := d.NewRestorer(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Shrink(tau, reach, stride, 3); err != nil {
				t.Fatal(err)
			}
			got := g.Image()
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			g.Close()

			want := make([][]float32, channels)
			a, b := make([][]float32, channels), make([][]float32, channels)
			scratch := make([][]float32, 2*channels)
			for c := range want {
				want[c] = p.Initial(c)
				a[c], b[c] = kernels.ShrinkBounds(want[c], p.Lo[c], p.Hi[c], reach)
				scratch[c], scratch[channels+c] = make([]float32, p.W*p.H), make([]float32, p.W*p.H)
			}
			for range 3 {
				kernels.ShrinkPass(want, a, b, p.W, p.H, tau, stride, scratch)
			}
			worst, off, moved := 0.0, 0, 0
			for c := range want {
				init := p.Initial(c)
				for i := range want[c] {
					diff := math.Abs(float64(got[c][i] - want[c][i]))
					worst = max(worst, diff)
					if diff > 1e-4 {
						off++
					}
					if want[c][i] != init[i] {
						moved++
					}
				}
			}
			n := channels * p.W * p.H
			t.Logf("%d channels, stride %d: %d of %d samples moved by the passes; %d differ by over 1e-4, the most %.3g", channels, stride, moved, n, off, worst)
			if moved < n/4 {
				t.Errorf("%d channels, stride %d: the passes moved %d of %d samples; the test wants them to work", channels, stride, moved, n)
			}
			if off > n/100 || worst > float64(tau[channels-1]) {
				t.Errorf("%d channels, stride %d: %d samples differ by over 1e-4 (most %.3g)", channels, stride, off, worst)
			}
		}
	}
}
