//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
	"github.com/quantfit/quantfit/shaders"
)

// stackLocal is the workgroup size of stack.comp.
const stackLocal = 128

// maxLevelParams bounds the parameters of a stack that stack.comp runs
// once per 8-bit level (PER_LEVEL): its table of 256 derivatives per
// parameter, 16 KiB at 16, must fit beside the rest in the 32 KiB of
// shared memory every OpenGL 4.3 driver offers.
const maxLevelParams = 16

// StackEvaluator evaluates a stack of operators on the GPU: the twin of
// kernels.StackEvaluator. Its shader is generated from the operators' GLSL
// parts and compiled once per stack.
type StackEvaluator struct {
	d      *Device
	st     *kernels.Stack
	kind   dataKind
	n      int
	total  float64
	offset float64
	npar   int

	data                                   []buffer
	params, table, tableF, partial, result buffer
	partialCap, segs                       int
	err                                    error

	// The two programs, compiled by init; what a call hands to runFn on
	// the device's thread (bound once, so a step allocates nothing).
	grad, loss *kernel
	prog       *kernel
	p          []float64
	sums       []float64
	runFn      func() error
}

// NewStackEvaluator8 uploads 8-bit pairs for st.
func (d *Device) NewStackEvaluator8(st *kernels.Stack, x, t []uint8) (*StackEvaluator, error) {
	if len(x) != len(t) || len(x) == 0 {
		return nil, fmt.Errorf("gpu: %d originals and %d targets", len(x), len(t))
	}
	packed := pack8(x, t)
	e := &StackEvaluator{d: d, st: st, kind: dataU8, n: len(x), total: float64(len(x))}
	return e, e.init(func() {
		var lv [256]float32
		for i := range lv {
			lv[i] = kernels.Level8(i)
		}
		e.data = []buffer{d.buf(4*len(packed), unsafe.Pointer(&packed[0])), d.buf(4*256, unsafe.Pointer(&lv[0]))}
	})
}

// NewStackEvaluatorWeighted uploads grouped samples for st.
func (d *Device) NewStackEvaluatorWeighted(st *kernels.Stack, w *kernels.Weighted) (*StackEvaluator, error) {
	if len(w.X) == 0 || len(w.X) != len(w.T) || len(w.X) != len(w.W) {
		return nil, errors.New("gpu: weighted data empty or of unequal lengths")
	}
	e := &StackEvaluator{d: d, st: st, kind: dataWeighted, n: w.Len(), total: w.Total(), offset: w.Offset}
	return e, e.init(func() {
		e.data = uploadWeighted(d, w)
	})
}

func (e *StackEvaluator) init(upload func()) error {
	if err := e.st.Validate(); err != nil {
		return err
	}
	e.npar = e.st.Dim()
	e.sums = make([]float64, e.npar+1)
	e.runFn = e.dispatch
	qdefs, coef, segs, err := quantizerDefines(e.st)
	if err != nil {
		return err
	}
	e.segs = segs
	gradSrc, err := e.source(true, qdefs)
	if err != nil {
		return err
	}
	lossSrc, err := e.source(false, qdefs)
	if err != nil {
		return err
	}
	err = e.d.do(func() error {
		upload()
		e.params = e.d.dyn(8 * max(1, e.npar))
		e.result = e.d.buf(8*(e.npar+1), nil)
		if coef != nil {
			e.table = e.d.buf(8*len(coef), unsafe.Pointer(&coef[0]))
			f := floatTable(coef)
			e.tableF = e.d.buf(4*len(f), unsafe.Pointer(&f[0]))
		}
		var err error
		if e.grad, err = e.d.kernel(gradSrc); err != nil {
			return err
		}
		e.loss, err = e.d.kernel(lossSrc)
		return err
	})
	if err != nil {
		e.Close()
		return err
	}
	return nil
}

// source generates the stack's shader: the operators' GLSL bodies wrapped as functions, the
// forward pass through them and the backward accumulation of the chain
// rule, inserted into stack.comp.
func (e *StackEvaluator) source(grad bool, qdefs []string) (string, error) {
	maxp := 1
	for _, op := range e.st.Ops {
		maxp = max(maxp, len(op.Params()))
	}
	ds := append([]string{fmt.Sprintf("LOCAL=%du", stackLocal), fmt.Sprintf("NOPS=%d", len(e.st.Ops)),
		fmt.Sprintf("NPAR=%d", e.npar), fmt.Sprintf("NPARD=%d", max(1, e.npar)), fmt.Sprintf("MAXP=%d", maxp)},
		dataDefines(e.kind, e.st.Loss.Kind, e.st.OutputLevels > 0)...)
	if e.npar > maxLevelParams {
		ds = append(ds, "NO_PER_LEVEL")
	}
	if grad {
		ds = append(ds, "MODE_LOSSGRAD")
	} else {
		ds = append(ds, "MODE_LOSS")
	}
	ds = append(ds, qdefs...)
	var b strings.Builder
	for _, prec := range []struct{ t, suffix string }{{"double", ""}, {"float", "F"}} {
		for i, op := range e.st.Ops {
			body := op.GLSL()
			if prec.t == "float" {
				body = floatGLSL(body)
			}
			fmt.Fprintf(&b, "%[1]s op%[2]d%[3]s(%[1]s x, %[1]s p[MAXP], out %[1]s dx, out %[1]s dp[MAXP]) {\n%[4]s\n}\n",
				prec.t, i, prec.suffix, body)
		}
		fmt.Fprintf(&b, "%[1]s runStack%[2]s(%[1]s x, out %[1]s dx[NOPS], out %[1]s dp[NPAR + 1]) {\n\t%[1]s pp[MAXP];\n\t%[1]s dd[MAXP];\n", prec.t, prec.suffix)
		off := 0
		for i, op := range e.st.Ops {
			k := len(op.Params())
			for j := 0; j < k; j++ {
				fmt.Fprintf(&b, "\tpp[%d] = %s(params[%d]);\n", j, prec.t, off+j)
			}
			fmt.Fprintf(&b, "\tx = op%d%s(x, pp, dx[%d], dd);\n", i, prec.suffix, i)
			for j := 0; j < k; j++ {
				fmt.Fprintf(&b, "\tdp[%d] = dd[%d];\n", off+j, j)
			}
			off += k
		}
		fmt.Fprintf(&b, "\treturn x;\n}\n\nvoid backward%[2]s(%[1]s g, %[1]s dx[NOPS], %[1]s dp[NPAR + 1], inout %[1]s acc[NPAR + 1]) {\n", prec.t, prec.suffix)
		for i := len(e.st.Ops) - 1; i >= 0; i-- {
			k := len(e.st.Ops[i].Params())
			off -= k
			for j := 0; j < k; j++ {
				fmt.Fprintf(&b, "\tacc[%d] += g * dp[%d];\n", off+j, off+j)
			}
			fmt.Fprintf(&b, "\tg *= dx[%d];\n", i)
		}
		b.WriteString("}\n")
	}
	src, err := source("stack.comp", ds...)
	if err != nil {
		return "", err
	}
	return shaders.Splice(src, b.String()), nil
}

// lfSuffix is GLSL's double-literal suffix after a number.
var lfSuffix = regexp.MustCompile(`([0-9.])LF\b`)

// floatGLSL is an operator's double GLSL body in float: the float chain of
// stack.comp, whose decisions near a step the double chain takes again.
func floatGLSL(body string) string {
	body = lfSuffix.ReplaceAllString(body, "$1")
	body = strings.ReplaceAll(body, "double", "float")
	return strings.ReplaceAll(body, "quantizeOp(", "quantizeOpF(")
}

// quantizerDefines specializes quantop.glsl for the stack's quantizer (any
// will do when it has none): its model and surrogate, and the table of a
// smooth surrogate, with its segments, to upload at bindTable.
func quantizerDefines(st *kernels.Stack) (ds []string, coef []float64, segs int, err error) {
	qc := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}}
	for _, op := range st.Ops {
		if q, ok := op.(kernels.Quantize); ok {
			qc = q.Config
		}
	}
	lit := func(v float64) string { return fmt.Sprintf("%.17eLF", v) }
	c, d := qc.Model.Offsets()
	ds = []string{"QSHIFT=" + lit(qc.Model.Shift()), "QC=" + lit(c), "QD=" + lit(d)}
	switch k := qc.Surrogate.Kind; {
	case k == kernels.Identity:
		ds = append(ds, "SUR_IDENTITY")
	case k.Smooth():
		var ok bool
		if coef, segs, ok = kernels.Table(qc.Surrogate); !ok {
			return nil, nil, 0, fmt.Errorf("gpu: the %v surrogate needs its closed form, which the shaders do not have", qc.Surrogate)
		}
		ds = append(ds, "SUR_TABLE")
		if qc.SoftForward {
			ds = append(ds, "SOFT")
		}
	default:
		ds = append(ds, "SUR_STE")
	}
	return ds, coef, segs, nil
}

// LossGrad returns the mean loss at p and writes the mean gradient.
func (e *StackEvaluator) LossGrad(p, grad []float64) float64 {
	if err := e.run(e.grad, p); err != nil {
		e.err = err
		for i := range grad[:e.npar] {
			grad[i] = math.NaN()
		}
		return math.NaN()
	}
	for i := 0; i < e.npar; i++ {
		grad[i] = e.sums[i] / e.total
	}
	return (e.sums[e.npar] + e.offset) / e.total
}

// Loss returns the exact mean loss at p.
func (e *StackEvaluator) Loss(p []float64) float64 {
	if err := e.run(e.loss, p); err != nil {
		e.err = err
		return math.NaN()
	}
	return (e.sums[e.npar] + e.offset) / e.total
}

// Err returns the first GL failure, after which results are NaN.
func (e *StackEvaluator) Err() error { return e.err }

func (e *StackEvaluator) run(k *kernel, p []float64) error {
	if e.err != nil {
		return e.err
	}
	if len(p) != e.npar {
		return fmt.Errorf("gpu: %d parameters for a stack of %d", len(p), e.npar)
	}
	e.prog, e.p = k, p
	err := e.d.do(e.runFn)
	e.p = nil
	return err
}

// dispatch evaluates e.prog at e.p into e.sums. On the device's thread.
func (e *StackEvaluator) dispatch() error {
	width := e.npar + 1
	nwg := max(1, min(maxGroups, (e.n+stackLocal-1)/stackLocal))
	if need := nwg * width; need > e.partialCap {
		e.d.free(e.partial)
		e.partial = e.d.buf(8*need, nil)
		e.partialCap = need
	}
	if e.npar > 0 {
		e.params.write(0, 8*e.npar, unsafe.Pointer(&e.p[0]))
	}
	for i, b := range e.data {
		b.bind(uint32(bindData0 + i))
	}
	e.params.bind(bindParams)
	if e.table != 0 {
		e.table.bind(bindTable)
		e.tableF.bind(bindEps)
	}
	e.partial.bind(bindPartial)
	e.result.bind(bindResult)
	k := e.prog
	k.p.use()
	k.n.setUint(uint32(e.n))
	k.fn.setDouble(float64(e.segs))
	k.delta.setDouble(e.st.Loss.WithDefaults().Delta)
	k.olv.setDouble(e.st.OutputLevels)
	dispatch(uint32(nwg), 1)
	return e.d.reduce(e.result, nwg, width, e.sums)
}

// Close frees the evaluator's buffers.
func (e *StackEvaluator) Close() {
	bufs := append([]buffer{e.params, e.table, e.tableF, e.partial, e.result}, e.data...)
	e.data = nil
	e.params, e.table, e.tableF, e.partial, e.result = 0, 0, 0, 0, 0
	_ = e.d.do(func() error {
		for _, b := range bufs {
			e.d.free(b)
		}
		return nil
	})
}
