package kernels

import (
	"math"
	"sync"
)

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

// LookStack is the smooth stack of a look (package host/look), the tables
// it holds saying which: a Matrix (with its Post curves) makes
// u_c = Σ m_cj·x_j + o_c, y_c = Post_c(u_c); otherwise y_c = Curves_c(x_c),
// plus the Lattice's output when there is one.
type LookStack struct {
	Curves  []Curve      `json:"curves,omitempty"`
	Matrix  [][4]float64 `json:"matrix,omitempty"`
	Post    []Curve      `json:"post,omitempty"`
	Lattice *Lattice     `json:"lut,omitempty"`
}

// Smooth evaluates the stack at x (x[1], x[2] unused for one channel).
// It is the specification of look.comp's lookSmooth.
func (s *LookStack) Smooth(x [3]float64) (y [3]float64) {
	if s.Matrix != nil {
		for c := range 3 {
			m := s.Matrix[c]
			y[c] = s.Post[c].At(m[0]*x[0] + m[1]*x[1] + m[2]*x[2] + m[3])
		}
		return y
	}
	if s.Lattice != nil {
		y = s.Lattice.At(x[0], x[1], x[2])
	}
	for c := range s.Curves {
		y[c] += s.Curves[c].At(x[c])
	}
	return y
}

// LookData are the samples a look is fitted to: originals X and, per
// channel, the interval [Lo, Hi] each output must reach (a point without a
// quantizer, the sample's quantization cell with one, open at an end as
// ±Inf).
type LookData struct {
	N, Channels int
	X, Lo, Hi   [3][]float32
	// Width is the width an open cell is taken to have when the first
	// targets are its middle.
	Width float64
}

// LookPasses are the per-sample passes of a look's fit, over data held
// where they run: the CPU's (NewCPULook, the specification) or a GPU's
// (package gpu, shaders/look.comp).
type LookPasses interface {
	// Targets sets each sample's target: st's output projected onto its
	// interval, or with st nil the interval's middle (an open one taken
	// as Width wide).
	Targets(st *LookStack)
	// CurveSystems returns, per channel c, the normal equations of a
	// curve over the knots of like[c] (its range and size) fitted to the
	// targets less minus's output (nil: nothing), the curve's input being
	// x_c or, with m, u_c = Σ m_cj·x_j + o_c.
	CurveSystems(like []Curve, m [][4]float64, minus *Lattice) []*CurveSystem
	// LatticeRHS returns the right-hand sides (3 a node) of an n³
	// lattice's normal equations for the targets less the curves' output
	// (nil: nothing).
	LatticeRHS(n int, minus []Curve) []float64
	// T returns the targets.
	T() [3][]float32
	// Err is the first error of a pass (a lost GPU context); the CPU's is
	// always nil.
	Err() error
	Close()
}

// residualBound keeps a residual within what the GPU's fixed-point sums
// hold (look.comp): far beyond any output of a look.
const residualBound = 7.5

func boundResidual(r float64) float64 { return math.Max(-residualBound, math.Min(residualBound, r)) }

// CPULook runs a look's passes on the CPU, all cores.
type CPULook struct {
	d *LookData
	t [3][]float32
}

// NewCPULook returns the CPU's passes over d.
func NewCPULook(d *LookData) *CPULook {
	p := &CPULook{d: d}
	for c := range d.Channels {
		p.t[c] = make([]float32, d.N)
	}
	return p
}

func (p *CPULook) x(i int) [3]float64 {
	return [3]float64{float64(p.d.X[0][i]), float64(p.d.X[1][i]), float64(p.d.X[2][i])}
}

// Targets implements LookPasses.
func (p *CPULook) Targets(st *LookStack) {
	d := p.d
	Parallel(d.N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var y [3]float64
			if st != nil {
				y = st.Smooth(p.x(i))
			}
			for c := range d.Channels {
				l, h := float64(d.Lo[c][i]), float64(d.Hi[c][i])
				if st != nil {
					p.t[c][i] = float32(math.Max(l, math.Min(h, y[c])))
					continue
				}
				switch {
				case math.IsInf(l, -1):
					l = h - d.Width
				case math.IsInf(h, 1):
					h = l + d.Width
				}
				p.t[c][i] = float32((l + h) / 2)
			}
		}
	})
}

// CurveSystems implements LookPasses.
func (p *CPULook) CurveSystems(like []Curve, m [][4]float64, minus *Lattice) []*CurveSystem {
	d := p.d
	out := make([]*CurveSystem, d.Channels)
	for c := range out {
		out[c] = NewCurveSystem(len(like[c].V))
	}
	var mu sync.Mutex
	Parallel(d.N, func(lo, hi int) {
		own := make([]*CurveSystem, d.Channels)
		for c := range own {
			own[c] = NewCurveSystem(len(like[c].V))
		}
		for i := lo; i < hi; i++ {
			x := p.x(i)
			var part [3]float64
			if minus != nil {
				part = minus.At(x[0], x[1], x[2])
			}
			for c := range d.Channels {
				v := x[c]
				if m != nil {
					v = m[c][0]*x[0] + m[c][1]*x[1] + m[c][2]*x[2] + m[c][3]
				}
				k, f := like[c].Knot(v)
				own[c].Add(k, f, boundResidual(float64(p.t[c][i])-part[c]), 1)
			}
		}
		mu.Lock()
		for c := range out {
			out[c].Merge(own[c])
		}
		mu.Unlock()
	})
	return out
}

// LatticeRHS implements LookPasses.
func (p *CPULook) LatticeRHS(n int, minus []Curve) []float64 {
	d := p.d
	l := &Lattice{N: n}
	var mu sync.Mutex
	total := make([]float64, 3*n*n*n)
	Parallel(d.N, func(lo, hi int) {
		b := make([]float64, len(total))
		var idx [8]int32
		var w [8]float64
		for i := lo; i < hi; i++ {
			x := p.x(i)
			l.Corners(x[0], x[1], x[2], &idx, &w)
			var r [3]float64
			for c := range 3 {
				r[c] = float64(p.t[c][i])
				if minus != nil {
					r[c] -= minus[c].At(x[c])
				}
				r[c] = boundResidual(r[c])
			}
			for k := range 8 {
				j := 3 * int(idx[k])
				b[j] += w[k] * r[0]
				b[j+1] += w[k] * r[1]
				b[j+2] += w[k] * r[2]
			}
		}
		mu.Lock()
		for j, v := range b {
			total[j] += v
		}
		mu.Unlock()
	})
	return total
}

// T implements LookPasses.
func (p *CPULook) T() [3][]float32 { return p.t }

// Err implements LookPasses.
func (p *CPULook) Err() error { return nil }

// Close implements LookPasses.
func (p *CPULook) Close() {}
