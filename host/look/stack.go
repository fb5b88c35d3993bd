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

// lookData is what a smooth stack is fitted to: the samples' originals
// and the interval each output must reach per channel (a point without a
// quantizer, the sample's quantization cell with one, kept cellMargin of
// its width inside).
func lookData(s *samples, ch int, q *quantizer) *kernels.LookData {
	d := &kernels.LookData{N: s.n, Channels: ch, X: s.x}
	for c := range ch {
		if q == nil {
			d.Lo[c], d.Hi[c] = s.y[c], s.y[c]
			continue
		}
		d.Lo[c], d.Hi[c] = make([]float32, s.n), make([]float32, s.n)
		w := 1 / q.cells.S
		d.Width = (1 - 2*cellMargin) * w
		for i, y := range s.y[c] {
			_, lo, hi := q.cells.Cell(float64(y))
			d.Lo[c][i], d.Hi[c][i] = float32(lo+cellMargin*w), float32(hi-cellMargin*w)
		}
	}
	return d
}

// stackFit is a smooth stack being fitted: refit moves its tables to the
// least-squares fit of the passes' targets (warm, from the current
// tables), and stack holds them.
type stackFit interface {
	refit(d *kernels.LookData, p kernels.LookPasses)
	stack() kernels.LookStack
}

// fitStack fits the smooth stack named name, then the quantizer's levels.
// Without a quantizer one refit fits the targets; with one, rounds of
// projection onto the cells and refits descend the squared distance of
// the smooth outputs to their cells: the gradient the quantizer passes
// back is the way to its cell.
func fitStack(name string, s *samples, d *kernels.LookData, p kernels.LookPasses, q *quantizer, set Settings) (*Look, error) {
	var f stackFit
	switch name {
	case Matrix:
		f = &matrixFit{smooth: set.Smooth}
	case LUT:
		f = &lutFit{smooth: set.Smooth, size: set.LUTSize}
	default:
		f = &curvesFit{smooth: set.Smooth}
	}
	rounds := 1
	if q != nil {
		rounds = 8
	}
	p.Targets(nil)
	for r := range rounds {
		f.refit(d, p)
		if r+1 < rounds {
			st := f.stack()
			p.Targets(&st)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	l := &Look{Version: Version, Channels: d.Channels, Stack: name, LookStack: f.stack()}
	if q != nil {
		l.Stack += ",quantize"
		l.Quantizer = storedLevels(s, d.Channels, q)
	}
	return l, nil
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

// knots returns n curves of k knots over [lo, hi], values unset: the
// knots a system is gathered over.
func knots(n, k int, lo, hi float64) []kernels.Curve {
	out := make([]kernels.Curve, n)
	for c := range out {
		out[c] = kernels.Curve{Lo: lo, Hi: hi, V: make([]float64, k)}
	}
	return out
}

// solveCurves solves each channel's system for like's knots.
func solveCurves(like []kernels.Curve, sys []*kernels.CurveSystem, n int, smooth float64) []kernels.Curve {
	for c := range like {
		// the prior's weight: a small share of the samples a knot gets on
		// average, so that a knot of a few samples keeps them
		like[c].V = solveCurve(sys[c], smooth*1e-4*float64(n)/float64(len(like[c].V)))
	}
	return like
}

type curvesFit struct {
	smooth float64
	c      []kernels.Curve
}

func (f *curvesFit) refit(d *kernels.LookData, p kernels.LookPasses) {
	like := knots(d.Channels, inputKnots, 0, 1)
	f.c = solveCurves(like, p.CurveSystems(like, nil, nil), d.N, f.smooth)
}

func (f *curvesFit) stack() kernels.LookStack { return kernels.LookStack{Curves: f.c} }

// matrixFit is u = M·x + o, then a curve per channel; fitted by turns:
// the curves to the targets given u, then a damped Gauss-Newton step of
// each row of M given the curves.
type matrixFit struct {
	smooth float64
	m      [][4]float64
	post   []kernels.Curve
}

func (f *matrixFit) stack() kernels.LookStack { return kernels.LookStack{Matrix: f.m, Post: f.post} }

func (f *matrixFit) u(x [3][]float32, c, i int) float64 {
	m := f.m[c]
	return m[0]*float64(x[0][i]) + m[1]*float64(x[1][i]) + m[2]*float64(x[2][i]) + m[3]
}

func (f *matrixFit) refit(d *kernels.LookData, p kernels.LookPasses) {
	t := p.T()
	turns := 2
	if f.m == nil {
		f.m = make([][4]float64, 3)
		f.initMatrix(d, t)
		turns = 6
	}
	for range turns {
		like := make([]kernels.Curve, 3)
		for c := range 3 {
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := range d.N {
				u := f.u(d.X, c, i)
				lo, hi = math.Min(lo, u), math.Max(hi, u)
			}
			pad := 1e-3 + 0.01*(hi-lo)
			like[c] = knots(1, postKnots, lo-pad, hi+pad)[0]
		}
		f.post = solveCurves(like, p.CurveSystems(like, f.m, nil), d.N, f.smooth)
		for c := range 3 {
			f.step(d, c, t[c])
		}
	}
}

// initMatrix fits M, o by least squares on the samples whose targets lie
// inside (0, 1) in every channel: the edit's clipping left them alone.
func (f *matrixFit) initMatrix(d *kernels.LookData, t [3][]float32) {
	inside := func(i int) bool {
		for c := range 3 {
			if !(t[c][i] > 0.02 && t[c][i] < 0.98) {
				return false
			}
		}
		return true
	}
	n := 0
	for i := range d.N {
		if inside(i) {
			n++
		}
	}
	use := func(i int) bool { return n < 64 || inside(i) }
	for c := range 3 {
		var a [16]float64
		var b [4]float64
		for i := range d.N {
			if !use(i) {
				continue
			}
			r := [4]float64{float64(d.X[0][i]), float64(d.X[1][i]), float64(d.X[2][i]), 1}
			for j := range 4 {
				b[j] += r[j] * float64(t[c][i])
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
func (f *matrixFit) step(d *kernels.LookData, c int, t []float32) {
	x := d.X
	sse := func(m [4]float64) float64 {
		s := 0.0
		for i := range d.N {
			u := m[0]*float64(x[0][i]) + m[1]*float64(x[1][i]) + m[2]*float64(x[2][i]) + m[3]
			r := f.post[c].At(u) - float64(t[i])
			s += r * r
		}
		return s
	}
	var a [16]float64
	var g [4]float64
	for i := range d.N {
		u := f.u(x, c, i)
		s := f.post[c].Slope(u)
		if s == 0 {
			continue
		}
		r := float64(t[i]) - f.post[c].At(u)
		j := [4]float64{s * float64(x[0][i]), s * float64(x[1][i]), s * float64(x[2][i]), s}
		for k := range 4 {
			g[k] += j[k] * r
			for m := range 4 {
				a[4*k+m] += j[k] * j[m]
			}
		}
	}
	old := sse(f.m[c])
	for mu := 1e-4; mu < 1e4; mu *= 10 {
		dm := solve4(a, g, mu)
		m := f.m[c]
		for k := range 4 {
			m[k] += dm[k]
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

func (f *lutFit) stack() kernels.LookStack { return kernels.LookStack{Curves: f.c, Lattice: f.lat} }

func (f *lutFit) refit(d *kernels.LookData, p kernels.LookPasses) {
	turns := 2
	if f.lat == nil {
		f.lat = &kernels.Lattice{N: f.size, V: make([]float64, 3*f.size*f.size*f.size)}
		// the prior's weight: a share of the samples a node gets on average
		f.op = newLatticeOp(latticeSystem(d, f.lat), f.smooth*0.01*float64(d.N)/float64(f.size*f.size*f.size))
		turns = 3
	}
	for range turns {
		like := knots(3, inputKnots, 0, 1)
		f.c = solveCurves(like, p.CurveSystems(like, nil, f.lat), d.N, f.smooth)
		solveLattice(f.op, p.LatticeRHS(f.size, f.c), f.lat.V, 1e-5, 300)
	}
}

// latticeSystem gathers the lattice's normal matrix over the samples,
// privately per worker, then merged; it depends on the originals alone, so
// a fit gathers it once.
func latticeSystem(d *kernels.LookData, l *kernels.Lattice) *kernels.LatticeSystem {
	var mu sync.Mutex
	total := kernels.NewLatticeSystem(l.N)
	kernels.Parallel(d.N, func(lo, hi int) {
		sys := kernels.NewLatticeSystem(l.N)
		for i := lo; i < hi; i++ {
			sys.Add(l, float64(d.X[0][i]), float64(d.X[1][i]), float64(d.X[2][i]), [3]float64{}, 1)
		}
		mu.Lock()
		total.Merge(sys)
		mu.Unlock()
	})
	return total
}
