package kernels

// A look (package host/look) is built of tone curves, a colour matrix and a
// 3D lattice, each linear in its table's values. The tables' evaluation and
// the normal equations that fit them are here: the per-pixel part.

// Curve is a tone curve: values V at len(V) uniformly spaced knots over
// [Lo, Hi], linear between them and constant beyond. With Lo = 0, Hi = 1 and
// 256 knots, every 8-bit value falls on a knot.
type Curve struct {
	Lo float64   `json:"lo"`
	Hi float64   `json:"hi"`
	V  []float64 `json:"v"`
}

// Knot returns the interval i of x and its fraction t: the curve at x is
// (1−t)·V[i] + t·V[i+1], with i+1 < len(V) (t = 0 beyond the ends).
func (c *Curve) Knot(x float64) (int, float64) {
	n := len(c.V) - 1
	u := (x - c.Lo) / (c.Hi - c.Lo) * float64(n)
	switch {
	case !(u > 0):
		return 0, 0
	case u >= float64(n):
		return n - 1, 1
	}
	i := int(u)
	if i >= n {
		i = n - 1
	}
	return i, u - float64(i)
}

// At is the curve's value at x.
func (c *Curve) At(x float64) float64 {
	i, t := c.Knot(x)
	return c.V[i] + t*(c.V[i+1]-c.V[i])
}

// Slope is the curve's derivative at x (0 beyond the ends).
func (c *Curve) Slope(x float64) float64 {
	u := (x - c.Lo) / (c.Hi - c.Lo)
	if !(u > 0) || u >= 1 {
		return 0
	}
	i, _ := c.Knot(x)
	return (c.V[i+1] - c.V[i]) * float64(len(c.V)-1) / (c.Hi - c.Lo)
}

// Lattice is a 3D lookup table over [0,1]³: N³ nodes, red fastest, three
// values each (V[3·(r + N·(g + N·b)) + c]), interpolated trilinearly.
type Lattice struct {
	N int       `json:"n"`
	V []float64 `json:"v"`
}

// NewLattice returns the identity lattice of n³ nodes.
func NewLattice(n int) *Lattice {
	l := &Lattice{N: n, V: make([]float64, 3*n*n*n)}
	for b := range n {
		for g := range n {
			for r := range n {
				i := 3 * (r + n*(g+n*b))
				l.V[i], l.V[i+1], l.V[i+2] = float64(r)/float64(n-1), float64(g)/float64(n-1), float64(b)/float64(n-1)
			}
		}
	}
	return l
}

// cell returns the lower node index of x's cell on an axis of n nodes and
// the fraction within it, x clamped to [0,1].
func cell(x float64, n int) (int, float64) {
	u := x * float64(n-1)
	if !(u > 0) {
		return 0, 0
	}
	if u >= float64(n-1) {
		return n - 2, 1
	}
	i := int(u)
	return i, u - float64(i)
}

// Corners writes the 8 nodes of the cell holding (r, g, b) and their
// trilinear weights, corner k at offset (k&1, k>>1&1, k>>2) from the lowest.
func (l *Lattice) Corners(r, g, b float64, idx *[8]int32, w *[8]float64) {
	n := l.N
	ir, tr := cell(r, n)
	ig, tg := cell(g, n)
	ib, tb := cell(b, n)
	base := ir + n*(ig+n*ib)
	for k := range 8 {
		dr, dg, db := k&1, k>>1&1, k>>2
		idx[k] = int32(base + dr + n*(dg+n*db))
		wr, wg, wb := 1-tr, 1-tg, 1-tb
		if dr == 1 {
			wr = tr
		}
		if dg == 1 {
			wg = tg
		}
		if db == 1 {
			wb = tb
		}
		w[k] = wr * wg * wb
	}
}

// At is the lattice's value at (r, g, b).
func (l *Lattice) At(r, g, b float64) (out [3]float64) {
	var idx [8]int32
	var w [8]float64
	l.Corners(r, g, b, &idx, &w)
	for k := range 8 {
		v := l.V[3*idx[k]:]
		out[0] += w[k] * v[0]
		out[1] += w[k] * v[1]
		out[2] += w[k] * v[2]
	}
	return out
}

// CurveSystem gathers the normal equations of a curve's knot values fitted
// by least squares: Σ wᵢ (curve(xᵢ) − yᵢ)². A is tridiagonal (Diag, Off:
// Off[i] couples knots i and i+1), B its right side; Count the weight that
// fell on each knot.
type CurveSystem struct {
	Diag, Off, B, Count []float64
}

// NewCurveSystem returns an empty system for a curve of n knots.
func NewCurveSystem(n int) *CurveSystem {
	return &CurveSystem{Diag: make([]float64, n), Off: make([]float64, n-1), B: make([]float64, n), Count: make([]float64, n)}
}

// Add adds one sample: interval i, fraction t (Curve.Knot), target y,
// weight w.
func (s *CurveSystem) Add(i int, t, y, w float64) {
	a, b := w*(1-t), w*t
	s.Diag[i] += a * (1 - t)
	s.Diag[i+1] += b * t
	s.Off[i] += a * t
	s.B[i] += a * y
	s.B[i+1] += b * y
	s.Count[i] += a
	s.Count[i+1] += b
}

// Merge adds o into s.
func (s *CurveSystem) Merge(o *CurveSystem) {
	for i := range s.Diag {
		s.Diag[i] += o.Diag[i]
		s.B[i] += o.B[i]
		s.Count[i] += o.Count[i]
	}
	for i := range s.Off {
		s.Off[i] += o.Off[i]
	}
}

// Stencil is the number of node offsets in {−1, 0, 1}³ that two corners of
// one lattice cell can be apart.
const Stencil = 27

// LatticeSystem gathers the normal equations of a lattice's node values
// fitted by least squares, Σ wᵢ (lattice(xᵢ) − yᵢ)² per channel: A is
// shared by the three channels (the weights depend on the input alone) and
// stored by stencil, A[27·i + o] coupling node i with its neighbour at
// offset o = (dr+1) + 3(dg+1) + 9(db+1); B holds the three right sides.
type LatticeSystem struct {
	N     int
	A     []float64
	B     []float64
	Count []float64
}

// NewLatticeSystem returns an empty system for a lattice of n³ nodes.
func NewLatticeSystem(n int) *LatticeSystem {
	m := n * n * n
	return &LatticeSystem{N: n, A: make([]float64, Stencil*m), B: make([]float64, 3*m), Count: make([]float64, m)}
}

// Add adds one sample at input (r, g, b) with targets y and weight w. It is
// the specification of the scatter: each of the cell's 8 corners gets
// w·wₖ·y in B and w·wₖ·wₗ in A for every corner l.
func (s *LatticeSystem) Add(l *Lattice, r, g, b float64, y [3]float64, w float64) {
	var idx [8]int32
	var wt [8]float64
	l.Corners(r, g, b, &idx, &wt)
	for k := range 8 {
		wk := w * wt[k]
		if wk == 0 {
			continue
		}
		i := int(idx[k])
		s.Count[i] += wk
		s.B[3*i] += wk * y[0]
		s.B[3*i+1] += wk * y[1]
		s.B[3*i+2] += wk * y[2]
		row := s.A[Stencil*i:]
		for m := range 8 {
			// corner m's offset from corner k, each axis in {−1, 0, 1}
			o := (m&1 - k&1 + 1) + 3*(m>>1&1-k>>1&1+1) + 9*(m>>2-k>>2+1)
			row[o] += wk * wt[m]
		}
	}
}

// Merge adds o into s.
func (s *LatticeSystem) Merge(o *LatticeSystem) {
	for i, v := range o.A {
		s.A[i] += v
	}
	for i, v := range o.B {
		s.B[i] += v
	}
	for i, v := range o.Count {
		s.Count[i] += v
	}
}

// Neighbour is the node at stencil offset o from node i of an n³ lattice,
// or −1 outside it.
func Neighbour(n, i, o int) int {
	r, g, b := i%n+o%3-1, i/n%n+o/3%3-1, i/(n*n)+o/9-1
	if r < 0 || g < 0 || b < 0 || r >= n || g >= n || b >= n {
		return -1
	}
	return r + n*(g+n*b)
}
