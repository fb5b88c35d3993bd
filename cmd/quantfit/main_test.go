package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/buildinfo"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// quantfit runs the command line and returns its exit status and output.
func quantfit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := quantfit(t, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	golden(t, "help.golden", out)
	for _, c := range []string{"estimate", "synth", "demo", "restore", "look"} {
		code, out, _ := quantfit(t, "help", c)
		if code != 0 {
			t.Fatalf("help %s: exit %d", c, code)
		}
		golden(t, "help-"+c+".golden", out)
	}
	// -h after the command prints the same page (it once declared the
	// flags twice and panicked)
	for _, c := range commands {
		want := new(strings.Builder)
		(&cli{stdout: want}).commandUsage(c, flag.NewFlagSet(c.name, flag.ContinueOnError))
		code, out, errs := quantfit(t, c.name, "-h")
		if code != 0 || out != want.String() {
			t.Errorf("%s -h: exit %d, stderr %q, page equal %v", c.name, code, errs, out == want.String())
		}
	}
	if code, _, _ := quantfit(t); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
	if code, _, errs := quantfit(t, "frobnicate"); code != 2 || !strings.Contains(errs, "frobnicate") {
		t.Errorf("unknown command: exit %d, %q", code, errs)
	}
}

// synthPair copies a shipped photo into dir and quantizes it with
// `quantfit synth ARGS` into dir/out.
func synthPair(t *testing.T, dir, photo, out string, args ...string) (orig, quant string) {
	t.Helper()
	orig, quant = writePhoto(t, dir, photo), filepath.Join(dir, out)
	if code, _, errs := quantfit(t, append(append([]string{"synth"}, args...), orig, quant)...); code != 0 {
		t.Fatalf("synth %v: exit %d: %s", args, code, errs)
	}
	return orig, quant
}

// writePhoto copies a shipped photo into dir.
func writePhoto(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := photos.Bytes(name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// centre is the middle size×size of im (all of a side shorter).
func centre(t *testing.T, im *imageset.Image, size int) *imageset.Image {
	t.Helper()
	w, h := min(size, im.W), min(size, im.H)
	r := image.Rect((im.W-w)/2, (im.H-h)/2, (im.W+w)/2, (im.H+h)/2)
	sub := im.Image().(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(r)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, sub); err != nil {
		t.Fatal(err)
	}
	out, err := imageset.Decode(bytes.NewReader(buf.Bytes()), im.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writePNG writes img to path, compressed for speed: the tests' inputs
// are written once and read once.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type estimateJSON struct {
	B         json.RawMessage `json:"b"`
	Loss      json.RawMessage `json:"loss"`
	Model     string          `json:"model"`
	Surrogate string          `json:"surrogate"`
	Optimizer string          `json:"optimizer"`
	Strategy  string          `json:"strategy"`
	Steps     *int            `json:"steps"`
	Backend   string          `json:"backend"`
	Seconds   *float64        `json:"seconds"`
	Interval  json.RawMessage `json:"interval"`
}

func decode(t *testing.T, out string) estimateJSON {
	t.Helper()
	var r estimateJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if r.B == nil || r.Loss == nil || r.Model == "" || r.Surrogate == "" || r.Optimizer == "" || r.Strategy == "" ||
		r.Steps == nil || r.Backend == "" || r.Seconds == nil {
		t.Fatalf("output lacks a required key:\n%s", out)
	}
	return r
}

func TestSynthThenEstimate(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "coins-q.png", "-b", "12.3")
	trace, plot := filepath.Join(dir, "trace.csv"), filepath.Join(dir, "plot.png")
	code, out, errs := quantfit(t, "estimate", "-trace", trace, "-plot", plot, "-truth", "12.3", orig, quant)
	if code != 0 {
		t.Fatalf("estimate: exit %d: %s", code, errs)
	}
	r := decode(t, out)
	var b float64
	json.Unmarshal(r.B, &b)
	if math.Abs(b-12.3) > 0.02 || r.Strategy != "auto" || r.Model != "midrise" || r.Backend != "cpu" {
		t.Errorf("estimate: %s", out)
	}
	csv, err := os.ReadFile(trace)
	if err != nil || !strings.HasPrefix(string(csv), "step,b,loss,grad,lr\n") || strings.Count(string(csv), "\n") < 10 {
		t.Errorf("trace: %v\n%.200s", err, csv)
	}
	f, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() < 500 {
		t.Errorf("plot: %v", err)
	}
	// Every strategy and optimizer runs from the command line.
	for _, args := range [][]string{
		{"-strategy", "gd", "-optimizer", "sgd", "-surrogate", "ste", "-steps", "50"},
		{"-strategy", "gd", "-optimizer", "momentum", "-schedule", "exp", "-steps", "50"},
		{"-strategy", "gd", "-optimizer", "nesterov", "-schedule", "step", "-decay-steps", "10", "-steps", "50"},
		{"-strategy", "gd", "-optimizer", "adagrad", "-schedule", "inv", "-noise", "1e-8", "-steps", "50"},
		{"-strategy", "gd", "-optimizer", "rmsprop", "-patience", "5", "-batch", "4096", "-mode", "pixel", "-steps", "50"},
		{"-strategy", "multistart", "-starts", "4", "-steps", "50", "-surrogate", "sine"},
		{"-strategy", "continuation", "-surrogate", "gaussian", "-steps", "50"},
		{"-strategy", "continuation", "-surrogate", "softround", "-steps", "50"},
		{"-strategy", "scan", "-scan-points", "2001", "-loss", "l1"},
		{"-loss", "huber", "-model", "midrise", "-soft-forward", "-surrogate", "atan"},
	} {
		code, out, errs := quantfit(t, append(append([]string{"estimate"}, args...), orig, quant)...)
		if code != 0 {
			t.Errorf("estimate %v: exit %d: %s", args, code, errs)
			continue
		}
		decode(t, out)
	}
}

func TestPerChannelAndPairs(t *testing.T) {
	do, dq := t.TempDir(), t.TempDir()
	for _, n := range []string{"ihc.png", "video-001.png"} {
		orig := writePhoto(t, do, n)
		if code, _, errs := quantfit(t, "synth", "-b", "9.7", orig, filepath.Join(dq, n)); code != 0 {
			t.Fatalf("synth: %s", errs)
		}
	}
	code, out, errs := quantfit(t, "estimate", "-per-channel", "-pairs", do, dq)
	if code != 0 {
		t.Fatalf("estimate: exit %d: %s", code, errs)
	}
	r := decode(t, out)
	var bs []float64
	if err := json.Unmarshal(r.B, &bs); err != nil || len(bs) != 3 {
		t.Fatalf("per-channel b %s: %v", r.B, err)
	}
	for _, b := range bs {
		if math.Abs(b-9.7) > 0.02 {
			t.Errorf("per-channel b %v, want 9.7", bs)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "q.png", "-b", "8")
	other := writePhoto(t, dir, "grass.png")
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not an image at all"), 0o644)
	data, _ := os.ReadFile(quant)
	trunc := filepath.Join(dir, "trunc.png")
	os.WriteFile(trunc, data[:len(data)/3], 0o644)
	plot := filepath.Join(dir, "never.png")
	var stderrs strings.Builder // every message, as a user reads it
	defer func() { golden(t, "bad-input.golden", stderrs.String()) }()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"estimate", orig}, "pairs of images"},
		{[]string{"estimate", orig, filepath.Join(dir, "missing.png")}, "missing.png"},
		{[]string{"estimate", orig, junk}, "junk.png"},
		{[]string{"estimate", orig, trunc}, "trunc.png"},
		{[]string{"estimate", orig, other}, "384x303"},
		{[]string{"estimate", "-max-pixels", "1000", orig, quant}, "over the limit"},
		{[]string{"estimate", "-bmin", "30", "-bmax", "5", orig, quant}, "-bmin"},
		{[]string{"estimate", "-bmin", "NaN", orig, quant}, "-bmin"},
		{[]string{"estimate", "-steps", "-3", orig, quant}, "-steps"},
		{[]string{"estimate", "-lr", "-1", orig, quant}, "-lr"},
		{[]string{"estimate", "-model", "posterise", orig, quant}, "-model"},
		{[]string{"estimate", "-surrogate", "magic", orig, quant}, "-surrogate"},
		{[]string{"estimate", "-optimizer", "lbfgs", orig, quant}, "-optimizer"},
		{[]string{"estimate", "-strategy", "guess", orig, quant}, "-strategy"},
		{[]string{"estimate", "-gamma", "1.5", orig, quant}, "-gamma"},
		{[]string{"estimate", "-mode", "hist", "-levels", "-3", orig, quant}, "-levels"},
		{[]string{"estimate", "-strategy", "continuation", "-surrogate", "ste", orig, quant}, "-strategy"},
		{[]string{"estimate", "-plot", plot, "-bmin", "-4", orig, quant}, "-bmin"},
		{[]string{"estimate", "-plot", filepath.Join(dir, "p.jpg"), orig, quant}, "-plot"},
		{[]string{"estimate", "-nonsense", orig, quant}, "nonsense"},
		{[]string{"estimate", "-pairs", dir}, "two directories"},
		{[]string{"synth", orig, quant}, "-b is required"},
		{[]string{"synth", "-b", "-2", orig, quant}, "-b"},
		{[]string{"synth", "-b", "8", orig, filepath.Join(dir, "out.jpg")}, ".png"},
		{[]string{"synth", "-b", "8", junk, filepath.Join(dir, "out.png")}, "junk.png"},
		{[]string{"demo", "-photo", "nope.png"}, "nope.png"},
		{[]string{"estimate", "-backend", "tpu", orig, quant}, "-backend"},
	} {
		code, out, errs := quantfit(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 naming %q", c.args, code, out, errs, c.want)
		}
		stderrs.WriteString("$ quantfit " + strings.ReplaceAll(strings.Join(c.args, " "), dir, "DIR") + "\n" + strings.ReplaceAll(errs, dir, "DIR"))
		if lines := strings.Count(errs, "\n"); lines > 2 {
			t.Errorf("%v: %d lines of errors:\n%s", c.args, lines, errs)
		}
	}
	for _, p := range []string{plot, filepath.Join(dir, "out.png"), filepath.Join(dir, "out.jpg"), filepath.Join(dir, "p.jpg")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written despite the error", p)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 5 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("left in the directory: %v", names)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of estimation")
	}
	dir := t.TempDir()
	plot := filepath.Join(dir, "demo.png")
	code, out, errs := quantfit(t, "demo", "-seed", "3", "-plot", plot)
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "auto") || !strings.Contains(out, "gd (Adam") || !strings.Contains(out, "stack-auto") {
		t.Errorf("demo output:\n%s", out)
	}
	if _, err := os.Stat(plot); err != nil {
		t.Error(err)
	}
}

// TestBackendGPU: -backend gpu answers as the CPU does, naming the backend
// and renderer (llvmpipe in CI).
func TestBackendGPU(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "brick.png", "q.png", "-b", "21.3", "-model", "posterize")
	code, out, errs := quantfit(t, "estimate", "-backend", "gpu", "-model", "posterize", orig, quant)
	if code == 2 && strings.Contains(errs, "-backend gpu") && os.Getenv("QUANTFIT_REQUIRE_GPU") == "" {
		t.Skipf("no GPU context: %s", errs)
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var g struct {
		B        float64 `json:"b"`
		Backend  string  `json:"backend"`
		Renderer string  `json:"renderer"`
	}
	json.Unmarshal([]byte(out), &g)
	_, out, _ = quantfit(t, "estimate", "-backend", "cpu", "-model", "posterize", orig, quant)
	var c struct {
		B float64 `json:"b"`
	}
	json.Unmarshal([]byte(out), &c)
	if g.Backend != "gpu" || g.Renderer == "" || math.Abs(g.B-c.B) > 1e-4 {
		t.Errorf("gpu %+v, cpu b %v", g, c.B)
	}
}

func TestBatchCommand(t *testing.T) {
	dir := t.TempDir()
	synthPair(t, dir, "coins.png", "coins-q.png", "-b", "7.5")
	writePhoto(t, dir, "grass.png")
	man := filepath.Join(dir, "m.csv")
	os.WriteFile(man, []byte("id,original,quantized,strategy\nc,coins.png,coins-q.png,auto\nbad,grass.png,missing.png,\n"), 0o644)
	out := filepath.Join(dir, "r.jsonl")
	code, _, errs := quantfit(t, "batch", "-backend", "cpu", "-o", out, man)
	if code != 1 || !strings.Contains(errs, "1 failed") {
		t.Fatalf("mixed batch: exit %d, %s", code, errs)
	}
	lines, _ := os.ReadFile(out)
	if n := strings.Count(string(lines), "\n"); n != 2 || !strings.Contains(string(lines), `"error"`) {
		t.Errorf("results:\n%s", lines)
	}
	// Sharded: every job runs in exactly one of the shards.
	total := 0
	for i := 0; i < 3; i++ {
		o := filepath.Join(dir, fmt.Sprintf("s%d.jsonl", i))
		quantfit(t, "batch", "-backend", "cpu", "-shard", fmt.Sprintf("%d/3", i), "-o", o, man)
		b, _ := os.ReadFile(o)
		total += strings.Count(string(b), "\n")
	}
	if total != 2 {
		t.Errorf("shards wrote %d lines, want 2", total)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "5")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"batch", "-shard", "3/3", man}, "-shard"},
		{[]string{"batch", "-shards", "4", man}, "JOB_COMPLETION_INDEX"},
		{[]string{"batch", filepath.Join(dir, "none.csv")}, "none.csv"},
		{[]string{"batch", "-o", filepath.Join(dir, "coins.png"), man}, "not a result line"},
		{[]string{"batch", "-model", "fancy", man}, "-model"},
		{[]string{"serve", "-queue", "0"}, "-queue"},
		{[]string{"serve", "-addr", "256.0.0.1:99999"}, "-addr"},
	} {
		code, _, errs := quantfit(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 naming %q", c.args, code, errs, c.want)
		}
	}
}

// TestBenchBookkeeping: on tiny sizes every configuration is measured and
// reported with the stable keys; bad flags exit 2. Timings are not checked.
func TestBenchBookkeeping(t *testing.T) {
	backends := "cpu"
	if os.Getenv("QUANTFIT_REQUIRE_GPU") != "" {
		backends = "cpu,gpu"
	}
	dir := t.TempDir()
	plot, md := filepath.Join(dir, "b.png"), filepath.Join(dir, "b.md")
	code, out, errs := quantfit(t, "bench", "-backend", backends, "-pixels", "1000,3001", "-surrogate", "lsq,atan",
		"-mode", "pixel,hist", "-k", "1,5", "-repeat", "2", "-json", "-plot", plot, "-o", md)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	type key struct {
		kind, backend, surrogate, mode string
		pixels, k                      int
	}
	seen := map[key]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		for _, k := range []string{"backend", "renderer", "pixels", "surrogate", "mode", "k", "step_seconds_median",
			"pixels_per_second", "bytes_per_second", "ceiling_ratio"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%q lacks %s", line, k)
			}
		}
		seen[key{m["kind"].(string), m["backend"].(string), m["surrogate"].(string), m["mode"].(string), int(m["pixels"].(float64)), int(m["k"].(float64))}] = true
	}
	for _, b := range strings.Split(backends, ",") {
		for _, n := range []int{1000, 3001} {
			if !seen[key{"auto", b, "atan", "hist", n, 1}] {
				t.Errorf("no auto measurement for %s n=%d", b, n)
			}
			for _, s := range []string{"ste", "atan"} {
				for _, mode := range []string{"pixel", "hist"} {
					for _, k := range []int{1, 5} {
						if !seen[key{"step", b, s, mode, n, k}] {
							t.Errorf("missing %s %s %s n=%d k=%d", b, s, mode, n, k)
						}
					}
				}
			}
		}
	}
	for _, p := range []string{plot, md} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, args := range [][]string{
		{"bench", "-backend", "tpu"}, {"bench", "-pixels", "0"}, {"bench", "-pixels", "1.5"}, {"bench", "-surrogate", "floor"},
		{"bench", "-mode", "both"}, {"bench", "-k", "0"}, {"bench", "-repeat", "0"}, {"bench", "-plot", "x.jpg"}, {"bench", "extra"},
	} {
		if code, _, _ := quantfit(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestStackCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of estimation")
	}
	dir := t.TempDir()
	orig := writePhoto(t, dir, "ihc.png")
	quant := filepath.Join(dir, "q.png")
	code, _, errs := quantfit(t, "synth", "-stack", "gamma,gain,bias,quantize", "-p", "gamma=1.3", "-p", "gain=0.9", "-p", "bias=0.04", "-b", "11.2", orig, quant)
	if code != 0 {
		t.Fatalf("synth -stack: exit %d: %s", code, errs)
	}
	code, out, errs := quantfit(t, "estimate", "-backend", "cpu", "-stack", "gamma,gain,bias,quantize", "-param", "gamma=0.5:2", orig, quant)
	if code != 0 {
		t.Fatalf("estimate -stack: exit %d: %s", code, errs)
	}
	var r struct {
		Stack  string `json:"stack"`
		Params map[string]struct {
			Value    float64    `json:"value"`
			Interval [2]float64 `json:"interval"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"gamma": 1.3, "gain": 0.9, "bias": 0.04, "b": 11.2}
	tol := map[string]float64{"gamma": 0.05, "gain": 0.05, "bias": 0.02, "b": 0.1}
	for k, v := range want {
		if math.Abs(r.Params[k].Value-v) > tol[k] {
			t.Errorf("%s = %v, want %v (%s)", k, r.Params[k].Value, v, out)
		}
	}
	// -trace records the optimizer's steps over every parameter.
	trace := filepath.Join(dir, "t.csv")
	if code, _, errs := quantfit(t, "estimate", "-backend", "cpu", "-stack", "gamma,quantize", "-trace", trace, orig, quant); code != 0 {
		t.Fatalf("estimate -stack -trace: exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "step,gamma,b,loss,grad_gamma,grad_b,lr" || len(lines) < 2 || strings.Count(lines[1], ",") != 6 {
		t.Errorf("trace:\n%s", data)
	}
	// -strategy gd is one joint descent, named as such.
	code, out, errs = quantfit(t, "estimate", "-backend", "cpu", "-stack", "gamma,quantize", "-strategy", "gd", "-steps", "50", orig, quant)
	if code != 0 || !strings.Contains(out, `"strategy": "stack-gd"`) || !strings.Contains(out, `"steps": 50`) {
		t.Errorf("estimate -stack -strategy gd: exit %d: %s %s", code, out, errs)
	}
	// -backend gpu runs the stack's shader.
	code, out, errs = quantfit(t, "estimate", "-backend", "gpu", "-stack", "gamma,gain,bias,quantize", orig, quant)
	switch {
	case code == 2 && strings.Contains(errs, "-backend gpu") && os.Getenv("QUANTFIT_REQUIRE_GPU") == "":
		t.Logf("no GPU context: %s", errs)
	case code != 0:
		t.Errorf("estimate -stack -backend gpu: exit %d: %s", code, errs)
	case !strings.Contains(out, `"backend": "gpu"`):
		t.Errorf("estimate -stack -backend gpu ran elsewhere: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"estimate", "-stack", "gain,emboss", orig, quant}, "-stack"},
		{[]string{"estimate", "-stack", "gain,quantize", "-param", "gain=2:1", orig, quant}, "-param"},
		{[]string{"estimate", "-stack", "gain,quantize", "-param", "tint=0:1", orig, quant}, "-param"},
		{[]string{"estimate", "-stack", "gain,quantize", "-param", "b=5:1e9", orig, quant}, "65536"},
		{[]string{"estimate", "-stack", "gain,quantize", "-param", "b=0:30", orig, quant}, "above 0"},
		{[]string{"estimate", "-stack", "gain,quantize", "-strategy", "scan", orig, quant}, "-strategy"},
		{[]string{"estimate", "-stack", "gain,quantize", "-plot", filepath.Join(dir, "p.png"), orig, quant}, "-stack"},
		{[]string{"synth", "-stack", "gain,quantize", "-b", "8", "-p", "gain", orig, filepath.Join(dir, "x.png")}, "-p"},
	} {
		code, _, errs := quantfit(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 naming %q", c.args, code, errs, c.want)
		}
	}
}

// TestPoorFitWarns: a pair that is not a quantization of each other gets
// an answer and a warning that it is unreliable.
func TestPoorFitWarns(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "q.png", "-b", "9")
	code, _, errs := quantfit(t, "estimate", "-backend", "cpu", orig, quant)
	if code != 0 || strings.Contains(errs, "warning") {
		t.Errorf("a true pair: exit %d, %q", code, errs)
	}
	// The same levels, upside down: no quantizer of the original makes it.
	f, _ := os.Open(quant)
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	g := img.(*image.Gray)
	h := g.Bounds().Dy()
	flipped := image.NewGray(g.Bounds())
	for y := 0; y < h; y++ {
		copy(flipped.Pix[y*flipped.Stride:(y+1)*flipped.Stride], g.Pix[(h-1-y)*g.Stride:(h-y)*g.Stride])
	}
	writePNG(t, quant, flipped)
	code, _, errs = quantfit(t, "estimate", "-backend", "cpu", orig, quant)
	if code != 0 || !strings.Contains(errs, "unreliable") {
		t.Errorf("a false pair: exit %d, %q; want a warning", code, errs)
	}
}

// TestStackPerChannel: -per-channel gives each channel of an RGB pair its
// own stack parameters.
func TestStackPerChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of estimation")
	}
	dir := t.TempDir()
	im, err := photos.Load("retina.jpg")
	if err != nil {
		t.Fatal(err)
	}
	src := im.Image()
	st, err := kernels.ParseStack("gamma,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	truth := [][]float64{{0.8, 9.3}, {1.25, 12.6}, {1.6, 7.1}}
	b := src.Bounds()
	o, q := image.NewNRGBA(b), image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
			o.SetNRGBA(x, y, c)
			v := [3]uint8{c.R, c.G, c.B}
			for ch := range v {
				v[ch] = uint8(math.Round(255 * st.Forward(float64(v[ch])/255, truth[ch])))
			}
			q.SetNRGBA(x, y, color.NRGBA{v[0], v[1], v[2], 255})
		}
	}
	op, qp := filepath.Join(dir, "o.png"), filepath.Join(dir, "q.png")
	writePNG(t, op, o)
	writePNG(t, qp, q)
	code, out, errs := quantfit(t, "estimate", "-stack", "gamma,quantize", "-per-channel", op, qp)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Params []map[string]struct {
			Value float64 `json:"value"`
		} `json:"params"`
		Loss []float64 `json:"loss"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(r.Params) != 3 || len(r.Loss) != 3 {
		t.Fatalf("want 3 channels: %s", out)
	}
	for ch, want := range truth {
		if g, bv := r.Params[ch]["gamma"].Value, r.Params[ch]["b"].Value; math.Abs(g-want[0]) > 0.02 || math.Abs(bv-want[1]) > 0.05 {
			t.Errorf("channel %d: gamma %.4f, b %.4f; want %v", ch, g, bv, want)
		}
	}
}

var seconds = regexp.MustCompile(`"seconds": [0-9.e+-]+`)

// TestReportGolden: the JSON report of an estimate, key for key, with the
// wall time scrubbed.
func TestReportGolden(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "q.png", "-b", "9.7")
	for _, c := range []struct {
		name string
		args []string
	}{
		{"report.golden", []string{"estimate", "-backend", "cpu", orig, quant}},
		{"report-stack.golden", []string{"estimate", "-backend", "cpu", "-stack", "gain,quantize", "-param", "gain=0.8:1.2", orig, quant}},
	} {
		code, out, errs := quantfit(t, c.args...)
		if code != 0 {
			t.Fatalf("%v: %s", c.args, errs)
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("%v: not JSON: %s", c.args, out)
		}
		golden(t, c.name, seconds.ReplaceAllString(out, `"seconds": 0`))
	}
}

// TestFlagsAnywhere: flags after the file arguments, or between them, and
// spelled with two dashes, mean what they mean before them; "--" ends them.
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "q.png", "-b", "9", "-model", "posterize")
	var first string
	for i, args := range [][]string{
		{"estimate", "-model", "posterize", "-bmax", "20", orig, quant},
		{"estimate", orig, quant, "-model", "posterize", "-bmax", "20"},
		{"estimate", orig, "--model=posterize", quant, "--bmax", "20"},
	} {
		code, out, errs := quantfit(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		var r estimateJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = string(r.B)
		} else if string(r.B) != first {
			t.Errorf("%v: b = %s, want %s as with the flags first", args, r.B, first)
		}
	}
	// after "--" an argument that looks like a flag is a file
	code, _, errs := quantfit(t, "estimate", orig, "--", "-model")
	if code == 0 || !strings.Contains(errs, "-model") || !strings.Contains(errs, "no such file") {
		t.Errorf(`estimate a -- -model: exit %d: %s`, code, errs)
	}
}

// TestWarnAtRangeEnd: an answer at -bmax says the truth may lie beyond.
func TestWarnAtRangeEnd(t *testing.T) {
	dir := t.TempDir()
	orig, quant := synthPair(t, dir, "coins.png", "q.png", "-b", "24.6")
	code, _, errs := quantfit(t, "estimate", "-bmax", "20", orig, quant)
	if code != 0 || !strings.Contains(errs, "upper end of the range [5, 20]") || !strings.Contains(errs, "-bmax") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = quantfit(t, "estimate", orig, quant)
	if code != 0 || strings.Contains(errs, "end of the range") {
		t.Errorf("b inside the range: exit %d, stderr %q", code, errs)
	}
}

// TestModelAuto: -model auto names the model that made the image, and the
// runner-up with its loss.
func TestModelAuto(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		model string
		b     float64
	}{{"midrise", 11.3}, {"posterize", 9}, {"truncate", 16}} {
		orig, quant := synthPair(t, dir, "grass.png", c.model+".png", "-b", fmt.Sprint(c.b), "-model", c.model)
		code, out, errs := quantfit(t, "estimate", "-model", "auto", orig, quant)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.model, code, errs)
		}
		var r struct {
			B        float64 `json:"b"`
			Loss     float64 `json:"loss"`
			Model    string  `json:"model"`
			RunnerUp struct {
				Model string  `json:"model"`
				Loss  float64 `json:"loss"`
			} `json:"runner_up"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Model != c.model || math.Abs(r.B-c.b) > 0.05 || r.RunnerUp.Model == "" || r.RunnerUp.Model == c.model || !(r.RunnerUp.Loss > r.Loss) {
			t.Errorf("%s b=%v: got %s b=%v loss %v, runner-up %s %v", c.model, c.b, r.Model, r.B, r.Loss, r.RunnerUp.Model, r.RunnerUp.Loss)
		}
	}
	if code, _, errs := quantfit(t, "estimate", "-model", "auto", "-stack", "gain,quantize", "a.png", "b.png"); code != 2 || !strings.Contains(errs, "-model auto") {
		t.Errorf("-model auto with -stack: exit %d: %s", code, errs)
	}
}

// TestPillowPosterize: Pillow's ImageOps.posterize(4) keeps the top 4 bits
// of every 8-bit value; -model auto finds truncate at b = 255/16 and says
// which Pillow call that is.
func TestPillowPosterize(t *testing.T) {
	dir := t.TempDir()
	orig := writePhoto(t, dir, "brick.png")
	f, _ := os.Open(orig)
	src, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
			out.SetNRGBA(x, y, color.NRGBA{c.R & 0xf0, c.G & 0xf0, c.B & 0xf0, 255})
		}
	}
	quant := filepath.Join(dir, "pillow.png")
	writePNG(t, quant, out)
	code, stdout, errs := quantfit(t, "estimate", "-model", "auto", orig, quant)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		B          float64 `json:"b"`
		Model      string  `json:"model"`
		PillowBits int     `json:"pillow_bits"`
	}
	json.Unmarshal([]byte(stdout), &r)
	if r.Model != "truncate" || math.Abs(r.B-255.0/16) > 0.05 || r.PillowBits != 4 {
		t.Errorf("got %s b=%v pillow_bits %d, want truncate b=15.94 pillow_bits 4", r.Model, r.B, r.PillowBits)
	}
}

// TestBlind: b from the filtered image alone, with the model named or
// chosen; a twin lattice is warned about; bad use is refused.
func TestBlind(t *testing.T) {
	dir := t.TempDir()
	_, mid := synthPair(t, dir, "brick.png", "mid.png", "-b", "13.7")
	_, post := synthPair(t, dir, "brick.png", "post.png", "-b", "7", "-model", "posterize")
	for _, c := range []struct {
		args  []string
		model string
		b     float64
		warn  string
	}{
		{[]string{"estimate", "-blind", mid}, "midrise", 13.7, ""},
		{[]string{"estimate", "-blind", "-model", "auto", mid}, "midrise", 13.7, ""},
		{[]string{"estimate", post, "-blind", "-model", "auto"}, "posterize", 7, "cannot be told apart"},
	} {
		code, out, errs := quantfit(t, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errs)
		}
		var r struct {
			Results []struct {
				B     float64 `json:"b"`
				Model string  `json:"model"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Results) != 1 {
			t.Fatalf("%v: %v: %s", c.args, err, out)
		}
		if r.Results[0].Model != c.model || math.Abs(r.Results[0].B-c.b) > 0.05 {
			t.Errorf("%v: %s b=%v, want %s b=%v", c.args, r.Results[0].Model, r.Results[0].B, c.model, c.b)
		}
		if c.warn != "" && !strings.Contains(errs, c.warn) {
			t.Errorf("%v: stderr %q, want a warning with %q", c.args, errs, c.warn)
		}
	}
	if code, _, errs := quantfit(t, "estimate", "-blind"); code != 2 || !strings.Contains(errs, "-blind") {
		t.Errorf("-blind with no image: exit %d: %s", code, errs)
	}
	if code, _, errs := quantfit(t, "estimate", "-blind", "-pairs", dir, dir); code != 2 || !strings.Contains(errs, "-pairs") {
		t.Errorf("-blind -pairs: exit %d: %s", code, errs)
	}
}

// TestSpatialStackCLI: synth and estimate take image operators: a blur
// before the quantizer, made by synth on a crop of a colour photo, comes
// back with σ and b, and the joint descent (-strategy gd) runs beside.
func TestSpatialStackCLI(t *testing.T) {
	dir := t.TempDir()
	im, err := photos.Load("ihc.png")
	if err != nil {
		t.Fatal(err)
	}
	side := 160
	if testing.Short() {
		side = 112
	}
	src := im.Image().(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(100, 100, 100+side, 100+side))
	orig, quant := filepath.Join(dir, "o.png"), filepath.Join(dir, "q.png")
	writePNG(t, orig, src)
	if code, _, errs := quantfit(t, "synth", "-stack", "blur,saturation,quantize", "-p", "sigma=1.7", "-p", "saturation=0.6", "-b", "9.3", orig, quant); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, errs)
	}
	var r struct {
		Params map[string]struct {
			Value float64 `json:"value"`
		} `json:"params"`
		Strategy string `json:"strategy"`
	}
	code, out, errs := quantfit(t, "estimate", "-stack", "blur,saturation,quantize", orig, quant)
	if code != 0 {
		t.Fatalf("estimate: exit %d: %s", code, errs)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if s, sat, b := r.Params["sigma"].Value, r.Params["saturation"].Value, r.Params["b"].Value; math.Abs(s-1.7) > 0.05*1.7 || math.Abs(sat-0.6) > 0.02 || math.Abs(b-9.3) > 0.05 {
		t.Errorf("sigma %v saturation %v b %v; truth 1.7, 0.6, 9.3", s, sat, b)
	}
	code, out, errs = quantfit(t, "estimate", "-stack", "blur,saturation,quantize", "-strategy", "gd", "-steps", "30", orig, quant)
	if code != 0 || !strings.Contains(out, `"strategy": "stack-gd"`) {
		t.Errorf("-strategy gd: exit %d: %s %s", code, out, errs)
	}
	if code, _, errs := quantfit(t, "estimate", "-stack", "blur,quantize", "-per-channel", orig, quant); code != 2 || !strings.Contains(errs, "channels together") {
		t.Errorf("-per-channel with a blur: exit %d: %s", code, errs)
	}
}

// TestVersion: version prints the build, and as JSON its fields.
func TestVersion(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run([]string{"version"}, &out, &errw); code != 0 || !strings.HasPrefix(out.String(), "quantfit ") {
		t.Fatalf("version: exit %d, %q %q", code, out.String(), errw.String())
	}
	out.Reset()
	if code := run([]string{"version", "-json"}, &out, &errw); code != 0 {
		t.Fatalf("version -json: exit %d, %s", code, errw.String())
	}
	var in buildinfo.Info
	if err := json.Unmarshal(out.Bytes(), &in); err != nil || in.Go == "" || in.Version == "" {
		t.Errorf("version -json: %q (%v)", out.String(), err)
	}
	if code := run([]string{"version", "extra"}, &out, &errw); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
