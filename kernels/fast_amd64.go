//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly loops; tests turn it off to compare.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// vconst holds a step's constants broadcast to four lanes, so the assembly
// reads them as memory operands and keeps its registers for data.
type vconst struct {
	s, c, d, inv, cd, one, fn, a [4]float64
	lv, half, linv               [4]float64
	round                        int64 // nonzero: round y to the output levels
}

func broadcast(v float64) [4]float64 { return [4]float64{v, v, v, v} }

// steSumsAVX2 returns, over the first len(xs) &^ 7 samples,
//
//	for i := range xs {
//		z := float64(xs[i])*s + c
//		fl := floor(z)
//		y, g := (fl+d)*inv, a*(z-fl)-cd
//		if y > 1 {
//			y, g = 1, 0
//		}
//		if round != 0 {
//			y = floor(y*lv+0.5) * linv
//		}
//		r := y - float64(ts[i])
//		sq += r * r
//		rg += r * g
//	}
//
//go:noescape
func steSumsAVX2(xs, ts []float32, k *vconst) (sq, rg float64)

// tableSumsAVX2 returns, over the first len(xs) &^ 3 samples,
//
//	for i := range xs {
//		z := float64(xs[i])*s + c
//		fl := floor(z)
//		q, q1 := tab.at(z - fl)
//		y, g := (fl+d)*inv, q1*(z-c)-q-cd
//		if y > 1 {
//			y, g = 1, 0
//		}
//		if round != 0 {
//			y = floor(y*lv+0.5) * linv
//		}
//		r := y - float64(ts[i])
//		sq += r * r
//		rg += r * g
//	}
//
//go:noescape
func tableSumsAVX2(xs, ts []float32, k *vconst, coef *[8]float64) (sq, rg float64)

// tableSumsWAVX2 is tableSumsAVX2 over weighted groups in float64: the
// same loop with
//
//	z := xs[i]*s + c
//	...
//	r := y - ts[i]
//	sq += ws[i] * r * r
//	rg += ws[i] * r * g
//
//go:noescape
func tableSumsWAVX2(xs, ts, ws []float64, k *vconst, coef *[8]float64) (sq, rg float64)

// fast32 runs the assembly loop for the configuration if there is one; the
// tail the assembly leaves goes through the Go loop.
func (e *Evaluator) fast32(xs, ts []float32) (loss, grad float64, ok bool) {
	c := &e.cfg
	if !useAVX2 || c.Loss.Kind != MSE || c.SoftForward || len(xs) < 8 {
		return 0, 0, false
	}
	k := e.vconst()
	var sq, rg float64
	var n int
	switch kind := c.Surrogate.Kind; {
	case kind == STE || kind == Identity:
		if kind == STE {
			k.a = broadcast(1)
		}
		sq, rg = steSumsAVX2(xs, ts, &k)
		n = len(xs) &^ 7
	case kind.Smooth() && e.tab != nil:
		sq, rg = tableSumsAVX2(xs, ts, &k, &e.tab.coef[0])
		n = len(xs) &^ 3
	default:
		return 0, 0, false
	}
	loss, grad = lossGradLoop(e, xs[n:], ts[n:], nil)
	return loss + sq, grad + 2*rg*e.sc.inv2, true
}

// fast64 runs the assembly loop for weighted groups under MSE with a
// tabled surrogate (the default of every estimate on grouped data); the
// tail goes through the Go loop.
func (e *Evaluator) fast64(xs, ts, ws []float64) (loss, grad float64, ok bool) {
	c := &e.cfg
	if !useAVX2 || c.Loss.Kind != MSE || c.SoftForward || len(xs) < 8 || ws == nil ||
		!c.Surrogate.Kind.Smooth() || e.tab == nil {
		return 0, 0, false
	}
	k := e.vconst()
	n := len(xs) &^ 3
	sq, rg := tableSumsWAVX2(xs[:n], ts[:n], ws[:n], &k, &e.tab.coef[0])
	loss, grad = lossGradLoop(e, xs[n:], ts[n:], ws[n:])
	return loss + sq, grad + 2*rg*e.sc.inv2, true
}

// vconst broadcasts the step's constants for the assembly.
func (e *Evaluator) vconst() vconst {
	sc := e.sc
	k := vconst{s: broadcast(sc.s), c: broadcast(sc.c), d: broadcast(sc.d), inv: broadcast(sc.inv),
		cd: broadcast(sc.c + sc.d), one: broadcast(1)}
	if sc.lv != 0 {
		k.lv, k.half, k.linv, k.round = broadcast(sc.lv), broadcast(0.5), broadcast(sc.linv), 1
	}
	if e.tab != nil {
		k.fn = broadcast(e.tab.fn)
	}
	return k
}
