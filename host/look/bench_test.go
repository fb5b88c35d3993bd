package look_test

import (
	"math"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/look"
	"github.com/quantfit/quantfit/kernels"
)

// upscale resizes im to w×h bilinearly: a photograph of a camera's size.
func upscale(im *imageset.Image, w, h int) *imageset.Image {
	out := &imageset.Image{Name: im.Name, W: w, H: h, Channels: im.Channels}
	for c := range im.Channels {
		p := make([]uint8, w*h)
		kernels.Parallel(h, func(lo, hi int) {
			for y := lo; y < hi; y++ {
				fy := (float64(y)+0.5)*float64(im.H)/float64(h) - 0.5
				y0 := max(0, min(im.H-2, int(math.Floor(fy))))
				ty := min(1, max(0, fy-float64(y0)))
				for x := range w {
					fx := (float64(x)+0.5)*float64(im.W)/float64(w) - 0.5
					x0 := max(0, min(im.W-2, int(math.Floor(fx))))
					tx := min(1, max(0, fx-float64(x0)))
					at := func(xx, yy int) float64 { return float64(im.Pix8[c][yy*im.W+xx]) }
					v := (1-ty)*((1-tx)*at(x0, y0)+tx*at(x0+1, y0)) + ty*((1-tx)*at(x0, y0+1)+tx*at(x0+1, y0+1))
					p[y*w+x] = uint8(v + 0.5)
				}
			}
		})
		out.Pix8 = append(out.Pix8, p)
	}
	return out
}

// BenchmarkLookFit12MP fits a look (a contrast curve and a channel mix
// ending in a 12-level posterize) on two 12 MP pairs (4000×3000), on the
// CPU and, where a context opens, the GPU: the goals are 60 s on
// 2 cores and 2 s on an H100/H200.
func BenchmarkLookFit12MP(b *testing.B) {
	var pairs []imageset.Pair
	for _, name := range []string{"astronaut", "coffee"} {
		im, err := imageset.Load("../restore/testdata/heldout/"+name+".png", 0)
		if err != nil {
			b.Fatal(err)
		}
		o := upscale(im, 4000, 3000)
		e := &imageset.Image{Name: name + "-edited", W: o.W, H: o.H, Channels: 3}
		for c := range 3 {
			p := make([]uint8, o.W*o.H)
			for i := range p {
				r, g, bl := float64(o.Value(0, i)), float64(o.Value(1, i)), float64(o.Value(2, i))
				v := [3]float64{0.9*r + 0.1*g, 0.05*r + 0.9*g + 0.05*bl, 0.1*g + 0.9*bl}[c]
				v = 1 / (1 + math.Exp(-8*(v-0.5)))
				p[i] = uint8(255*kernels.Posterize.Apply(v, 12) + 0.5)
			}
			e.Pix8 = append(e.Pix8, p)
		}
		pairs = append(pairs, imageset.Pair{Orig: o, Quant: e})
	}
	backends := []struct {
		name string
		be   func(b *testing.B) (look.Backend, func())
	}{
		{"cpu", func(*testing.B) (look.Backend, func()) { return look.CPU{}, func() {} }},
		{"gpu", func(b *testing.B) (look.Backend, func()) {
			d, err := gpu.Open(gpu.Options{AllowSoftware: true})
			if err != nil {
				b.Skipf("no OpenGL 4.3 context: %v", err)
			}
			return &backend.GPU{Device: d}, d.Close
		}},
	}
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			be, release := bk.be(b)
			defer release()
			for b.Loop() {
				l, err := look.Fit(pairs, look.Settings{Backend: be})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(l.Fit.Pairs[0].PSNR, "dB")
			}
		})
	}
}
