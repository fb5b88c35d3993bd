package look

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quantfit/quantfit/bench/peers"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/atomicfile"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// toolLook is an edit made by a real tool: ffmpeg's filter graph or
// ImageMagick's convert arguments.
type toolLook struct {
	name   string
	ffmpeg string   // -vf graph
	magick []string // convert operators
	// min is the mean PSNR the issue asks on held-out photos
	min float64
}

// toolLooks are the looks of the trial: curves, matrices and quantizers
// (≥ 40 dB) and HSL saturation changes (≥ 36 dB).
var toolLooks = []toolLook{
	{name: "ffmpeg curves strong_contrast", ffmpeg: "curves=preset=strong_contrast", min: 40},
	{name: "ffmpeg curves vintage", ffmpeg: "curves=preset=vintage", min: 40},
	{name: "ffmpeg curves cross_process", ffmpeg: "curves=preset=cross_process", min: 40},
	{name: "ffmpeg colorchannelmixer sepia", ffmpeg: "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131", min: 40},
	{name: "ffmpeg eq", ffmpeg: "format=yuv444p,eq=contrast=1.2:brightness=0.04:saturation=1.3,format=rgb24", min: 36},
	{name: "magick color-matrix", magick: []string{"-color-matrix", "0.8 0.3 -0.1 0.1 0.9 0 -0.05 0.2 0.85"}, min: 40},
	{name: "magick level gamma", magick: []string{"-level", "8%,92%", "-gamma", "1.25"}, min: 40},
	{name: "magick sigmoidal modulate", magick: []string{"-sigmoidal-contrast", "4x45%", "-modulate", "105,140,100"}, min: 36},
	{name: "magick sigmoidal posterize 12", magick: []string{"-sigmoidal-contrast", "8x50%", "+dither", "-posterize", "12"}, min: 40},
	{name: "magick level gamma posterize 7", magick: []string{"-level", "5%,95%", "-gamma", "0.8", "+dither", "-posterize", "7"}, min: 40},
	{name: "ffmpeg curves + magick posterize 9", ffmpeg: "curves=preset=increase_contrast", magick: []string{"+dither", "-posterize", "9"}, min: 40},
}

// trainPhotos and heldOut: the look is fitted on two photographs and
// judged on three others.
var (
	trainPhotos = []string{"../restore/testdata/heldout/astronaut.png", "../restore/testdata/heldout/coffee.png"}
	heldOut     = []string{"../restore/testdata/heldout/chelsea.png", "../restore/testdata/heldout/rocket.jpg", "ihc.png"}
)

func tool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_IMAGEMAGICK") != "" {
			t.Fatalf("%s is not on PATH (QUANTFIT_REQUIRE_IMAGEMAGICK is set: CI installs ImageMagick and ffmpeg)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// photoPNG writes photo path (a shipped name or a repository path) as an
// 8-bit PNG into dir and returns the new path and the image.
func photoPNG(t *testing.T, path, dir string) (string, *imageset.Image) {
	var im *imageset.Image
	var err error
	if filepath.Base(path) == path {
		im, err = photos.Load(path)
	} else {
		im, err = imageset.Load(path, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "orig-"+filepath.Base(path)+".png")
	if err := atomicfile.Write(out, im.EncodePNG); err != nil {
		t.Fatal(err)
	}
	return out, im
}

// edit runs the look's tools on in and returns the edited image.
func (lk toolLook) edit(t *testing.T, in, dir string) *imageset.Image {
	cur := in
	if lk.ffmpeg != "" {
		out := filepath.Join(dir, fmt.Sprintf("ff-%s", filepath.Base(in)))
		cmd := exec.Command(tool(t, "ffmpeg"), "-y", "-loglevel", "error", "-i", cur, "-vf", lk.ffmpeg, "-pix_fmt", "rgb24", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, b)
		}
		cur = out
	}
	if lk.magick != nil {
		out := filepath.Join(dir, fmt.Sprintf("im-%s", filepath.Base(in)))
		args := append(append([]string{cur}, lk.magick...), "-depth", "8", "PNG24:"+out)
		if b, err := exec.Command(tool(t, "convert"), args...).CombinedOutput(); err != nil {
			t.Fatalf("convert: %v: %s", err, b)
		}
		cur = out
	}
	im, err := imageset.Load(cur, 0)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func planes(im *imageset.Image) (x [3][]float32) {
	for c := range 3 {
		x[c] = make([]float32, im.W*im.H)
		for i := range x[c] {
			x[c][i] = im.Value(c, i)
		}
	}
	return x
}

// applyLattice applies a peer's lattice to im, stored at 8 bits.
func applyLattice(l *kernels.Lattice, im *imageset.Image) *imageset.Image {
	lk := &Look{Version: Version, Stack: LUT, Channels: 3, LookStack: kernels.LookStack{Lattice: l}}
	for range 3 {
		lk.Curves = append(lk.Curves, kernels.Curve{Lo: 0, Hi: 1, V: []float64{0, 0}})
	}
	return lk.Apply(im, 8)
}

// TestToolLooks is the trial: looks made by ffmpeg and ImageMagick,
// fitted on two photographs and judged on three others against the tool's
// own output, beside the two peers (bench/peers) fitted on the same
// pixels: the cell-average 33³ LUT and the regression LUT (17³ and 33³).
// Each look's PSNR is counted at most 60 dB. Without QUANTFIT_ACCURACY it
// runs three looks.
func TestToolLooks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ffmpeg and ImageMagick")
	}
	ffmpeg, convert := tool(t, "ffmpeg"), tool(t, "convert")
	looks := toolLooks
	if os.Getenv("QUANTFIT_ACCURACY") == "" {
		looks = []toolLook{toolLooks[0], toolLooks[3], toolLooks[8]}
	}
	dir := t.TempDir()
	var trainIn, heldIn []string
	var trainIm, heldIm []*imageset.Image
	for _, p := range trainPhotos {
		f, im := photoPNG(t, p, dir)
		trainIn, trainIm = append(trainIn, f), append(trainIm, im)
	}
	for _, p := range heldOut {
		f, im := photoPNG(t, p, dir)
		heldIn, heldIm = append(heldIn, f), append(heldIm, im)
	}
	const cap = 60.0
	gain := 0.0
	for li, lk := range looks {
		ldir := filepath.Join(dir, fmt.Sprint(li))
		if err := os.Mkdir(ldir, 0o755); err != nil {
			t.Fatal(err)
		}
		var pairs []imageset.Pair
		var px, py [3][]float32
		for i, f := range trainIn {
			e := lk.edit(t, f, ldir)
			p, err := imageset.NewPair(trainIm[i], e)
			if err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, p)
			x, y := planes(trainIm[i]), planes(e)
			for c := range 3 {
				px[c], py[c] = append(px[c], x[c]...), append(py[c], y[c]...)
			}
		}
		l, err := Fit(pairs, Settings{})
		if err != nil {
			t.Fatal(err)
		}
		peerLUTs := []*kernels.Lattice{peers.CellAverageLUT(px, py, 33), peers.RegressionLUT(px, py, 17, 0.01), peers.RegressionLUT(px, py, 33, 0.01)}
		var ours float64
		peer := make([]float64, len(peerLUTs))
		for i, f := range heldIn {
			want := lk.edit(t, f, ldir)
			ours += math.Min(cap, PSNR(l.Apply(heldIm[i], 8), want)) / float64(len(heldIn))
			for k, pl := range peerLUTs {
				peer[k] += math.Min(cap, PSNR(applyLattice(pl, heldIm[i]), want)) / float64(len(heldIn))
			}
		}
		regr := math.Max(peer[1], peer[2])
		gain += (ours - regr) / float64(len(looks))
		t.Logf("%-36s %-16s ours %5.2f dB  cell-average 33³ %5.2f  regression 17³ %5.2f  33³ %5.2f  (validation %5.2f, unexplained %.3f, %.1fs)",
			lk.name, l.Stack, ours, peer[0], peer[1], peer[2], l.Fit.ValidPSNR, l.Fit.Unexplained, l.Fit.Seconds)
		if ours < lk.min {
			t.Errorf("%s: %.2f dB on the held-out photos; want %v dB or more", lk.name, ours, lk.min)
		}
		if ours < peer[0]+3 {
			t.Errorf("%s: %.2f dB, not 3 dB above the cell-average LUT's %.2f", lk.name, ours, peer[0])
		}
		if ours < regr-0.05 {
			t.Errorf("%s: %.2f dB, below the regression LUT's %.2f", lk.name, ours, regr)
		}
		if l.Quantizer != nil {
			continue
		}
		// the exported LUTs, applied by the tools themselves
		lp := filepath.Join(ldir, "look.json")
		data, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cube, hald := filepath.Join(ldir, "look.cube"), filepath.Join(ldir, "hald.png")
		writeFile(t, cube, func(w io.Writer) error { return l.WriteCube(w, DefaultCubeSize) })
		writeFile(t, hald, func(w io.Writer) error { return l.WriteHald(w, DefaultHaldLevel) })
		want := lk.edit(t, heldIn[0], ldir)
		viaCube, viaHald := filepath.Join(ldir, "via-cube.png"), filepath.Join(ldir, "via-hald.png")
		run(t, ffmpeg, "-y", "-loglevel", "error", "-i", heldIn[0], "-vf", "lut3d="+cube, "-pix_fmt", "rgb24", viaCube)
		run(t, convert, heldIn[0], hald, "-hald-clut", "-depth", "8", "PNG24:"+viaHald)
		for _, f := range []string{viaCube, viaHald} {
			im, err := imageset.Load(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if p := PSNR(im, want); p < 40 {
				t.Errorf("%s: %s gives %.2f dB against the tool's output; want 40 dB or more", lk.name, filepath.Base(f), p)
			} else {
				t.Logf("%s: %s %.2f dB", lk.name, filepath.Base(f), p)
			}
		}
	}
	t.Logf("mean gain over the best regression LUT: %+.2f dB", gain)
	if gain < 3 {
		t.Errorf("mean gain over the regression LUT %+.2f dB; want 3 dB or more", gain)
	}
}

func writeFile(t *testing.T, path string, write func(io.Writer) error) {
	t.Helper()
	if err := atomicfile.Write(path, write); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", filepath.Base(name), err, b)
	}
}
