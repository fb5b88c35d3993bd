//go:build linux && cgo

package gpu

import (
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
)

var _ kernels.Refiner = (*Restorer)(nil)

// Refine implements kernels.Refiner: kernels.RefineApply on r's image
// within its problem's cells, on the device (shaders/refine.comp); the
// image is not read back.
func (r *Restorer) Refine(wt *kernels.RefineWeights, inv float32) error {
	if r.err != nil {
		return r.err
	}
	p := r.p
	r.err = r.d.do(func() error {
		k, err := r.d.program("refine.comp")
		if err != nil {
			return err
		}
		w := newBuffer(int(unsafe.Sizeof(*wt)), unsafe.Pointer(&wt[0][0]))
		defer w.delete()
		k.p.use()
		k.p.uniform("iw").setUint(uint32(p.W))
		k.p.uniform("ih").setUint(uint32(p.H))
		k.p.uniform("inv").setFloat(inv)
		w.bind(bindAux)
		for c := range r.chans {
			ch := &r.chans[c]
			ch.u.bind(bindIn)
			ch.lo.bind(bindLo)
			ch.hi.bind(bindHi)
			ch.next.bind(bindOut)
			dispatch(uint32(r.gx), uint32(r.gy))
			// as a step does: the result becomes the image
			ch.u, ch.next = ch.next, ch.u
		}
		return glErr("refine")
	})
	return r.err
}
