package estimate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// TestPolishRunsMatchesLoop: the polish over runs of levels finds the b
// that the group-by-group polish finds, on 16-bit groups, for every model.
func TestPolishRunsMatchesLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate} {
		const b0 = 11.3
		n := 12000
		x, tt := make([]uint16, n), make([]uint16, n)
		for i := range x {
			x[i] = uint16(r.IntN(65536))
			tt[i] = uint16(math.Round(m.Apply(float64(kernels.Level16(int(x[i]))), b0)*65535)) + uint16(r.IntN(3))
		}
		g := kernels.NewGroups16(kernels.MSE)
		g.Add16(x, tt)
		w := g.Weighted()
		runs := kernels.NewLevelRuns(&w)
		if runs == nil {
			t.Fatal("no level runs")
		}
		c, d := m.Offsets()
		shift := m.Shift()
		for _, br := range [][2]float64{{b0 - 0.01, b0 + 0.01}, {b0 - 0.3, b0 + 0.2}, {20, 20.05}} {
			bps := breakpoints(&w, c, d, br[0]-shift, br[1]-shift)
			got := polishRuns(runs, c, d, bps, shift, false, br[0])
			want := polishGroups(&w, c, d, kernels.Loss{Kind: kernels.MSE}, bps, shift, false, br[0])
			if math.Abs(got.b-want.b) > 1e-9 {
				t.Errorf("%v on [%v, %v]: runs b = %v, groups b = %v", m, br[0], br[1], got.b, want.b)
			}
		}
	}
}
