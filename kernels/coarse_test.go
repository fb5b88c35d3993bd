package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCoarseKeepsMoments checks that merging keeps the total weight, the
// weighted sums of x and t, and under MSE the total sum of squares of the
// targets (Offset + Σ w·t²), so that the summary's loss at a constant
// forward equals the data's.
func TestCoarseKeepsMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, loss := range []LossKind{MSE, L1} {
		g := NewGroups16(loss)
		x, tt := make([]uint16, 50000), make([]uint16, 50000)
		for i := range x {
			x[i] = uint16(r.IntN(65536))
			tt[i] = uint16(r.IntN(12) * 5957)
		}
		g.Add16(x, tt)
		w := g.Weighted()
		c := w.Coarse(256)
		if c.Len() > 256*12 || c.Len() >= w.Len() {
			t.Fatalf("%v: %d groups coarsened to %d", loss, w.Len(), c.Len())
		}
		moments := func(v *Weighted) (n, sx, st, ss float64) {
			ss = v.Offset
			for i := range v.X {
				n += v.W[i]
				sx += v.W[i] * v.X[i]
				st += v.W[i] * v.T[i]
				ss += v.W[i] * v.T[i] * v.T[i]
			}
			return
		}
		a0, a1, a2, a3 := moments(&w)
		b0, b1, b2, b3 := moments(c)
		for k, p := range [][2]float64{{a0, b0}, {a1, b1}, {a2, b2}, {a3, b3}} {
			if math.Abs(p[0]-p[1]) > 1e-9*math.Abs(p[0]) {
				t.Errorf("%v: moment %d: data %v, coarse %v", loss, k, p[0], p[1])
			}
		}
		for i := 1; i < c.Len(); i++ {
			if int(c.X[i]*256) < int(c.X[i-1]*256) {
				t.Fatalf("%v: groups out of bin order at %d", loss, i)
			}
		}
	}
}
