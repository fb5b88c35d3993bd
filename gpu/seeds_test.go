//go:build linux && cgo

package gpu

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// TestSeedsParity holds seeds.comp to its CPU twin (kernels.JumpSeeds),
// sample for sample: planes of odd sizes (strides that leave the plane at
// every edge, one side a single row), levels from blobs (wide bands of
// many shapes) and noise (a level on most samples' sides, gaps of every
// size for the tiers), and a corridor one sample wide winding through a
// plane (the passes of stride 1).
func TestSeedsParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		w, h     int
		noise    float64
		corridor bool
	}{{97, 61, 0, false}, {64, 64, 0.3, false}, {33, 1, 0.5, false}, {130, 45, 0.05, false}, {40, 67, 0, true}} {
		level := make([]int32, c.w*c.h)
		cx, cy := r.Float64()*float64(c.w), r.Float64()*float64(c.h)
		for y := range c.h {
			for x := range c.w {
				dx, dy := float64(x)-cx, float64(y)-cy
				v := int32((dx*dx+3*dy*dy)/200) % 9
				if r.Float64() < c.noise {
					v += int32(r.IntN(5)) - 2
				}
				level[y*c.w+x] = v
				if c.corridor {
					level[y*c.w+x] = 10
					if y%4 == 1 || y%8 == 3 && x == 0 || y%8 == 7 && x == c.w-1 {
						level[y*c.w+x] = 9
					}
				}
			}
		}
		if c.corridor {
			level[(c.h-3)*c.w] = 8
		}
		band := kernels.BandLabels(level, c.w, c.h)
		want := kernels.JumpSeeds(level, band, c.w, c.h)
		got, err := d.Seeds(level, band, c.w, c.h)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			name      string
			got, want []int32
		}{{"lower", got.Lower, want.Lower}, {"upper", got.Upper, want.Upper}, {"below", got.Below, want.Below}, {"above", got.Above, want.Above}} {
			if !slices.Equal(f.got, f.want) {
				bad := 0
				for i := range f.got {
					if f.got[i] != f.want[i] {
						bad++
					}
				}
				t.Errorf("%d×%d, noise %g: %s seeds of %d samples differ from the CPU's", c.w, c.h, c.noise, f.name, bad)
			}
		}
	}
}
