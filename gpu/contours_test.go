//go:build linux && cgo

package gpu

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// TestContoursParity holds seeds.comp and edt.comp to their CPU twins
// (kernels.JumpSeeds, kernels.EDT of kernels.RimMask), sample for sample:
// planes of odd sizes (strides that leave the plane at every edge, one
// side a single row); levels from blobs (wide bands of many shapes) and
// noise (a level on most samples' sides, gaps of every size for the
// tiers); a corridor one sample wide winding through a plane (the passes
// of stride 1); a speck in a flat plane (columns with no rim) and a flat
// plane (no rim at all).
func TestContoursParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		w, h  int
		noise float64
		kind  string
	}{{97, 61, 0, "blobs"}, {64, 64, 0.3, "blobs"}, {33, 1, 0.5, "blobs"}, {130, 45, 0.05, "blobs"}, {40, 67, 0, "corridor"},
		{51, 38, 0, "speck"}, {20, 9, 0, "flat"}} {
		level := make([]int32, c.w*c.h)
		cx, cy := r.Float64()*float64(c.w), r.Float64()*float64(c.h)
		for y := range c.h {
			for x := range c.w {
				dx, dy := float64(x)-cx, float64(y)-cy
				v := int32((dx*dx+3*dy*dy)/200) % 9
				if r.Float64() < c.noise {
					v += int32(r.IntN(5)) - 2
				}
				switch c.kind {
				case "corridor":
					v = 10
					if y%4 == 1 || y%8 == 3 && x == 0 || y%8 == 7 && x == c.w-1 {
						v = 9
					}
				case "speck", "flat":
					v = 4
				}
				level[y*c.w+x] = v
			}
		}
		switch c.kind {
		case "corridor":
			level[(c.h-3)*c.w] = 8
		case "speck":
			level[20*c.w+30] = 5
		}
		band := kernels.BandLabels(level, c.w, c.h)
		want := kernels.JumpSeeds(level, band, c.w, c.h)
		got, err := d.Contours(level, band, c.w, c.h)
		if err != nil {
			t.Fatal(err)
		}
		if rim := kernels.EDT(kernels.RimMask(level, c.w, c.h), c.w, c.h); !slices.Equal(got.Rim, rim) {
			bad := 0
			for i := range rim {
				if got.Rim[i] != rim[i] {
					bad++
				}
			}
			t.Errorf("%s %d×%d, noise %g: the rim distances of %d samples differ from the CPU's", c.kind, c.w, c.h, c.noise, bad)
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
				t.Errorf("%s %d×%d, noise %g: %s seeds of %d samples differ from the CPU's", c.kind, c.w, c.h, c.noise, f.name, bad)
			}
		}
	}
}
