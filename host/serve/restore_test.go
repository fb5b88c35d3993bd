package serve

import (
	"bytes"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// POST /v1/restore restores blindly or from a pair and says what it undid,
// an ordered dither included; bad requests get a 4xx naming the culprit.
func TestRestoreEndpoint(t *testing.T) {
	_, ts := newServer(t, Config{MaxPixels: 1 << 20})
	orig, quant := pairBytes(t, "coins.png", 7.3)
	for _, parts := range [][]part{
		{{"quantized", "q.png", quant}},
		{{"quantized", "q.png", quant}, {"original", "o.png", orig}},
		{{"quantized", "q.png", quant}, {"b", "", []byte("7.3")}, {"model", "", []byte("midrise")}},
	} {
		resp, out := postImage(t, ts.URL+"/v1/restore", parts...)
		if resp.StatusCode != 200 || resp.Header.Get("X-Quantfit-Model") != "midrise" {
			t.Fatalf("%d parts: status %d, model %q: %s", len(parts), resp.StatusCode, resp.Header.Get("X-Quantfit-Model"), out.String())
		}
		im, err := imageset.Decode(bytes.NewReader(out.Bytes()), "restored", 0)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := photos.Load("coins.png")
		q := ref.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 7.3) })
		if g := gain(q, im, ref); g < 0.5 {
			t.Errorf("%d parts (b from %s): %+.2f dB over the stored image", len(parts), resp.Header.Get("X-Quantfit-B-From"), g)
		}
		if p := resp.Header.Get("X-Quantfit-Dither-Period"); p != "" {
			t.Errorf("%d parts: a dither of period %s found in a clean quantization", len(parts), p)
		}
	}
	// a 2×2 ordered dither to 6 levels: found, and its pattern taken out
	ref, _ := photos.Load("coins.png")
	thresholds := [4]float64{0.125, 0.625, 0.875, 0.375}
	q := &imageset.Image{Name: "coins", W: ref.W, H: ref.H, Channels: ref.Channels}
	for c := range ref.Channels {
		pl := make([]uint8, ref.W*ref.H)
		for i := range pl {
			th := thresholds[(i/ref.W%2)*2+i%ref.W%2]
			pl[i] = uint8(math.Round(255 * min(5, math.Floor(float64(ref.Value(c, i))*5+th)) / 5))
		}
		q.Pix8 = append(q.Pix8, pl)
	}
	var qb bytes.Buffer
	if err := q.EncodePNG(&qb); err != nil {
		t.Fatal(err)
	}
	resp, out := postImage(t, ts.URL+"/v1/restore", part{"quantized", "q.png", qb.Bytes()})
	im, err := imageset.Decode(bytes.NewReader(out.Bytes()), "restored", 0)
	if err != nil {
		t.Fatalf("status %d: %v: %s", resp.StatusCode, err, out.String())
	}
	if d, p, g := resp.Header.Get("X-Quantfit-Dither"), resp.Header.Get("X-Quantfit-Dither-Period"), gain(q, im, ref); d != "ordered" || p != "2" || g < 5 {
		t.Errorf("dithered: %q of period %q, %+.2f dB over the stored image; want ordered, 2 and 5 dB or more", d, p, g)
	}
	for _, c := range []struct {
		name  string
		parts []part
		code  int
		says  string
	}{
		{"no quantized", []part{{"original", "o.png", orig}}, 400, "quantized"},
		{"bad b", []part{{"quantized", "q.png", quant}, {"b", "", []byte("-3")}}, 400, "b"},
		{"bad model", []part{{"quantized", "q.png", quant}, {"model", "", []byte("dither")}}, 400, "dither"},
		{"b and original", []part{{"quantized", "q.png", quant}, {"original", "o.png", orig}, {"b", "", []byte("7")}}, 400, "not both"},
		{"corrupt", []part{{"quantized", "q.png", []byte("nope")}}, 400, "q.png"},
	} {
		code, v, _ := post(t, ts.URL+"/v1/restore", c.parts...)
		if msg, _ := v["error"].(string); code != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %d %q; want %d naming %q", c.name, code, msg, c.code, c.says)
		}
	}
}

func gain(stored, restored, orig *imageset.Image) float64 {
	mse := func(a *imageset.Image) float64 {
		s := 0.0
		for c := range orig.Channels {
			for i := range orig.W * orig.H {
				d := float64(a.Value(c, i) - orig.Value(c, i))
				s += d * d
			}
		}
		return s
	}
	return 10 * math.Log10(mse(stored)/mse(restored))
}

// postImage posts parts to url and returns the response and its body.
func postImage(t *testing.T, url string, parts ...part) (*http.Response, *bytes.Buffer) {
	t.Helper()
	b, ct := body(t, parts...)
	resp, err := http.Post(url, ct, b)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp, &out
}
