package backend

import (
	"bytes"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/kernels"
)

// TestAutoOpensNothingForSmallData: an estimate whose data stay on the
// CPU (histogram mode's groups) never probes for a GPU.
func TestAutoOpensNothingForSmallData(t *testing.T) {
	var warn bytes.Buffer
	be, release, err := Open("auto", gpu.Options{}, &warn)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	a := be.(*Auto)
	w := kernels.Weighted{X: []float64{0.1, 0.5}, T: []float64{0.1, 0.5}, W: []float64{3, 4}}
	cfg := kernels.Config{}.WithDefaults()
	if _, where, err := a.Weighted(&w, cfg); err != nil || where != "cpu" {
		t.Fatalf("weighted: %q, %v", where, err)
	}
	st, err := kernels.ParseStack("gain,quantize", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, where, err := a.Stack(st, &w); err != nil || where != "cpu" {
		t.Fatalf("stack: %q, %v", where, err)
	}
	a.mu.Lock()
	tried := a.tried
	a.mu.Unlock()
	if tried || warn.Len() > 0 || a.Name() != "cpu" || a.Renderer() != "" {
		t.Errorf("probed for a GPU (tried %v, warned %q)", tried, warn.String())
	}
}

// TestAutoProbesOnce: data over the threshold open the GPU once; without
// a hardware GPU (CI's llvmpipe is software) they run on the CPU after
// one line saying so.
func TestAutoProbesOnce(t *testing.T) {
	var warn bytes.Buffer
	a := &Auto{Warn: &warn}
	defer a.Close()
	n := MinSamples
	s := kernels.Samples{X: make([]float32, n), T: make([]float32, n)}
	cfg := kernels.Config{}.WithDefaults()
	for range 2 {
		e, where, err := a.Pixels(s, nil, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := e.(interface{ Close() }); ok {
			defer c.Close()
		}
		if where != a.Name() {
			t.Errorf("ran on %q, backend says %q", where, a.Name())
		}
	}
	if lines := strings.Count(warn.String(), "\n"); a.Opened() && lines != 0 || !a.Opened() && lines != 1 {
		t.Errorf("opened %v, warnings %q", a.Opened(), warn.String())
	}
}

func TestOpenRefusesUnknown(t *testing.T) {
	if _, _, err := Open("tpu", gpu.Options{}, nil); err == nil || !strings.Contains(err.Error(), `"tpu"`) {
		t.Errorf("got %v", err)
	}
}
