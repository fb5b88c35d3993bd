// Package peers holds the classical methods quantfit is measured against
// in the same run: the 3D LUTs people fit from before/after pairs.
package peers

import (
	"github.com/quantfit/quantfit/kernels"
)

// CellAverageLUT is the method people use by hand: the mean edited colour
// of the samples in each node's cell of an n³ grid (nearest node), nodes
// without samples left at the identity; looked up trilinearly.
// x and y hold the three channels of the samples in [0,1].
func CellAverageLUT(x, y [3][]float32, n int) *kernels.Lattice {
	l := kernels.NewLattice(n)
	sum := make([]float64, len(l.V))
	cnt := make([]float64, n*n*n)
	for i := range x[0] {
		k := 0
		for c := 2; c >= 0; c-- {
			k = k*n + int(float64(x[c][i])*float64(n-1)+0.5)
		}
		cnt[k]++
		for c := range 3 {
			sum[3*k+c] += float64(y[c][i])
		}
	}
	for k, m := range cnt {
		if m > 0 {
			for c := range 3 {
				l.V[3*k+c] = sum[3*k+c] / m
			}
		}
	}
	return l
}

// RegressionLUT fits the n³ nodes by least squares under trilinear
// interpolation, with a membrane prior lambda·Σ(neighbouring nodes'
// difference)² (weighted per node by the mean samples a node gets) that
// carries the fit smoothly into colours no sample shows, as
// darktable_lut_generator and Image-Adaptive-3DLUT's regularised fits do.
// Solved by preconditioned conjugate gradients from the identity.
func RegressionLUT(x, y [3][]float32, n int, lambda float64) *kernels.Lattice {
	l := kernels.NewLattice(n)
	sys := kernels.NewLatticeSystem(n)
	for i := range x[0] {
		sys.Add(l, float64(x[0][i]), float64(x[1][i]), float64(x[2][i]),
			[3]float64{float64(y[0][i]), float64(y[1][i]), float64(y[2][i])}, 1)
	}
	m := n * n * n
	lam := lambda * float64(len(x[0])) / float64(m)
	// the membrane's neighbours: ±1 on each axis (stencil offsets)
	axes := []int{12, 14, 10, 16, 4, 22}
	var membrane func(lo, hi int, v, out []float64)
	nb := make([]int, kernels.Stencil*m)
	for i := range m {
		for o := range kernels.Stencil {
			nb[kernels.Stencil*i+o] = kernels.Neighbour(n, i, o)
		}
	}
	apply := func(v, out []float64) {
		kernels.Parallel(m, func(lo, hi int) { membrane(lo, hi, v, out) })
	}
	membrane = func(lo, hi int, v, out []float64) {
		for i := lo; i < hi; i++ {
			var s [3]float64
			for o := range kernels.Stencil {
				a := sys.A[kernels.Stencil*i+o]
				if j := nb[kernels.Stencil*i+o]; a != 0 && j >= 0 {
					for c := range 3 {
						s[c] += a * v[3*j+c]
					}
				}
			}
			for _, o := range axes {
				if j := nb[kernels.Stencil*i+o]; j >= 0 {
					for c := range 3 {
						s[c] += lam * (v[3*i+c] - v[3*j+c])
					}
				}
			}
			for c := range 3 {
				out[3*i+c] = s[c] + 1e-9*v[3*i+c]
			}
		}
	}
	// conjugate gradients with Jacobi's preconditioner, to a relative
	// residual of 1e-5
	diag := make([]float64, m)
	for i := range m {
		diag[i] = sys.A[kernels.Stencil*i+13] + 1e-9
		for _, o := range axes {
			if nb[kernels.Stencil*i+o] >= 0 {
				diag[i] += lam
			}
		}
	}
	v := l.V
	r, z, p, q := make([]float64, len(v)), make([]float64, len(v)), make([]float64, len(v)), make([]float64, len(v))
	apply(v, q)
	rz, bb := 0.0, 0.0
	for i := range r {
		r[i] = sys.B[i] - q[i]
		z[i] = r[i] / diag[i/3]
		rz += r[i] * z[i]
		bb += sys.B[i] * sys.B[i]
	}
	copy(p, z)
	for range 2000 {
		rr := 0.0
		for _, x := range r {
			rr += x * x
		}
		if rr <= 1e-10*bb {
			break
		}
		apply(p, q)
		pq := 0.0
		for i := range p {
			pq += p[i] * q[i]
		}
		if !(pq > 0) {
			break
		}
		a := rz / pq
		rz2 := 0.0
		for i := range v {
			v[i] += a * p[i]
			r[i] -= a * q[i]
			z[i] = r[i] / diag[i/3]
			rz2 += r[i] * z[i]
		}
		for i := range p {
			p[i] = z[i] + rz2/rz*p[i]
		}
		rz = rz2
	}
	return l
}
