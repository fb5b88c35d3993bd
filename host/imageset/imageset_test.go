package imageset_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func encode(t *testing.T, img image.Image, jpg bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if jpg {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeTIFF(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := tiff.Encode(&buf, img, &tiff.Options{Compression: tiff.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodeBMP is img as a BMP file, nil for a 16-bit one.
func encodeBMP(t *testing.T, img image.Image, depth int) []byte {
	t.Helper()
	if depth > 8 {
		return nil
	}
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeFormats(t *testing.T) {
	r := image.Rect(0, 0, 3, 2)
	gray := image.NewGray(r)
	gray.SetGray(1, 1, color.Gray{200})
	g16 := image.NewGray16(r)
	g16.SetGray16(2, 0, color.Gray16{40000})
	rgba := image.NewNRGBA(r)
	rgba.SetNRGBA(0, 1, color.NRGBA{10, 20, 30, 7}) // alpha ignored
	rgb16 := image.NewNRGBA64(r)
	rgb16.SetNRGBA64(1, 0, color.NRGBA64{1000, 2000, 3000, 65535})
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 0, 255}, color.NRGBA{50, 100, 150, 255}})
	pal.SetColorIndex(2, 1, 1)
	greyPal := image.NewPaletted(r, color.Palette{color.Gray{0}, color.Gray{90}})
	greyPal.SetColorIndex(0, 1, 1)
	for _, c := range []struct {
		img      image.Image
		channels int
		depth    int
		ch, i    int
		want     float64
	}{
		{gray, 1, 8, 0, 4, 200.0 / 255},
		{g16, 1, 16, 0, 2, 40000.0 / 65535},
		{rgba, 3, 8, 2, 3, 30.0 / 255},
		{rgb16, 3, 16, 1, 1, 2000.0 / 65535},
		{pal, 3, 8, 1, 5, 100.0 / 255},
		{greyPal, 1, 8, 0, 3, 90.0 / 255}, // a grey image's GIF or BMP
	} {
		for _, f := range []struct {
			name string
			data []byte
		}{{"x.png", encode(t, c.img, false)}, {"x.tif", encodeTIFF(t, c.img)}, {"x.bmp", encodeBMP(t, c.img, c.depth)}} {
			if f.data == nil {
				continue // BMP holds 8 bits a sample
			}
			im, err := imageset.Decode(bytes.NewReader(f.data), f.name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if im.Channels != c.channels || im.Depth() != c.depth {
				t.Errorf("%s %T: %d channels, %d bits", f.name, c.img, im.Channels, im.Depth())
			}
			if got := float64(im.Value(c.ch, c.i)); got-c.want > 1e-7 || c.want-got > 1e-7 {
				t.Errorf("%s %T: value %v, want %v", f.name, c.img, got, c.want)
			}
		}
	}
	// WebP (lossless, 1×1 white; the smallest file browsers probe with)
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	im, err := imageset.Decode(bytes.NewReader(webp), "x.webp", 0)
	if err != nil {
		t.Fatal(err)
	}
	if im.W != 1 || im.H != 1 || im.Channels != 3 {
		t.Errorf("webp: %dx%d, %d channels", im.W, im.H, im.Channels)
	}
	// JPEG: colour and gray photos decode with plausible content.
	for _, n := range photos.Names() {
		im, err := photos.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if im.W < 100 || im.H < 100 || im.Depth() != 8 {
			t.Errorf("%s: %dx%d, %d bits", n, im.W, im.H, im.Depth())
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good := encode(t, image.NewGray(image.Rect(0, 0, 40, 30)), false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path, want string
		max        int
	}{
		{filepath.Join(dir, "missing.png"), "no such file", 0},
		{write("text.png", []byte("hello, not an image")), "not a PNG, JPEG, GIF, TIFF, WebP or BMP", 0},
		{write("trunc.png", good[:len(good)/2]), "trunc.png", 0},
		{write("empty.png", nil), "empty.png", 0},
		{write("big.png", good), "over the limit of 100", 100},
	} {
		_, err := imageset.Load(c.path, c.max)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.path, err, c.want)
		}
	}
	a := write("a.png", good)
	b := write("b.png", encode(t, image.NewGray(image.Rect(0, 0, 41, 30)), false))
	if _, err := imageset.LoadPair(a, b, 0); err == nil || !strings.Contains(err.Error(), "40x30") {
		t.Errorf("mismatched sizes: %v", err)
	}
}

func TestMatchDirsAndSamples(t *testing.T) {
	do, dq := t.TempDir(), t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	img.Pix = []uint8{0, 64, 128, 255}
	for _, n := range []string{"b.png", "a.png"} {
		os.WriteFile(filepath.Join(do, n), encode(t, img, false), 0o644)
		os.WriteFile(filepath.Join(dq, n), encode(t, img, false), 0o644)
	}
	os.WriteFile(filepath.Join(do, "notes.txt"), []byte("x"), 0o644)
	pairs, err := imageset.MatchDirs(do, dq)
	if err != nil || len(pairs) != 2 || filepath.Base(pairs[0][0]) != "a.png" {
		t.Fatalf("pairs %v, %v", pairs, err)
	}
	os.WriteFile(filepath.Join(do, "c.png"), encode(t, img, false), 0o644)
	if _, err := imageset.MatchDirs(do, dq); err == nil || !strings.Contains(err.Error(), "c.png") {
		t.Errorf("unmatched file: %v", err)
	}
	var set imageset.Set
	for _, p := range pairs {
		pr, err := imageset.LoadPair(p[0], p[1], 0)
		if err != nil {
			t.Fatal(err)
		}
		set.Pairs = append(set.Pairs, pr)
	}
	s, err := set.Samples([]int{0})
	if err != nil || s.Len() != 8 || s.X[3] != kernels.Level8(255) {
		t.Fatalf("samples %v, %v", s, err)
	}
	h, err := set.Histogram([]int{0})
	if err != nil || h.Total() != 8 || h.Counts[128<<8|128] != 2 {
		t.Fatalf("histogram total %d, %v", h.Total(), err)
	}
}

func TestFilterRoundTrip(t *testing.T) {
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 7.5) })
	var buf bytes.Buffer
	if err := q.EncodePNG(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := imageset.Decode(bytes.NewReader(buf.Bytes()), "q.png", 0)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[uint8]bool{}
	for _, v := range back.Pix8[0] {
		levels[v] = true
	}
	if len(levels) > 8 {
		t.Errorf("midrise b=7.5 gave %d levels", len(levels))
	}
}

// TestLossyMarked: JPEG inputs, grey and colour, are marked lossy (their
// errors decide how an estimate reads them); PNG and TIFF are not.
func TestLossyMarked(t *testing.T) {
	r := image.Rect(0, 0, 16, 16)
	rgba := image.NewNRGBA(r)
	gray := image.NewGray(r)
	for _, c := range []struct {
		name  string
		data  []byte
		lossy bool
	}{
		{"c.jpg", encode(t, rgba, true), true},
		{"g.jpg", encode(t, gray, true), true},
		{"c.png", encode(t, rgba, false), false},
		{"g.tif", encodeTIFF(t, gray), false},
	} {
		im, err := imageset.Decode(bytes.NewReader(c.data), c.name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if im.Lossy != c.lossy {
			t.Errorf("%s: lossy %v, want %v", c.name, im.Lossy, c.lossy)
		}
	}
}

// FuzzDecode: whatever the bytes, Decode returns an InputError or an
// image whose planes hold W·H samples each, never more than the limit.
func FuzzDecode(f *testing.F) {
	for _, img := range []image.Image{image.NewGray(image.Rect(0, 0, 3, 2)), image.NewNRGBA64(image.Rect(0, 0, 2, 2))} {
		var buf bytes.Buffer
		png.Encode(&buf, img)
		f.Add(buf.Bytes())
	}
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := imageset.Decode(bytes.NewReader(data), "fuzz", 1<<16)
		if err != nil {
			var ie *imageset.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("an error that is not an InputError: %v", err)
			}
			return
		}
		if im.W*im.H > 1<<16 || im.W <= 0 || im.H <= 0 {
			t.Fatalf("decoded %dx%d over the limit", im.W, im.H)
		}
		planes := len(im.Pix8) + len(im.Pix16)
		if planes != im.Channels {
			t.Fatalf("%d planes for %d channels", planes, im.Channels)
		}
		for c := range im.Channels {
			n := 0
			if im.Pix16 != nil {
				n = len(im.Pix16[c])
			} else {
				n = len(im.Pix8[c])
			}
			if n != im.W*im.H {
				t.Fatalf("plane %d holds %d samples; want %d", c, n, im.W*im.H)
			}
		}
	})
}
