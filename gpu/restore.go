//go:build linux && cgo

package gpu

import (
	"fmt"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
)

// Restorer runs a restoration (kernels.Restoration) on the GPU, its
// images resident: one fused dispatch per channel and step
// (shaders/restore.comp), the energy reduced only when asked. Each
// channel's planes are buffers of their own, so a 16-megapixel image
// binds 64 MB a buffer, within software renderers' limits.
type Restorer struct {
	d        *Device
	p        *kernels.Restoration
	chans    []restoreChannel
	step     *kernel
	energy   *kernel
	su, eu   restoreUniforms
	partial  buffer
	result   buffer
	err      error
	gx, gy   int
	consts   kernels.StepConsts
	energies []float64
}

type restoreChannel struct {
	u, next, q, lo, hi, wx, wy, dw, m, v buffer
}

type restoreUniforms struct {
	iw, ih, eps, fid, lr, c1, c2, mu, rho, beta1, beta2, reps uniform
}

var ruleDefines = [...]string{"RULE_SGD", "RULE_MOMENTUM", "RULE_NESTEROV", "RULE_ADAGRAD", "RULE_RMSPROP", "RULE_ADAM"}

// NewRestorer uploads p and compiles its passes, starting from the stored
// image projected onto the bounds, as kernels.NewRestorer does.
func (d *Device) NewRestorer(p *kernels.Restoration) (*Restorer, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if int(p.Rule.Kind) >= len(ruleDefines) {
		return nil, fmt.Errorf("gpu: update rule %d unknown", p.Rule.Kind)
	}
	n := p.W * p.H
	r := &Restorer{d: d, p: p, gx: (p.W + 15) / 16, gy: (p.H + 15) / 16}
	energy := [...]string{"ENERGY_TIKHONOV", "ENERGY_TV", "ENERGY_EDGE"}[p.Energy.Kind]
	err := d.do(func() error {
		if lim := maxStorageBlock(); 4*n > lim {
			return fmt.Errorf("gpu: a %d×%d plane needs a %d MB buffer; this device binds at most %d MB", p.W, p.H, 4*n>>20, lim>>20)
		}
		defines := []string{energy, ruleDefines[p.Rule.Kind]}
		if p.D != nil {
			defines = append(defines, "DATA_WEIGHTS")
		}
		for pass, dst := range map[string]**kernel{"PASS_STEP": &r.step, "PASS_ENERGY": &r.energy} {
			src, err := source("restore.comp", append([]string{pass}, defines...)...)
			if err != nil {
				return err
			}
			if *dst, err = d.kernel(src); err != nil {
				return err
			}
		}
		r.su, r.eu = uniformsOf(r.step), uniformsOf(r.energy)
		for c := range p.Q {
			u := p.Initial(c)
			ch := restoreChannel{
				u:    newBuffer(4*n, unsafe.Pointer(&u[0])),
				next: newBuffer(4*n, nil),
				q:    newBuffer(4*n, unsafe.Pointer(&p.Q[c][0])),
				lo:   newBuffer(4*n, unsafe.Pointer(&p.Lo[c][0])),
				hi:   newBuffer(4*n, unsafe.Pointer(&p.Hi[c][0])),
			}
			if p.Energy.Kind == kernels.EdgeAware {
				ch.wx = newBuffer(4*n, unsafe.Pointer(&p.Wx[c][0]))
				ch.wy = newBuffer(4*n, unsafe.Pointer(&p.Wy[c][0]))
			}
			if p.D != nil {
				ch.dw = newBuffer(4*n, unsafe.Pointer(&p.D[c][0]))
			}
			zero := make([]float32, n)
			if p.Rule.Kind != kernels.RuleSGD {
				ch.m = newBuffer(4*n, unsafe.Pointer(&zero[0]))
			}
			if p.Rule.Kind == kernels.RuleAdam {
				ch.v = newBuffer(4*n, unsafe.Pointer(&zero[0]))
			}
			r.chans = append(r.chans, ch)
		}
		r.partial = d.buf(8*r.gx*r.gy, nil)
		r.result = d.buf(8, nil)
		return glErr("restorer upload")
	})
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func uniformsOf(k *kernel) restoreUniforms {
	var u restoreUniforms
	for name, dst := range map[string]*uniform{"iw": &u.iw, "ih": &u.ih, "eps": &u.eps, "fid": &u.fid, "lr": &u.lr,
		"c1": &u.c1, "c2": &u.c2, "mu": &u.mu, "rho": &u.rho, "beta1": &u.beta1, "beta2": &u.beta2, "reps": &u.reps} {
		*dst = k.p.uniform(name)
	}
	return u
}

// bindChannel binds channel c's planes and the problem's uniforms for k.
// On the device's thread.
func (r *Restorer) bindChannel(k *kernel, u restoreUniforms, c int) {
	ch := r.chans[c]
	k.p.use()
	ch.u.bind(bindIn)
	ch.next.bind(bindOut)
	ch.q.bind(bindAux)
	ch.lo.bind(bindLo)
	ch.hi.bind(bindHi)
	for _, b := range []struct {
		buf buffer
		at  uint32
	}{{ch.wx, bindWx}, {ch.wy, bindWy}, {ch.dw, bindDw}, {ch.m, bindM}, {ch.v, bindV}} {
		if b.buf != 0 {
			b.buf.bind(b.at)
		}
	}
	e := r.p.Energy
	u.iw.setUint(uint32(r.p.W))
	u.ih.setUint(uint32(r.p.H))
	u.eps.setFloat(float32(e.Eps))
	u.fid.setFloat(float32(e.Fidelity))
}

// Step implements kernels.Restorer.
func (r *Restorer) Step(c kernels.StepConsts) {
	if r.err != nil {
		return
	}
	r.consts = c
	r.err = r.d.do(r.dispatchStep)
}

func (r *Restorer) dispatchStep() error {
	rule, c, u := r.p.Rule, r.consts, r.su
	for i := range r.chans {
		r.bindChannel(r.step, u, i)
		u.lr.setFloat(c.LR)
		u.c1.setFloat(c.C1)
		u.c2.setFloat(c.C2)
		u.mu.setFloat(float32(rule.Mu))
		u.rho.setFloat(float32(rule.Rho))
		u.beta1.setFloat(float32(rule.Beta1))
		u.beta2.setFloat(float32(rule.Beta2))
		u.reps.setFloat(float32(rule.Eps))
		dispatch(uint32(r.gx), uint32(r.gy))
		ch := &r.chans[i]
		ch.u, ch.next = ch.next, ch.u
	}
	return glErr("restore step")
}

// Energy implements kernels.Restorer.
func (r *Restorer) Energy() float64 {
	if r.err != nil {
		return 0
	}
	if r.energies == nil {
		r.energies = make([]float64, 1)
	}
	sum := 0.0
	r.err = r.d.do(func() error {
		r.partial.bind(bindPartial)
		r.result.bind(bindResult)
		for i := range r.chans {
			r.bindChannel(r.energy, r.eu, i)
			dispatch(uint32(r.gx), uint32(r.gy))
			if err := r.d.reduce(r.result, r.gx*r.gy, 1, r.energies); err != nil {
				return err
			}
			sum += r.energies[0]
		}
		return glErr("restore energy")
	})
	return sum / float64(len(r.chans)*r.p.W*r.p.H)
}

// Image implements kernels.Restorer.
func (r *Restorer) Image() [][]float32 {
	n := r.p.W * r.p.H
	out := make([][]float32, len(r.chans))
	err := r.d.do(func() error {
		for c, ch := range r.chans {
			out[c] = make([]float32, n)
			r.d.read(ch.u, 0, 4*n, unsafe.Pointer(&out[c][0]))
		}
		return glErr("restore readback")
	})
	if r.err == nil {
		r.err = err
	}
	return out
}

// Err implements kernels.Restorer.
func (r *Restorer) Err() error { return r.err }

// Close frees the restorer's buffers.
func (r *Restorer) Close() {
	chans := r.chans
	r.chans = nil
	_ = r.d.do(func() error {
		for _, ch := range chans {
			for _, b := range []buffer{ch.u, ch.next, ch.q, ch.lo, ch.hi, ch.wx, ch.wy, ch.dw, ch.m, ch.v} {
				b.delete()
			}
		}
		r.d.free(r.partial)
		r.d.free(r.result)
		r.partial, r.result = 0, 0
		return nil
	})
}
