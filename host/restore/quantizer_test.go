package restore

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// dithered is im posterized to n levels through a 4×4 Bayer matrix, as
// ImageMagick's -ordered-dither o4x4,n and ffmpeg's low-depth formats
// store it; spread moves three samples in four two levels of the file off
// its lattice.
func dithered(im *imageset.Image, n int, spread bool) *imageset.Image {
	bayer := [16]float64{0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5}
	out := &imageset.Image{Name: im.Name, W: im.W, H: im.H, Channels: im.Channels}
	for c := range im.Channels {
		pl := make([]uint8, im.W*im.H)
		for i := range pl {
			x, y := i%im.W, i/im.W
			t := (bayer[(y%4)*4+x%4] + 0.5) / 16
			k := math.Min(math.Floor(float64(im.Value(c, i))*float64(n-1)+t), float64(n-1))
			v := math.Round(255 * k / float64(n-1))
			if spread && (x+2*y)%4 != 0 {
				v = math.Min(v+2, 255)
			}
			pl[i] = uint8(v)
		}
		out.Pix8 = append(out.Pix8, pl)
	}
	return out
}

// TestFindQuantizerDithered: a dithered pair, which no quantizer explains
// sample by sample, takes b from its stored values' lattice, and says
// so; values on no lattice keep the pair's b; a clean pair is untouched.
func TestFindQuantizerDithered(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	qz, err := FindQuantizer(dithered(orig, 8, false), orig, math.NaN(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if qz.BFrom != "blind" || qz.Model.String() != "posterize" || math.Abs(qz.B-8) > 0.05 || !strings.Contains(qz.Note, "residuals") {
		t.Errorf("dithered: %s b %.3f from %s, note %q; want posterize b 8 from the lattice, with a note", qz.Model, qz.B, qz.BFrom, qz.Note)
	}
	if qz, err = FindQuantizer(dithered(orig, 8, true), orig, math.NaN(), nil); err != nil || qz.BFrom != "pair" || qz.Note != "" {
		t.Errorf("dithered off the lattice: b %.3f from %s, note %q (%v); want the pair's", qz.B, qz.BFrom, qz.Note, err)
	}
	if qz, err = FindQuantizer(quantize(orig, 9.3), orig, math.NaN(), nil); err != nil || qz.BFrom != "pair" || qz.Note != "" || math.Abs(qz.B-9.3) > 0.05 {
		t.Errorf("clean pair: b %.3f from %s, note %q (%v); want 9.3 from the pair", qz.B, qz.BFrom, qz.Note, err)
	}
}

// TestFindQuantizerBeyond30: lattices finer than the estimator's default
// range (posterize 32, as ffmpeg's rgb555 stores; midrise 40) are found
// blindly and from the pair, not taken for one of half their levels; a
// photograph never quantized is given a lattice with a note that says so.
func TestFindQuantizerBeyond30(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m kernels.Model
		b float64
	}{{kernels.Posterize, 32}, {kernels.Midrise, 40}} {
		q := orig.Filter(func(x float64) float64 { return c.m.Apply(x, c.b) })
		for _, o := range []*imageset.Image{nil, orig} {
			qz, err := FindQuantizer(q, o, math.NaN(), nil)
			if err != nil || qz.Model != c.m || math.Abs(qz.B-c.b) > 0.1 || qz.Note != "" {
				t.Errorf("%s b %g (original %v): %s b %.3f from %s, note %q (%v)", c.m, c.b, o != nil, qz.Model, qz.B, qz.BFrom, qz.Note, err)
			}
		}
	}
	if qz, err := FindQuantizer(orig, nil, math.NaN(), nil); err != nil || !strings.Contains(qz.Note, "never quantized") {
		t.Errorf("a photograph: b %.3f, note %q (%v); want a note", qz.B, qz.Note, err)
	}
}
