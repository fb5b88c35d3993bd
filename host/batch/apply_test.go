package batch

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// TestBatchApply: apply jobs beside an estimate job in one manifest; the
// good ones write their image, a bad one fails alone and writes nothing.
func TestBatchApply(t *testing.T) {
	dir := t.TempDir()
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, "o.png"), im.Image())
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 7.7) })
	writePNG(t, filepath.Join(dir, "q.png"), q.Image())
	os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"b": 7.7, "model": "midrise"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"version": 3}`), 0o644)
	manifest := `id,kind,look,original,quantized,output
est,,,o.png,q.png,
app,apply,report.json,o.png,,out/a.png
badlook,apply,bad.json,o.png,,out/b.png
noimage,apply,report.json,missing.png,,out/c.png
`
	jobs, err := ParseManifest(strings.NewReader(manifest), "m.csv", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	res := filepath.Join(dir, "res.jsonl")
	p, err := (&Runner{Base: options.Default()}).Run(context.Background(), jobs, res)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != 4 || p.Failed != 2 {
		t.Errorf("progress %+v; want 4 done, 2 failed", p)
	}
	lines := readLines(t, res)
	if lines[0].B < 7.6 || lines[0].B > 7.8 || lines[1].Error != "" || !strings.Contains(lines[2].Error, "version 3") || !strings.Contains(lines[3].Error, "missing.png") {
		t.Errorf("lines %+v", lines)
	}
	got, err := imageset.Load(filepath.Join(dir, "out", "a.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got.Pix8[0] {
		if v != q.Pix8[0][i] {
			t.Fatalf("applied pixel %d: %d; want %d", i, v, q.Pix8[0][i])
		}
	}
	for _, f := range []string{"b.png", "c.png"} {
		if _, err := os.Stat(filepath.Join(dir, "out", f)); err == nil {
			t.Errorf("a failed job wrote %s", f)
		}
	}
	for _, bad := range []string{
		"id,kind,look,original,output\na,apply,l.json,o.png,\n",
		"id,kind,look,original,output\na,apply,l.json,o.png,out.jpg\n",
		"id,kind,look,original,quantized,output\na,,l.json,o.png,q.png,\n",
		"id,kind,original,quantized\na,paint,o.png,q.png\n",
		"id,kind,look,original,output,model\na,apply,l.json,o.png,o.png,posterize\n",
	} {
		if _, err := ParseManifest(strings.NewReader(bad), "m.csv", "", nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestBatchRestore: restore jobs, blind and from a pair, beside an apply
// job; a missing image fails its job alone.
func TestBatchRestore(t *testing.T) {
	dir := t.TempDir()
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, "o.png"), im.Image())
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 7.7) })
	writePNG(t, filepath.Join(dir, "q.png"), q.Image())
	os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"b": 7.7, "model": "midrise"}`), 0o644)
	manifest := `{"id":"blind","kind":"restore","quantized":"q.png","output":"r1.png"}
{"id":"pair","kind":"restore","quantized":"q.png","original":"o.png","output":"r2.png"}
{"id":"missing","kind":"restore","quantized":"none.png","output":"r3.png"}
{"id":"app","kind":"apply","look":"report.json","original":"o.png","output":"a.png"}
`
	jobs, err := ParseManifest(strings.NewReader(manifest), "m.jsonl", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "res.jsonl")
	p, err := (&Runner{Base: options.Default()}).Run(context.Background(), jobs, res)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != 4 || p.Failed != 1 {
		t.Errorf("progress %+v; want 4 done, 1 failed", p)
	}
	data, _ := os.ReadFile(res)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if !strings.Contains(lines[0], `"b_from":"blind"`) || !strings.Contains(lines[1], `"b_from":"pair"`) || !strings.Contains(lines[2], "none.png") {
		t.Errorf("lines:\n%s", data)
	}
	for _, f := range []string{"r1.png", "r2.png", "a.png"} {
		out, err := imageset.Load(filepath.Join(dir, f), 0)
		if err != nil {
			t.Fatal(err)
		}
		if f != "a.png" && PSNRGain(q, out, im) < 0.5 {
			t.Errorf("%s: restored only %+.2f dB closer to the original", f, PSNRGain(q, out, im))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r3.png")); err == nil {
		t.Error("a failed restore wrote its output")
	}
}

// PSNRGain is how much closer to orig restored is than stored, in dB.
func PSNRGain(stored, restored, orig *imageset.Image) float64 {
	psnr := func(a *imageset.Image) float64 {
		s := 0.0
		for c := range orig.Channels {
			for i := range orig.W * orig.H {
				d := float64(a.Value(c, i) - orig.Value(c, i))
				s += d * d
			}
		}
		return -10 * math.Log10(s/float64(orig.W*orig.H*orig.Channels))
	}
	return psnr(restored) - psnr(stored)
}
