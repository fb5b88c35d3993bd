package kernels

import (
	"math"
	"slices"
)

// levelRunsMin is the fewest groups for which Losses sums runs of levels
// rather than groups: below it the plain loop is as fast, and 8-bit
// histograms (at most 256 groups under MSE) keep their exact sums.
const levelRunsMin = 1024

// LevelRuns are prefix sums over MSE groups sorted by x, in double-double,
// so that an exact loss costs O(levels · log groups), not O(groups): the
// exact forward y depends on x only through the level floor(x·s + c),
// which is monotone in x, so the groups fall into runs of one level each,
// and over a run Σ w(y − t)² = y²·N − 2y·S + Q with N, S, Q the run's Σw,
// Σwt, Σwt². That sum cancels where y fits the run (near the answer),
// hence double-double prefix sums. The polish uses them the same way.
//
// Its specification is lossesLoop on the same groups under MSE: the level
// of each group is found with exactY's own level expression, so every
// group takes the level lossesLoop gives it, and the sums agree to
// rounding (TestLevelRunsMatchLoop).
type LevelRuns struct {
	x    []float64
	n    []float64 // prefix Σw: whole counts, exact in float64
	s, q []dd      // prefix Σwt, Σwt²
}

// NewLevelRuns returns the prefix sums of w, or nil when w is not grouped
// for MSE by increasing x or has too few groups to gain.
func NewLevelRuns(w *Weighted) *LevelRuns {
	if !w.MSEOnly || len(w.X) < levelRunsMin || !slices.IsSorted(w.X) {
		return nil
	}
	m := len(w.X)
	r := &LevelRuns{x: w.X, n: make([]float64, m+1), s: make([]dd, m+1), q: make([]dd, m+1)}
	for i, t := range w.T {
		r.n[i+1] = r.n[i] + w.W[i]
		r.s[i+1] = r.s[i].add(dd{t, 0}.mul(w.W[i]))
		r.q[i+1] = r.q[i].add(exactMul(t, t).mul(w.W[i]))
	}
	return r
}

// Each calls fn for every run [i, j) of groups on one level k, in
// increasing x; level must be non-decreasing in x.
func (r *LevelRuns) Each(level func(x float64) float64, fn func(k float64, i, j int)) {
	n := len(r.x)
	for i := 0; i < n; {
		k := level(r.x[i])
		// the first group past the run: galloping, then bisection
		lo, step := i+1, 1
		hi := lo
		for hi < n && level(r.x[hi]) <= k {
			lo = hi + 1
			hi += step
			step *= 2
		}
		hi = min(hi, n)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if level(r.x[mid]) <= k {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		fn(k, i, lo)
		i = lo
	}
}

// Moments returns Σw and Σwt over the groups [i, j).
func (r *LevelRuns) Moments(i, j int) (n, s float64) {
	d := r.s[j].sub(r.s[i])
	return r.n[j] - r.n[i], d.hi + d.lo
}

// Loss returns Σ w(y − t)² over the groups [i, j) for one y.
func (r *LevelRuns) Loss(i, j int, y float64) float64 {
	d := r.loss(i, j, y)
	return d.hi + d.lo
}

// loss is Q − 2y·S + y²·N over [i, j), in double-double.
func (r *LevelRuns) loss(i, j int, y float64) dd {
	s := r.s[j].sub(r.s[i])
	q := r.q[j].sub(r.q[i])
	return q.sub(s.mul(2 * y)).add(exactMul(y, y).mul(r.n[j] - r.n[i]))
}

// level is the level of x, as exactY computes it.
func level(sc *scale, x float64) float64 { return floorPos(x*sc.s + sc.c) }

// exactLoss returns Σ w(y − t)² over all groups for the candidate sc.
func (r *LevelRuns) exactLoss(sc *scale) float64 {
	var sum dd
	r.Each(func(x float64) float64 { return level(sc, x) }, func(k float64, i, j int) {
		sum = sum.add(r.loss(i, j, sc.store(min((k+sc.d)*sc.inv, 1))))
	})
	return sum.hi + sum.lo
}

// dd is an unevaluated sum hi + lo with |lo| ≤ ulp(hi)/2: about 106 bits.
type dd struct{ hi, lo float64 }

// exactMul returns a·b exactly (math.FMA rounds once, on every platform).
func exactMul(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

// mul returns a·b to double-double precision.
func (a dd) mul(b float64) dd {
	p := exactMul(a.hi, b)
	return renorm(p.hi, p.lo+a.lo*b)
}

func (a dd) add(b dd) dd {
	s, e := twoSum(a.hi, b.hi)
	t, f := twoSum(a.lo, b.lo)
	s, e = renormPair(s, e+t)
	return renorm(s, e+f)
}

func (a dd) sub(b dd) dd { return a.add(dd{-b.hi, -b.lo}) }

// twoSum returns s = fl(a + b) and the error a + b − s, exactly.
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bp := s - a
	e = (a - (s - bp)) + (b - bp)
	return s, e
}

// renormPair is Fast2Sum: |a| ≥ |b| or a = 0.
func renormPair(a, b float64) (float64, float64) {
	s := a + b
	return s, b - (s - a)
}

func renorm(a, b float64) dd {
	s, e := twoSum(a, b)
	return dd{s, e}
}
