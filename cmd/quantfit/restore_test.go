package main

import (
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
)

// restoreJSON runs quantfit restore with args, which must succeed, and
// returns its report.
func restoreJSON(t *testing.T, args ...string) restoreReport {
	t.Helper()
	code, stdout, errs := quantfit(t, append([]string{"restore"}, args...)...)
	if code != 0 {
		t.Fatalf("restore %v: exit %d: %s", args, code, errs)
	}
	var rep restoreReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("restore %v: %v", args, err)
	}
	return rep
}

// TestRestoreCommand: restore end to end, dequantizing with b from the
// pair (PSNR reported, 8 and 16 bits) and inpainting the extremes, and its
// refusals, which leave OUT as it was.
func TestRestoreCommand(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "video-001.png", "q.png", "-b", "7.3")
	out := filepath.Join(dir, "r.png")
	rep := restoreJSON(t, "-orig", orig, "-backend", "cpu", "-trace", filepath.Join(dir, "t.csv"), quant, out)
	if rep.Mode != "dequantize" || rep.BFrom != "pair" || rep.Model != "midrise" || rep.ModelFrom != "pair" || rep.B < 7.2 || rep.B > 7.4 || rep.Steps < 10 || rep.Steps > 300 || !(rep.End < rep.Start) {
		t.Errorf("report %+v", rep)
	}
	// the default tolerance stops a converged run; a negative one never
	if rep.Steps < 300 && rep.Status != "early stop" {
		t.Errorf("stopped at step %d of 300, status %q", rep.Steps, rep.Status)
	}
	if all := restoreJSON(t, "-orig", orig, "-backend", "cpu", "-tol", "-1", quant, out); all.Steps != 300 || all.Status == "early stop" {
		t.Errorf("-tol -1: %d steps, status %q", all.Steps, all.Status)
	}
	// -refine=false leaves out the in-cell regression, which moves samples
	if plain := restoreJSON(t, "-orig", orig, "-backend", "cpu", "-refine=false", quant, out); plain.PSNROut == rep.PSNROut {
		t.Errorf("-refine=false: %.4f dB, as with the regression", plain.PSNROut)
	} else {
		t.Logf("restored %.3f dB, %.3f without the regression", rep.PSNROut, plain.PSNROut)
	}
	if rep.PSNROut < rep.PSNRIn-0.3 {
		t.Errorf("restored PSNR %.2f dB against the stored %.2f", rep.PSNROut, rep.PSNRIn)
	}
	if rep.FalseIn == nil || rep.FalseOut == nil || *rep.FalseOut > *rep.FalseIn {
		t.Errorf("false steps %v → %v: want a count that does not grow", rep.FalseIn, rep.FalseOut)
	}
	im, err := imageset.Load(out, 0)
	if err != nil || im.W != 150 || im.H != 103 || im.Depth() != 8 {
		t.Fatalf("OUT: %v, %+v", err, im)
	}
	if tr, err := os.ReadFile(filepath.Join(dir, "t.csv")); err != nil || !strings.HasPrefix(string(tr), "step,energy,lr\n10,") {
		t.Errorf("trace: %v %q", err, tr)
	}
	// -model auto (the default) finds the posterize model, blindly and
	// beside a -b; a named model is taken as named
	_, post := synthPair(t, dir, "video-001.png", "p.png", "-model", "posterize", "-b", "6")
	for _, c := range []struct {
		args           []string
		model, from, b string
	}{
		{nil, "posterize", "blind", "blind"},
		{[]string{"-b", "6"}, "posterize", "blind", "flag"},
		{[]string{"-b", "6", "-model", "truncate"}, "truncate", "flag", "flag"},
	} {
		r := restoreJSON(t, append(append([]string{"-backend", "cpu", "-steps", "5"}, c.args...), post, out)...)
		if r.Model != c.model || r.ModelFrom != c.from || r.BFrom != c.b || math.Abs(r.B-6) > 0.2 {
			t.Errorf("%v: model %s from %s, b %.3f from %s; want %s from %s, b 6 from %s", c.args, r.Model, r.ModelFrom, r.B, r.BFrom, c.model, c.from, c.b)
		}
	}
	out16 := filepath.Join(dir, "r16.png")
	if code, _, errs := quantfit(t, "restore", "-b", "7.3", "-depth", "16", "-energy", "tv", "-optimizer", "adam", "-steps", "20", "-backend", "cpu", quant, out16); code != 0 {
		t.Fatalf("restore -depth 16: exit %d: %s", code, errs)
	}
	if im, err := imageset.Load(out16, 0); err != nil || im.Depth() != 16 {
		t.Fatalf("-depth 16: %v", err)
	}

	// inpainting: half the pixels of a grey photo knocked to 0 or 255
	src, err := imageset.Load(writePhoto(t, dir, "video-005.gray.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(image.Rect(0, 0, src.W, src.H))
	r := rand.New(rand.NewPCG(1, 2))
	for i, v := range src.Pix8[0] {
		v = min(max(v, 1), 254)
		if r.IntN(2) == 0 {
			v = uint8(255 * r.IntN(2))
		}
		g.Pix[i] = v
	}
	broken := filepath.Join(dir, "broken.png")
	writePNG(t, broken, g)
	filled := filepath.Join(dir, "filled.png")
	if rep = restoreJSON(t, "-inpaint", "extremes", "-backend", "cpu", broken, filled); rep.Mode != "inpaint" || rep.Missing == 0 || rep.Energy != "tikhonov" {
		t.Errorf("inpaint report %+v", rep)
	}
	f, err := imageset.Load(filled, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range g.Pix {
		if v != 0 && v != 255 && f.Pix8[0][i] != v {
			t.Fatalf("known pixel %d changed from %d to %d", i, v, f.Pix8[0][i])
		}
	}

	// refusals: exit 2, one line naming the culprit, OUT untouched
	keep := filepath.Join(dir, "keep.png")
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.png")
	writePNG(t, small, image.NewGray(image.Rect(0, 0, 4, 4)))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"missing.png", keep}, "missing.png"},
		{[]string{"-b", "7.3", "-depth", "12", quant, keep}, "-depth"},
		{[]string{"-b", "7.3", "-energy", "sharp", quant, keep}, "sharp"},
		{[]string{"-b", "7.3", "-optimizer", "newton", quant, keep}, "newton"},
		{[]string{"-b", "7.3", "-model", "foo", quant, keep}, "want auto or one of"},
		{[]string{"-b", "7.3", "-steps", "0", quant, keep}, "-steps"},
		{[]string{"-b", "7.3", "-levels", "-2", quant, keep}, "-levels"},
		{[]string{"-b", "7.3", "-shrink", "-1", quant, keep}, "-shrink"},
		// a photograph never quantized: its values lie on no lattice
		{[]string{orig, keep}, "no quantizer's lattice"},
		{[]string{"-b", "7.3", "-shrink", "1000", quant, keep}, "-shrink"},
		{[]string{"-b", "0.5", quant, keep}, "b = 0.5"},
		{[]string{"-inpaint", small, broken, keep}, "small.png"},
		{[]string{"-inpaint", "extremes", "-b", "3", broken, keep}, "-inpaint"},
		{[]string{"-b", "7.3", quant, filepath.Join(dir, "r.jpg")}, ".png"},
	} {
		code, _, errs := quantfit(t, append([]string{"restore"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("restore %v: exit %d, %q; want 2 naming %q", c.args, code, errs, c.want)
		}
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep" {
		t.Errorf("a refused run wrote OUT")
	}
}

// TestRestoreColourOriginalOfGrey: a colour original beside a grey
// QUANT (ImageMagick writes a colour file's grey result as grey) is a
// pair like any other: the grey side serves as each channel in the
// report's figures (its false steps counted in each of three channels).
func TestRestoreColourOriginalOfGrey(t *testing.T) {
	dir := t.TempDir()
	grey, quant := synthPair(t, dir, "video-005.gray.png", "q.png", "-b", "7.3")
	src, err := imageset.Load(grey, 0)
	if err != nil {
		t.Fatal(err)
	}
	rgb := image.NewRGBA(image.Rect(0, 0, src.W, src.H))
	for i, v := range src.Pix8[0] {
		copy(rgb.Pix[4*i:], []uint8{v, v, v, 255})
	}
	orig := filepath.Join(dir, "rgb.png")
	writePNG(t, orig, rgb)
	out := filepath.Join(dir, "r.png")
	rep := restoreJSON(t, "-orig", orig, "-backend", "cpu", quant, out)
	want := restoreJSON(t, "-orig", grey, "-backend", "cpu", quant, out)
	if rep.BFrom != "pair" || math.Abs(rep.B-7.3) > 0.1 || math.Abs(float64(rep.PSNROut-want.PSNROut)) > 1e-9 || rep.FalseOut == nil || *rep.FalseOut != 3**want.FalseOut {
		t.Errorf("colour original: b %.3f from %s, %.3f dB, false steps %d; the grey one's: %.3f dB, %d", rep.B, rep.BFrom, rep.PSNROut, *rep.FalseOut, want.PSNROut, *want.FalseOut)
	}
}

// TestRestoreOfItsOriginal: QUANT equal to ORIG is +Inf dB stored, which
// JSON cannot hold: the report says null, and the run succeeds.
func TestRestoreOfItsOriginal(t *testing.T) {
	dir := t.TempDir()
	orig := writePhoto(t, dir, "video-001.png")
	code, stdout, errs := quantfit(t, "restore", "-orig", orig, "-backend", "cpu", "-steps", "5", orig, filepath.Join(dir, "r.png"))
	if code != 0 || !strings.Contains(stdout, `"psnr_stored": null`) {
		t.Errorf("exit %d: %s%s", code, stdout, errs)
	}
}
