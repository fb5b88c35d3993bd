package main

import (
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/internal/photos"
)

// imageMagick returns the path of ImageMagick's convert, or skips the test
// where it is not installed (fails it under QUANTFIT_REQUIRE_IMAGEMAGICK).
func imageMagick(t *testing.T) string {
	convert, err := exec.LookPath("convert")
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_IMAGEMAGICK") != "" {
			t.Fatal("QUANTFIT_REQUIRE_IMAGEMAGICK is set but ImageMagick's convert is not on PATH")
		}
		t.Skip("ImageMagick's convert is not installed")
	}
	return convert
}

// imSamplingVariance is what ImageMagick 6's Gaussian adds to σ²: it
// samples its kernel at thirds of a pixel and sums them (measured by
// fitting its -blur on photos: 0.074 px²), so its σ is √(σ_fit² − 0.074).
const imSamplingVariance = 0.074

// TestImageMagickBlurPosterize: ImageMagick's own `-blur 0xσ +dither
// -posterize N` (σ in [0.5, 3], N in [5, 30]) on 128×128 crops of the
// colour photos, fitted by `estimate -stack blur,quantize -model
// posterize`: N exactly and σ within 5% (after ImageMagick's sampling
// variance) in at least 18 of 20 trials. It needs ImageMagick's convert
// (CI installs it; elsewhere the test skips unless
// QUANTFIT_REQUIRE_IMAGEMAGICK is set) and QUANTFIT_ACCURACY.
func TestImageMagickBlurPosterize(t *testing.T) {
	if os.Getenv("QUANTFIT_ACCURACY") == "" {
		t.Skip("an accuracy trial: set QUANTFIT_ACCURACY=1 to run it")
	}
	convert := imageMagick(t)
	var colour []image.Image
	for _, n := range photos.Names() {
		im, err := photos.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if im.Channels == 3 && im.Pix8 != nil && im.W >= 200 && im.H >= 200 {
			colour = append(colour, im.Image())
		}
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(17, 18))
	const trials, size = 20, 128
	ok := 0
	for i := range trials {
		src := colour[i%len(colour)]
		b := src.Bounds()
		x0, y0 := r.IntN(b.Dx()-size), r.IntN(b.Dy()-size)
		crop := src.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(x0, y0, x0+size, y0+size))
		orig := filepath.Join(dir, fmt.Sprintf("o%d.png", i))
		quant := filepath.Join(dir, fmt.Sprintf("q%d.png", i))
		writePNG(t, orig, crop)
		sigma, n := 0.5+2.5*r.Float64(), 5+r.IntN(26)
		cmd := exec.Command(convert, orig, "-blur", fmt.Sprintf("0x%.4f", sigma), "+dither", "-posterize", fmt.Sprint(n), quant)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("convert: %v: %s", err, out)
		}
		code, out, errs := quantfit(t, "estimate", "-stack", "blur,quantize", "-model", "posterize", orig, quant)
		if code != 0 {
			t.Fatalf("estimate: exit %d: %s", code, errs)
		}
		var res struct {
			Params map[string]struct {
				Value float64 `json:"value"`
			} `json:"params"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		fit, gotB := res.Params["sigma"].Value, res.Params["b"].Value
		im := math.Sqrt(math.Max(0, fit*fit-imSamplingVariance))
		good := math.Round(gotB) == float64(n) && math.Abs(im-sigma) <= 0.05*sigma
		if good {
			ok++
		}
		t.Logf("σ %.3f N %d: fitted σ %.3f (ImageMagick's %.3f), b %.3f %v", sigma, n, fit, im, gotB, good)
	}
	t.Logf("%d/%d trials within bounds", ok, trials)
	if ok < 18 {
		t.Errorf("%d of %d ImageMagick trials within bounds, want 18", ok, trials)
	}
}

// TestImageMagickPosterizeRestored: ImageMagick's own `+dither -posterize
// N` of the shipped photographs (256×256 crops), restored by quantfit
// restore with its default model (auto), from the pair and blindly: the
// posterize model and N both ways (ImageMagick stores its levels rounded
// down, level 1 of 9 as 31, not 32: the blind fit takes that lattice),
// and the PSNR to the original better than the stored image's on every
// image, by 1 dB on average, and blindly within 0.1 dB of the pair's.
func TestImageMagickPosterizeRestored(t *testing.T) {
	convert := imageMagick(t)
	dir := t.TempDir()
	const size = 256
	var sum float64
	n := 0
	for i, name := range photos.Names() {
		im, err := photos.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if im.W < size || im.H < size {
			continue
		}
		if testing.Short() && n == 3 {
			break
		}
		levels := []int{5, 9, 17, 28}[i%4]
		orig, quant, out := filepath.Join(dir, "o.png"), filepath.Join(dir, "q.png"), filepath.Join(dir, "r.png")
		writePNG(t, orig, centre(t, im, size).Image())
		if msg, err := exec.Command(convert, orig, "+dither", "-posterize", fmt.Sprint(levels), quant).CombinedOutput(); err != nil {
			t.Fatalf("convert: %v: %s", err, msg)
		}
		rep := restoreJSON(t, "-backend", "cpu", "-orig", orig, quant, out)
		if rep.Model != "posterize" || math.Abs(rep.B-float64(levels)) > 0.05 {
			t.Errorf("%s, -posterize %d: model %s, b %.3f from the pair", name, levels, rep.Model, rep.B)
		}
		gain := float64(rep.PSNROut - rep.PSNRIn)
		// blindly, the PSNR measured here
		blind := restoreJSON(t, "-backend", "cpu", quant, out)
		o, err := imageset.Load(orig, 0)
		if err != nil {
			t.Fatal(err)
		}
		r, err := imageset.Load(out, 0)
		if err != nil {
			t.Fatal(err)
		}
		blindGain := restore.PSNR(restore.Planes(r), o) - float64(rep.PSNRIn)
		t.Logf("%s, -posterize %d: PSNR %.2f dB stored, %+.2f restored from the pair, %+.2f blindly (%s, b %.3f)", name, levels, rep.PSNRIn, gain, blindGain, blind.Model, blind.B)
		if !(gain > 0) {
			t.Errorf("%s, -posterize %d: the restored image is %.2f dB worse than the stored one", name, levels, -gain)
		}
		if blind.Model != "posterize" || math.Abs(blind.B-float64(levels)) > 0.05 || !(blindGain > gain-0.1) {
			t.Errorf("%s, -posterize %d: blindly model %s, b %.3f, %+.2f dB", name, levels, blind.Model, blind.B, blindGain)
		}
		sum += gain
		n++
	}
	if n == 0 {
		t.Fatal("no photograph of 256×256 or more")
	}
	if sum/float64(n) < 1 {
		t.Errorf("restore gains %.2f dB on average over ImageMagick's posterize, want 1", sum/float64(n))
	}
}

// TestImageMagickOrderedDither: ImageMagick's ordered dithers of crops of
// the shipped photographs (its 2×2, 3×3, 4×4 and 8×8 threshold maps and
// its 6×6 halftone) are found blindly, their period reported (8×8's as
// 4 or 8: its thresholds are 4×4's within a sixteenth of a cell), and
// restored within their dithered cells: far more gained than a clean
// posterize's restore gains, as the dither's pattern goes.
func TestImageMagickOrderedDither(t *testing.T) {
	convert := imageMagick(t)
	dir := t.TempDir()
	const size = 256
	maps := []struct {
		name    string
		periods []int
	}{{"o2x2,10", []int{2}}, {"o3x3,8", []int{3}}, {"o4x4,8", []int{4}}, {"o8x8,6", []int{4, 8}}, {"h6x6a,6", []int{6}}}
	var sum float64
	n := 0
	for i, name := range photos.Names() {
		im, err := photos.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if im.W < size || im.H < size || im.Channels != 3 {
			continue
		}
		if testing.Short() && n == 2 {
			break
		}
		m := maps[i%len(maps)]
		orig, quant, out := filepath.Join(dir, "o.png"), filepath.Join(dir, "q.png"), filepath.Join(dir, "r.png")
		writePNG(t, orig, centre(t, im, size).Image())
		if msg, err := exec.Command(convert, orig, "-ordered-dither", m.name, quant).CombinedOutput(); err != nil {
			t.Fatalf("convert: %v: %s", err, msg)
		}
		rep := restoreJSON(t, "-backend", "cpu", "-orig", orig, quant, out)
		gain := float64(rep.PSNROut - rep.PSNRIn)
		t.Logf("%s, -ordered-dither %s: PSNR %.2f dB stored, %+.2f restored (%s, b %.3f, period %d)", name, m.name, rep.PSNRIn, gain, rep.Model, rep.B, rep.DitherPeriod)
		if !slices.Contains(m.periods, rep.DitherPeriod) {
			t.Errorf("%s, -ordered-dither %s: period %d found, want %v", name, m.name, rep.DitherPeriod, m.periods)
		}
		if gain < 4 {
			t.Errorf("%s, -ordered-dither %s: %+.2f dB restored; want 4 or more", name, m.name, gain)
		}
		sum += gain
		n++
	}
	if n == 0 {
		t.Fatal("no colour photograph of 256×256 or more")
	}
	t.Logf("mean gain %+.2f dB over %d", sum/float64(n), n)
}

// TestImageMagickErrorDiffusion: ImageMagick's colour reductions with
// their error diffusions (-colors with its default dither, and with
// Floyd–Steinberg's and Riemersma's) of the shipped colour photographs,
// restored blindly, are taken for palettes and gain, those found
// error-diffused (a textured photograph's dither may hide in its texture;
// the smooth retina's must not) 2 dB or more, 1.5 dB on average; the same
// palette with +dither is a palette, not a diffusion, and gains too.
func TestImageMagickErrorDiffusion(t *testing.T) {
	convert := imageMagick(t)
	dir := t.TempDir()
	const size = 256
	ops := [][]string{{"-colors", "16"}, {"-dither", "FloydSteinberg", "-colors", "32"}, {"-dither", "Riemersma", "-colors", "24"}}
	var sum float64
	n := 0
	for i, name := range photos.Names() {
		im, err := photos.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if im.W < size || im.H < size || im.Channels != 3 {
			continue
		}
		if testing.Short() && n >= 1 && name != "retina.jpg" {
			continue
		}
		orig, quant, out := filepath.Join(dir, "o.png"), filepath.Join(dir, "q.png"), filepath.Join(dir, "r.png")
		writePNG(t, orig, centre(t, im, size).Image())
		for j, op := range [][]string{ops[i%len(ops)], {"+dither", "-colors", "16"}} {
			if msg, err := exec.Command(convert, append(append([]string{orig}, op...), quant)...).CombinedOutput(); err != nil {
				t.Fatalf("convert: %v: %s", err, msg)
			}
			rep := restoreJSON(t, "-backend", "cpu", quant, out)
			gain := filePSNR(t, out, orig) - filePSNR(t, quant, orig)
			t.Logf("%s, %v: %+.2f dB restored (%s, b %.0f, palette %d, dither %q)", name, op, gain, rep.Model, rep.B, rep.Palette, rep.Dither)
			found := rep.Dither == "error diffusion"
			switch {
			case rep.Palette == 0:
				t.Errorf("%s, %v: no palette found", name, op)
			case j == 1 && found:
				t.Errorf("%s, %v: an error diffusion found in a palette without one", name, op)
			case j == 0 && !found && name == "retina.jpg":
				t.Errorf("%s, %v: dither %q found; want an error diffusion", name, op, rep.Dither)
			case found && gain < 2:
				t.Errorf("%s, %v: %+.2f dB restored under the diffusion; want 2 or more", name, op, gain)
			case gain < 0:
				t.Errorf("%s, %v: %+.2f dB restored; want a gain", name, op, gain)
			}
			if j == 0 {
				sum += gain
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no colour photograph of 256×256 or more")
	}
	t.Logf("mean gain %+.2f dB over %d", sum/float64(n), n)
	if sum < 1.5*float64(n) {
		t.Errorf("mean gain %+.2f dB over %d; want 1.5 or more", sum/float64(n), n)
	}
}

// filePSNR is the PSNR of the image in file a against the one in ref.
func filePSNR(t *testing.T, a, ref string) float64 {
	t.Helper()
	im, err := imageset.Load(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := imageset.Load(ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	return restore.PSNR(restore.Planes(im), r)
}
