package kernels

import "math"

// levelRows is the 8-bit histogram per original level as cumulative sums
// over the 256 target levels, so that under L1 and Huber one original
// level's whole row of cells costs a few lookups: a histogram step then
// visits at most 256 rows whatever the data, instead of up to 65536 cells.
// p0[r][k], p1[r][k], p2[r][k] sum c, c·t and c·t² over the target levels
// below k of row r.
type levelRows struct {
	x          []float64
	p0, p1, p2 [][257]float64
}

func newLevelRows(h *Histogram) *levelRows {
	lr := &levelRows{}
	for x := 0; x < 256; x++ {
		row := h.Counts[x<<8 : x<<8+256]
		var p0, p1, p2 [257]float64
		seen := false
		for t, c := range row {
			v := float64(Level8(t))
			p0[t+1] = p0[t] + float64(c)
			p1[t+1] = p1[t] + float64(c)*v
			p2[t+1] = p2[t] + float64(c)*v*v
			seen = seen || c > 0
		}
		if seen {
			lr.x = append(lr.x, float64(Level8(x)))
			lr.p0, lr.p1, lr.p2 = append(lr.p0, p0), append(lr.p1, p1), append(lr.p2, p2)
		}
	}
	return lr
}

// below returns the number of target levels t < v (strict) or, with
// orEqual, t ≤ v.
func below(v float64, orEqual bool) int {
	k := int(math.Floor(v * 255))
	k = max(-1, min(255, k))
	in := func(j int) bool {
		t := float64(Level8(j))
		if orEqual {
			return t <= v
		}
		return t < v
	}
	for k+1 <= 255 && in(k+1) {
		k++
	}
	for k >= 0 && !in(k) {
		k--
	}
	return k + 1
}

// rowLoss is Σ_t c_t·ℓ(y − t) over row r and its derivative in y, by
// differences of the cumulative sums: the same sum as over the row's cells.
func (lr *levelRows) rowLoss(r int, y float64, l Loss) (loss, dl float64) {
	p0, p1, p2 := &lr.p0[r], &lr.p1[r], &lr.p2[r]
	if l.Kind == L1 {
		lt, le := below(y, false), below(y, true)
		cl, sl := p0[lt], p1[lt]
		cg, sg := p0[256]-p0[le], p1[256]-p1[le]
		return y*cl - sl + sg - y*cg, cl - cg
	}
	// Huber: linear beyond δ on both sides, quadratic within.
	d := l.Delta
	a, b := below(y-d, false), below(y+d, true)
	cl, sl := p0[a], p1[a]
	cg, sg := p0[256]-p0[b], p1[256]-p1[b]
	cm, s1, s2 := p0[b]-p0[a], p1[b]-p1[a], p2[b]-p2[a]
	loss = d*(y*cl-sl) - d*d/2*cl + d*(sg-y*cg) - d*d/2*cg + (y*y*cm-2*y*s1+s2)/2
	dl = d*cl - d*cg + y*cm - s1
	return loss, dl
}

// rowsLossGrad is the histogram step under L1 and Huber over the rows.
func (e *Evaluator) rowsLossGrad() (loss, grad float64) {
	lr := e.wt.rows
	for r, x := range lr.x {
		y, dy := e.yDy(x)
		l, dl := lr.rowLoss(r, y, e.cfg.Loss)
		loss += l
		grad += dl * dy
	}
	return loss, grad
}

// rowsGauss is rowsLossGrad for the gaussian surrogate.
func (e *Evaluator) rowsGauss() (loss, grad float64) {
	lr := e.wt.rows
	m := len(e.eps)
	norm := 1 / (2 * e.cfg.Surrogate.Sigma * float64(m))
	for r, x := range lr.x {
		l, _ := lr.rowLoss(r, exactY(&e.sc, x), e.cfg.Loss)
		g := 0.0
		for j, ep := range e.eps {
			lp, _ := lr.rowLoss(r, exactY(&e.gauss[j], x), e.cfg.Loss)
			lm, _ := lr.rowLoss(r, exactY(&e.gauss[m+j], x), e.cfg.Loss)
			g += ep * (lp - lm)
		}
		loss += l
		grad += g * norm
	}
	return loss, grad
}

// rowsLosses is lossesLoop over the rows.
func (e *Evaluator) rowsLosses(out []float64) {
	lr := e.wt.rows
	for k := range e.cands {
		sc := &e.cands[k]
		sum := 0.0
		for r, x := range lr.x {
			l, _ := lr.rowLoss(r, exactY(sc, x), e.cfg.Loss)
			sum += l
		}
		out[k] = sum
	}
}

// yDy is one sample's forward value and surrogate dy/db, as the loops
// compute them.
func (e *Evaluator) yDy(x float64) (y, dy float64) {
	c := &e.cfg
	sc := &e.sc
	z := x*sc.s + sc.c
	fl := floorPos(z)
	switch k := c.Surrogate.Kind; {
	case (k == STE || k == Identity) && !c.SoftForward:
		a := 1.0
		if k == Identity {
			a = 0
		}
		y = (fl + sc.d) * sc.inv
		dy = (a*(z-fl) - sc.c - sc.d) * sc.inv2
	case k.Smooth() && e.tab != nil:
		q, q1 := e.tab.at(z - fl)
		fz := z + q
		y = (fl + sc.d) * sc.inv
		if c.SoftForward {
			y = (fz + sc.d) * sc.inv
		}
		dy = ((1+q1)*(z-sc.c) - fz - sc.d) * sc.inv2
	default:
		y, dy = c.Deriv(x, e.b)
		return y, dy
	}
	if y > 1 || y < 0 {
		y, dy = clamp01(y), 0
	}
	if !c.SoftForward {
		y = sc.store(y)
	}
	return y, dy
}
