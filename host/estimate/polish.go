package estimate

import (
	"math"
	"slices"

	"github.com/quantfit/quantfit/kernels"
)

// polishBudget caps the work of one polish, in group visits.
const polishBudget = 2e8

// polished is the outcome of a polish: the answer, its exact summed loss,
// the run of b around it with that same loss (stored outputs make the loss
// piecewise constant), and whether the bracket had to be narrowed to fit
// the budget, which makes the minimum exact within the narrowed bracket
// only.
type polished struct {
	b, lo, hi float64
	narrowed  bool
}

// polish returns the global minimizer of the exact loss over the groups
// inside [blo, bhi], exactly up to floating point.
//
// Why it is exact: with s = b − shift, the level k = floor(x·s + c) of every
// group is constant between consecutive breakpoints s = (n − c)/x, and so is
// the clamp of (k + d)/s at 1 (breakpoints s = k + d). Inside such an
// interval every unclamped output is y = (k + d)·v with v = 1/s.
//
// With stored outputs (OutputLevels L > 0), y is rounded to a multiple of
// 1/L, which changes only where (k + d)·v·L crosses a half-integer: adding
// those breakpoints leaves pieces on which the loss is constant, and the
// minimum is the least piece. The answer is the middle of the run of
// adjacent pieces with that least loss: every b in the run explains the
// data equally, and the middle is furthest from disagreeing with it.
//
// Without rounding, the loss is convex in v inside each interval: a
// quadratic under MSE with a closed-form minimizer, convex piecewise-linear
// or -quadratic under L1 and Huber, minimized by bisection on its monotone
// derivative; the minimum is the least per-interval minimum.
//
// runs are w's level runs (kernels.NewLevelRuns), nil where w has none: the
// caller builds them once for all its polishes.
func polish(w *kernels.Weighted, runs *kernels.LevelRuns, cfg kernels.Config, blo, bhi, center float64) polished {
	shift := cfg.Model.Shift()
	c, d := cfg.Model.Offsets()
	L := cfg.OutputLevels
	slo, shi := blo-shift, bhi-shift
	narrowed := false
	for {
		n := shi - slo + 2
		for _, x := range w.X {
			n += math.Floor(x*shi+c) - math.Floor(x*slo+c)
			if L > 0 {
				n += L * (x*shi + c + d) * (1/slo - 1/shi)
			}
		}
		if n*float64(w.Len()) <= polishBudget || shi-slo < 1e-9 {
			break
		}
		half := (shi - slo) / 4
		cs := center - shift
		slo, shi = math.Max(slo, cs-half), math.Min(shi, cs+half)
		narrowed = true
	}
	bps := breakpoints(w, c, d, slo, shi)
	if L > 0 {
		return polishStored(w, cfg, bps, shift, narrowed)
	}
	return polishConvex(w, runs, cfg, bps, shift, narrowed, center)
}

// breakpoints returns the sorted s where a group's level or clamp changes,
// with the ends of the bracket.
func breakpoints(w *kernels.Weighted, c, d, slo, shi float64) []float64 {
	bps := []float64{slo, shi}
	for _, x := range w.X {
		if x <= 0 {
			continue
		}
		for n := math.Floor(x*slo+c) + 1; n <= math.Floor(x*shi+c); n++ {
			bps = append(bps, (n-c)/x)
		}
	}
	for k := math.Ceil(slo - d); k+d <= shi; k++ {
		bps = append(bps, k+d)
	}
	slices.Sort(bps)
	return slices.Compact(bps)
}

// inside reports whether (sa, sb) is a usable piece and returns a point a
// hair inside each end: floor at an exact breakpoint depends on rounding.
func inside(sa, sb float64) (lo, hi float64, ok bool) {
	eps := 1e-10 * sb
	if !(sb-sa > 2*eps) {
		return 0, 0, false
	}
	return sa + eps, sb - eps, true
}

func polishStored(w *kernels.Weighted, cfg kernels.Config, bps []float64, shift float64, narrowed bool) polished {
	c, d := cfg.Model.Offsets()
	L := cfg.OutputLevels
	// Split every level interval where a group's stored output changes.
	var pieces []float64
	for i := 0; i+1 < len(bps); i++ {
		sa, sb := bps[i], bps[i+1]
		lo, hi, ok := inside(sa, sb)
		if !ok {
			continue
		}
		pieces = append(pieces, sa)
		sm := (sa + sb) / 2
		for _, x := range w.X {
			a := math.Floor(x*sm+c) + d
			if a <= 0 || a/sm > 1 {
				continue
			}
			// y = a/s runs over [a/hi, a/lo]; it is stored differently on
			// each side of y = (j + 0.5)/L.
			for j := math.Ceil(a/hi*L - 0.5); j+0.5 <= a/lo*L; j++ {
				pieces = append(pieces, a*L/(j+0.5))
			}
		}
	}
	pieces = append(pieces, bps[len(bps)-1])
	slices.Sort(pieces)
	pieces = slices.Compact(pieces)

	type piece struct{ sa, sb, loss float64 }
	var ps []piece
	for i := 0; i+1 < len(pieces); i++ {
		lo, hi, ok := inside(pieces[i], pieces[i+1])
		if !ok {
			continue
		}
		ps = append(ps, piece{lo, hi, storedLoss(w, cfg, (lo+hi)/2)})
	}
	if len(ps) == 0 {
		s := (bps[0] + bps[len(bps)-1]) / 2
		return polished{s + shift, s + shift, s + shift, narrowed}
	}
	best := math.Inf(1)
	for _, p := range ps {
		best = math.Min(best, p.loss)
	}
	tie := best + 1e-12*best
	// The longest run of adjacent pieces at the least loss.
	var run [2]float64
	runLen := -1.0
	for i := 0; i < len(ps); {
		if ps[i].loss > tie {
			i++
			continue
		}
		j := i
		for j+1 < len(ps) && ps[j+1].loss <= tie && ps[j+1].sa-ps[j].sb <= 1e-9*ps[j].sb {
			j++
		}
		if l := ps[j].sb - ps[i].sa; l > runLen {
			runLen, run = l, [2]float64{ps[i].sa, ps[j].sb}
		}
		i = j + 1
	}
	mid := (run[0] + run[1]) / 2
	// The middle of a run of several pieces may sit on an inner breakpoint:
	// keep it inside the piece that holds it.
	for _, p := range ps {
		if mid >= p.sa && mid <= p.sb {
			break
		}
		if mid < p.sa {
			mid = p.sa
			break
		}
	}
	return polished{mid + shift, run[0] + shift, run[1] + shift, narrowed}
}

// storedLoss is the exact summed loss at s with stored outputs.
func storedLoss(w *kernels.Weighted, cfg kernels.Config, s float64) float64 {
	c, d := cfg.Model.Offsets()
	inv := 1 / s
	L, linv := cfg.OutputLevels, 1/cfg.OutputLevels
	sum := 0.0
	for r, x := range w.X {
		y := (math.Floor(x*s+c) + d) * inv
		if y > 1 {
			y = 1
		}
		y = math.Floor(y*L+0.5) * linv
		lv, _ := cfg.Loss.Eval(y - w.T[r])
		sum += w.W[r] * lv
	}
	return sum
}

func polishConvex(w *kernels.Weighted, runs *kernels.LevelRuns, cfg kernels.Config, bps []float64, shift float64, narrowed bool, center float64) polished {
	c, d := cfg.Model.Offsets()
	l := cfg.Loss
	if l.Kind == kernels.MSE && runs != nil {
		return polishRuns(runs, c, d, bps, shift, narrowed, center)
	}
	return polishGroups(w, c, d, l, bps, shift, narrowed, center)
}

// polishGroups is polishConvex group by group.
func polishGroups(w *kernels.Weighted, c, d float64, l kernels.Loss, bps []float64, shift float64, narrowed bool, center float64) polished {
	best, bestLoss := center, math.Inf(1)
	a := make([]float64, w.Len())
	clamped := make([]bool, w.Len())
	for i := 0; i+1 < len(bps); i++ {
		lo, hi, ok := inside(bps[i], bps[i+1])
		if !ok {
			continue
		}
		sm := (lo + hi) / 2
		constLoss := 0.0
		for r, x := range w.X {
			k := math.Floor(x*sm + c)
			// A clamped group has y = 1 throughout the interval: a
			// constant, and a = 0 keeps it out of the minimization.
			clamped[r] = (k+d)/sm > 1
			if clamped[r] {
				a[r] = 0
				lv, _ := l.Eval(1 - w.T[r])
				constLoss += w.W[r] * lv
				continue
			}
			a[r] = k + d
		}
		v := minimizeInV(w, a, l, 1/hi, 1/lo)
		if loss := constLoss + lossInV(w, a, clamped, l, v); loss < bestLoss {
			bestLoss, best = loss, 1/v+shift
		}
	}
	return polished{best, best, best, narrowed}
}

// polishRuns is polishConvex under MSE over runs of groups on one level
// (kernels.LevelRuns): inside an interval a run has one a = k + d, so the
// closed-form minimizer and the loss need its moments only, O(levels ·
// log groups) an interval instead of O(groups). It must give what
// polishConvex's loop gives, to rounding (TestPolishRunsMatchesLoop).
func polishRuns(runs *kernels.LevelRuns, c, d float64, bps []float64, shift float64, narrowed bool, center float64) polished {
	type run struct {
		a    float64
		i, j int
	}
	var rs []run
	best, bestLoss := center, math.Inf(1)
	for i := 0; i+1 < len(bps); i++ {
		lo, hi, ok := inside(bps[i], bps[i+1])
		if !ok {
			continue
		}
		sm := (lo + hi) / 2
		rs = rs[:0]
		constLoss, num, den := 0.0, 0.0, 0.0
		runs.Each(func(x float64) float64 { return math.Floor(x*sm + c) }, func(k float64, i, j int) {
			a := k + d
			if a/sm > 1 { // y = 1 throughout the interval
				constLoss += runs.Loss(i, j, 1)
				return
			}
			n, st := runs.Moments(i, j)
			num += a * st
			den += a * a * n
			rs = append(rs, run{a, i, j})
		})
		v := 1 / hi
		if den != 0 {
			v = math.Min(math.Max(num/den, 1/hi), 1/lo)
		}
		loss := constLoss
		for _, r := range rs {
			loss += runs.Loss(r.i, r.j, r.a*v)
		}
		if loss < bestLoss {
			bestLoss, best = loss, 1/v+shift
		}
	}
	return polished{best, best, best, narrowed}
}

// lossInV is the summed loss of the unclamped groups at v.
func lossInV(w *kernels.Weighted, a []float64, clamped []bool, l kernels.Loss, v float64) float64 {
	sum := 0.0
	for r := range a {
		if clamped[r] {
			continue
		}
		lv, _ := l.Eval(a[r]*v - w.T[r])
		sum += w.W[r] * lv
	}
	return sum
}

// minimizeInV minimizes the convex Σ w·ℓ(a·v − t) over [vlo, vhi].
func minimizeInV(w *kernels.Weighted, a []float64, l kernels.Loss, vlo, vhi float64) float64 {
	if l.Kind == kernels.MSE {
		num, den := 0.0, 0.0
		for r := range a {
			num += w.W[r] * a[r] * w.T[r]
			den += w.W[r] * a[r] * a[r]
		}
		if den == 0 {
			return vlo
		}
		return math.Min(math.Max(num/den, vlo), vhi)
	}
	deriv := func(v float64) float64 {
		s := 0.0
		for r := range a {
			_, dl := l.Eval(a[r]*v - w.T[r])
			s += w.W[r] * a[r] * dl
		}
		return s
	}
	lo, hi := vlo, vhi
	if deriv(lo) >= 0 {
		return lo
	}
	if deriv(hi) <= 0 {
		return hi
	}
	for range 100 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if deriv(mid) > 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return (lo + hi) / 2
}
