package kernels

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// Spatial reports whether the stack holds an image operator: it is then
// evaluated on whole images (ImageEvaluator), never on grouped samples.
func (st *Stack) Spatial() bool {
	for _, op := range st.Ops {
		if _, ok := op.(ImageOp); ok {
			return true
		}
	}
	return false
}

// ImageEvaluator evaluates a spatial stack's mean loss and gradient over
// pairs of whole images, every sample of every channel: forward through
// the operators with one tangent image per parameter (forward mode, as
// the image operators are affine in their input and the others pixel-wise),
// the storage rounding and the loss at the end.
type ImageEvaluator struct {
	st    *Stack
	sizes []int
	xs    []Planes
	ts    []Planes
	total float64
	inner []image.Rectangle // the samples summed, per pair (SetInteriors)
	ws    Workspace         // the planes of the current forward pass
	jac   []float64         // CellSums's tangents at one sample
}

// NewImageEvaluator returns an evaluator of st over the originals xs and
// their targets ts (same sizes and channels, pair by pair).
func NewImageEvaluator(st *Stack, xs, ts []Planes) (*ImageEvaluator, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	total, err := CheckImagePairs(st, xs, ts)
	if err != nil {
		return nil, err
	}
	e := &ImageEvaluator{st: st, sizes: st.sizes(), xs: xs, ts: ts, total: total}
	e.inner, _, _ = Interiors(xs, nil)
	return e, nil
}

// Interiors checks rs, one rectangle inside each pair's image (nil: the
// whole images), and returns them with the number of samples they hold:
// the check of SetInteriors on every image evaluator.
func Interiors(xs []Planes, rs []image.Rectangle) ([]image.Rectangle, float64, error) {
	if rs == nil {
		rs = make([]image.Rectangle, len(xs))
		for i, x := range xs {
			rs[i] = image.Rect(0, 0, x.W, x.H)
		}
	}
	if len(rs) != len(xs) {
		return nil, 0, fmt.Errorf("kernels: %d interiors for %d pairs", len(rs), len(xs))
	}
	total := 0.0
	for i, r := range rs {
		if r.Empty() || !r.In(image.Rect(0, 0, xs[i].W, xs[i].H)) {
			return nil, 0, fmt.Errorf("kernels: interior %v of pair %d is empty or outside its %dx%d image", r, i+1, xs[i].W, xs[i].H)
		}
		total += float64(r.Dx() * r.Dy() * len(xs[i].C))
	}
	return rs, total, nil
}

// SetInteriors restricts the sums (loss, gradient, cells) to one rectangle
// of each pair's image, nil to the whole images: tiles cut from larger
// images with a border, which the spatial operators read but whose
// samples, blurred without what lies beyond the tile, are not summed.
func (e *ImageEvaluator) SetInteriors(rs []image.Rectangle) error {
	inner, total, err := Interiors(e.xs, rs)
	if err != nil {
		return err
	}
	e.inner, e.total = inner, total
	return nil
}

// each calls f with every summed sample index of pair i's planes.
func (e *ImageEvaluator) each(i int, f func(s int)) {
	r, w := e.inner[i], e.xs[i].W
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for s := y*w + r.Min.X; s < y*w+r.Max.X; s++ {
			f(s)
		}
	}
}

// CheckImagePairs checks that xs and ts pair up for st (each pair of one
// size and channel count, every pair of the first's channels, three where
// a colour matrix needs them) and returns their number of samples: the
// check of every image evaluator, the CPU's and the GPU's.
func CheckImagePairs(st *Stack, xs, ts []Planes) (float64, error) {
	if len(xs) == 0 || len(xs) != len(ts) {
		return 0, errors.New("kernels: an image stack needs pairs of images")
	}
	total := 0.0
	for i, x := range xs {
		t := ts[i]
		if x.W != t.W || x.H != t.H || len(x.C) != len(t.C) || len(x.C) != len(xs[0].C) {
			return 0, fmt.Errorf("kernels: pair %d: %dx%d×%d against %dx%d×%d (the first has %d channels)", i+1, x.W, x.H, len(x.C), t.W, t.H, len(t.C), len(xs[0].C))
		}
		for _, op := range st.Ops {
			if _, ok := op.(ColorMatrix); ok && len(x.C) != 3 {
				return 0, fieldError("Stack", st.Name(), "colormatrix mixes three colour channels: pair %d is grey", i+1)
			}
		}
		total += float64(len(x.C) * x.W * x.H)
	}
	return total, nil
}

// Err is always nil: the CPU cannot fail.
func (e *ImageEvaluator) Err() error { return nil }

// Stack returns the evaluator's stack.
func (e *ImageEvaluator) Stack() *Stack { return e.st }

// Pairs returns the number of image pairs.
func (e *ImageEvaluator) Pairs() int { return len(e.xs) }

// Target returns the targets of pair i.
func (e *ImageEvaluator) Target(i int) Planes { return e.ts[i] }

// Forward runs the first n operators of the stack on the original of
// pair i, without the storage rounding, and with tangents its derivatives
// in those operators' parameters (p holds only theirs). The planes it
// returns are the evaluator's own, valid until its next pass (Forward,
// Loss, LossGrad, CellSums): every pass reuses them.
func (e *ImageEvaluator) Forward(i, n int, p []float64, tangents bool) (Planes, []Planes) {
	e.ws.Reset()
	cur := e.xs[i]
	var tan []Planes
	off := 0
	for k, op := range e.st.Ops[:n] {
		q := p[off : off+e.sizes[k]]
		off += e.sizes[k]
		if io, ok := op.(ImageOp); ok {
			cur, tan = io.ApplyImage(&e.ws, cur, q, tan, tangents)
			continue
		}
		cur, tan = pixelApply(&e.ws, op, cur, q, tan, tangents)
	}
	return cur, tan
}

// pixelApply applies a pixel-wise operator to every sample, with the
// chain rule on the tangents and one new tangent per parameter.
func pixelApply(ws *Workspace, op Op, x Planes, p []float64, tx []Planes, tangents bool) (Planes, []Planes) {
	np := len(p)
	y := ws.Planes(x.W, x.H, len(x.C))
	var ty []Planes
	if tangents {
		// tx's planes were lent by ws too, and each is read only at the
		// sample it is written: the chain rule can run in place.
		ty = append(tx, make([]Planes, np)...)
		for j := len(tx); j < len(ty); j++ {
			ty[j] = ws.Planes(x.W, x.H, len(x.C))
		}
	}
	if v, ok := op.(Valuer); ok && !tangents {
		for c, pl := range x.C {
			yc := y.C[c]
			Parallel(x.H, func(lo, hi int) {
				for i := lo * x.W; i < hi*x.W; i++ {
					yc[i] = v.Value(pl[i], p)
				}
			})
		}
		return y, nil
	}
	for c, pl := range x.C {
		Parallel(x.H, func(lo, hi int) {
			var dp [MaxParams]float64
			for i := lo * x.W; i < hi*x.W; i++ {
				v, d := op.Apply(pl[i], p, dp[:np])
				y.C[c][i] = v
				if !tangents {
					continue
				}
				for j := range tx {
					ty[j].C[c][i] *= d
				}
				for k := range np {
					ty[len(tx)+k].C[c][i] = dp[k]
				}
			}
		})
	}
	return y, ty
}

// LossGrad returns the mean loss at p (the pixel-wise operators' own
// forward passes, the quantizer's included) and writes the mean gradient,
// through the surrogate of the quantizer.
func (e *ImageEvaluator) LossGrad(p, grad []float64) float64 { return e.mean(p, grad[:len(p)]) }

// Loss returns the exact mean loss at p.
func (e *ImageEvaluator) Loss(p []float64) float64 { return e.mean(p, nil) }

// mean is the mean loss at p and, with grad, its gradient written there
// (tangents are carried only then).
func (e *ImageEvaluator) mean(p, grad []float64) float64 {
	clear(grad)
	sum := 0.0
	for i := range e.xs {
		y, tan := e.Forward(i, len(e.st.Ops), p, grad != nil)
		t := e.ts[i]
		for c := range y.C {
			yc, tc := y.C[c], t.C[c]
			e.each(i, func(s int) {
				v := yc[s]
				l, g := e.st.Loss.Eval(e.st.store(v) - tc[s])
				sum += l
				if grad == nil || v < 0 || v > 1 {
					return
				}
				for j := range grad {
					grad[j] += g * tan[j].C[c][s]
				}
			})
		}
	}
	for j := range grad {
		grad[j] /= e.total
	}
	return sum / e.total
}

// Cells are the quantization cells of a quantizer at b, the last operator
// of a stack: the residual of a sample whose value before the quantizer is
// g and whose stored target is t is g's distance to the cell that t names
// (Residual). Their sums over images are the Levenberg–Marquardt fit of
// the smooth parameters with b fixed (CellSums).
type Cells struct {
	// S, C, D are the quantizer's b − shift and offsets (Model.Offsets).
	S, C, D float64
	// Kb and Kt are the lowest and highest levels a stored value can
	// name; their cells are open below and above.
	Kb, Kt float64
	// Middle measures every sample from its cell's middle instead (a
	// smooth start): zero only at the middle.
	Middle bool
}

// NewCells returns the cells of the quantizer of model m at b, for targets
// rounded to levels stored levels (0: unrounded).
func NewCells(m Model, b, levels float64, middle bool) Cells {
	c, d := m.Offsets()
	half := 0.0
	if levels > 0 {
		half = 0.5 / levels
	}
	s := b - m.Shift()
	return Cells{S: s, C: c, D: d, Kb: math.Ceil(s*half-d) - 1, Kt: math.Ceil(s*(1-half) - d), Middle: middle}
}

// level is the level that stored value t names.
func (c Cells) level(t float64) float64 {
	// A stored 1 (or 0) is every level from Kt up (Kb down) clamped, not
	// the level nearest to it: the nearest can be one below Kt, whose
	// cell is closed above.
	if t >= 1 {
		return c.Kt
	}
	if t <= 0 {
		return c.Kb
	}
	return math.Max(c.Kb, math.Min(c.Kt, math.Round(t*c.S-c.D)))
}

// Cell returns the level k that stored value t names and the bounds of
// its cell, lo ≤ x·s + c − k < hi: −Inf below the lowest level's, +Inf
// above the highest's.
func (c Cells) Cell(t float64) (k, lo, hi float64) {
	k = c.level(t)
	lo, hi = (k-c.C)/c.S, (k+1-c.C)/c.S
	if k <= c.Kb {
		lo = math.Inf(-1)
	}
	if k >= c.Kt {
		hi = math.Inf(1)
	}
	return k, lo, hi
}

// Residual is g's distance to the cell of the level that t names, 0
// inside it.
func (c Cells) Residual(g, t float64) float64 {
	_, lo, hi := c.Cell(t)
	switch {
	case g < lo:
		return g - lo
	case g > hi:
		return g - hi
	case c.Middle && !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
		return g - (lo+hi)/2
	}
	return 0
}

// CellSums runs every operator but the last (the quantizer) at p (their
// parameters only) and returns Σr² of the cells' residuals over every
// sample; given jtj (dim×dim, dim = len(p)) and jtr it adds the normal
// equations' terms JᵀJ and Jᵀr, J the tangents in p (and then carries
// them).
func (e *ImageEvaluator) CellSums(p []float64, cells Cells, jtj, jtr []float64) float64 {
	n := len(e.st.Ops) - 1
	dim := len(p)
	sum := 0.0
	if cap(e.jac) < dim {
		e.jac = make([]float64, dim)
	}
	jac := e.jac[:dim]
	for i := range e.xs {
		g, tan := e.Forward(i, n, p, jtj != nil)
		t := e.ts[i]
		for ch := range g.C {
			gc, tc := g.C[ch], t.C[ch]
			e.each(i, func(k int) {
				r := cells.Residual(gc[k], tc[k])
				sum += r * r
				if r == 0 || jtj == nil {
					return
				}
				for a := range dim {
					jac[a] = tan[a].C[ch][k]
				}
				for a := range dim {
					jtr[a] += jac[a] * r
					for b := a; b < dim; b++ {
						jtj[a*dim+b] += jac[a] * jac[b]
					}
				}
			})
		}
	}
	for a := 0; a < dim && jtj != nil; a++ {
		for b := 0; b < a; b++ {
			jtj[a*dim+b] = jtj[b*dim+a]
		}
	}
	return sum
}
