package look

import (
	"math"
	"sync"

	"github.com/quantfit/quantfit/kernels"
	"gonum.org/v1/gonum/mat"
)

// Tables' sizes: input curves have a knot at every 8-bit level, the
// matrix's output curves a knot every half level of their range.
const (
	inputKnots = 256
	postKnots  = 512
)

// cellMargin keeps targets this share of a cell's width inside it, so
// that an output fitted to a cell's edge does not fall over it.
const cellMargin = 0.1

// problem is what a smooth stack is fitted to: each sample's smooth
// output must reach [lo, hi] per channel (a point without a quantizer,
// the sample's quantization cell with one).
type problem struct {
	*samples
	ch     int
	lo, hi [3][]float32
	q      *quantizer
}

func newProblem(s *samples, ch int, q *quantizer) *problem {
	p := &problem{samples: s, ch: ch, q: q}
	for c := range ch {
		if q == nil {
			p.lo[c], p.hi[c] = s.y[c], s.y[c]
			continue
		}
		p.lo[c], p.hi[c] = make([]float32, s.n), make([]float32, s.n)
		w := 1 / q.cells.S
		for i, y := range s.y[c] {
			_, lo, hi := q.cells.Cell(float64(y))
			lo += cellMargin * w
			hi -= cellMargin * w
			p.lo[c][i], p.hi[c][i] = float32(lo), float32(hi)
		}
	}
	return p
}

// targets writes each sample's target: its prediction projected onto its
// interval, or without predictions the interval's middle (an open cell
// taken as one cell wide).
func (p *problem) targets(pred, t [3][]float64) {
	for c := range p.ch {
		for i := range p.n {
			lo, hi := float64(p.lo[c][i]), float64(p.hi[c][i])
			if pred[c] != nil {
				t[c][i] = math.Max(lo, math.Min(hi, pred[c][i]))
				continue
			}
			w := 0.0
			if p.q != nil {
				w = (1 - 2*cellMargin) / p.q.cells.S
			}
			switch {
			case math.IsInf(lo, -1):
				lo = hi - w
			case math.IsInf(hi, 1):
				hi = lo + w
			}
			t[c][i] = (lo + hi) / 2
		}
	}
}

// stackFit is a smooth stack being fitted: refit moves its tables to the
// least-squares fit of targets t (warm, from the current tables), and l
// holds them.
type stackFit interface {
	refit(p *problem, t [3][]float64)
	look() *Look
}

// fitStack fits the smooth stack named name, then the quantizer's levels.
// Without a quantizer one refit fits the targets; with one, rounds of
// projection onto the cells and refits descend the squared distance of
// the smooth outputs to their cells: the gradient the quantizer passes
// back is the way to its cell.
func fitStack(name string, ch int, s *samples, q *quantizer, set Settings) *Look {
	p := newProblem(s, ch, q)
	var f stackFit
	switch name {
	case Matrix:
		f = &matrixFit{smooth: set.Smooth}
	case LUT:
		f = &lutFit{smooth: set.Smooth, size: set.LUTSize}
	default:
		f = &curvesFit{smooth: set.Smooth}
	}
	var pred, t [3][]float64
	for c := range ch {
		t[c] = make([]float64, s.n)
	}
	rounds := 1
	if q != nil {
		rounds = 8
	}
	for r := range rounds {
		p.targets(pred, t)
		f.refit(p, t)
		if r+1 < rounds {
			l := f.look()
			l.Channels, l.Stack = ch, name
			for c := range ch {
				if pred[c] == nil {
					pred[c] = make([]float64, s.n)
				}
			}
			kernels.Parallel(s.n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					y := l.Smooth(s.at(i))
					for c := range ch {
						pred[c][i] = y[c]
					}
				}
			})
		}
	}
	l := f.look()
	l.Version, l.Channels, l.Stack = Version, ch, name
	if q != nil {
		l.Stack += ",quantize"
		l.Quantizer = storedLevels(s, ch, q)
	}
	return l
}

// storedLevels are the quantizer's levels as the edited images store
// them: each level's most frequent value, the model's own where no sample
// names the level.
func storedLevels(s *samples, ch int, q *quantizer) *Quantizer {
	out := &Quantizer{Model: q.model.String(), B: q.b, model: q.model}
	for c := range ch {
		lv := defaultLevels(q.model, q.b)
		counts := make([]map[float32]int, len(lv))
		for _, y := range s.y[c] {
			k, _, _ := q.cells.Cell(float64(y))
			ki := max(0, min(int(k), len(lv)-1))
			if counts[ki] == nil {
				counts[ki] = make(map[float32]int)
			}
			counts[ki][y]++
		}
		for k, m := range counts {
			best := 0
			for v, n := range m {
				if n > best || (n == best && float64(v) < lv[k]) {
					best, lv[k] = n, float64(v)
				}
			}
		}
		out.Levels = append(out.Levels, lv)
	}
	return out
}

// fitCurve fits a curve of n knots over [lo, hi] to (x[i], t[i]).
func fitCurve(x []float32, xs func(i int) float64, t []float64, n int, lo, hi, smooth float64) kernels.Curve {
	cv := kernels.Curve{Lo: lo, Hi: hi, V: make([]float64, n)}
	sys := kernels.NewCurveSystem(n)
	for i, v := range t {
		xi := 0.0
		if x != nil {
			xi = float64(x[i])
		} else {
			xi = xs(i)
		}
		k, f := cv.Knot(xi)
		sys.Add(k, f, v, 1)
	}
	// the prior's weight: a small share of the samples a knot gets on
	// average, so that a knot of a few samples keeps them
	cv.V = solveCurve(sys, smooth*1e-4*float64(len(t))/float64(n))
	return cv
}

type curvesFit struct {
	smooth float64
	c      []kernels.Curve
}

func (f *curvesFit) refit(p *problem, t [3][]float64) {
	f.c = make([]kernels.Curve, p.ch)
	for c := range p.ch {
		f.c[c] = fitCurve(p.x[c], nil, t[c], inputKnots, 0, 1, f.smooth)
	}
}

func (f *curvesFit) look() *Look { return &Look{Curves: f.c} }

// matrixFit is u = M·x + o, then a curve per channel; fitted by turns:
// the curves to the targets given u, then a damped Gauss-Newton step of
// each row of M given the curves.
type matrixFit struct {
	smooth float64
	m      [][4]float64
	post   []kernels.Curve
}

func (f *matrixFit) look() *Look { return &Look{Matrix: f.m, Post: f.post} }

func (f *matrixFit) u(p *problem, c, i int) float64 {
	m := f.m[c]
	return m[0]*float64(p.x[0][i]) + m[1]*float64(p.x[1][i]) + m[2]*float64(p.x[2][i]) + m[3]
}

func (f *matrixFit) refit(p *problem, t [3][]float64) {
	turns := 2
	if f.m == nil {
		f.m = make([][4]float64, 3)
		f.post = make([]kernels.Curve, 3)
		f.initMatrix(p, t)
		turns = 6
	}
	for range turns {
		for c := range 3 {
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := range p.n {
				u := f.u(p, c, i)
				lo, hi = math.Min(lo, u), math.Max(hi, u)
			}
			pad := 1e-3 + 0.01*(hi-lo)
			f.post[c] = fitCurve(nil, func(i int) float64 { return f.u(p, c, i) }, t[c], postKnots, lo-pad, hi+pad, f.smooth)
			f.step(p, c, t[c])
		}
	}
}

// initMatrix fits M, o by least squares on the samples whose targets lie
// inside (0, 1) in every channel: the edit's clipping left them alone.
func (f *matrixFit) initMatrix(p *problem, t [3][]float64) {
	inside := func(i int) bool {
		for c := range 3 {
			if !(t[c][i] > 0.02 && t[c][i] < 0.98) {
				return false
			}
		}
		return true
	}
	n := 0
	for i := range p.n {
		if inside(i) {
			n++
		}
	}
	use := func(i int) bool { return n < 64 || inside(i) }
	for c := range 3 {
		var a [16]float64
		var b [4]float64
		for i := range p.n {
			if !use(i) {
				continue
			}
			r := [4]float64{float64(p.x[0][i]), float64(p.x[1][i]), float64(p.x[2][i]), 1}
			for j := range 4 {
				b[j] += r[j] * t[c][i]
				for k := range 4 {
					a[4*j+k] += r[j] * r[k]
				}
			}
		}
		f.m[c] = solve4(a, b, 1e-9)
	}
}

// step is one damped Gauss-Newton step of row c of the matrix, kept if it
// lowers the squared error.
func (f *matrixFit) step(p *problem, c int, t []float64) {
	sse := func(m [4]float64) float64 {
		s := 0.0
		for i := range p.n {
			u := m[0]*float64(p.x[0][i]) + m[1]*float64(p.x[1][i]) + m[2]*float64(p.x[2][i]) + m[3]
			d := f.post[c].At(u) - t[i]
			s += d * d
		}
		return s
	}
	var a [16]float64
	var g [4]float64
	for i := range p.n {
		u := f.u(p, c, i)
		d := f.post[c].Slope(u)
		if d == 0 {
			continue
		}
		r := t[i] - f.post[c].At(u)
		j := [4]float64{d * float64(p.x[0][i]), d * float64(p.x[1][i]), d * float64(p.x[2][i]), d}
		for k := range 4 {
			g[k] += j[k] * r
			for m := range 4 {
				a[4*k+m] += j[k] * j[m]
			}
		}
	}
	old := sse(f.m[c])
	for mu := 1e-4; mu < 1e4; mu *= 10 {
		d := solve4(a, g, mu)
		m := f.m[c]
		for k := range 4 {
			m[k] += d[k]
		}
		if sse(m) < old {
			f.m[c] = m
			return
		}
	}
}

// solve4 solves (a + mu·diag(a) + ridge)·x = b.
func solve4(a [16]float64, b [4]float64, mu float64) [4]float64 {
	for k := range 4 {
		a[5*k] += mu*a[5*k] + ridge
	}
	var x [4]float64
	var s mat.VecDense
	if err := s.SolveVec(mat.NewDense(4, 4, a[:]), mat.NewVecDense(4, b[:])); err != nil {
		return x
	}
	copy(x[:], s.RawVector().Data)
	return x
}

// lutFit is a curve per channel plus a lattice, fitted by turns (each
// the least-squares fit of what the other leaves).
type lutFit struct {
	smooth float64
	size   int
	c      []kernels.Curve
	lat    *kernels.Lattice
	op     *latticeOp
}

func (f *lutFit) look() *Look { return &Look{Curves: f.c, Lattice: f.lat} }

func (f *lutFit) refit(p *problem, t [3][]float64) {
	turns := 2
	if f.lat == nil {
		f.lat = &kernels.Lattice{N: f.size, V: make([]float64, 3*f.size*f.size*f.size)}
		f.c = make([]kernels.Curve, 3)
		sys := latticeSystem(p.samples, f.lat)
		// the prior's weight: a share of the samples a node gets on average
		f.op = newLatticeOp(sys, f.smooth*0.01*float64(p.n)/float64(f.size*f.size*f.size))
		turns = 3
	}
	var r [3][]float64
	for c := range 3 {
		r[c] = make([]float64, p.n)
	}
	for range turns {
		kernels.Parallel(p.n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y := f.lat.At(float64(p.x[0][i]), float64(p.x[1][i]), float64(p.x[2][i]))
				for c := range 3 {
					r[c][i] = t[c][i] - y[c]
				}
			}
		})
		for c := range 3 {
			f.c[c] = fitCurve(p.x[c], nil, r[c], inputKnots, 0, 1, f.smooth)
		}
		b := latticeRHS(p, f.lat, func(c, i int) float64 { return t[c][i] - f.c[c].At(float64(p.x[c][i])) })
		solveLattice(f.op, b, f.lat.V, 1e-5, 300)
	}
}

// latticeSystem gathers the lattice's normal matrix over s, privately per
// worker, then merged.
func latticeSystem(s *samples, l *kernels.Lattice) *kernels.LatticeSystem {
	var mu sync.Mutex
	total := kernels.NewLatticeSystem(l.N)
	kernels.Parallel(s.n, func(lo, hi int) {
		sys := kernels.NewLatticeSystem(l.N)
		for i := lo; i < hi; i++ {
			sys.Add(l, float64(s.x[0][i]), float64(s.x[1][i]), float64(s.x[2][i]), [3]float64{}, 1)
		}
		mu.Lock()
		total.Merge(sys)
		mu.Unlock()
	})
	return total
}

// latticeRHS is the normal equations' right side for targets r(c, i).
func latticeRHS(p *problem, l *kernels.Lattice, r func(c, i int) float64) []float64 {
	var mu sync.Mutex
	total := make([]float64, len(l.V))
	kernels.Parallel(p.n, func(lo, hi int) {
		b := make([]float64, len(l.V))
		var idx [8]int32
		var w [8]float64
		for i := lo; i < hi; i++ {
			l.Corners(float64(p.x[0][i]), float64(p.x[1][i]), float64(p.x[2][i]), &idx, &w)
			y := [3]float64{r(0, i), r(1, i), r(2, i)}
			for k := range 8 {
				j := 3 * int(idx[k])
				b[j] += w[k] * y[0]
				b[j+1] += w[k] * y[1]
				b[j+2] += w[k] * y[2]
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
