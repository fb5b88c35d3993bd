package estimate

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// center returns the mean of the set of parameters that fit the data as
// well as p, sampled by hit-and-run: the middle of what the data allow
// (the posterior mean under a flat prior), which the minimum itself, on
// the edge of the set, is not. The set can be long, thin, oblique and
// curved (γ, gain and bias trade against each other: on a photo with 145
// grey levels every bias in [0.04, 0.116] fit exactly), so one parameter
// at a time would not find its middle, and the walk mixes slowly along
// it: 1500 samples hold the mean to about 0.005 in bias there, where 400
// wandered by 0.02 between seeds; fewer parameters need fewer. (The
// sample with the most neighbours, a mode, did no better than the mean
// on 80 trials.)
func (f *stackFit) center(p []float64) []float64 {
	// The limit admits the rounding noise of the sums (1e-16 where the data
	// fit exactly), which would otherwise cut the set into crumbs, and not
	// one more stored value off by one level.
	loss := f.loss(p)
	lim := loss + 1e-9*loss + 1e-6*f.tol
	in := func(q []float64) bool {
		for i, pp := range f.params {
			if q[i] < pp.Lo || q[i] > pp.Hi {
				return false
			}
		}
		return f.loss(q) <= lim
	}
	r := rand.New(rand.NewPCG(f.s.Seed, 0xce47e2))
	n := len(p)
	cur := append([]float64(nil), p...)
	u := make([]float64, n)
	q := make([]float64, n)
	at := func(t float64) []float64 {
		for i := range q {
			q[i] = cur[i] + t*u[i]
		}
		return q
	}
	// chord returns the ends of the set's chord through cur along u, to
	// 1/2000 of its length: from the last chord's length (u is scaled to
	// the set, so lengths vary little), doubling out or halving in.
	last := 1.0
	chord := func() (float64, float64) {
		edge := func(sgn float64) float64 {
			lo, hi := 0.0, sgn*last
			if in(at(hi)) {
				for lo = hi; in(at(2 * lo)); lo *= 2 {
					if math.Abs(lo) > 1e6 {
						return lo
					}
				}
				hi = 2 * lo
			} else {
				for k := 0; k < 40; k++ {
					if t := hi / 2; in(at(t)) {
						lo = t
						break
					}
					hi /= 2
				}
				if lo == 0 {
					return 0
				}
			}
			for k := 0; k < 11; k++ {
				mid := (lo + hi) / 2
				if in(at(mid)) {
					lo = mid
				} else {
					hi = mid
				}
			}
			return lo
		}
		a, b := edge(-1), edge(1)
		if b-a > 0 {
			last = (b - a) / 2
		}
		return a, b
	}
	// Hit-and-run. Directions follow the shape of the set seen so far (the
	// Cholesky factor of the samples' covariance, renewed as they spread),
	// so that a long thin set is crossed along its length; one in four
	// runs along one parameter, scaled to its spread, so that the walk
	// leaves a corner where the shaped directions all miss the set.
	const burn, renew = 100, 50
	samples := float64(min(1500, 400*n))
	seen := mat.NewDense(burn+int(samples), n, nil)
	var l mat.TriDense
	shaped := false
	z := make([]float64, n)
	mean := make([]float64, n)
	spread := make([]float64, n)
	for i, pp := range f.params {
		spread[i] = pp.Hi - pp.Lo
	}
	for it := 0; it < burn+int(samples); it++ {
		if it >= renew && it%renew == 0 {
			var chol mat.Cholesky
			c := covariance(seen.Slice(0, it, 0, n).(*mat.Dense))
			if chol.Factorize(c) {
				chol.LTo(&l)
				shaped = true
				for i := range spread {
					spread[i] = math.Sqrt(c.At(i, i))
				}
			}
		}
		switch {
		case r.IntN(4) == 0:
			clear(u)
			i := r.IntN(n)
			u[i] = spread[i]
		case shaped:
			for i := range z {
				z[i] = r.NormFloat64()
			}
			mat.NewVecDense(n, u).MulVec(&l, mat.NewVecDense(n, z))
		default:
			for i := range u {
				u[i] = r.NormFloat64() * spread[i]
			}
		}
		a, b := chord()
		cur = append([]float64(nil), at(a+(b-a)*r.Float64())...)
		seen.SetRow(it, cur)
		if it >= burn {
			for i := range mean {
				mean[i] += cur[i] / samples
			}
		}
	}
	if in(mean) {
		return mean
	}
	return p
}

// covariance returns the covariance of the rows of pts, with a small
// ridge so that a flat direction keeps some reach.
func covariance(pts *mat.Dense) *mat.SymDense {
	var c mat.SymDense
	stat.CovarianceMatrix(&c, pts, nil)
	n := c.SymmetricDim()
	for i := 0; i < n; i++ {
		c.SetSym(i, i, c.At(i, i)*(1+1e-6)+1e-12)
	}
	return &c
}
