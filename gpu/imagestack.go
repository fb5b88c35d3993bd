//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
	"github.com/quantfit/quantfit/shaders"
)

const (
	// imageLocal is the workgroup size of image.comp's per-pixel and
	// horizontal passes.
	imageLocal = 256
	// maxRadius is the largest Gaussian radius the shared-memory tiles
	// hold (MAXR): σ up to 16 pixels.
	maxRadius = 48
)

// ImageEvaluator evaluates a spatial stack over pairs of whole images on
// the GPU: the twin of kernels.ImageEvaluator. The stack is cut into
// passes of image.comp (runs of pixel-wise and colour operators fused into
// one pass, each Gaussian mix two), the state and tangents stay on the
// device in float, and a step reads back only the sums.
type ImageEvaluator struct {
	d      *Device
	st     *kernels.Stack
	nc     int
	pairs  []imagePair
	total  float64
	npar   int
	offs   []int       // each operator's first parameter
	mixes  map[int]int // operator index → its block in the taps
	radius []int       // each Gaussian mix's kernel radius at the call's p
	tapsN  int
	qdefs  []string
	segs   int
	pipes  [modes]*pipeline

	state, scratch, params, taps, table, partial, result buffer
	partialCap                                           int
	err                                                  error

	// what a call hands to dispatch on the device's thread
	pipe  *pipeline
	p     []float64
	tap   []float32
	cells kernels.Cells
	sums  []float64
	runFn func() error
}

type imagePair struct {
	w, h, n int
	x, t    buffer
	inner   image.Rectangle // the samples summed (SetInteriors)
}

// mode is what a pipeline's final pass sums.
type mode int

const (
	modeLoss   mode = iota // the exact loss
	modeGrad               // the loss and its gradient (surrogate)
	modeCells              // Σr² of the cells' residuals
	modeCellsN             // and the normal equations' terms
	modes
)

// pass is one program of a pipeline.
type pass struct {
	kind  string // POINT, H, V, FINAL
	first bool   // reads the original
	op    int    // the Gaussian mix's operator (H, V)
	k     *kernel
	u     struct{ iw, ih, radius, rowOff, cs, cc, cd, ckb, ckt, cmid, inner uniform }
}

type pipeline struct {
	passes []*pass
	width  int // sums read back
	nt     int // tangents carried to the end
}

// NewImageEvaluator uploads the pairs (originals xs, targets ts) for st.
func (d *Device) NewImageEvaluator(st *kernels.Stack, xs, ts []kernels.Planes) (*ImageEvaluator, error) {
	if err := st.Validate(); err != nil {
		return nil, err
	}
	total, err := kernels.CheckImagePairs(st, xs, ts)
	if err != nil {
		return nil, err
	}
	e := &ImageEvaluator{d: d, st: st, nc: len(xs[0].C), npar: st.Dim(), total: total, mixes: map[int]int{}}
	e.runFn = e.dispatch
	off := 0
	for i, op := range st.Ops {
		e.offs = append(e.offs, off)
		np := len(op.Params())
		off += np
		switch op.(type) {
		case kernels.GaussianMix:
			e.mixes[i] = e.tapsN
			e.tapsN += 2*(maxRadius+1) + 2 + 2*np
		case kernels.ColorOp:
		case kernels.ImageOp:
			return nil, fmt.Errorf("gpu: image operator %s has neither a colour GLSL part nor a Gaussian mix", op.Name())
		}
	}
	var coef []float64
	if e.qdefs, coef, e.segs, err = quantizerDefines(st); err != nil {
		return nil, err
	}
	e.radius = make([]int, len(st.Ops))
	nmax := 0
	for _, x := range xs {
		nmax = max(nmax, x.W*x.H)
	}
	stateN := (1 + e.npar) * e.nc * nmax
	scratchN := (2 + e.npar) * e.nc * nmax
	err = d.do(func() error {
		if lim := maxStorageBlock(); 4*scratchN > lim {
			return fmt.Errorf("gpu: %d×%d pixels with %d tangents need a %d MB buffer; this device binds at most %d MB",
				nmax, e.nc, e.npar, 4*scratchN>>20, lim>>20)
		}
		for i, x := range xs {
			e.pairs = append(e.pairs, imagePair{w: x.W, h: x.H, n: x.W * x.H, inner: image.Rect(0, 0, x.W, x.H),
				x: uploadPlanes(x), t: uploadPlanes(ts[i])})
		}
		e.state = newBuffer(4*stateN, nil)
		e.scratch = newBuffer(4*scratchN, nil)
		e.params = d.dyn(8 * max(1, e.npar))
		e.taps = d.dyn(4 * max(1, e.tapsN))
		if coef != nil {
			e.table = d.buf(8*len(coef), unsafe.Pointer(&coef[0]))
		}
		// the gradient's passes hold every operator's GLSL (both functions
		// of a colour operator): compiled now, a broken part fails here
		_, err := e.pipeline(modeGrad)
		return err
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// uploadPlanes makes a buffer of the planes in float, plane after plane.
// On the device's thread.
func uploadPlanes(x kernels.Planes) buffer {
	n := x.W * x.H
	f := make([]float32, len(x.C)*n)
	for c, pl := range x.C {
		for i, v := range pl {
			f[c*n+i] = float32(v)
		}
	}
	return newBuffer(4*len(f), unsafe.Pointer(&f[0]))
}

// pipeline returns the passes of mode, compiling them on first use. On
// the device's thread.
func (e *ImageEvaluator) pipeline(m mode) (*pipeline, error) {
	if pl := e.pipes[m]; pl != nil {
		return pl, nil
	}
	ops := e.st.Ops
	if m == modeCells || m == modeCellsN {
		if _, ok := ops[len(ops)-1].(kernels.Quantize); !ok {
			return nil, errors.New("gpu: the cells need the quantizer last")
		}
		ops = ops[:len(ops)-1]
	}
	tracked := m == modeGrad || m == modeCellsN
	pl := &pipeline{}
	var run []int
	wrote := false
	nt := 0 // tangents so far
	ntRun := 0
	emit := func(kind string, op int, ntIn, ntOut int, extra ...string) error {
		ds := []string{"PASS_" + kind, fmt.Sprintf("LOCAL=%d", imageLocal), fmt.Sprintf("MAXR=%d", maxRadius),
			fmt.Sprintf("NC=%d", e.nc), fmt.Sprintf("NT_IN=%d", ntIn), fmt.Sprintf("NT=%d", ntOut),
			fmt.Sprintf("TS=%d", max(1, ntOut))}
		ds = append(append(append(ds, extra...), e.qdefs...), lossDefines(e.st.Loss.Kind, e.st.OutputLevels > 0)...)
		code, maxp := e.runCode(run, tracked, ntRun)
		ds = append(ds, fmt.Sprintf("MAXP=%d", maxp))
		src, err := source("image.comp", ds...)
		if err != nil {
			return err
		}
		k, err := e.d.kernel(shaders.Splice(src, code))
		if err != nil {
			return err
		}
		// the state is written first by a POINT or V pass: until then
		// the passes read the original
		ps := &pass{kind: kind, first: !wrote, op: op, k: k}
		wrote = wrote || kind == "POINT" || kind == "V"
		for name, u := range map[string]*uniform{"iw": &ps.u.iw, "ih": &ps.u.ih, "radius": &ps.u.radius, "rowOff": &ps.u.rowOff,
			"cs": &ps.u.cs, "cc": &ps.u.cc, "cd": &ps.u.cd, "ckb": &ps.u.ckb, "ckt": &ps.u.ckt, "cmid": &ps.u.cmid, "inner": &ps.u.inner} {
			*u = k.p.uniform(name)
		}
		pl.passes = append(pl.passes, ps)
		run = nil
		ntRun = ntOut
		return nil
	}
	for i, op := range ops {
		np := 0
		if tracked {
			np = len(op.Params())
		}
		mix, ok := op.(kernels.GaussianMix)
		if !ok {
			run = append(run, i)
			nt += np
			continue
		}
		if len(run) > 0 {
			if err := emit("POINT", -1, ntRun, nt); err != nil {
				return nil, err
			}
		}
		if err := emit("H", i, nt, nt, fmt.Sprintf("TAPS=%d", e.mixes[i])); err != nil {
			return nil, err
		}
		sigmaAt := mix.Mix(make([]float64, len(op.Params()))).SigmaAt
		if err := emit("V", i, nt, nt+np, fmt.Sprintf("TAPS=%d", e.mixes[i]), fmt.Sprintf("NPOWN=%d", np),
			fmt.Sprintf("SIGMA_AT=%d", sigmaAt)); err != nil {
			return nil, err
		}
		nt += np
	}
	width := 1
	switch m {
	case modeGrad:
		width += nt
	case modeCellsN:
		width += nt + nt*(nt+1)/2
	}
	modeDef := [...]string{"MODE_LOSS", "MODE_LOSSGRAD", "MODE_CELLS", "MODE_CELLSN"}[m]
	if err := emit("FINAL", -1, ntRun, nt, modeDef, fmt.Sprintf("WIDTH=%d", width)); err != nil {
		return nil, err
	}
	pl.width, pl.nt = width, nt
	e.pipes[m] = pl
	return pl, nil
}

// runCode generates the GLSL of a run of pixel-wise and colour operators:
// their functions and runOps, which applies them to a pixel's channels and
// carries the tangents (from slot ntIn on, their own parameters'), and
// the largest number of parameters among them.
func (e *ImageEvaluator) runCode(run []int, tracked bool, ntIn int) (string, int) {
	maxp := 1
	for _, i := range run {
		maxp = max(maxp, len(e.st.Ops[i].Params()))
	}
	var b strings.Builder
	for _, i := range run {
		switch op := e.st.Ops[i].(type) {
		case kernels.ColorOp:
			apply, deriv := op.ColorGLSL()
			fmt.Fprintf(&b, "void op%d(inout double v[NC], double p[MAXP], bool lin) {\n%s\n}\n", i, apply)
			fmt.Fprintf(&b, "void op%dd(double x[NC], double p[MAXP], out double dp[MAXP * NC]) {\n%s\n}\n", i, deriv)
		default:
			fmt.Fprintf(&b, "double op%d(double x, double p[MAXP], out double dx, out double dp[MAXP]) {\n%s\n}\n", i, op.GLSL())
		}
	}
	b.WriteString("void runOps(inout double v[NC], inout double t[TS * NC]) {\n\tdouble pp[MAXP];\n")
	nt := ntIn
	for _, i := range run {
		op := e.st.Ops[i]
		np := len(op.Params())
		for j := range np {
			fmt.Fprintf(&b, "\tpp[%d] = params[%d];\n", j, e.offs[i]+j)
		}
		if _, ok := op.(kernels.ColorOp); ok {
			b.WriteString("\t{\n")
			if tracked {
				fmt.Fprintf(&b, "\t\tdouble dd[MAXP * NC];\n\t\top%dd(v, pp, dd);\n", i)
			}
			fmt.Fprintf(&b, "\t\top%d(v, pp, false);\n", i)
			if tracked {
				fmt.Fprintf(&b, "\t\tfor (int k = 0; k < %d; k++) {\n\t\t\tdouble tt[NC];\n", nt)
				b.WriteString("\t\t\tfor (int c = 0; c < NC; c++) tt[c] = t[k * NC + c];\n")
				fmt.Fprintf(&b, "\t\t\top%d(tt, pp, true);\n", i)
				b.WriteString("\t\t\tfor (int c = 0; c < NC; c++) t[k * NC + c] = tt[c];\n\t\t}\n")
				fmt.Fprintf(&b, "\t\tfor (int j = 0; j < %d; j++) for (int c = 0; c < NC; c++) t[(%d + j) * NC + c] = dd[j * NC + c];\n", np, nt)
			}
			b.WriteString("\t}\n")
		} else {
			fmt.Fprintf(&b, "\tfor (int c = 0; c < NC; c++) {\n\t\tdouble dx;\n\t\tdouble dd[MAXP];\n\t\tv[c] = op%d(v[c], pp, dx, dd);\n", i)
			if tracked {
				fmt.Fprintf(&b, "\t\tfor (int k = 0; k < %d; k++) t[k * NC + c] *= dx;\n", nt)
				fmt.Fprintf(&b, "\t\tfor (int j = 0; j < %d; j++) t[(%d + j) * NC + c] = dd[j];\n", np, nt)
			}
			b.WriteString("\t}\n")
		}
		if tracked {
			nt += np
		}
	}
	b.WriteString("}\n")
	return b.String(), maxp
}

// LossGrad returns the mean loss at p and writes the mean gradient,
// through the quantizer's surrogate.
func (e *ImageEvaluator) LossGrad(p, grad []float64) float64 {
	if err := e.run(modeGrad, p, kernels.Cells{}); err != nil {
		for i := range grad[:e.npar] {
			grad[i] = math.NaN()
		}
		return math.NaN()
	}
	for j := range grad[:e.npar] {
		grad[j] = e.sums[1+j] / e.total
	}
	return e.sums[0] / e.total
}

// Loss returns the exact mean loss at p.
func (e *ImageEvaluator) Loss(p []float64) float64 {
	if err := e.run(modeLoss, p, kernels.Cells{}); err != nil {
		return math.NaN()
	}
	return e.sums[0] / e.total
}

// CellSums is kernels.ImageEvaluator.CellSums: p holds the parameters of
// every operator but the quantizer, last.
func (e *ImageEvaluator) CellSums(p []float64, cells kernels.Cells, jtj, jtr []float64) float64 {
	m := modeCells
	if jtj != nil {
		m = modeCellsN
	}
	if err := e.run(m, p, cells); err != nil {
		return math.NaN()
	}
	dim := len(p)
	if jtj != nil {
		q := 1 + dim
		for a := range dim {
			jtr[a] += e.sums[1+a]
			for b := a; b < dim; b++ {
				jtj[a*dim+b] += e.sums[q]
				if b != a {
					jtj[b*dim+a] += e.sums[q]
				}
				q++
			}
		}
	}
	return e.sums[0]
}

// Err returns the first failure, after which results are NaN.
func (e *ImageEvaluator) Err() error { return e.err }

// run evaluates mode m at p into e.sums: the Gaussian mixes' taps are
// computed here, the rest on the device.
func (e *ImageEvaluator) run(m mode, p []float64, cells kernels.Cells) error {
	if e.err != nil {
		return e.err
	}
	err := e.step(m, p, cells)
	if err != nil {
		e.err = err
	}
	return err
}

func (e *ImageEvaluator) step(m mode, p []float64, cells kernels.Cells) error {
	want := e.npar
	if m == modeCells || m == modeCellsN {
		want = e.offs[len(e.offs)-1]
	}
	if len(p) != want {
		return fmt.Errorf("gpu: %d parameters where the image stack takes %d", len(p), want)
	}
	if e.tap == nil {
		e.tap = make([]float32, max(1, e.tapsN))
	}
	for i, base := range e.mixes {
		if e.offs[i] >= len(p) {
			continue
		}
		op := e.st.Ops[i]
		mx := op.(kernels.GaussianMix).Mix(p[e.offs[i] : e.offs[i]+len(op.Params())])
		if !(mx.Sigma > 0 && mx.Sigma <= maxRadius/3) {
			return fmt.Errorf("gpu: %s σ = %g: its kernel radius is beyond the shaders' %d", op.Name(), mx.Sigma, maxRadius)
		}
		w, dw := kernels.GaussTaps(mx.Sigma)
		e.radius[i] = len(w) - 1
		clear(e.tap[base : base+2*(maxRadius+1)])
		for j := range w {
			e.tap[base+j] = float32(w[j])
			e.tap[base+maxRadius+1+j] = float32(dw[j])
		}
		c := base + 2*(maxRadius+1)
		e.tap[c], e.tap[c+1] = float32(mx.U), float32(mx.V)
		for j := range mx.DU {
			e.tap[c+2+2*j], e.tap[c+3+2*j] = float32(mx.DU[j]), float32(mx.DV[j])
		}
	}
	e.p, e.cells = p, cells
	var err error
	err = e.d.do(func() error {
		if e.pipe, err = e.pipeline(m); err != nil {
			return err
		}
		return e.runFn()
	})
	e.p = nil
	return err
}

// dispatch runs e.pipe at e.p over every pair and reduces the sums into
// e.sums. On the device's thread.
func (e *ImageEvaluator) dispatch() error {
	pl := e.pipe
	rows := 0
	for _, pr := range e.pairs {
		rows += groups(pr.n, maxGroups)
	}
	if need := rows * pl.width; need > e.partialCap {
		e.d.free(e.partial)
		e.partial = e.d.buf(8*need, nil)
		e.partialCap = need
	}
	if len(e.sums) < pl.width {
		e.sums = make([]float64, pl.width)
		e.d.free(e.result)
		e.result = e.d.buf(8*pl.width, nil)
	}
	if len(e.p) > 0 {
		e.params.write(0, 8*len(e.p), unsafe.Pointer(&e.p[0]))
	}
	e.taps.write(0, 4*len(e.tap), unsafe.Pointer(&e.tap[0]))
	e.params.bind(bindParams)
	e.taps.bind(bindTaps)
	if e.table != 0 {
		e.table.bind(bindTable)
	}
	e.partial.bind(bindPartial)
	e.result.bind(bindResult)
	row := 0
	for _, pr := range e.pairs {
		for _, ps := range pl.passes {
			in := e.state
			if ps.first {
				in = pr.x
			}
			in.bind(bindIn)
			k := ps.k
			k.p.use()
			k.n.setUint(uint32(pr.n))
			ps.u.iw.setUint(uint32(pr.w))
			ps.u.ih.setUint(uint32(pr.h))
			switch ps.kind {
			case "POINT":
				e.state.bind(bindOut)
				dispatch(uint32(groups(pr.n, maxGroups)), 1)
			case "H", "V":
				ps.u.radius.setUint(uint32(e.radius[ps.op]))
				e.scratch.bind(bindAux)
				if ps.kind == "H" {
					dispatch(uint32((pr.w+imageLocal-1)/imageLocal), uint32(pr.h))
				} else {
					e.state.bind(bindOut)
					dispatch(uint32((pr.w+31)/32), uint32((pr.h+7)/8))
				}
			case "FINAL":
				pr.t.bind(bindAux)
				ps.u.rowOff.setUint(uint32(row))
				r := pr.inner
				ps.u.inner.setUvec4([4]uint32{uint32(r.Min.X), uint32(r.Min.Y), uint32(r.Max.X), uint32(r.Max.Y)})
				ps.u.cs.setDouble(e.cells.S)
				ps.u.cc.setDouble(e.cells.C)
				ps.u.cd.setDouble(e.cells.D)
				ps.u.ckb.setDouble(e.cells.Kb)
				ps.u.ckt.setDouble(e.cells.Kt)
				mid := uint32(0)
				if e.cells.Middle {
					mid = 1
				}
				ps.u.cmid.setUint(mid)
				k.fn.setDouble(float64(e.segs))
				k.delta.setDouble(e.st.Loss.WithDefaults().Delta)
				k.olv.setDouble(e.st.OutputLevels)
				nwg := groups(pr.n, maxGroups)
				dispatch(uint32(nwg), 1)
				row += nwg
			}
		}
	}
	return e.d.reduce(e.result, rows, pl.width, e.sums[:pl.width])
}

// SetInteriors restricts the sums to one rectangle of each pair's image,
// nil to the whole images: kernels.ImageEvaluator.SetInteriors.
func (e *ImageEvaluator) SetInteriors(rs []image.Rectangle) error {
	xs := make([]kernels.Planes, len(e.pairs))
	for i, pr := range e.pairs {
		xs[i] = kernels.Planes{W: pr.w, H: pr.h, C: make([][]float64, e.nc)}
	}
	inner, total, err := kernels.Interiors(xs, rs)
	if err != nil {
		return err
	}
	for i := range e.pairs {
		e.pairs[i].inner = inner[i]
	}
	e.total = total
	return nil
}

// Close frees the evaluator's buffers.
func (e *ImageEvaluator) Close() {
	own := []buffer{e.state, e.scratch}
	for _, pr := range e.pairs {
		own = append(own, pr.x, pr.t)
	}
	pooled := []buffer{e.params, e.taps, e.table, e.partial, e.result}
	e.pairs = nil
	e.state, e.scratch, e.params, e.taps, e.table, e.partial, e.result = 0, 0, 0, 0, 0, 0, 0
	_ = e.d.do(func() error {
		for _, b := range own {
			b.delete()
		}
		for _, b := range pooled {
			e.d.free(b)
		}
		return nil
	})
}
