//go:build linux && cgo

package gpu

import (
	"fmt"

	"github.com/quantfit/quantfit/kernels"
)

var _ kernels.Shrinker = (*Restorer)(nil)

// shrinkPasses are the compiled passes of shaders/shrink.comp.
type shrinkPasses struct {
	bounds, mix, mixClamp, block, divide *kernel
}

func (d *Device) shrinkPasses() (shrinkPasses, error) {
	var k shrinkPasses
	for _, p := range []struct {
		dst     **kernel
		defines []string
	}{
		{&k.bounds, []string{"PASS_BOUNDS"}}, {&k.mix, []string{"PASS_MIX"}}, {&k.mixClamp, []string{"PASS_MIX", "CLAMP"}},
		{&k.block, []string{"PASS_BLOCK"}}, {&k.divide, []string{"PASS_DIVIDE"}},
	} {
		var err error
		if *p.dst, err = d.program("shrink.comp", p.defines...); err != nil {
			return k, err
		}
	}
	return k, nil
}

// Shrink implements kernels.Shrinker: passes of kernels.ShrinkPass on r's
// image within kernels.ShrinkBounds, all on the device; the image is not
// read back.
func (r *Restorer) Shrink(tau []float32, reach float32, stride, passes int) error {
	if r.err != nil {
		return r.err
	}
	p := r.p
	if len(tau) != len(r.chans) || stride <= 0 || kernels.ShrinkBlock%stride != 0 {
		return fmt.Errorf("gpu: shrink wants a threshold per channel (%d, got %d) and a stride that divides %d (got %d)",
			len(r.chans), len(tau), kernels.ShrinkBlock, stride)
	}
	if p.W < kernels.ShrinkBlock || p.H < kernels.ShrinkBlock || passes <= 0 {
		return nil
	}
	n, nc := p.W*p.H, len(r.chans)
	nbx, nby := len(kernels.ShrinkOrigins(p.W, stride)), len(kernels.ShrinkOrigins(p.H, stride))
	phases := kernels.ShrinkBlock / stride
	colour := nc == 3
	r.err = r.d.do(func() error {
		k, err := r.d.shrinkPasses()
		if err != nil {
			return err
		}
		var bufs []buffer
		planes := func() []buffer {
			out := make([]buffer, nc)
			for c := range out {
				out[c] = newBuffer(4*n, nil)
			}
			bufs = append(bufs, out...)
			return out
		}
		defer func() {
			for _, b := range bufs {
				b.delete()
			}
		}()
		lo, hi, acc := planes(), planes(), planes()
		src := make([]buffer, nc)
		for c, ch := range r.chans {
			src[c] = ch.u
		}
		if colour {
			src = planes()
		}
		wts := newBuffer(4*nbx*nby, nil)
		bufs = append(bufs, wts)
		size := func(k *kernel) {
			k.p.use()
			k.p.uniform("iw").setUint(uint32(p.W))
			k.p.uniform("ih").setUint(uint32(p.H))
		}
		size(k.bounds)
		k.bounds.p.uniform("reach").setFloat(reach)
		for c, ch := range r.chans {
			ch.u.bind(bindIn)
			ch.lo.bind(bindLo)
			ch.hi.bind(bindHi)
			lo[c].bind(bindOut)
			hi[c].bind(bindAux)
			dispatch(uint32(r.gx), uint32(r.gy))
		}
		// mix writes out = m·(p0, p1, p2), clamped to [a, b] where given
		mix := func(m [3]float32, in [3]buffer, out, a, b buffer) {
			kk := k.mix
			if a != 0 {
				kk = k.mixClamp
			}
			size(kk)
			kk.p.uniform("mx").setFloat(m[0])
			kk.p.uniform("my").setFloat(m[1])
			kk.p.uniform("mz").setFloat(m[2])
			in[0].bind(bindIn)
			in[1].bind(bindAux)
			in[2].bind(bindTaps)
			out.bind(bindOut)
			if a != 0 {
				a.bind(bindLo)
				b.bind(bindHi)
			}
			dispatch(uint32(r.gx), uint32(r.gy))
		}
		o := kernels.Opponent
		for range passes {
			if colour {
				u := [3]buffer{r.chans[0].u, r.chans[1].u, r.chans[2].u}
				for row := range 3 {
					mix(o[row], u, src[row], 0, 0)
				}
			}
			for c := range nc {
				size(k.block)
				k.block.p.uniform("stride").setUint(uint32(stride))
				k.block.p.uniform("nbx").setUint(uint32(nbx))
				k.block.p.uniform("nby").setUint(uint32(nby))
				k.block.p.uniform("tau").setFloat(tau[c])
				src[c].bind(bindIn)
				acc[c].bind(bindOut)
				wts.bind(bindAux)
				gx, gy := (nbx+phases-1)/phases, (nby+phases-1)/phases
				for py := range phases {
					for px := range phases {
						k.block.p.uniform("px").setUint(uint32(px))
						k.block.p.uniform("py").setUint(uint32(py))
						first := uint32(0)
						if px == 0 && py == 0 {
							first = 1
						}
						k.block.p.uniform("first").setUint(first)
						dispatch(uint32((gx+7)/8), uint32((gy+7)/8))
					}
				}
				size(k.divide)
				k.divide.p.uniform("stride").setUint(uint32(stride))
				k.divide.p.uniform("nbx").setUint(uint32(nbx))
				k.divide.p.uniform("nby").setUint(uint32(nby))
				acc[c].bind(bindOut)
				wts.bind(bindAux)
				dispatch(uint32(r.gx), uint32(r.gy))
			}
			for c, ch := range r.chans {
				if colour {
					mix([3]float32{o[0][c], o[1][c], o[2][c]}, [3]buffer{acc[0], acc[1], acc[2]}, ch.u, lo[c], hi[c])
				} else {
					mix([3]float32{1, 0, 0}, [3]buffer{acc[c], acc[c], acc[c]}, ch.u, lo[c], hi[c])
				}
			}
		}
		return glErr("shrink")
	})
	return r.err
}
