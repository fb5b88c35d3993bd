package batch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

func TestParseManifest(t *testing.T) {
	csv := "id,original,quantized,model,bmax\na,o/a.png,q/a.png,posterize,40\nb,/abs/b.png,q/b.png,,\n"
	jobs, err := ParseManifest(strings.NewReader(csv), "m.csv", "/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Original != "/data/o/a.png" || jobs[1].Original != "/abs/b.png" ||
		jobs[0].Options["model"] != "posterize" || jobs[0].Options["bmax"] != "40" || jobs[1].Options != nil {
		t.Errorf("csv jobs %+v", jobs)
	}
	jsonl := `{"id": "x", "original": "a.png", "quantized": "b.png", "bmin": 3, "options": {"strategy": "scan"}}
` + "\n" + `{"id": 7, "original": "c.png", "quantized": "d.png", "per-channel": true}` + "\n"
	jobs, err = ParseManifest(strings.NewReader(jsonl), "m.jsonl", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Options["bmin"] != "3" || jobs[0].Options["strategy"] != "scan" || jobs[1].ID != "7" || jobs[1].Options["per-channel"] != "true" {
		t.Errorf("jsonl jobs %+v", jobs)
	}
	for _, c := range []struct{ name, text, want string }{
		{"m.csv", "id,original\na,b\n", `"quantized"`},
		{"m.csv", "id,original,quantized\na,b,c\na,d,e\n", "twice"},
		{"m.csv", "id,original,quantized,model\na,b,c,fancy\n", "model"},
		{"m.csv", "id,original,quantized,backend\na,b,c,gpu\n", "backend"},
		{"m.csv", "id,original,quantized\n,b,c\n", "empty id"},
		{"m.csv", "id,original,quantized\na,b\n", "fields"},
		{"m.jsonl", "[1,2]\n", "not a JSON object"},
		{"m.jsonl", `{"id":"a","original":"b"}` + "\n", "no quantized"},
		{"m.jsonl", `{"id":"a","original":"b","quantized":"c","bmin":[1]}` + "\n", "bmin"},
		{"m.jsonl", `{"id":"a","original":"b","quantized":"c","nonsense":1}` + "\n", "nonsense"},
		{"m.csv", "", "header"},
		{"m.csv", "id,original,quantized\n", "no jobs"},
	} {
		_, err := ParseManifest(strings.NewReader(c.text), c.name, "", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to mention %s", c.text, err, c.want)
		}
	}
}

func TestShardPartition(t *testing.T) {
	var jobs []Job
	for i := range 1000 {
		jobs = append(jobs, Job{ID: fmt.Sprintf("job-%d", i)})
	}
	for _, n := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			s, err := Shard(jobs, i, n)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range s {
				seen[j.ID]++
			}
		}
		for _, j := range jobs {
			if seen[j.ID] != 1 {
				t.Fatalf("n=%d: %s in %d shards", n, j.ID, seen[j.ID])
			}
		}
	}
	if _, err := Shard(jobs, 3, 3); err == nil {
		t.Error("shard 3/3 accepted")
	}
}

// makePairs writes n pairs cropped from the shipped photos, quantized with
// random models and b, and returns the manifest path and the truths.
func makePairs(t *testing.T, dir string, n int, corruptEvery int) (string, map[string]float64) {
	t.Helper()
	var srcs []image.Image
	for _, name := range photos.Names() {
		im, err := photos.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if im.W >= 192 && im.H >= 192 {
			srcs = append(srcs, im.Image())
		}
	}
	r := rand.New(rand.NewPCG(5, 5))
	truth := map[string]float64{}
	var sb strings.Builder
	sb.WriteString("id,original,quantized,model\n")
	models := []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate}
	for i := 0; i < n; i++ {
		src := srcs[i%len(srcs)]
		b := src.Bounds()
		x0, y0 := r.IntN(b.Dx()-192), r.IntN(b.Dy()-192)
		crop := image.NewNRGBA(image.Rect(0, 0, 192, 192))
		draw.Draw(crop, crop.Bounds(), src, image.Point{x0, y0}, draw.Src)
		id := fmt.Sprintf("p%03d", i)
		op := filepath.Join(dir, id+".png")
		writePNG(t, op, crop)
		orig, err := imageset.Load(op, 0)
		if err != nil {
			t.Fatal(err)
		}
		m, bv := models[i%3], 5+25*r.Float64()
		q := orig.Filter(func(x float64) float64 { return m.Apply(x, bv) })
		qp := filepath.Join(dir, id+"-q.png")
		f, _ := os.Create(qp)
		q.EncodePNG(f)
		f.Close()
		bad := corruptEvery > 0 && i%corruptEvery == 1
		switch kind := (i / corruptEvery) % 3; {
		case bad && kind == 0: // truncated file
			data, _ := os.ReadFile(qp)
			os.WriteFile(qp, data[:len(data)/2], 0o644)
		case bad && kind == 1: // missing file
			os.Remove(qp)
		case bad && kind == 2: // mismatched size
			writePNG(t, qp, image.NewGray(image.Rect(0, 0, 10, 10)))
		default:
			truth[id] = bv
		}
		fmt.Fprintf(&sb, "%s,%s.png,%s-q.png,%v\n", id, id, id, m)
	}
	man := filepath.Join(dir, "manifest.csv")
	os.WriteFile(man, []byte(sb.String()), 0o644)
	return man, truth
}

func writePNG(t *testing.T, path string, img image.Image) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// resultLine is what the tests read of an output line.
type resultLine struct {
	ID       string     `json:"id"`
	B        float64    `json:"b"`
	Interval [2]float64 `json:"interval"`
	Params   map[string]struct {
		Value float64 `json:"value"`
	} `json:"params"`
	Error   string `json:"error"`
	Mode    string `json:"mode"`
	Results []struct {
		B     float64 `json:"b"`
		Model string  `json:"model"`
	} `json:"results"`
}

func readLines(t *testing.T, path string) []resultLine {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []resultLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l resultLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// TestBatchResume: a batch of 500 real-photo pairs, 5% of them truncated,
// missing or mismatched, run whole and run killed then resumed: every good
// pair is estimated, every bad one reported, and the two result files are
// equal.
func TestBatchResume(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 40
	}
	dir := t.TempDir()
	man, truth := makePairs(t, dir, n, 20)
	jobs, err := ParseManifest(mustOpen(t, man), man, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Base: options.Default()}
	whole := filepath.Join(dir, "whole.jsonl")
	p, err := r.Run(context.Background(), jobs, whole)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != n || p.Failed != n-len(truth) {
		t.Errorf("progress %+v; want %d done, %d failed", p, n, n-len(truth))
	}
	near := 0
	for _, l := range readLines(t, whole) {
		want, good := truth[l.ID]
		switch {
		case good && l.Error != "":
			t.Errorf("%s failed: %s", l.ID, l.Error)
		case !good && l.Error == "":
			t.Errorf("%s is bad input but has no error", l.ID)
		case good:
			b := l.B
			if math.Abs(b-want) > 0.1 {
				t.Errorf("%s: b = %.4f, truth %.4f", l.ID, b, want)
			}
			if math.Abs(b-want) <= 0.02 {
				near++
			}
		}
	}
	t.Logf("%d good pairs (192x192 crops): %d within 0.02 of the truth", len(truth), near)

	// Killed after a third of the jobs, with a line cut short by the kill.
	killed := filepath.Join(dir, "killed.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	r2 := &Runner{Base: options.Default(), Progress: func(p Progress) {
		if p.Done >= n/3 {
			cancel()
		}
	}}
	if _, err := r2.Run(ctx, jobs, killed); err == nil {
		t.Fatal("cancelled run reported no error")
	}
	f, _ := os.OpenFile(killed, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"p099","b":12.3`)
	f.Close()
	if _, err := (&Runner{Base: options.Default()}).Run(context.Background(), jobs, killed); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(killed)
	if string(a) != string(b) {
		t.Errorf("the resumed file differs from the uninterrupted one:\n%s\n---\n%s", a, b)
	}
	// A third run finds nothing to do.
	p, err = (&Runner{Base: options.Default()}).Run(context.Background(), jobs, killed)
	if err != nil || p.Skipped != n || p.Done != 0 {
		t.Errorf("rerun: %+v, %v", p, err)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestOutputNotOurs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("my precious notes\n"), 0o644)
	_, err := (&Runner{}).Run(context.Background(), []Job{{ID: "a", Original: "x", Quantized: "y"}}, p)
	if err == nil || !strings.Contains(err.Error(), "not a result line") {
		t.Errorf("error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "my precious notes\n" {
		t.Errorf("the file was changed: %q", b)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add("m.csv", "id,original,quantized,model\na,b,c,posterize\n")
	f.Add("m.jsonl", `{"id":"a","original":"b","quantized":"c","bmin":3}`+"\n")
	f.Add("m.csv", "id,original,quantized\n\"a\nb\",c,d\n")
	f.Add("m.csv", "id,,quAntiZed\n\"0\",,0")
	f.Add("m.csv", "id,kind,look,original,output\na,apply,l.json,o.png,out.png\n")
	f.Add("m.jsonl", `{"id":"a","kind":"apply","look":"l.json","original":"b","output":"c.png"}`+"\n")
	f.Add("m.csv", "id,kind,quantized,output\na,restore,q.png,r.png\n")
	f.Fuzz(func(t *testing.T, name, text string) {
		jobs, err := ParseManifest(strings.NewReader(text), name, "", nil)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, j := range jobs {
			// an estimate job has a quantized image (and an original,
			// unless blind); an apply job a look, an image and an output
			ok := j.ID != "" && !seen[j.ID]
			switch j.Kind {
			case KindApply:
				ok = ok && j.Look != "" && j.Original != "" && j.Output != "" && j.Quantized == ""
			case KindRestore:
				ok = ok && j.Quantized != "" && j.Output != "" && j.Look == ""
			default:
				ok = ok && j.Kind == "" && j.Quantized != "" && j.Look == "" && j.Output == ""
			}
			if !ok {
				t.Fatalf("accepted job %+v", j)
			}
			seen[j.ID] = true
		}
	})
}

// TestBatchStacks: jobs with a stack option fit every parameter of their
// stack, beside plain jobs in the same manifest; a bad stack is one
// failed job.
func TestBatchStacks(t *testing.T) {
	dir := t.TempDir()
	im, err := photos.Load("coins.png")
	if err != nil {
		t.Fatal(err)
	}
	op := filepath.Join(dir, "o.png")
	writePNG(t, op, im.Image())
	orig, err := imageset.Load(op, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kernels.ParseStack("gain,bias,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	truth := []float64{0.85, 0.06, 9.4}
	write := func(name string, f func(float64) float64) {
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := orig.Filter(f).EncodePNG(out); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	write("s.png", func(x float64) float64 { return st.Forward(x, truth) })
	write("q.png", func(x float64) float64 { return kernels.Midrise.Apply(x, 13.3) })
	man := filepath.Join(dir, "m.jsonl")
	os.WriteFile(man, []byte(`{"id": "stack", "original": "o.png", "quantized": "s.png", "stack": "gain,bias,quantize", "param": "gain=0.6:1.4, bias=-0.2:0.2"}
{"id": "plain", "original": "o.png", "quantized": "q.png"}
{"id": "bad", "original": "o.png", "quantized": "s.png", "stack": "gain,emboss,quantize"}
{"id": "badparam", "original": "o.png", "quantized": "s.png", "stack": "gain,quantize", "param": "gain=0.6:1.4,tint=0:1"}
`), 0o644)
	jobs, err := ParseManifest(mustOpen(t, man), man, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	if _, err := (&Runner{Base: options.Default()}).Run(context.Background(), jobs, out); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, out)
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, name := range []string{"gain", "bias", "b"} {
		if v := lines[0].Params[name].Value; math.Abs(v-truth[i]) > 0.02 {
			t.Errorf("stack job %s = %.4f, truth %.4f (line %+v)", name, v, truth[i], lines[0])
		}
	}
	if math.Abs(lines[1].B-13.3) > 0.05 || lines[1].Params != nil {
		t.Errorf("plain job %+v", lines[1])
	}
	if !strings.Contains(lines[2].Error, "emboss") {
		t.Errorf("bad stack job %+v", lines[2])
	}
	if !strings.Contains(lines[3].Error, "tint") {
		t.Errorf("bad parameter job %+v", lines[3])
	}
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "seconds") {
		t.Errorf("output holds wall times:\n%s", data)
	}
}

// TestBatchBlind: a job without an original is estimated blind from its
// filtered image, beside pairs in the same manifest (CSV with the
// original left empty, JSON Lines with none); a blind job with a stack
// fails alone.
func TestBatchBlind(t *testing.T) {
	dir := t.TempDir()
	im, err := photos.Load("grass.png")
	if err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, "o.png"), im.Image())
	writePNG(t, filepath.Join(dir, "q.png"), im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 17.3) }).Image())
	writePNG(t, filepath.Join(dir, "p.png"), im.Filter(func(x float64) float64 { return kernels.Posterize.Apply(x, 6) }).Image())
	for _, m := range []struct{ name, text string }{
		{"m.csv", "id,original,quantized,model,stack\npair,o.png,q.png,,\nblind,,q.png,,\nauto,,p.png,auto,\nstack,,q.png,,\"gain,quantize\"\n"},
		{"m.jsonl", `{"id": "pair", "original": "o.png", "quantized": "q.png"}
{"id": "blind", "quantized": "q.png"}
{"id": "auto", "quantized": "p.png", "model": "auto"}
{"id": "stack", "quantized": "q.png", "stack": "gain,quantize"}
`},
	} {
		man := filepath.Join(dir, m.name)
		os.WriteFile(man, []byte(m.text), 0o644)
		jobs, err := ParseManifest(mustOpen(t, man), man, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, m.name+".out")
		if _, err := (&Runner{Base: options.Default()}).Run(context.Background(), jobs, out); err != nil {
			t.Fatal(err)
		}
		l := readLines(t, out)
		if len(l) != 4 {
			t.Fatalf("%s: %d lines", m.name, len(l))
		}
		if l[0].Mode == "blind" || math.Abs(l[0].B-17.3) > 0.05 {
			t.Errorf("%s: pair job %+v", m.name, l[0])
		}
		if l[1].Mode != "blind" || len(l[1].Results) != 1 || math.Abs(l[1].Results[0].B-17.3) > 0.05 {
			t.Errorf("%s: blind job %+v", m.name, l[1])
		}
		if len(l[2].Results) != 1 || l[2].Results[0].Model != "posterize" || math.Round(l[2].Results[0].B) != 6 {
			t.Errorf("%s: blind -model auto job %+v", m.name, l[2])
		}
		if !strings.Contains(l[3].Error, "stack") {
			t.Errorf("%s: blind stack job %+v", m.name, l[3])
		}
	}
}

// TestFromDirs: every file that imageset reads is a job, whatever its
// format; other files and folders are not; a folder with none is refused.
func TestFromDirs(t *testing.T) {
	orig, quant := t.TempDir(), t.TempDir()
	for _, n := range []string{"a.png", "b.TIF", "c.bmp", "d.webp", "e.jpeg", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(orig, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(orig, "sub.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	jobs, err := FromDirs(orig, quant)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
		if j.Quantized != filepath.Join(quant, j.ID) {
			t.Errorf("%s: quantized %s", j.ID, j.Quantized)
		}
	}
	if got := strings.Join(ids, " "); got != "a.png b.TIF c.bmp d.webp e.jpeg" {
		t.Errorf("jobs %s", got)
	}
	if _, err := FromDirs(quant, orig); !errors.Is(err, imageset.ErrNoImages) {
		t.Errorf("a folder of no images: %v", err)
	}
}
