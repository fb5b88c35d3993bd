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
	"testing"

	"github.com/quantfit/quantfit/internal/photos"
)

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
	convert, err := exec.LookPath("convert")
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_IMAGEMAGICK") != "" {
			t.Fatal("QUANTFIT_REQUIRE_IMAGEMAGICK is set but ImageMagick's convert is not on PATH")
		}
		t.Skip("ImageMagick's convert is not installed")
	}
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
