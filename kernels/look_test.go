package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCurve(t *testing.T) {
	c := Curve{Lo: 0, Hi: 1, V: make([]float64, 256)}
	for i := range c.V {
		c.V[i] = math.Sqrt(float64(i) / 255)
	}
	for v := range 256 {
		if got := c.At(float64(Level8(v))); math.Abs(got-c.V[v]) > 1e-6 {
			t.Fatalf("an 8-bit value %d falls between knots: %v, want %v", v, got, c.V[v])
		}
	}
	if c.At(-1) != 0 || c.At(2) != 1 || c.Slope(2) != 0 {
		t.Error("a curve is not constant beyond its ends")
	}
	if s := c.Slope(0.5); math.Abs(s-0.5/math.Sqrt(0.5)) > 0.01 {
		t.Errorf("slope at 0.5: %v", s)
	}
}

// The lattice's normal equations equal the dense ones built from its
// interpolation weights.
func TestLatticeSystem(t *testing.T) {
	const n = 4
	l := NewLattice(n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range l.V {
		l.V[i] += 0.1 * r.NormFloat64()
	}
	sys := NewLatticeSystem(n)
	m := n * n * n
	dense := make([]float64, m*m)
	rhs := make([]float64, 3*m)
	for range 500 {
		x := [3]float64{r.Float64(), r.Float64(), r.Float64()}
		y := [3]float64{r.Float64(), r.Float64(), r.Float64()}
		sys.Add(l, x[0], x[1], x[2], y, 2)
		var idx [8]int32
		var w [8]float64
		l.Corners(x[0], x[1], x[2], &idx, &w)
		// the interpolation is the weights' sum
		at := l.At(x[0], x[1], x[2])
		for c := range 3 {
			s := 0.0
			for k := range 8 {
				s += w[k] * l.V[3*idx[k]+int32(c)]
				rhs[3*idx[k]+int32(c)] += 2 * w[k] * y[c]
			}
			if math.Abs(s-at[c]) > 1e-12 {
				t.Fatal("At differs from the weights' sum")
			}
		}
		for a := range 8 {
			for b := range 8 {
				dense[int(idx[a])*m+int(idx[b])] += 2 * w[a] * w[b]
			}
		}
	}
	for i := range m {
		for o := range Stencil {
			j := Neighbour(n, i, o)
			if j < 0 {
				continue
			}
			if got, want := sys.A[Stencil*i+o], dense[i*m+j]; math.Abs(got-want) > 1e-9 {
				t.Fatalf("A[%d][%d] = %v; want %v", i, j, got, want)
			}
		}
	}
	for i, v := range rhs {
		if math.Abs(sys.B[i]-v) > 1e-9 {
			t.Fatalf("B[%d] = %v; want %v", i, sys.B[i], v)
		}
	}
}
