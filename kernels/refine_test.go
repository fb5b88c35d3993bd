package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refinePlane is a textured plane quantized at cells 1/s wide, its image
// anywhere in the cells, as a dequantization's last stage sees it.
func refinePlane(w, h int, s float64, seed uint64) (u, lo, hi, truth []float32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := w * h
	u, lo, hi, truth = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		x, y := float64(i%w), float64(i/w)
		v := 0.5 + 0.3*math.Sin(x/3.1+math.Sin(y/7.3))*math.Cos(y/4.7) + 0.05*rng.NormFloat64()
		v = min(max(v, 0.001), 0.999)
		k := math.Floor(v * s)
		lo[i], hi[i] = float32(k/s), float32((k+1)/s)
		truth[i] = float32(v)
		u[i] = float32((k + 0.5) / s)
	}
	return u, lo, hi, truth
}

// TestRefineLearns: fitted on a textured plane (RefineNormal, the
// normal equations solved plainly), the regression brings the plane
// nearer the truth than the cells' middles, every sample in its cell;
// identity weights change nothing.
func TestRefineLearns(t *testing.T) {
	const w, h, s = 160, 120, 9.0
	u, lo, hi, truth := refinePlane(w, h, s, 1)
	var sys RefineSystem
	RefineNormal(&sys, u, lo, hi, truth, w, h, s, func(int, int) bool { return true })
	wt := RefineIdentity()
	fitted := 0
	for k := RefineFrom; k < RefineClasses; k++ {
		if sys.N[k] < 2*RefineTaps {
			continue
		}
		x := gauss(sys.A[k][:], sys.B[k][:])
		for i := range x {
			wt[k][i] = float32(x[i])
		}
		fitted++
	}
	if fitted == 0 {
		t.Fatalf("no class has samples: %v", sys.N)
	}
	dst := make([]float32, w*h)
	RefineApply(dst, u, lo, hi, w, h, s, RefineIdentity())
	for i := range dst {
		if dst[i] != u[i] {
			t.Fatalf("identity weights moved sample %d: %g → %g", i, u[i], dst[i])
		}
	}
	RefineApply(dst, u, lo, hi, w, h, s, wt)
	mse := func(a []float32) float64 {
		e := 0.0
		for i := range a {
			d := float64(a[i] - truth[i])
			e += d * d
		}
		return e / float64(len(a))
	}
	before, after := mse(u), mse(dst)
	t.Logf("classes %v: mse %.3g → %.3g", sys.N, before, after)
	if after > 0.9*before {
		t.Errorf("the regression takes the mse from %.3g to %.3g; want 10%% less at least", before, after)
	}
	for i, v := range dst {
		if v < lo[i] || v > hi[i] {
			t.Fatalf("sample %d at %g, outside its cell [%g, %g]", i, v, lo[i], hi[i])
		}
	}
}

// gauss solves the symmetric system whose upper triangle is a (n×n,
// row-major) for b, plainly.
func gauss(a, b []float64) []float64 {
	n := len(b)
	m := make([]float64, n*(n+1))
	for r := range n {
		for c := range n {
			v := a[min(r, c)*n+max(r, c)]
			m[r*(n+1)+c] = v
		}
		m[r*(n+1)+n] = b[r]
	}
	for k := range n {
		p := k
		for r := k + 1; r < n; r++ {
			if math.Abs(m[r*(n+1)+k]) > math.Abs(m[p*(n+1)+k]) {
				p = r
			}
		}
		for c := range n + 1 {
			m[k*(n+1)+c], m[p*(n+1)+c] = m[p*(n+1)+c], m[k*(n+1)+c]
		}
		for r := k + 1; r < n; r++ {
			f := m[r*(n+1)+k] / m[k*(n+1)+k]
			for c := k; c <= n; c++ {
				m[r*(n+1)+c] -= f * m[k*(n+1)+c]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		v := m[r*(n+1)+n]
		for c := r + 1; c < n; c++ {
			v -= m[r*(n+1)+c] * x[c]
		}
		x[r] = v / m[r*(n+1)+r]
	}
	return x
}

func BenchmarkRefineApply(b *testing.B) {
	const w, h = 2048, 2048
	u, lo, hi, _ := refinePlane(w, h, 9, 2)
	dst := make([]float32, w*h)
	wt := RefineIdentity()
	for k := range wt {
		wt[k][RefineCentre] = 0.8
	}
	b.SetBytes(4 * w * h)
	for b.Loop() {
		RefineApply(dst, u, lo, hi, w, h, 9, wt)
	}
}

func BenchmarkRefineNormal(b *testing.B) {
	const w, h = 512, 512
	u, lo, hi, truth := refinePlane(w, h, 9, 2)
	b.SetBytes(4 * w * h)
	for b.Loop() {
		var sys RefineSystem
		RefineNormal(&sys, u, lo, hi, truth, w, h, 9, func(int, int) bool { return true })
	}
}
