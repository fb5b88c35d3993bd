package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

func pairBytes(t testing.TB, name string, b float64) ([]byte, []byte) {
	t.Helper()
	orig, err := photos.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	im, err := photos.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, b) })
	var buf bytes.Buffer
	if err := q.EncodePNG(&buf); err != nil {
		t.Fatal(err)
	}
	return orig, buf.Bytes()
}

type part struct {
	name, file string
	data       []byte
}

func body(t testing.TB, parts ...part) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file != "" {
			w, err = mw.CreateFormFile(p.name, p.file)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func post(t testing.TB, url string, parts ...part) (int, map[string]any, http.Header) {
	b, ct := body(t, parts...)
	resp, err := http.Post(url, ct, b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v, resp.Header
}

func newServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	s := New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Drain() })
	return s, ts
}

func TestEstimate(t *testing.T) {
	_, ts := newServer(t, Config{})
	orig, quant := pairBytes(t, "video-001.png", 14.2)
	code, v, _ := post(t, ts.URL+"/v1/estimate", part{"original", "o.png", orig}, part{"quantized", "q.png", quant},
		part{"options", "", []byte(`{"bmax": 20, "strategy": "auto"}`)}, part{"loss", "", []byte("mse")})
	if code != 200 {
		t.Fatalf("status %d: %v", code, v)
	}
	if b, _ := v["b"].(float64); math.Abs(b-14.2) > 0.1 || v["backend"] != "cpu" {
		t.Errorf("report %v", v)
	}
}

// TestEstimateBlind: quantized parts alone are estimated blind, from
// their values.
func TestEstimateBlind(t *testing.T) {
	_, ts := newServer(t, Config{})
	_, quant := pairBytes(t, "video-001.png", 14.2)
	code, v, _ := post(t, ts.URL+"/v1/estimate", part{"quantized", "q.png", quant}, part{"per-channel", "", []byte("true")})
	if code != 200 {
		t.Fatalf("status %d: %v", code, v)
	}
	rs, _ := v["results"].([]any)
	if v["mode"] != "blind" || len(rs) != 3 {
		t.Fatalf("report %v", v)
	}
	for _, r := range rs {
		if b, _ := r.(map[string]any)["b"].(float64); math.Abs(b-14.2) > 0.05 {
			t.Errorf("channel b = %v, truth 14.2", b)
		}
	}
}

// TestEstimateStack: a stack option fits every parameter of the stack.
func TestEstimateStack(t *testing.T) {
	_, ts := newServer(t, Config{})
	orig, err := photos.Bytes("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kernels.ParseStack("gamma,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := im.Filter(func(x float64) float64 { return st.Forward(x, []float64{1.4, 8.6}) }).EncodePNG(&buf); err != nil {
		t.Fatal(err)
	}
	code, v, _ := post(t, ts.URL+"/v1/estimate", part{"original", "o.png", orig}, part{"quantized", "q.png", buf.Bytes()},
		part{"stack", "", []byte("gamma,quantize")})
	if code != 200 {
		t.Fatalf("status %d: %v", code, v)
	}
	params, _ := v["params"].(map[string]any)
	value := func(name string) float64 {
		p, _ := params[name].(map[string]any)
		f, _ := p["value"].(float64)
		return f
	}
	if math.Abs(value("gamma")-1.4) > 0.02 || math.Abs(value("b")-8.6) > 0.05 || v["stack"] != "gamma,quantize" {
		t.Errorf("report %v", v)
	}
}

// TestConcurrentClients: 32 clients at once, every answer right.
func TestConcurrentClients(t *testing.T) {
	_, ts := newServer(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := 6 + float64(i)*0.7
			orig, quant := pairBytes(t, "video-001.png", b)
			code, v, _ := post(t, ts.URL+"/v1/estimate", part{"original", "o.png", orig}, part{"quantized", "q.png", quant})
			got, _ := v["b"].(float64)
			if code != 200 || math.Abs(got-b) > 0.1 {
				errs <- fmt.Errorf("client %d: status %d, b %v, want %v", i, code, got, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// slow makes each estimation take a while: a dense scan.
var slow = part{"options", "", []byte(`{"strategy": "scan", "scan-points": 3000000}`)}

func TestOverloadGives429(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of estimation")
	}
	_, ts := newServer(t, Config{Workers: 1, Queue: 1})
	orig, quant := pairBytes(t, "coins.png", 9)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, h := post(t, ts.URL+"/v1/estimate", part{"original", "o.png", orig}, part{"quantized", "q.png", quant}, slow)
			if code == 429 && h.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[429] == 0 || counts[200] == 0 || counts[200]+counts[429] != 8 {
		t.Errorf("status counts %v; want 200s and 429s only", counts)
	}
}

// hugePNG is a PNG header declaring 100000×100000 pixels.
func hugePNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestBadInput(t *testing.T) {
	_, ts := newServer(t, Config{MaxBodyBytes: 4 << 20})
	orig, quant := pairBytes(t, "video-001.png", 10)
	other, _ := pairBytes(t, "coins.png", 10)
	o, q := part{"original", "o.png", orig}, part{"quantized", "q.png", quant}
	for _, c := range []struct {
		name  string
		parts []part
		code  int
		want  string
	}{
		{"no parts", nil, 400, "quantized parts"},
		{"original alone", []part{o}, 400, "quantized parts"},
		{"blind with a stack", []part{q, {"stack", "", []byte("gain,quantize")}}, 400, "stack"},
		{"truncated png", []part{o, {"quantized", "q.png", quant[:len(quant)/2]}}, 400, "q.png"},
		{"wrong field names", []part{{"orig", "o.png", orig}, {"quant", "q.png", quant}}, 400, "unknown file part"},
		{"unknown option", []part{o, q, {"colour", "", []byte("red")}}, 400, "unknown option"},
		{"huge dimensions", []part{o, {"quantized", "q.png", hugePNG()}}, 413, "over the limit"},
		{"non-numeric option", []part{o, q, {"bmin", "", []byte("abc")}}, 400, "bmin"},
		{"bad option value", []part{o, q, {"model", "", []byte("fancy")}}, 400, "model"},
		{"unknown operator", []part{o, q, {"stack", "", []byte("gain,emboss")}}, 400, "emboss"},
		{"process option", []part{o, q, {"backend", "", []byte("gpu")}}, 400, "backend"},
		{"options not an object", []part{o, q, {"options", "", []byte("[1]")}}, 400, "options"},
		{"mismatched sizes", []part{o, {"quantized", "q.png", other}}, 400, "pair 1"},
		{"too large", []part{o, q, {"padding", "", make([]byte, 5<<20)}}, 413, "limit"},
	} {
		code, v, _ := post(t, ts.URL+"/v1/estimate", c.parts...)
		msg, _ := v["error"].(string)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: status %d, error %q; want %d mentioning %q", c.name, code, msg, c.code, c.want)
		}
	}
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"original": "x"}`},
		{"", ""},
		{"multipart/form-data; boundary=xyz", "garbage without boundaries"},
	} {
		resp, err := http.Post(ts.URL+"/v1/estimate", c.ct, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%q body %q: status %d, want 400", c.ct, c.body, resp.StatusCode)
		}
	}
}

func TestJobsHealthReadyMetrics(t *testing.T) {
	_, ts := newServer(t, Config{})
	orig, quant := pairBytes(t, "video-001.png", 21.7)
	code, v, h := post(t, ts.URL+"/v1/jobs", part{"original", "o.png", orig}, part{"quantized", "q.png", quant})
	if code != 202 || v["id"] == nil || h.Get("Location") == "" {
		t.Fatalf("submit: %d %v", code, v)
	}
	var job struct {
		Status string         `json:"status"`
		Result map[string]any `json:"result"`
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(ts.URL + h.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&job)
		resp.Body.Close()
		if job.Status == "done" || job.Status == "failed" {
			break
		}
	}
	if b, _ := job.Result["b"].(float64); job.Status != "done" || math.Abs(b-21.7) > 0.1 {
		t.Errorf("job %+v", job)
	}
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/v1/jobs/nope", 404, "no job"},
		{"/healthz", 200, "ok"},
		{"/readyz", 200, `"backend": "cpu"`},
		{"/metrics", 200, "quantfit_estimation_seconds_bucket"},
		{"/metrics", 200, `quantfit_requests_total{code="202",route="/v1/jobs"} 1`},
		{"/metrics", 200, "quantfit_queue_depth"},
		{"/metrics", 200, `quantfit_backend_info{backend="cpu"`},
		{"/metrics", 200, `quantfit_build_info{goversion="go`},
	} {
		resp, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %.300s", c.path, resp.StatusCode, b)
		}
	}
}

// TestJobProgress: a job fitting a spatial stack shows its progress in
// its status while it runs, never falling, and done at the end.
func TestJobProgress(t *testing.T) {
	_, ts := newServer(t, Config{})
	full, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	var ob bytes.Buffer
	sub := full.Image().(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(100, 80, 260, 240))
	if err := png.Encode(&ob, sub); err != nil {
		t.Fatal(err)
	}
	orig := ob.Bytes()
	im, err := imageset.Decode(bytes.NewReader(orig), "coins", 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kernels.ParseStack("blur,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	q, err := estimate.ApplyStack(im, st, []float64{1.3, 9.4})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := q.EncodePNG(&buf); err != nil {
		t.Fatal(err)
	}
	code, v, h := post(t, ts.URL+"/v1/jobs", part{"original", "o.png", orig}, part{"quantized", "q.png", buf.Bytes()},
		part{"stack", "", []byte("blur,quantize")})
	if code != 202 {
		t.Fatalf("submit: %d %v", code, v)
	}
	var job struct {
		Status   string             `json:"status"`
		Progress *estimate.Progress `json:"progress"`
		Result   map[string]any     `json:"result"`
	}
	running, done := 0, 0.0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		job.Progress = nil
		resp, err := http.Get(ts.URL + h.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&job)
		resp.Body.Close()
		if p := job.Progress; p != nil {
			if p.Done < done {
				t.Fatalf("progress fell from %.3f to %+v", done, *p)
			}
			done = p.Done
			if job.Status == "running" && p.Stage != "" {
				running++
			}
		}
		if job.Status == "done" || job.Status == "failed" {
			break
		}
	}
	if job.Status != "done" || job.Progress == nil || job.Progress.Stage != "done" || job.Progress.Done != 1 || job.Progress.Passes == 0 {
		t.Fatalf("job %+v, progress %+v", job.Status, job.Progress)
	}
	if running == 0 {
		t.Errorf("no progress seen while the job ran")
	}
}

// TestShutdownDrains: a request in flight when shutdown starts is answered.
func TestShutdownDrains(t *testing.T) {
	s := New(Config{Workers: 1})
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Start()
	defer srv.Close()
	orig, quant := pairBytes(t, "coins.png", 9)
	done := make(chan int)
	// a request estimated for seconds (-short: about one)
	req, wait := slow, 300*time.Millisecond
	if testing.Short() {
		req, wait = part{"options", "", []byte(`{"strategy": "scan", "scan-points": 1000000}`)}, 100*time.Millisecond
	}
	go func() {
		code, _, _ := post(t, srv.URL+"/v1/estimate", part{"original", "o.png", orig}, part{"quantized", "q.png", quant}, req)
		done <- code
	}()
	time.Sleep(wait) // the request is being estimated
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s.Drain()
	if code := <-done; code != 200 {
		t.Errorf("request in flight during shutdown: status %d", code)
	}
}

func FuzzParseRequest(f *testing.F) {
	orig, quant := pairBytes(f, "video-001.png", 10)
	b, ct := body(f, part{"original", "o.png", orig[:200]}, part{"quantized", "q.png", quant[:100]}, part{"bmin", "", []byte("7")})
	f.Add(ct, b.Bytes())
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{\"bmax\":1e999}\r\n--x--\r\n"))
	base := New(Config{}).cfg.Base
	f.Fuzz(func(t *testing.T, ct string, data []byte) {
		r := httptest.NewRequest("POST", "/v1/estimate", bytes.NewReader(data))
		r.Header.Set("Content-Type", ct)
		_, _, err := ParseRequest(r, base, 1<<20, 1<<16)
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.code < 400 || ae.code >= 500 {
			t.Fatalf("error %v is not a 4xx", err)
		}
	})
}
