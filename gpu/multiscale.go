//go:build linux && cgo

package gpu

import (
	"fmt"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
)

var _ kernels.Leveled = (*Restorer)(nil)

// multiscale returns the device's passes of shaders/multiscale.comp.
// On the device's thread.
func (d *Device) multiscale() (mean, pairs, prolong *kernel, err error) {
	for pass, dst := range map[string]**kernel{"PASS_MEAN": &mean, "PASS_PAIRS": &pairs, "PASS_PROLONG": &prolong} {
		src, err := source("multiscale.comp", pass)
		if err != nil {
			return nil, nil, nil, err
		}
		if *dst, err = d.kernel(src); err != nil {
			return nil, nil, nil, err
		}
	}
	return mean, pairs, prolong, nil
}

// Coarser implements kernels.Leveled: the restorer of r's problem at half
// its size (kernels.Restoration.Coarse), its planes restricted on the
// device from r's and starting from its stored image; nothing crosses to
// the host. It shares r's compiled passes.
func (r *Restorer) Coarser() (kernels.Restorer, error) {
	if r.err != nil {
		return nil, r.err
	}
	p := r.p
	cw, ch := (p.W+1)/2, (p.H+1)/2
	// the coarse problem's header: its planes live on the device only
	cp := &kernels.Restoration{W: cw, H: ch, Energy: p.Energy, Rule: p.Rule}
	c := &Restorer{d: r.d, p: cp, step: r.step, energy: r.energy, su: r.su, eu: r.eu, gx: (cw + 15) / 16, gy: (ch + 15) / 16}
	n := cw * ch
	err := r.d.do(func() error {
		mean, pairs, _, err := r.d.multiscale()
		if err != nil {
			return err
		}
		run := func(k *kernel, from, to buffer, axis [2]uint32) {
			k.p.use()
			from.bind(bindIn)
			to.bind(bindOut)
			k.p.uniform("iw").setUint(uint32(p.W))
			k.p.uniform("ih").setUint(uint32(p.H))
			k.p.uniform("cw").setUint(uint32(cw))
			k.p.uniform("ch").setUint(uint32(ch))
			k.p.uniform("ax").setUint(axis[0])
			k.p.uniform("ay").setUint(axis[1])
			dispatch(uint32(c.gx), uint32(c.gy))
		}
		zero := make([]float32, n)
		for _, f := range r.chans {
			cc := restoreChannel{u: newBuffer(4*n, nil), next: newBuffer(4*n, nil), q: newBuffer(4*n, nil), lo: newBuffer(4*n, nil), hi: newBuffer(4*n, nil)}
			run(mean, f.q, cc.q, [2]uint32{})
			// the start is the stored image: the mean of samples within
			// their bounds lies within the mean bounds, so projection
			// leaves it as it is
			run(mean, f.q, cc.u, [2]uint32{})
			run(mean, f.lo, cc.lo, [2]uint32{})
			run(mean, f.hi, cc.hi, [2]uint32{})
			if f.wx != 0 {
				cc.wx, cc.wy = newBuffer(4*n, nil), newBuffer(4*n, nil)
				run(pairs, f.wx, cc.wx, [2]uint32{1, 0})
				run(pairs, f.wy, cc.wy, [2]uint32{0, 1})
			}
			if f.dw != 0 {
				cc.dw = newBuffer(4*n, nil)
				run(mean, f.dw, cc.dw, [2]uint32{})
			}
			if f.m != 0 {
				cc.m = newBuffer(4*n, unsafe.Pointer(&zero[0]))
			}
			if f.v != 0 {
				cc.v = newBuffer(4*n, unsafe.Pointer(&zero[0]))
			}
			c.chans = append(c.chans, cc)
		}
		c.partial = r.d.buf(8*c.gx*c.gy, nil)
		c.result = r.d.buf(8, nil)
		return glErr("restorer restriction")
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// StartFrom implements kernels.Leveled: r's image becomes coarse's,
// prolonged bilinearly and projected onto r's bounds (kernels.Prolong,
// Restoration.Initial), on the device; the rule's state starts again.
// coarse is a Restorer of the same device.
func (r *Restorer) StartFrom(coarse kernels.Restorer) error {
	c, ok := coarse.(*Restorer)
	if !ok || c.d != r.d || len(c.chans) != len(r.chans) {
		return fmt.Errorf("gpu: a restorer starts from a coarser one of its own device and channels, not %T", coarse)
	}
	if r.err != nil {
		return r.err
	}
	if err := c.Err(); err != nil {
		return err
	}
	p := r.p
	n := p.W * p.H
	r.err = r.d.do(func() error {
		_, _, prolong, err := r.d.multiscale()
		if err != nil {
			return err
		}
		k := prolong
		k.p.use()
		k.p.uniform("iw").setUint(uint32(p.W))
		k.p.uniform("ih").setUint(uint32(p.H))
		k.p.uniform("cw").setUint(uint32(c.p.W))
		k.p.uniform("ch").setUint(uint32(c.p.H))
		// the scales as kernels.Prolong rounds them
		k.p.uniform("sx").setFloat(float32(c.p.W) / float32(p.W))
		k.p.uniform("sy").setFloat(float32(c.p.H) / float32(p.H))
		for i, f := range r.chans {
			c.chans[i].u.bind(bindIn)
			f.u.bind(bindOut)
			f.lo.bind(bindLo)
			f.hi.bind(bindHi)
			dispatch(uint32(r.gx), uint32(r.gy))
			if f.m != 0 {
				f.m.zero(4 * n)
			}
			if f.v != 0 {
				f.v.zero(4 * n)
			}
		}
		return glErr("restorer prolongation")
	})
	return r.err
}
