package estimate

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/quantfit/quantfit/kernels"
)

// structured searches b on a grid with the inner fit, then finely.
func (f *stackFit) structured(a Auto) ([]float64, error) {
	bp := f.params[f.q]
	// A step of 0.02 in b; over ranges that would take more than 4096
	// points, 4096 spaced in proportion to b, as the basins of the loss
	// widen with b (about b/255 for 8-bit data).
	const maxGrid = 4096
	k := a.ScanPoints
	geometric := false
	if k == 0 {
		k = int(math.Ceil((bp.Hi-bp.Lo)/0.02)) + 1
		if k > maxGrid {
			k, geometric = maxGrid, true
		}
	}
	k = max(k, 2)
	bs := make([]float64, k)
	ls := make([]float64, k)
	fits := make([][]float64, k)
	for i := range bs {
		t := float64(i) / float64(k-1)
		if geometric {
			bs[i] = bp.Lo * math.Pow(bp.Hi/bp.Lo, t)
		} else {
			bs[i] = bp.Lo + (bp.Hi-bp.Lo)*t
		}
		fits[i] = f.fitAt(bs[i])
		ls[i] = f.loss(fits[i])
	}
	// The inner fit is not the exact minimum, so the least grid point may
	// sit in the wrong basin: finish the best few basins and keep the least.
	var out []float64
	outLoss := math.Inf(1)
	bas := basins(ls)
	for _, i := range bas[:min(8, len(bas))] {
		h := (bs[min(i+1, k-1)] - bs[max(i-1, 0)]) / 2
		p := f.finish(fits[i], h)
		if l := f.loss(p); l < outLoss {
			out, outLoss = p, l
		}
	}
	return f.pattern(out), nil
}

// finish scans b finely around the fit p with the inner fit, takes the
// middle of the run of least loss, and polishes the candidates on the
// exact loss one parameter at a time.
func (f *stackFit) finish(best []float64, h float64) []float64 {
	bp := f.params[f.q]
	bestLoss := f.loss(best)
	b0 := best[f.q]
	lo, hi := math.Max(bp.Lo, b0-2*h), math.Min(bp.Hi, b0+2*h)
	const n = 41
	var run []float64
	runLoss := math.Inf(1)
	for i := range n {
		b := lo + (hi-lo)*float64(i)/(n-1)
		l := f.loss(f.fitAt(b))
		switch {
		case l < runLoss*(1-1e-9)-1e-300:
			runLoss, run = l, []float64{b}
		case l <= runLoss*(1+1e-9):
			run = append(run, b)
		}
	}
	cands := [][]float64{best}
	if runLoss <= bestLoss {
		cands = append(cands, f.fitAt((run[0]+run[len(run)-1])/2), f.fitAt(run[0]))
	}
	var out []float64
	outLoss := math.Inf(1)
	for _, c := range cands {
		c = f.coordinate(c)
		if l := f.loss(c); l < outLoss {
			out, outLoss = c, l
		}
	}
	return out
}

// fitAt fits the smooth parameters for a fixed b. The targets' levels
// tell, for every original value, the level its pre-quantizer value g(x)
// fell in; where the level changes between two consecutive original values
// xa < xb, g crossed the boundaries between them. The smooth operators are
// fitted by Levenberg–Marquardt to cross each boundary at (xa + xb)/2,
// one residual per crossing: the middle of what the data allow, whatever
// the pixel counts. (Fitting every value to its level's middle instead
// pulls g towards a staircase and biased γ by 0.2 on photos.) Where the
// middles leave some crossing outside (xa, xb], as they do where crossings
// crowd, a second fit pulls only the crossings that are out back in: the
// data fix a thin set of parameters there, which the middles miss and the
// exact loss, flat around it, does not lead to.
func (f *stackFit) fitAt(b float64) []float64 {
	p := f.init()
	p[f.q] = b
	m := f.qcfg.Model
	s := b - m.Shift()
	c, d := m.Offsets()
	// Outputs clamp to [0, 1], so every level up to kb stores 0 and every
	// level from kt stores 1 (after rounding to the stored levels): those
	// targets say only that g stayed below boundary kb+1 or reached kt.
	half := 0.0
	if l := f.st.OutputLevels; l > 0 {
		half = 0.5 / l
	}
	kb := math.Ceil(s*half-d) - 1
	kt := math.Ceil(s*(1-half) - d)
	// the level of each distinct original value, from its mean target
	var xs, ks []float64
	for r := 0; r < f.w.Len(); {
		x, sw, st := f.w.X[r], 0.0, 0.0
		for ; r < f.w.Len() && f.w.X[r] == x; r++ {
			sw += f.w.W[r]
			st += f.w.W[r] * f.w.T[r]
		}
		k := math.Max(kb, math.Min(kt, math.Round(st/sw*s-d)))
		xs, ks = append(xs, x), append(ks, k)
	}
	var cx []crossing
	for i := 0; i+1 < len(xs); i++ {
		lo, hi := ks[i], ks[i+1]
		if lo == hi {
			continue
		}
		up := lo < hi
		if !up {
			lo, hi = hi, lo
		}
		for j := lo + 1; j <= hi; j++ {
			cx = append(cx, crossing{xa: xs[i], xb: xs[i+1], y: (j - c) / s, up: up})
		}
	}
	var idx []int
	for i := range p {
		if i != f.q {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 || len(cx) == 0 {
		return p
	}
	smooth := f.st.Ops[:len(f.st.Ops)-1]
	sizes := make([]int, len(smooth))
	for i, op := range smooth {
		sizes[i] = len(op.Params())
	}
	var dps [kernels.MaxParams]float64
	var dxs [kernels.MaxOps]float64
	// g returns g(x) and, with jac, its derivatives in the parameters.
	g := func(x float64, p, jac []float64) float64 {
		off := 0
		for i, op := range smooth {
			k := sizes[i]
			x, dxs[i] = op.Apply(x, p[off:off+k], dps[off:off+k])
			off += k
		}
		if jac != nil {
			d := 1.0
			off = f.q
			for i := len(smooth) - 1; i >= 0; i-- {
				k := sizes[i]
				off -= k
				for j := 0; j < k; j++ {
					jac[off+j] = d * dps[off+j]
				}
				d *= dxs[i]
			}
		}
		return x
	}
	p = f.lm(p, idx, len(cx), func(p []float64, r int, jac []float64) float64 {
		return g((cx[r].xa+cx[r].xb)/2, p, jac) - cx[r].y
	})
	// out returns by how much crossing r lies outside its interval, signed
	// so that the residual grows as g moves further out. The interval is
	// narrowed by a margin far below any precision that matters and far
	// above rounding, because the fit stops on the interval's edge, where
	// a crossing exactly at y falls either way.
	const margin = 1e-7
	ja := make([]float64, len(p))
	out := func(p []float64, r int, jac []float64) float64 {
		x := cx[r]
		lo, hi := x.xa, x.xb
		if !x.up {
			lo, hi = hi, lo
		}
		// g(lo) < y ≤ g(hi) inside
		if v := g(lo, p, ja); v > x.y-margin {
			if jac != nil {
				copy(jac, ja)
			}
			return v - (x.y - margin)
		}
		if v := g(hi, p, ja); v < x.y+margin {
			if jac != nil {
				copy(jac, ja)
			}
			return v - (x.y + margin)
		}
		if jac != nil {
			clear(jac)
		}
		return 0
	}
	for r := range cx {
		if out(p, r, nil) != 0 {
			return f.lm(p, idx, len(cx), out)
		}
	}
	return p
}

// crossing is a level boundary y that g crosses between the consecutive
// original values xa < xb, upwards or downwards.
type crossing struct {
	xa, xb, y float64
	up        bool
}

// lm minimizes Σ res(p, r)² over the parameters idx by Levenberg–
// Marquardt, within the ranges. res returns residual r and, given jac,
// writes its derivatives in every parameter there.
func (f *stackFit) lm(p []float64, idx []int, n int, res func(p []float64, r int, jac []float64) float64) []float64 {
	cost := func(p []float64) float64 {
		sum := 0.0
		for r := 0; r < n; r++ {
			e := res(p, r, nil)
			sum += e * e
		}
		return sum
	}
	dim := len(idx)
	jac := make([]float64, len(p))
	normal := func(p, jtj, jtr []float64) {
		for r := 0; r < n; r++ {
			e := res(p, r, jac)
			if e == 0 {
				continue
			}
			for a := 0; a < dim; a++ {
				ja := jac[idx[a]]
				jtr[a] += ja * e
				for bb := 0; bb < dim; bb++ {
					jtj[a*dim+bb] += ja * jac[idx[bb]]
				}
			}
		}
	}
	return f.levenberg(p, idx, 50, 1e-15, cost, normal)
}

// levenberg is the Levenberg–Marquardt loop over the parameters idx,
// within the ranges: cost is the sum of squared residuals at p, normal
// adds JᵀJ (dim×dim, over idx) and Jᵀr at p into jtj and jtr. It stops
// after iters iterations, or when a step gains less than gain of the cost.
func (f *stackFit) levenberg(p []float64, idx []int, iters int, gain float64, cost func(p []float64) float64, normal func(p, jtj, jtr []float64)) []float64 {
	lambda := 1e-3
	cur := cost(p)
	dim := len(idx)
	jtj := make([]float64, dim*dim)
	jtr := make([]float64, dim)
	for iter := 0; iter < iters && cur > 0; iter++ {
		clear(jtj)
		clear(jtr)
		normal(p, jtj, jtr)
		improved := false
		for try := 0; try < 12; try++ {
			step, ok := solve(jtj, jtr, dim, lambda)
			if !ok {
				lambda *= 10
				continue
			}
			q := append([]float64(nil), p...)
			for a := 0; a < dim; a++ {
				i := idx[a]
				q[i] = math.Min(math.Max(q[i]-step[a], f.params[i].Lo), f.params[i].Hi)
			}
			if nc := cost(q); nc < cur {
				improved = cur-nc > gain*cur
				p, cur = q, nc
				lambda = math.Max(lambda/10, 1e-12)
				break
			}
			lambda *= 10
		}
		if !improved {
			break
		}
	}
	return p
}

// solve solves (JᵀJ + λ·diag(JᵀJ)) x = Jᵀr, the damped normal equations.
func solve(jtj, jtr []float64, n int, lambda float64) ([]float64, bool) {
	a := mat.NewSymDense(n, append([]float64(nil), jtj...))
	for i := 0; i < n; i++ {
		a.SetSym(i, i, a.At(i, i)+lambda*math.Max(a.At(i, i), 1e-12))
	}
	var c mat.Cholesky
	if !c.Factorize(a) {
		return nil, false
	}
	x := mat.NewVecDense(n, nil)
	if err := c.SolveVecTo(x, mat.NewVecDense(n, append([]float64(nil), jtr...))); err != nil {
		return nil, false
	}
	return x.RawVector().Data, true
}

// pattern searches the exact loss from p, the last step of the fit: the
// stored outputs make the loss piecewise constant in every parameter,
// which gradients do not see, and its valleys run along correlated
// directions (γ against gain and bias), which steps along one parameter at
// a time do not follow. Coordinate steps first, then lines in random
// directions with a shrinking radius.
func (f *stackFit) pattern(p []float64) []float64 {
	p = f.coordinate(p)
	r := rand.New(rand.NewPCG(f.s.Seed, 0x9a77e2))
	cur := f.loss(p)
	radius := 0.02
	u := make([]float64, len(p))
	for fails := 0; radius > 1e-5 && cur > 0; {
		for i, pp := range f.params {
			u[i] = r.NormFloat64() * (pp.Hi - pp.Lo) * radius
		}
		best, bestT := cur, 0.0
		for _, t := range [...]float64{1, -1, 0.5, -0.5, 0.25, -0.25, 0.125, -0.125, 0.0625, -0.0625} {
			q := f.along(p, u, t)
			if l := f.loss(q); l < best {
				best, bestT = l, t
			}
		}
		if bestT != 0 {
			p, cur, fails = f.along(p, u, bestT), best, 0
			continue
		}
		if fails++; fails >= 60 {
			radius, fails = radius/2, 0
		}
	}
	return p
}

// along returns p + t·u clipped to the ranges.
func (f *stackFit) along(p, u []float64, t float64) []float64 {
	q := make([]float64, len(p))
	for i, pp := range f.params {
		q[i] = math.Min(math.Max(p[i]+t*u[i], pp.Lo), pp.Hi)
	}
	return q
}

// coordinate is a Hooke–Jeeves search along one parameter at a time.
func (f *stackFit) coordinate(p []float64) []float64 {
	p = append([]float64(nil), p...)
	step := make([]float64, len(p))
	for i, pp := range f.params {
		step[i] = (pp.Hi - pp.Lo) / 500
	}
	cur := f.loss(p)
	for round := 0; round < 12; round++ {
		improved := false
		for i := range p {
			for _, dir := range []float64{1, -1} {
				for {
					q := append([]float64(nil), p...)
					q[i] = math.Min(math.Max(p[i]+dir*step[i], f.params[i].Lo), f.params[i].Hi)
					l := f.loss(q)
					if !(l < cur) {
						break
					}
					p, cur, improved = q, l, true
				}
			}
		}
		if !improved {
			for i := range step {
				step[i] /= 3
			}
		}
	}
	return p
}
