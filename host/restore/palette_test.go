package restore

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// paletted maps im's colours to the nearest of a palette of n of its own
// pixels' colours (taken at fixed places, so that the palette is
// irregular, as a tool's is), Floyd–Steinberg's error diffusion when fs,
// else nearest colour alone. A grey image stays grey.
func paletted(im *imageset.Image, n int, fs bool) *imageset.Image {
	ch := im.Channels
	pal := make([][]float64, n)
	for k := range pal {
		i := (k*7919*im.W + k*104729) % (im.W * im.H)
		for c := range ch {
			pal[k] = append(pal[k], float64(im.Value(c, i)))
		}
	}
	// the darkest and the lightest, so that the palette spans the image
	for c := range ch {
		pal[0][c], pal[1][c] = 0, 1
	}
	return toPalette(im, pal, fs)
}

// toPalette maps im's colours to the nearest of pal's, by Floyd–Steinberg's
// error diffusion when fs, else nearest colour alone.
func toPalette(im *imageset.Image, pal [][]float64, fs bool) *imageset.Image {
	ch := im.Channels
	w, h := im.W, im.H
	v := make([][]float64, ch)
	out := &imageset.Image{Name: im.Name, W: w, H: h, Channels: ch}
	for c := range ch {
		v[c] = make([]float64, w*h)
		for i := range v[c] {
			v[c][i] = float64(im.Value(c, i))
		}
		out.Pix8 = append(out.Pix8, make([]uint8, w*h))
	}
	for y := range h {
		for x := range w {
			i := y*w + x
			best, bd := 0, math.Inf(1)
			for k, p := range pal {
				d := 0.0
				for c := range ch {
					e := v[c][i] - p[c]
					d += e * e
				}
				if d < bd {
					best, bd = k, d
				}
			}
			for c := range ch {
				out.Pix8[c][i] = uint8(math.Round(255 * pal[best][c]))
				if !fs {
					continue
				}
				e := v[c][i] - pal[best][c]
				spread := func(dx, dy int, f float64) {
					if xx, yy := x+dx, y+dy; xx >= 0 && xx < w && yy < h {
						v[c][yy*w+xx] += e * f
					}
				}
				spread(1, 0, 7.0/16)
				spread(-1, 1, 3.0/16)
				spread(0, 1, 5.0/16)
				spread(1, 1, 1.0/16)
			}
		}
	}
	return out
}

// TestPalette: a colour photograph mapped to a palette of 16 of its
// colours, by Floyd–Steinberg's error diffusion and by the nearest colour
// alone, is found a palette, blindly, the first diffused; both restores
// gain over the stored image and over the restore within the levels'
// cells, the diffused one by far. A grey image's diffusion (its levels'
// cells are its palette's), one channel or three alike, is left to the
// levels' cells.
func TestPalette(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	e := kernels.Energy{Kind: kernels.EdgeAware, Fidelity: DefaultFidelity}
	restored := func(q *imageset.Image, z Quantizer) float64 {
		p, cell, err := z.Dequantization(q, e, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(p, cell, Settings{Shrink: DefaultShrinkPasses})
		if err != nil {
			t.Fatal(err)
		}
		return PSNR(res.Planes, orig)
	}
	for _, c := range []struct {
		fs         bool
		dither     string
		over, cell float64 // the least gain over the stored image and over the levels' cells
	}{{true, "error diffusion", 2.5, 2}, {false, "", 0.2, 0.2}} {
		q := paletted(orig, 16, c.fs)
		qz, err := FindQuantizer(q, nil, math.NaN(), nil)
		if err != nil {
			t.Fatal(err)
		}
		kind := ""
		if qz.Dither != nil {
			kind = qz.Dither.Kind()
		}
		if !qz.Levels || qz.Palette != 16 || kind != c.dither || !strings.Contains(qz.Note, "colours") && !strings.Contains(qz.Note, "error diffusion") {
			t.Fatalf("Floyd–Steinberg %v: %s b %.0f, palette %d, dither %q, note %q; want levels, a palette of 16, dither %q", c.fs, qz.ModelName(), qz.B, qz.Palette, kind, qz.Note, c.dither)
		}
		cells := qz
		cells.Dither, cells.Palette = nil, 0
		stored, in, got := PSNR(Planes(q), orig), restored(q, cells), restored(q, qz)
		t.Logf("Floyd–Steinberg %v: stored %.2f dB, restored %.2f within the levels' cells, %.2f towards the local estimate", c.fs, stored, in, got)
		if got < stored+c.over || got < in+c.cell {
			t.Errorf("Floyd–Steinberg %v: restored %.2f dB, %.2f within the levels' cells, stored %.2f; want %g dB over the stored and %g over the cells", c.fs, got, in, stored, c.over, c.cell)
		}
	}

	// colours that rank alike in every channel are no grey
	browns := [][]float64{{0, 0, 0}, {0.3, 0.2, 0.1}, {0.6, 0.45, 0.35}, {1, 0.95, 0.85}}
	if qz, err := FindQuantizer(toPalette(orig, browns, true), nil, math.NaN(), nil); err != nil || qz.Palette != 4 {
		t.Errorf("four browns: %s b %.0f, palette %d (%v); want a palette of 4", qz.ModelName(), qz.B, qz.Palette, err)
	}

	grey := orig.Filter(func(x float64) float64 { return x })
	grey.Channels, grey.Pix8 = 1, grey.Pix8[:1]
	grey3 := paletted(grey, 16, true)
	grey3.Channels, grey3.Pix8 = 3, [][]uint8{grey3.Pix8[0], grey3.Pix8[0], grey3.Pix8[0]}
	for name, im := range map[string]*imageset.Image{"a grey diffusion": paletted(grey, 16, true), "a grey diffusion in RGB": grey3} {
		qz, err := FindQuantizer(im, nil, math.NaN(), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if qz.Dither != nil || qz.Palette != 0 {
			t.Errorf("%s: %s b %.0f, palette %d, dither %+v; want neither", name, qz.ModelName(), qz.B, qz.Palette, qz.Dither)
		}
	}
}

// TestDiffusionScore: contours score under 1, a diffused mixture over.
func TestDiffusionScore(t *testing.T) {
	const w, h = 64, 64
	bands, diffused := make([]int32, w*h), make([]int32, w*h)
	for y := range h {
		err := 0.0
		for x := range w {
			bands[y*w+x] = int32(x / 8)
			// a ramp of 0.3 between levels 0 and 1, diffused along the row
			// with the row's phase
			v := 0.3 + err + 0.01*float64(y%7)
			if v >= 0.5 {
				diffused[y*w+x] = 1
			}
			err = v - float64(diffused[y*w+x])
		}
	}
	for name, c := range map[string]struct {
		k      []int32
		lo, hi float64
	}{"bands": {bands, 0, 0.6}, "diffused": {diffused, 1.1, math.Inf(1)}} {
		s, n := diffusionScore([][]int32{c.k}, w, h)
		if n == 0 || s < c.lo || s > c.hi {
			t.Errorf("%s: score %.3f from %d pairs; want in [%g, %g]", name, s, n, c.lo, c.hi)
		}
	}
}

// TestPaletteOf: a palette of 16 colours is one; a quantizer of each
// channel, which takes most of its levels' combinations, and an image of
// more than 256 colours are not.
func TestPaletteOf(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		im   *imageset.Image
		want int
	}{
		"16 colours":        {paletted(orig, 16, false), 16},
		"posterize 4":       {orig.Filter(func(x float64) float64 { return kernels.Posterize.Apply(x, 4) }), 0},
		"the original":      {orig, 0},
		"one channel of 16": {&imageset.Image{W: orig.W, H: orig.H, Channels: 1, Pix8: paletted(orig, 16, false).Pix8[:1]}, 0},
	} {
		if got := paletteOf(c.im); got != c.want {
			t.Errorf("%s: paletteOf %d, want %d", name, got, c.want)
		}
	}
}

// TestPaletteNoises: a palette's bands take paletteNoise, a dithered
// region diffusionNoise.
func TestPaletteNoises(t *testing.T) {
	const w, h = 96, 64
	im := &imageset.Image{W: w, H: h, Channels: 3}
	for range 3 {
		im.Pix8 = append(im.Pix8, make([]uint8, w*h))
	}
	for y := range h {
		err := 0.0
		for x := range w {
			v := uint8(0)
			if x < w/2 {
				// bands 8 wide
				v = uint8(40 * (x / 8))
			} else {
				// 0.4 of the way from 100 to 180, diffused along the row
				f := 0.4 + err + 0.01*float64(y%5)
				v = 100
				if f >= 0.5 {
					v = 180
				}
				err = f - float64(v-100)/80
			}
			im.Pix8[0][y*w+x], im.Pix8[1][y*w+x], im.Pix8[2][y*w+x] = v, v/2, 255-v
		}
	}
	n := paletteNoises(im, false)
	for _, c := range []struct {
		x    int
		want float32
	}{{w / 4, paletteNoise}, {3 * w / 4, diffusionNoise}} {
		if got := n[h/2*w+c.x]; math.Abs(float64(got-c.want)) > 0.05 {
			t.Errorf("x %d: noise %.3f, want %.3f", c.x, got, c.want)
		}
	}
}

// TestFFmpegPalette: ffmpeg's paletteuse of a smooth photograph (retina)
// at 16 colours, with its default error diffusion and without a dither,
// is found a palette and restored with a gain; within the levels' cells
// the undithered one had lost 10 dB. It needs ffmpeg.
func TestFFmpegPalette(t *testing.T) {
	im, err := photos.Load("retina.jpg")
	if err != nil {
		t.Fatal(err)
	}
	orig := resize(im, 1, [4]int{(im.W - 256) / 2, (im.H - 256) / 2, 256, 256})
	for _, c := range []struct {
		dither string
		gain   float64
	}{{"sierra2_4a", 2}, {"none", 0.1}} {
		q := ffmpegFilter(t, orig, "split[a][b];[a]palettegen=max_colors=16[p];[b][p]paletteuse=dither="+c.dither)
		if q == nil {
			t.Skip("ffmpeg is not installed")
		}
		out, qz, _, err := Dequantize(q, nil, math.NaN(), nil, Settings{}, 8)
		if err != nil {
			t.Fatal(err)
		}
		gain := PSNR(Planes(out), orig) - PSNR(Planes(q), orig)
		t.Logf("paletteuse=dither=%s: palette %d, dither %+v: %+.2f dB", c.dither, qz.Palette, qz.Dither, gain)
		if qz.Palette == 0 || gain < c.gain {
			t.Errorf("paletteuse=dither=%s: palette %d, %+.2f dB restored; want a palette and %g dB or more", c.dither, qz.Palette, gain, c.gain)
		}
	}
}
