package look

import (
	"math"

	"github.com/quantfit/quantfit/kernels"
	"gonum.org/v1/gonum/mat"
)

// ridge keeps the systems positive definite where no sample and no prior
// pins a value.
const ridge = 1e-9

// solveCurve solves for the knot values of a curve: the least-squares fit
// of sys plus lambda·Σ(second differences)², which leaves a gap between
// knots with data a straight line; then projects the values onto the
// monotone curves (weighted by each knot's data) in the direction of the
// curve's rise.
func solveCurve(sys *kernels.CurveSystem, lambda float64) []float64 {
	n := len(sys.Diag)
	band := make([]float64, n*3)
	for i := range n {
		band[3*i] = sys.Diag[i] + ridge
		if i+1 < n {
			band[3*i+1] = sys.Off[i]
		}
	}
	// D2ᵀD2 for rows j = (v[j−1] − 2v[j] + v[j+1]), j = 1..n−2
	for j := 1; j+1 < n; j++ {
		idx := [3]int{j - 1, j, j + 1}
		co := [3]float64{1, -2, 1}
		for a := range 3 {
			for b := a; b < 3; b++ {
				band[3*idx[a]+(b-a)] += lambda * co[a] * co[b]
			}
		}
	}
	a := mat.NewSymBandDense(n, 2, band)
	var ch mat.BandCholesky
	v := make([]float64, n)
	if !ch.Factorize(a) {
		for i := range v {
			v[i] = sys.B[i] / math.Max(sys.Diag[i], ridge)
		}
	} else {
		dst := mat.NewVecDense(n, v)
		if err := ch.SolveVecTo(dst, mat.NewVecDense(n, append([]float64(nil), sys.B...))); err != nil {
			panic(err) // Factorize succeeded: the solve cannot fail
		}
	}
	monotone(v, sys.Count)
	return v
}

// monotone projects v onto the monotone sequences, rising if v[end] ≥
// v[0], else falling, in the norm weighted by w (pool adjacent violators;
// knots without data weigh a little, so that data decide).
func monotone(v, w []float64) {
	n := len(v)
	sign := 1.0
	if v[n-1] < v[0] {
		sign = -1
	}
	type block struct {
		sum, w float64
		n      int
	}
	var bs []block
	for i := range n {
		wi := w[i] + 1e-6
		b := block{sign * v[i] * wi, wi, 1}
		for len(bs) > 0 && bs[len(bs)-1].sum/bs[len(bs)-1].w > b.sum/b.w {
			p := bs[len(bs)-1]
			bs = bs[:len(bs)-1]
			b = block{p.sum + b.sum, p.w + b.w, p.n + b.n}
		}
		bs = append(bs, b)
	}
	i := 0
	for _, b := range bs {
		for range b.n {
			v[i] = sign * b.sum / b.w
			i++
		}
	}
}

// latticeOp is the linear map of a lattice's normal equations with its
// smoothness prior: A·v + lambda·Σ_axes D2ᵀD2·v + ridge·v, three channels.
type latticeOp struct {
	sys    *kernels.LatticeSystem
	nb     []int32 // nb[27·i + o]: node i's neighbour at stencil offset o, or −1
	lambda float64
	diag   []float64
	d      []float64 // the prior's second differences, 3 axes × 3 channels a node
}

func newLatticeOp(sys *kernels.LatticeSystem, lambda float64) *latticeOp {
	n := sys.N
	m := n * n * n
	op := &latticeOp{sys: sys, nb: make([]int32, kernels.Stencil*m), lambda: lambda, diag: make([]float64, m)}
	for i := range m {
		for o := range kernels.Stencil {
			op.nb[kernels.Stencil*i+o] = int32(kernels.Neighbour(n, i, o))
		}
		// the prior's diagonal: 1 per second difference the node ends, 4
		// per one it centres
		d := 0.0
		for _, o := range [3][2]int{{12, 14}, {10, 16}, {4, 22}} {
			lo, hi := op.nb[kernels.Stencil*i+o[0]] >= 0, op.nb[kernels.Stencil*i+o[1]] >= 0
			if lo && hi {
				d += 4
			}
			if lo && kernels.Neighbour(n, int(op.nb[kernels.Stencil*i+o[0]]), o[0]) >= 0 {
				d++
			}
			if hi && kernels.Neighbour(n, int(op.nb[kernels.Stencil*i+o[1]]), o[1]) >= 0 {
				d++
			}
		}
		op.diag[i] = sys.A[kernels.Stencil*i+13] + lambda*d + ridge
	}
	return op
}

// apply writes op·v into out (3 values a node).
func (op *latticeOp) apply(v, out []float64) {
	m := len(op.diag)
	kernels.Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var s [3]float64
			row := op.sys.A[kernels.Stencil*i:]
			nb := op.nb[kernels.Stencil*i:]
			for o := range kernels.Stencil {
				if a := row[o]; a != 0 {
					j := 3 * int(nb[o])
					s[0] += a * v[j]
					s[1] += a * v[j+1]
					s[2] += a * v[j+2]
				}
			}
			for c := range 3 {
				out[3*i+c] = s[c] + ridge*v[3*i+c]
			}
		}
	})
	if op.lambda == 0 {
		return
	}
	// the prior, gathered per node so that nodes run in parallel: along
	// each axis d(j) = v[j−e] − 2v[j] + v[j+e] at interior j, and node i
	// gets λ·(d(i−e) − 2d(i) + d(i+e))
	d := op.d
	if len(d) != 9*m {
		d = make([]float64, 9*m)
		op.d = d
	}
	axes := [3][2]int{{12, 14}, {10, 16}, {4, 22}}
	kernels.Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			nb := op.nb[kernels.Stencil*i:]
			for a, o := range axes {
				for c := range 3 {
					x := 0.0
					if l, h := nb[o[0]], nb[o[1]]; l >= 0 && h >= 0 {
						x = v[3*int(l)+c] - 2*v[3*i+c] + v[3*int(h)+c]
					}
					d[9*i+3*a+c] = x
				}
			}
		}
	})
	kernels.Parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			nb := op.nb[kernels.Stencil*i:]
			for a, o := range axes {
				l, h := nb[o[0]], nb[o[1]]
				for c := range 3 {
					x := -2 * d[9*i+3*a+c]
					if l >= 0 {
						x += d[9*int(l)+3*a+c]
					}
					if h >= 0 {
						x += d[9*int(h)+3*a+c]
					}
					out[3*i+c] += op.lambda * x
				}
			}
		}
	})
}

// solveLattice solves op·v = b by conjugate gradients with Jacobi's
// preconditioner, from v's values (a warm start), to a relative residual of
// tol or iters iterations.
func solveLattice(op *latticeOp, b, v []float64, tol float64, iters int) {
	n := len(b)
	r, z, p, q := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	op.apply(v, q)
	bn := 0.0
	for i := range b {
		r[i] = b[i] - q[i]
		bn += b[i] * b[i]
	}
	if bn == 0 {
		bn = 1
	}
	precond := func() float64 {
		rz := 0.0
		for i := range r {
			z[i] = r[i] / op.diag[i/3]
			rz += r[i] * z[i]
		}
		return rz
	}
	rz := precond()
	copy(p, z)
	for range iters {
		rr := 0.0
		for _, x := range r {
			rr += x * x
		}
		if rr <= tol*tol*bn {
			return
		}
		op.apply(p, q)
		pq := 0.0
		for i := range p {
			pq += p[i] * q[i]
		}
		if !(pq > 0) {
			return
		}
		alpha := rz / pq
		for i := range v {
			v[i] += alpha * p[i]
			r[i] -= alpha * q[i]
		}
		rz2 := precond()
		beta := rz2 / rz
		rz = rz2
		for i := range p {
			p[i] = z[i] + beta*p[i]
		}
	}
}
