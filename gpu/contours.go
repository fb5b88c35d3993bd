//go:build linux && cgo

package gpu

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/quantfit/quantfit/kernels"
)

// maxSeedSide is the widest plane whose squared distances seeds.comp
// holds exactly in a uint (2·46340² < 2³²), and whose coordinates it
// packs in 16 bits each.
const maxSeedSide = 46340

// relaxBatch is the most passes of stride 1 run between reads of the
// change flag.
const relaxBatch = 16

// Contours finds the contour search's findings on the plane level (w×h,
// band labelling its bands) on the device, the levels uploaded once:
// kernels.JumpSeeds (shaders/seeds.comp) and the rim's squared distances,
// kernels.EDT of kernels.RimMask (shaders/edt.comp), equal to them sample
// for sample. The seeds take per field one pass of the 4 neighbours, then
// one per stride, each reading the last pass's seeds, resident, then for
// a band's fields passes of stride 1 until one changes nothing; each
// field is read back at its end.
func (d *Device) Contours(level, band []int32, w, h int) (kernels.Contours, error) {
	n := w * h
	if len(level) != n || len(band) != n || n == 0 {
		return kernels.Contours{}, fmt.Errorf("gpu: contours of a %d×%d plane given %d levels and %d labels", w, h, len(level), len(band))
	}
	if w > maxSeedSide || h > maxSeedSide {
		return kernels.Contours{}, fmt.Errorf("gpu: contours of a %d×%d plane: sides up to %d", w, h, maxSeedSide)
	}
	var out kernels.Contours
	out.Lower, out.Upper, out.Below, out.Above = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	d2 := make([]uint32, n)
	noRim := false
	err := d.do(func() error {
		if lim := maxStorageBlock(); 4*n > lim {
			return fmt.Errorf("gpu: a %d×%d plane needs a %d MB buffer; this device binds at most %d MB", w, h, 4*n>>20, lim>>20)
		}
		// [field][pass]: the strides', the first, the counting one
		var passes [2][3]*kernel
		for f, field := range []string{"BAND", "TIERS"} {
			for p, defs := range [][]string{{"PASS_JUMP"}, {"PASS_INIT"}, {"PASS_JUMP", "COUNT"}} {
				k, err := d.program("seeds.comp", append([]string{field}, defs...)...)
				if err != nil {
					return err
				}
				passes[f][p] = k
			}
		}
		lv, bd := d.buf(4*n, unsafe.Pointer(&level[0])), d.buf(4*n, unsafe.Pointer(&band[0]))
		defer d.free(lv)
		defer d.free(bd)
		var err error
		if noRim, err = d.rimDistances(lv, w, h, d2); err != nil {
			return err
		}
		var cur, next [kernels.SeedTiers]buffer
		for t := range cur {
			cur[t], next[t] = d.buf(4*n, nil), d.buf(4*n, nil)
		}
		defer func() {
			for t := range cur {
				d.free(cur[t])
				d.free(next[t])
			}
		}()
		gx, gy := uint32((w+15)/16), uint32((h+15)/16)
		lv.bind(bindLevel)
		bd.bind(bindBand)
		steps := kernels.JumpSteps(w, h)
		fields := []struct {
			tiers bool
			up    uint32
			dst   []int32
		}{{false, 0, out.Lower}, {false, 1, out.Upper}, {true, 0, out.Below}, {true, 1, out.Above}}
		flag := d.buf(4, nil)
		defer d.free(flag)
		flag.bind(bindChanged)
		for _, f := range fields {
			ti := 0
			if f.tiers {
				ti = 1
			}
			run := func(k *kernel, stride int) {
				k.p.use()
				k.p.uniform("iw").setUint(uint32(w))
				k.p.uniform("ih").setUint(uint32(h))
				k.p.uniform("up").setUint(f.up)
				k.k.setUint(uint32(stride))
				for t := range cur {
					cur[t].bind(bindSeed0 + uint32(t))
					next[t].bind(bindNext0 + uint32(t))
				}
				dispatch(gx, gy)
				cur, next = next, cur
			}
			run(passes[ti][1], 0)
			for _, k := range steps {
				run(passes[ti][0], k)
			}
			// kernels.JumpSeeds' passes of stride 1 in a band, in batches
			// whose last flags a change (passes after the fixpoint change
			// nothing): most photographs' bands need one, so the batches
			// grow from 1 to relaxBatch, ending on kernels.MaxRelax
			for done := 0; !f.tiers && done < kernels.MaxRelax; {
				batch := min(relaxBatch, max(1, done))
				done += batch
				for range batch - 1 {
					run(passes[ti][0], 1)
				}
				var changed uint32
				flag.zero(4)
				run(passes[ti][2], 1)
				d.read(flag, 0, 4, unsafe.Pointer(&changed))
				if changed == 0 {
					break
				}
			}
			d.read(cur[0], 0, 4*n, unsafe.Pointer(&f.dst[0]))
		}
		// the seeds as indices: seeds.comp holds y << 16 | x
		for _, f := range fields {
			kernels.Parallel(len(f.dst), func(i0, i1 int) {
				for i, s := range f.dst[i0:i1] {
					if s >= 0 {
						f.dst[i0+i] = s>>16*int32(w) + s&0xffff
					}
				}
			})
		}
		return glErr("contours")
	})
	if err != nil {
		return kernels.Contours{}, err
	}
	// the rim's squared distances, +Inf everywhere where there is no rim
	out.Rim = make([]float64, n)
	kernels.Parallel(n, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			out.Rim[i] = float64(d2[i])
			if noRim {
				out.Rim[i] = math.Inf(1)
			}
		}
	})
	return out, nil
}

// rimDistances runs edt.comp over the levels bound in lv into d2, or
// says that the plane has no rim (d2 then untouched). On the device's
// thread.
func (d *Device) rimDistances(lv buffer, w, h int, d2 []uint32) (noRim bool, err error) {
	n := w * h
	cols, err := d.program("edt.comp", "PASS_COLUMNS")
	if err != nil {
		return false, err
	}
	rows, err := d.program("edt.comp", "PASS_ROWS")
	if err != nil {
		return false, err
	}
	g, sites, starts, dist := d.buf(4*n, nil), d.buf(4*n, nil), d.buf(4*n, nil), d.buf(4*n, nil)
	defer d.free(g)
	defer d.free(sites)
	defer d.free(starts)
	defer d.free(dist)
	lv.bind(bindLevel)
	g.bind(bindColumn)
	sites.bind(bindSites)
	starts.bind(bindStarts)
	dist.bind(bindDist)
	for _, k := range []*kernel{cols, rows} {
		k.p.use()
		k.p.uniform("iw").setUint(uint32(w))
		k.p.uniform("ih").setUint(uint32(h))
	}
	cols.p.use()
	dispatch(uint32((w+63)/64), 1)
	// a column's first sample is as far from the rim as any in it: a
	// plane with no rim at all has w + h there in every column
	first := make([]uint32, w)
	d.read(g, 0, 4*w, unsafe.Pointer(&first[0]))
	if slices.Max(first) == uint32(w+h) && slices.Min(first) == uint32(w+h) {
		return true, nil
	}
	rows.p.use()
	dispatch(uint32((h+63)/64), 1)
	d.read(dist, 0, 4*n, unsafe.Pointer(&d2[0]))
	return false, glErr("rim distances")
}
