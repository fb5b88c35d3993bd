package serve

import (
	"bytes"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// POST /v1/look/apply answers the edited image; bad requests get a 4xx
// naming the culprit.
func TestLookApply(t *testing.T) {
	_, ts := newServer(t, Config{MaxPixels: 1 << 20})
	img, err := photos.Bytes("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	report := []byte(`{"b": 6.5, "model": "midrise"}`)
	b, ct := body(t, part{"look", "", report}, part{"image", "coins.png", img})
	resp, err := http.Post(ts.URL+"/v1/look/apply", ct, b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got, err := png.Decode(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	want := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 6.5) }).Image()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v; want %v", got.Bounds(), want.Bounds())
	}
	for y := range want.Bounds().Dy() {
		for x := range want.Bounds().Dx() {
			g1, _, _, _ := got.At(x, y).RGBA()
			w1, _, _, _ := want.At(x, y).RGBA()
			if g1 != w1 {
				t.Fatalf("pixel (%d,%d): %d; want %d", x, y, g1, w1)
			}
		}
	}
	big := &imageset.Image{W: 2048, H: 1024, Channels: 1, Pix8: [][]uint8{make([]uint8, 2048*1024)}}
	var bigPNG bytes.Buffer
	if err := big.EncodePNG(&bigPNG); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		parts []part
		code  int
		says  string
	}{
		{"no look", []part{{"image", "coins.png", img}}, 400, "want a part look"},
		{"bad look", []part{{"look", "", []byte(`{"version":9}`)}, {"image", "coins.png", img}}, 400, "version 9"},
		{"corrupt image", []part{{"look", "", report}, {"image", "x.png", []byte("not a png")}}, 400, "x.png"},
		{"too large", []part{{"look", "", report}, {"image", "big.png", bigPNG.Bytes()}}, 413, "over the limit"},
		{"unknown part", []part{{"look", "", report}, {"mask", "m.png", img}}, 400, "mask"},
	} {
		code, v, _ := post(t, ts.URL+"/v1/look/apply", c.parts...)
		if msg, _ := v["error"].(string); code != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %d %q; want %d naming %q", c.name, code, msg, c.code, c.says)
		}
	}
}
