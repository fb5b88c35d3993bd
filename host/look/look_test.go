package look

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// crop returns the w×h middle of a photo: shipped (a name) or a path.
func crop(t *testing.T, name string, w, h int) *imageset.Image {
	t.Helper()
	load := photos.Load
	if strings.Contains(name, "/") {
		load = func(p string) (*imageset.Image, error) { return imageset.Load(p, 0) }
	}
	im, err := load(name)
	if err != nil {
		t.Fatal(err)
	}
	out := &imageset.Image{Name: name, W: w, H: h, Channels: im.Channels}
	x0, y0 := (im.W-w)/2, (im.H-h)/2
	for c := range im.Channels {
		p := make([]uint8, w*h)
		for y := range h {
			copy(p[y*w:], im.Pix8[c][(y0+y)*im.W+x0:(y0+y)*im.W+x0+w])
		}
		out.Pix8 = append(out.Pix8, p)
	}
	return out
}

// edit applies f to every pixel of im (8-bit RGB), stored at 8 bits.
func edit(im *imageset.Image, f func(x [3]float64) [3]float64) *imageset.Image {
	out := &imageset.Image{Name: im.Name + "-edited", W: im.W, H: im.H, Channels: 3}
	for range 3 {
		out.Pix8 = append(out.Pix8, make([]uint8, im.W*im.H))
	}
	for i := range im.W * im.H {
		y := f([3]float64{float64(im.Value(0, i)), float64(im.Value(1, i)), float64(im.Value(2, i))})
		for c := range 3 {
			out.Pix8[c][i] = uint8(math.Round(clamp01(y[c]) * 255))
		}
	}
	return out
}

func pair(t *testing.T, o, e *imageset.Image) imageset.Pair {
	p, err := imageset.NewPair(o, e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The synthetic looks: each is fitted on one photograph and judged on
// another; the chosen stack is the simplest that holds the edit.
func TestFitSynthetic(t *testing.T) {
	size, s := 384, Settings{}
	if testing.Short() {
		// the lattice candidate's CG costs by its nodes, not the pixels
		size, s.LUTSize = 256, 9
	}
	train, held := crop(t, trainPhotos[0], size, size), crop(t, trainPhotos[1], 256, 256)
	posterize := func(v float64) float64 { return kernels.Posterize.Apply(v, 9) }
	cases := []struct {
		name  string
		f     func(x [3]float64) [3]float64
		stack string
		min   float64
	}{
		{"gamma per channel", func(x [3]float64) [3]float64 {
			return [3]float64{math.Pow(x[0], 0.7), math.Pow(x[1], 1.2), 1 - x[2]}
		}, "curves", 50},
		{"channel mixer", func(x [3]float64) [3]float64 {
			return [3]float64{0.7*x[0] + 0.3*x[1], 0.2*x[0] + 0.7*x[1] + 0.1*x[2], 0.1*x[1] + 0.9*x[2] + 0.03}
		}, "matrix", 45},
		{"curve then posterize", func(x [3]float64) [3]float64 {
			return [3]float64{posterize(math.Sqrt(x[0])), posterize(math.Sqrt(x[1])), posterize(math.Sqrt(x[2]))}
		}, "curves,quantize", 50},
	}
	for _, c := range cases {
		l, err := Fit([]imageset.Pair{pair(t, train, edit(train, c.f))}, s)
		if err != nil {
			t.Fatal(err)
		}
		got := PSNR(l.Apply(held, 8), edit(held, c.f))
		t.Logf("%s: %s, held out %.2f dB, validation %.2f dB, %.2fs", c.name, l.Stack, got, l.Fit.ValidPSNR, l.Fit.Seconds)
		if l.Stack != c.stack || got < c.min {
			t.Errorf("%s: stack %s at %.2f dB on the held-out photo; want %s at %v dB or more", c.name, l.Stack, got, c.stack, c.min)
		}
		if c.stack == "curves,quantize" && (l.Quantizer.Model != "posterize" || math.Abs(l.Quantizer.B-9) > 0.05) {
			t.Errorf("%s: quantizer %s b %v; want posterize 9", c.name, l.Quantizer.Model, l.Quantizer.B)
		}
		if len(l.Fit.Warnings) > 0 {
			t.Errorf("%s: warnings %q", c.name, l.Fit.Warnings)
		}
		// the file round trip gives the same look
		data, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := PSNR(back.Apply(held, 8), l.Apply(held, 8)); d < maxPSNR {
			t.Errorf("%s: the look read back from JSON differs (%.1f dB)", c.name, d)
		}
	}
}

// A blur is no pixel-wise edit: the fit says how much of it no look
// explains, and warns.
func TestFitNotPixelwise(t *testing.T) {
	o := crop(t, trainPhotos[0], 256, 256)
	planes := kernels.Planes{W: o.W, H: o.H}
	for c := range 3 {
		p := make([]float64, o.W*o.H)
		for i := range p {
			p[i] = float64(o.Value(c, i))
		}
		planes.C = append(planes.C, p)
	}
	blurred := edit(o, func(x [3]float64) [3]float64 { return x })
	y, _ := kernels.Blur{}.ApplyImage(nil, planes, []float64{3}, nil, false)
	for c := range 3 {
		for i, v := range y.C[c] {
			blurred.Pix8[c][i] = uint8(math.Round(clamp01(v) * 255))
		}
	}
	l, err := Fit([]imageset.Pair{pair(t, o, blurred)}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unexplained %.3f, warnings %q", l.Fit.Unexplained, l.Fit.Warnings)
	if l.Fit.Unexplained < 0.05 || len(l.Fit.Warnings) == 0 || !strings.Contains(l.Fit.Warnings[0], "not pixel-wise") {
		t.Errorf("a blur: unexplained %.3f, warnings %q; want a share over 5%% and a warning", l.Fit.Unexplained, l.Fit.Warnings)
	}
}

func TestFitRefuses(t *testing.T) {
	a, b := crop(t, "retina.jpg", 64, 64), crop(t, "ihc.png", 64, 48)
	_, err := Fit([]imageset.Pair{{Orig: a, Quant: b}}, Settings{})
	if !errors.Is(err, imageset.ErrSizeMismatch) {
		t.Errorf("pairs of different sizes: %v; want ErrSizeMismatch", err)
	}
	for _, s := range []Settings{{Stacks: []string{"spline"}}, {LUTSize: 1}, {Smooth: -1}, {Quantize: "dither"}} {
		if _, err := Fit([]imageset.Pair{pair(t, a, a)}, s); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	// a named quantizer the edit does not hold is an error, not a poor look
	if _, err := Fit([]imageset.Pair{pair(t, a, edit(a, func(x [3]float64) [3]float64 { return x }))}, Settings{Quantize: "posterize"}); err == nil {
		t.Error("-quantize posterize on an unquantized edit: no error")
	}
}

// validLook is a small look of every part, for the file tests.
func validLook() *Look {
	id := kernels.Curve{Lo: 0, Hi: 1, V: []float64{0, 1}}
	return &Look{Version: Version, Stack: "lut,quantize", Channels: 3,
		LookStack: kernels.LookStack{Curves: []kernels.Curve{id, id, id}, Lattice: &kernels.Lattice{N: 2, V: make([]float64, 24)}},
		Quantizer: &Quantizer{Model: "posterize", B: 3, Levels: [][]float64{{0, 0.5, 1}, {0, 0.5, 1}, {0, 0.5, 1}}}}
}

func TestParseRejects(t *testing.T) {
	good, err := validLook().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("a valid look: %v", err)
	}
	bad := map[string]string{
		"unknown version":   strings.Replace(string(good), `"version":1`, `"version":7`, 1),
		"unknown field":     strings.Replace(string(good), `"version":1`, `"version":1,"gain":2`, 1),
		"short lattice":     strings.Replace(string(good), `"n":2`, `"n":3`, 1),
		"levels":            strings.Replace(string(good), `"b":3`, `"b":5`, 1),
		"model":             strings.Replace(string(good), `"posterize"`, `"dither"`, 1),
		"stack":             strings.Replace(string(good), `"lut,quantize"`, `"matrix,quantize"`, 1),
		"truncated":         string(good[:len(good)/2]),
		"empty curve range": strings.Replace(string(good), `"hi":1`, `"hi":0`, 1),
		"no quantizer":      strings.Replace(string(good), `"lut,quantize"`, `"lut"`, 1),
		"level outside":     strings.Replace(string(good), `[0,0.5,1]`, `[0,0.5,2]`, 1),
	}
	for name, data := range bad {
		if _, err := Parse([]byte(data)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v; want ErrFormat", name, err)
		}
	}
}

// FuzzParse: whatever the file, Parse refuses it or returns a look that
// applies to an image and writes back to the same look.
func FuzzParse(f *testing.F) {
	good, _ := validLook().Marshal()
	f.Add(good)
	f.Add([]byte(`{"version":1,"stack":"curves","channels":1,"curves":[{"lo":0,"hi":1,"v":[0,1]}]}`))
	f.Add([]byte(`{"version":1,"stack":"matrix","channels":3,"matrix":[[1,0,0,0],[0,1,0,0],[0,0,1,0]],"post":[{"lo":0,"hi":1,"v":[0,1]},{"lo":0,"hi":1,"v":[0,1]},{"lo":0,"hi":1,"v":[0,1]}]}`))
	im := &imageset.Image{W: 4, H: 1, Channels: 3}
	for range 3 {
		im.Pix8 = append(im.Pix8, []uint8{0, 7, 128, 255})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("an error that is not ErrFormat: %v", err)
			}
			return
		}
		out := l.Apply(im, 8)
		if out.W != 4 || len(out.Pix8) != 3 {
			t.Fatalf("applied: %dx%d with %d planes", out.W, out.H, len(out.Pix8))
		}
		again, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(again); err != nil {
			t.Fatalf("a parsed look does not parse again: %v", err)
		}
	})
}

// An estimate report applies as estimate's own stack does.
func TestEditFromEstimateReport(t *testing.T) {
	im := crop(t, "ihc.png", 64, 64)
	rep := `{"stack":"gain,quantize","model":"midrise","params":{"b":{"value":7.5},"gain":{"value":0.9}},"per_channel":false}`
	e, err := ReadEdit([]byte(rep))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Apply(im)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kernels.ParseStack("gain,quantize", kernels.Config{Model: kernels.Midrise})
	if err != nil {
		t.Fatal(err)
	}
	want, err := estimate.ApplyStack(im, st, []float64{0.9, 7.5})
	if err != nil {
		t.Fatal(err)
	}
	if d := PSNR(got, want); d < maxPSNR || e.Kind != "stack" {
		t.Errorf("stack report: %s, %.1f dB from estimate's own", e.Kind, d)
	}
	e, err = ReadEdit([]byte(`{"b":[5.5,9,12],"model":"truncate"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err = e.Apply(im)
	if err != nil {
		t.Fatal(err)
	}
	for c, b := range []float64{5.5, 9, 12} {
		for i := range 64 * 64 {
			if w := uint8(math.Round(kernels.Truncate.Apply(float64(im.Value(c, i)), b) * 255)); got.Pix8[c][i] != w {
				t.Fatalf("per-channel b: channel %d pixel %d is %d; want %d", c, i, got.Pix8[c][i], w)
			}
		}
	}
	for _, bad := range []string{`{"b":3}`, `{"model":"midrise","b":"x"}`, `{"model":"midrise","stack":"gain","params":{}}`, `[1,2]`, `{"model":"midrise","b":-1}`} {
		if _, err := ReadEdit([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v; want ErrFormat", bad, err)
		}
	}
}

// The identity look exports as the identity: a .cube whose lines are its
// nodes (red fastest) and a Hald CLUT whose pixels are their colours.
func TestExport(t *testing.T) {
	id := kernels.Curve{Lo: 0, Hi: 1, V: []float64{0, 1}}
	l := &Look{Version: Version, Stack: Curves, Channels: 3, LookStack: kernels.LookStack{Curves: []kernels.Curve{id, id, id}}}
	var buf bytes.Buffer
	if err := l.WriteCube(&buf, 5); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[1] != "LUT_3D_SIZE 5" || len(lines) != 4+125 || lines[4+1] != "0.250000 0.000000 0.000000" || lines[4+5] != "0.000000 0.250000 0.000000" {
		t.Errorf(".cube: %d lines, %q %q %q", len(lines), lines[1], lines[5], lines[9])
	}
	buf.Reset()
	if err := l.WriteHald(&buf, 4); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 64, 64) {
		t.Fatalf("Hald level 4: %v; want 64×64", img.Bounds())
	}
	for i := range 16 * 16 * 16 {
		r, g, b, _ := img.At(i%64, i/64).RGBA()
		want := [3]uint32{uint32(i % 16), uint32(i / 16 % 16), uint32(i / 256)}
		for c, v := range [3]uint32{r, g, b} {
			if math.Abs(float64(v)-float64(want[c])*65535/15) > 1 {
				t.Fatalf("Hald pixel %d channel %d: %d; want %d/15", i, c, v, want[c])
			}
		}
	}
}

func TestReportJSON(t *testing.T) {
	// the report has no infinities for exact fits
	r := &Report{ValidPSNR: psnr(0)}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// A 16-bit image comes out 16-bit, each sample the look's value at it.
func TestApply16Bit(t *testing.T) {
	l := validLook()
	l.Quantizer = nil
	l.Stack = LUT
	for i := range l.Lattice.V {
		l.Lattice.V[i] = 0.01 * float64(i%5)
	}
	im := &imageset.Image{W: 300, H: 1, Channels: 3}
	for c := range 3 {
		p := make([]uint16, 300)
		for i := range p {
			p[i] = uint16((i*218 + c*5000) % 65536)
		}
		im.Pix16 = append(im.Pix16, p)
	}
	out := l.Apply(im, 0)
	if out.Depth() != 16 {
		t.Fatalf("depth %d; want 16", out.Depth())
	}
	for i := range 300 {
		y := l.Eval([3]float64{float64(im.Value(0, i)), float64(im.Value(1, i)), float64(im.Value(2, i))})
		for c := range 3 {
			if want := uint16(math.Round(y[c] * 65535)); out.Pix16[c][i] != want {
				t.Fatalf("sample %d channel %d: %d; want %d", i, c, out.Pix16[c][i], want)
			}
		}
	}
	var buf bytes.Buffer
	if err := out.EncodePNG(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := imageset.Decode(bytes.NewReader(buf.Bytes()), "out.png", 0)
	if err != nil || back.Depth() != 16 {
		t.Fatalf("written and read back: %v, depth %d", err, back.Depth())
	}
}

// FuzzReadEdit: whatever the file, ReadEdit refuses it with ErrFormat or
// returns an edit that applies to an image of its kind without panicking.
func FuzzReadEdit(f *testing.F) {
	good, _ := validLook().Marshal()
	f.Add(good)
	f.Add([]byte(`{"b": 7.5, "model": "midrise"}`))
	f.Add([]byte(`{"b": [5, 6, 7], "model": "truncate"}`))
	f.Add([]byte(`{"stack":"gain,quantize","model":"posterize","params":{"b":{"value":9},"gain":{"value":1.1}}}`))
	f.Add([]byte(`{"stack":"blur,quantize","model":"midrise","params":{"b":{"value":9},"sigma":{"value":1.5}}}`))
	im := &imageset.Image{W: 5, H: 3, Channels: 3}
	for range 3 {
		im.Pix8 = append(im.Pix8, []uint8{0, 7, 128, 255, 3, 9, 200, 100, 50, 25, 1, 2, 3, 4, 5})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ReadEdit(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("an error that is not ErrFormat: %v", err)
			}
			return
		}
		out, err := e.Apply(im)
		if err == nil && (out.W != im.W || out.H != im.H) {
			t.Fatalf("applied: %dx%d", out.W, out.H)
		}
	})
}
