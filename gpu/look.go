//go:build linux && cgo

package gpu

import (
	"fmt"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
)

// Look runs the per-sample passes of a look's fit on the GPU
// (shaders/look.comp), the samples, their intervals and targets resident;
// only the tables go up and only the normal equations' sums come back.
// It implements kernels.LookPasses; kernels.CPULook is its specification.
type Look struct {
	d               *Device
	data            *kernels.LookData
	x, lo, hi, t    buffer
	tab, part, res  buffer
	tabCap, partCap int
	resCap          int
	err             error
	tab32           []float32
	sums            []float64
	targets         [3][]float32
	targetsFresh    bool
}

// Sizes of look.comp's shared counters.
const (
	lookMaxKnots = 512  // a curve's knots (MAXK)
	lookTile     = 6144 // lattice values a workgroup row holds (TILE)
	lookSub      = 4096 // samples a flush (SUB)
	lookRows     = 256  // most workgroup rows of a scatter
	lookPartial  = 64 << 20
)

// NewLook uploads d.
func (d *Device) NewLook(data *kernels.LookData) (*Look, error) {
	l := &Look{d: d, data: data}
	n := data.N
	if n == 0 {
		return nil, fmt.Errorf("gpu: a look of no samples")
	}
	err := d.do(func() error {
		if lim := maxStorageBlock(); 12*n > lim {
			return fmt.Errorf("gpu: %d samples need a %d MB buffer; this device binds at most %d MB", n, 12*n>>20, lim>>20)
		}
		planes := func(p [3][]float32) buffer {
			all := make([]float32, 3*n)
			for c := range 3 {
				if p[c] != nil {
					copy(all[c*n:], p[c])
				}
			}
			return newBuffer(12*n, unsafe.Pointer(&all[0]))
		}
		l.x, l.lo, l.hi = planes(data.X), planes(data.Lo), planes(data.Hi)
		l.t = newBuffer(12*n, nil)
		return glErr("look upload")
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// program returns look.comp for pass and flags. On the device's thread.
func (l *Look) program(pass string, flags ...string) (*kernel, error) {
	defs := append([]string{pass, fmt.Sprintf("CHANNELS=%d", l.data.Channels), fmt.Sprintf("MAXK=%d", lookMaxKnots),
		fmt.Sprintf("TILE=%d", lookTile)}, flags...)
	src, err := source("look.comp", defs...)
	if err != nil {
		return nil, err
	}
	return l.d.kernel(src)
}

// lookTables are the uniforms that place the tables in look.comp's
// buffer.
type lookTables struct {
	cOff, ck, mOff, pOff, pk, lOff, ln uint32
}

// upload lays the curves, matrix, post curves and lattice (ln nodes a
// side) out in one float buffer. On the device's thread.
func (l *Look) upload(curves []kernels.Curve, m [][4]float64, post []kernels.Curve, lat *kernels.Lattice, ln int) lookTables {
	v := l.tab32[:0]
	var u lookTables
	putCurves := func(cs []kernels.Curve) (uint32, uint32) {
		off := uint32(len(v))
		if len(cs) == 0 {
			return off, 2
		}
		for _, c := range cs {
			v = append(v, float32(c.Lo), float32(c.Hi))
			for _, x := range c.V {
				v = append(v, float32(x))
			}
		}
		return off, uint32(len(cs[0].V))
	}
	u.cOff, u.ck = putCurves(curves)
	u.mOff = uint32(len(v))
	for _, row := range m {
		for _, x := range row {
			v = append(v, float32(x))
		}
	}
	u.pOff, u.pk = putCurves(post)
	u.lOff, u.ln = uint32(len(v)), uint32(ln)
	if lat != nil {
		for _, x := range lat.V {
			v = append(v, float32(x))
		}
	}
	v = append(v, 0) // never empty
	l.tab32 = v
	if 4*len(v) > l.tabCap {
		l.tab.delete()
		l.tabCap = 4 * len(v)
		l.tab = newDynamic(l.tabCap)
	}
	l.tab.write(0, 4*len(v), unsafe.Pointer(&v[0]))
	return u
}

func (k *kernel) set(name string, v uint32) { k.p.uniform(name).setUint(v) }

func (l *Look) bind(k *kernel, u lookTables) {
	k.p.use()
	l.x.bind(bindIn)
	l.lo.bind(bindLo)
	l.hi.bind(bindHi)
	l.t.bind(bindAux)
	l.tab.bind(bindTables)
	k.set("n", uint32(l.data.N))
	k.set("cOff", u.cOff)
	k.set("ck", u.ck)
	k.set("mOff", u.mOff)
	k.set("pOff", u.pOff)
	k.set("pk", u.pk)
	k.set("lOff", u.lOff)
	k.set("ln", u.ln)
}

// Targets implements kernels.LookPasses.
func (l *Look) Targets(st *kernels.LookStack) {
	if l.err != nil {
		return
	}
	l.targetsFresh = false
	l.err = l.d.do(func() error {
		var flags []string
		var u lookTables
		if st == nil {
			flags = append(flags, "FIRST")
			u = l.upload(nil, nil, nil, nil, 2)
		} else {
			ln := 2
			switch {
			case st.Matrix != nil:
				flags = append(flags, "HAS_MATRIX")
			case st.Lattice != nil:
				flags = append(flags, "HAS_LATTICE")
				ln = st.Lattice.N
			}
			u = l.upload(st.Curves, st.Matrix, st.Post, st.Lattice, ln)
		}
		k, err := l.program("PASS_TARGETS", flags...)
		if err != nil {
			return err
		}
		l.bind(k, u)
		k.p.uniform("openw").setFloat(float32(l.data.Width))
		dispatch(uint32((l.data.N+255)/256), 1)
		return glErr("look targets")
	})
}

// scatter runs a scatter pass of width values a row and sums its rows
// into l.sums. On the device's thread.
func (l *Look) scatter(k *kernel, u lookTables, width, tiles int) error {
	n := l.data.N
	rows := min(lookRows, (n+lookSub-1)/lookSub, max(1, lookPartial/(8*width)))
	per := (n + rows - 1) / rows
	if 8*rows*width > l.partCap {
		l.d.free(l.part)
		l.part = l.d.buf(8*rows*width, nil)
		l.partCap = 8 * rows * width
	}
	if 8*width > l.resCap {
		l.d.free(l.res)
		l.res = l.d.buf(8*width, nil)
		l.resCap = 8 * width
	}
	l.bind(k, u)
	l.part.bind(bindPartial)
	l.res.bind(bindResult)
	k.set("per", uint32(per))
	k.set("width", uint32(width))
	k.set("tile", lookTile)
	dispatch(uint32(rows), uint32(tiles))
	sum, err := l.program("PASS_SUM")
	if err != nil {
		return err
	}
	sum.p.use()
	sum.set("width", uint32(width))
	sum.set("rows", uint32(rows))
	dispatch(uint32((width+255)/256), 1)
	if cap(l.sums) < width {
		l.sums = make([]float64, width)
	}
	l.sums = l.sums[:width]
	l.d.read(l.res, 0, 8*width, unsafe.Pointer(&l.sums[0]))
	return glErr("look scatter")
}

// CurveSystems implements kernels.LookPasses.
func (l *Look) CurveSystems(like []kernels.Curve, m [][4]float64, minus *kernels.Lattice) []*kernels.CurveSystem {
	ch := l.data.Channels
	out := make([]*kernels.CurveSystem, ch)
	k := len(like[0].V)
	for c := range ch {
		out[c] = kernels.NewCurveSystem(k)
		if len(like[c].V) != k && l.err == nil {
			l.err = fmt.Errorf("gpu: curves of %d and %d knots in one pass", k, len(like[c].V))
		}
	}
	if k > lookMaxKnots && l.err == nil {
		l.err = fmt.Errorf("gpu: a curve of %d knots; look.comp holds at most %d", k, lookMaxKnots)
	}
	if l.err != nil {
		return out
	}
	l.err = l.d.do(func() error {
		var flags []string
		ln := 2
		if m != nil {
			flags = append(flags, "HAS_MATRIX")
		}
		if minus != nil {
			flags = append(flags, "HAS_LATTICE")
			ln = minus.N
		}
		prog, err := l.program("PASS_CURVES", flags...)
		if err != nil {
			return err
		}
		return l.scatter(prog, l.upload(like, m, nil, minus, ln), ch*4*k, 1)
	})
	if l.err != nil {
		return out
	}
	for c, s := range out {
		b := l.sums[c*4*k:]
		copy(s.Diag, b[:k])
		copy(s.Off, b[k:2*k-1])
		copy(s.B, b[2*k:3*k])
		copy(s.Count, b[3*k:4*k])
	}
	return out
}

// LatticeRHS implements kernels.LookPasses.
func (l *Look) LatticeRHS(n int, minus []kernels.Curve) []float64 {
	width := 3 * n * n * n
	if l.err != nil {
		return make([]float64, width)
	}
	l.err = l.d.do(func() error {
		var flags []string
		if minus != nil {
			flags = append(flags, "HAS_CURVES")
		}
		prog, err := l.program("PASS_LATTICE", flags...)
		if err != nil {
			return err
		}
		return l.scatter(prog, l.upload(minus, nil, nil, nil, n), width, (width+lookTile-1)/lookTile)
	})
	out := make([]float64, width)
	if l.err == nil {
		copy(out, l.sums)
	}
	return out
}

// T implements kernels.LookPasses.
func (l *Look) T() [3][]float32 {
	if l.targetsFresh || l.err != nil {
		return l.targets
	}
	n := l.data.N
	all := make([]float32, 3*n)
	l.err = l.d.do(func() error {
		l.d.read(l.t, 0, 12*n, unsafe.Pointer(&all[0]))
		return glErr("look targets readback")
	})
	for c := range l.data.Channels {
		l.targets[c] = all[c*n : (c+1)*n]
	}
	l.targetsFresh = true
	return l.targets
}

// Err implements kernels.LookPasses.
func (l *Look) Err() error { return l.err }

// Close implements kernels.LookPasses.
func (l *Look) Close() {
	_ = l.d.do(func() error {
		for _, b := range []buffer{l.x, l.lo, l.hi, l.t, l.tab} {
			b.delete()
		}
		l.d.free(l.part)
		l.d.free(l.res)
		l.x, l.lo, l.hi, l.t, l.tab, l.part, l.res = 0, 0, 0, 0, 0, 0, 0
		return nil
	})
}
