package restore

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// dithered is im posterized to n levels through a 4×4 Bayer matrix, as
// ImageMagick's -ordered-dither o4x4,n and ffmpeg's low-depth formats
// store it; spread moves the samples by up to that many values of the
// file either way, in a fixed pattern, off every lattice.
func dithered(im *imageset.Image, n, spread int) *imageset.Image {
	bayer := [16]float64{0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5}
	out := &imageset.Image{Name: im.Name, W: im.W, H: im.H, Channels: im.Channels}
	for c := range im.Channels {
		pl := make([]uint8, im.W*im.H)
		for i := range pl {
			x, y := i%im.W, i/im.W
			t := (bayer[(y%4)*4+x%4] + 0.5) / 16
			k := math.Min(math.Floor(float64(im.Value(c, i))*float64(n-1)+t), float64(n-1))
			v := math.Round(255 * k / float64(n-1))
			if spread > 0 {
				v += float64((7*x+3*y+c)%(2*spread+1) - spread)
			}
			pl[i] = uint8(math.Min(math.Max(v, 0), 255))
		}
		out.Pix8 = append(out.Pix8, pl)
	}
	return out
}

// TestFindQuantizerDithered: a dithered pair, which no quantizer explains
// sample by sample, takes b from its stored values' lattice, and says
// so; values on no lattice but few are taken as the levels; values on
// none and many keep the pair's b; a clean pair is untouched.
func TestFindQuantizerDithered(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	qz, err := FindQuantizer(dithered(orig, 8, 0), orig, math.NaN(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if qz.BFrom != "blind" || qz.ModelName() != "posterize" || math.Abs(qz.B-8) > 0.05 || !strings.Contains(qz.Note, "residuals") {
		t.Errorf("dithered: %s b %.3f from %s, note %q; want posterize b 8 from the lattice, with a note", qz.ModelName(), qz.B, qz.BFrom, qz.Note)
	}
	if qz, err = FindQuantizer(dithered(orig, 8, 1), orig, math.NaN(), nil); err != nil || !qz.Levels || !strings.Contains(qz.Note, "residuals") {
		t.Errorf("dithered off the lattice, 24 values: %s b %.3f from %s, note %q (%v); want the values as the levels", qz.ModelName(), qz.B, qz.BFrom, qz.Note, err)
	}
	if qz, err = FindQuantizer(dithered(orig, 8, 10), orig, math.NaN(), nil); err != nil || qz.BFrom != "pair" || qz.Note != "" {
		t.Errorf("dithered off the lattice, 168 values: %s b %.3f from %s, note %q (%v); want the pair's", qz.ModelName(), qz.B, qz.BFrom, qz.Note, err)
	}
	if qz, err = FindQuantizer(quantize(orig, 9.3), orig, math.NaN(), nil); err != nil || qz.BFrom != "pair" || qz.Note != "" || math.Abs(qz.B-9.3) > 0.05 {
		t.Errorf("clean pair: b %.3f from %s, note %q (%v); want 9.3 from the pair", qz.B, qz.BFrom, qz.Note, err)
	}
}

// TestFindQuantizerBeyond30: lattices finer than the estimator's default
// range (posterize 32, as ffmpeg's rgb555 stores; midrise 40) are found
// blindly and from the pair, not taken for one of half their levels; a
// photograph never quantized is refused, blindly, with the file named.
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
	if qz, err := FindQuantizer(orig, nil, math.NaN(), nil); !errors.Is(err, ErrNoLattice) || !strings.Contains(err.Error(), orig.Name) {
		t.Errorf("a photograph: b %.3f (%v); want ErrNoLattice, naming it", qz.B, err)
	}
}

// TestLevels: values that no model's lattice holds but that are few are
// each taken as a level. A contrast stretch of an 8-bit photograph (its
// levels 2 or 3 values apart, offset, many clipped) was restored at b 5,
// flattened; now its values are its levels, every sample stays within
// half a spacing, a channel of one value is held at it, and a ramp
// quantized in linear light and stored in gamma (levels unevenly spaced)
// gains.
func TestLevels(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	stretched := orig.Filter(func(x float64) float64 {
		return math.Round(255*math.Min(1, math.Max(0, (math.Round(255*x)/255-0.3)/0.4))) / 255
	})
	qz, err := FindQuantizer(stretched, nil, math.NaN(), nil)
	if err != nil || !qz.Levels || qz.ModelName() != "levels" || qz.B < 90 || qz.B > 110 {
		t.Fatalf("a stretch: %s b %.3f, levels %v (%v); want its ~100 values as the levels", qz.ModelName(), qz.B, qz.Levels, err)
	}
	p, _, err := qz.Dequantization(stretched, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: DefaultFidelity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for c := range p.Lo {
		for i := range p.Lo[c] {
			v := stretched.Value(c, i)
			if v < p.Lo[c][i] || v > p.Hi[c][i] || p.Hi[c][i]-p.Lo[c][i] > 3.5/255 {
				t.Fatalf("channel %d sample %d: %g in [%g, %g]", c, i, v, p.Lo[c][i], p.Hi[c][i])
			}
		}
	}

	// a channel of one value is held at it
	flat := stretched.Filter(func(x float64) float64 { return x })
	for i := range flat.Pix8[1] {
		flat.Pix8[1][i] = 77
	}
	if p, _, err = LevelsDequantization(flat, kernels.Energy{Kind: kernels.EdgeAware}, nil); err != nil || p.Lo[1][0] != p.Hi[1][0] || p.Hi[1][0] != flat.Value(1, 0) {
		t.Errorf("a flat channel: %v, cell [%g, %g]", err, p.Lo[1][0], p.Hi[1][0])
	}

	// a ramp quantized to 13 levels in linear light, stored in gamma
	truth := ramp(400, 300)
	const n, gamma = 12.0, 2.2
	q := truth.Filter(func(x float64) float64 { return math.Pow(math.Round(math.Pow(x, gamma)*n)/n, 1/gamma) })
	if qz, err = FindQuantizer(q, nil, math.NaN(), nil); err != nil || !qz.Levels {
		t.Fatalf("gamma levels: %s b %.3f (%v); want its values as the levels", qz.ModelName(), qz.B, err)
	}
	out, _, _, err := Dequantize(q, nil, math.NaN(), nil, Settings{}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if before, after := PSNR(Planes(q), truth), PSNR(Planes(out), truth); after < before+1 {
		t.Errorf("gamma levels: %.2f dB restored against %.2f stored; want 1 dB more", after, before)
	} else {
		t.Logf("gamma levels: %.2f → %.2f dB", before, after)
	}
}
