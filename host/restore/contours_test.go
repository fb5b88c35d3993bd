package restore

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quantfit/quantfit/bench/peers"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// resize scales im by f (bilinear), or crops it first to r (x, y, w, h).
func resize(im *imageset.Image, f int, r [4]int) *imageset.Image {
	if r[2] == 0 {
		r = [4]int{0, 0, im.W, im.H}
	}
	w, h := r[2]*f, r[3]*f
	out := &imageset.Image{Name: fmt.Sprintf("%s×%d", filepath.Base(im.Name), f), W: w, H: h, Channels: im.Channels}
	for c := range im.Channels {
		p := make([]uint8, w*h)
		kernels.Parallel(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				fy := (float64(y)+0.5)/float64(f) - 0.5
				iy := max(0, min(r[3]-2, int(math.Floor(fy))))
				ty := min(1, max(0, fy-float64(iy)))
				for x := range w {
					fx := (float64(x)+0.5)/float64(f) - 0.5
					ix := max(0, min(r[2]-2, int(math.Floor(fx))))
					tx := min(1, max(0, fx-float64(ix)))
					at := func(xx, yy int) float64 { return float64(im.Pix8[c][(r[1]+yy)*im.W+r[0]+xx]) }
					v := (1-ty)*((1-tx)*at(ix, iy)+tx*at(ix+1, iy)) + ty*((1-tx)*at(ix, iy+1)+tx*at(ix+1, iy+1))
					p[y*w+x] = uint8(v + 0.5)
				}
			}
		})
		out.Pix8 = append(out.Pix8, p)
	}
	return out
}

// ffmpegFilter runs an ffmpeg filter on q and returns the result.
func ffmpegFilter(t *testing.T, q *imageset.Image, filter string) *imageset.Image {
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "q.png"), filepath.Join(dir, "f.png")
	fh, _ := os.Create(in)
	q.EncodePNG(fh)
	fh.Close()
	pix := "gbrp"
	if q.Channels == 1 {
		pix = "gray"
	}
	if msg, err := exec.Command(bin, "-loglevel", "error", "-y", "-i", in, "-vf", fmt.Sprintf("format=%s,%s", pix, filter), out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v: %s", filter, err, msg)
	}
	im, err := imageset.Load(out, 0)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestContourTrials is the false-contour trial: 25 cases of real
// photographs (two upscaled smooth ones, a sky crop upscaled 8× whose bands
// are hundreds of samples wide, and two textured ones) under midrise at b
// 6.3, 11.7 and 19.2 stored 8-bit and ImageMagick's +dither -posterize 6
// and 12, restored with restore's defaults (b and the model found
// blindly), beside the classical contour-distance expansion given the true
// cells (bench/peers) and ffmpeg's deband and gradfun. It needs
// QUANTFIT_ACCURACY, ImageMagick and ffmpeg.
func TestContourTrials(t *testing.T) {
	if os.Getenv("QUANTFIT_ACCURACY") == "" {
		t.Skip("an accuracy trial on photos: set QUANTFIT_ACCURACY=1 to run it")
	}
	convert, err := exec.LookPath("convert")
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_IMAGEMAGICK") != "" {
			t.Fatal("ImageMagick's convert is not on PATH")
		}
		t.Skip("ImageMagick's convert is not installed")
	}
	load := func(p string) *imageset.Image {
		im, err := imageset.Load(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	grass, err := photos.Load("grass.png")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		im     *imageset.Image
		smooth bool
	}{
		{resize(load("testdata/heldout/chelsea.png"), 2, [4]int{}), true},
		{resize(load("testdata/heldout/coffee.png"), 2, [4]int{}), true},
		{resize(load("testdata/heldout/rocket.jpg"), 8, [4]int{0, 0, 128, 96}), true},
		{load("testdata/heldout/gravel.png"), false},
		{grass, false},
	}
	dir := t.TempDir()
	var sum, sumBDE, sumSmooth, sumBDESmooth float64
	trials, smooth := 0, 0
	for ci, cs := range cases {
		orig := cs.im
		for _, qz := range []struct {
			model kernels.Model
			b     float64
		}{{kernels.Midrise, 6.3}, {kernels.Midrise, 11.7}, {kernels.Midrise, 19.2}, {kernels.Posterize, 6}, {kernels.Posterize, 12}} {
			var q *imageset.Image
			if qz.model == kernels.Posterize {
				in, out := filepath.Join(dir, fmt.Sprintf("o%d.png", ci)), filepath.Join(dir, fmt.Sprintf("p%d-%v.png", ci, qz.b))
				fh, _ := os.Create(in)
				orig.EncodePNG(fh)
				fh.Close()
				if msg, err := exec.Command(convert, in, "+dither", "-posterize", fmt.Sprint(qz.b), "-depth", "8", out).CombinedOutput(); err != nil {
					t.Fatalf("convert: %v: %s", err, msg)
				}
				q = load(out)
			} else {
				q = orig.Filter(func(x float64) float64 { return qz.model.Apply(x, qz.b) })
			}
			base := PSNR(Planes(q), orig)
			out, found, _, err := Dequantize(q, nil, math.NaN(), nil, Settings{}, 8)
			if err != nil {
				t.Fatal(err)
			}
			gain := PSNR(Planes(out), orig) - base
			// the classical method, given the true cells
			cells := kernels.NewCells(qz.model, qz.b, 255, false)
			cell := 1 / cells.S
			bde := make([][]float32, q.Channels)
			for c := range q.Channels {
				n := q.W * q.H
				lv, lo, hi := make([]int32, n), make([]float32, n), make([]float32, n)
				for i := range n {
					v := float64(q.Value(c, i))
					k, _, _ := cells.Cell(v)
					l, h := cells.Bounds(v)
					lv[i], lo[i], hi[i] = int32(k), float32(l), float32(h)
				}
				bde[c] = peers.DistanceBDE(lv, lo, hi, q.W, q.H)
			}
			bdeGain := PSNR(as8(t, bde, q.W, q.H), orig) - base
			line := fmt.Sprintf("%-14s %s %4.1f (found %s %.2f): stored %.2f dB; restore %+.2f, contour distances %+.2f",
				orig.Name, qz.model, qz.b, found.Model, found.B, base, gain, bdeGain)
			for _, f := range []string{"deband", "gradfun"} {
				if d := ffmpegFilter(t, q, f); d != nil {
					line += fmt.Sprintf(", %s %+.2f", f, PSNR(Planes(d), orig)-base)
				}
			}
			if cs.smooth {
				line += fmt.Sprintf("; false steps %d stored, %d restored", FalseSteps(Planes(q), orig, cell), FalseSteps(Planes(out), orig, cell))
				sumSmooth += gain
				sumBDESmooth += bdeGain
				smooth++
			}
			t.Log(line)
			if gain < -0.1 {
				t.Errorf("%s %s %.1f: restore loses %.2f dB", orig.Name, qz.model, qz.b, -gain)
			}
			sum += gain
			sumBDE += bdeGain
			trials++
		}
	}
	t.Logf("mean gain over %d cases: restore %+.2f dB, contour distances %+.2f; smooth photographs (%d): %+.2f and %+.2f",
		trials, sum/float64(trials), sumBDE/float64(trials), smooth, sumSmooth/float64(smooth), sumBDESmooth/float64(smooth))
	if sum/float64(trials) < 1 {
		t.Errorf("mean gain %+.2f dB; want 1 dB or more", sum/float64(trials))
	}
}
