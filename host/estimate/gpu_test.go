package estimate_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// TestGPUMatchesCPUOnPhotos: -backend gpu gives the CPU's answers on real
// photographs, per-pixel and histogram mode, every strategy that scans.
// On a machine without a context it skips, unless QUANTFIT_REQUIRE_GPU is
// set (CI): then it fails.
func TestGPUMatchesCPUOnPhotos(t *testing.T) {
	estimate.AccuracyTrial(t)
	d := openGPU(t)
	t.Logf("renderer %s", d.Info().Renderer)
	ims := estimate.LoadPhotos(t)
	r := rand.New(rand.NewPCG(11, 12))
	trials := 8
	if testing.Short() {
		trials = 2
	}
	for i := 0; i < trials; i++ {
		m := []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate}[i%3]
		b := 5 + 25*r.Float64()
		im := ims[i%len(ims)]
		data := estimate.PairData(t, im, m, b)
		settings := []estimate.Settings{{Model: m, Mode: estimate.HistMode}}
		if im.W*im.H <= 512*512 { // llvmpipe is slow per pixel
			settings = append(settings, estimate.Settings{Model: m, Mode: estimate.PixelMode, Optim: estimate.Optim{Steps: 100}, Strategy: estimate.Auto{Basins: 4}})
		}
		for _, s := range settings {
			cpu, err := estimate.Estimate(data, s)
			if err != nil {
				t.Fatal(err)
			}
			s.Backend = &backend.GPU{Device: d}
			g, err := estimate.Estimate(data, s)
			if err != nil {
				t.Fatal(err)
			}
			if g.Backend != "gpu" || g.Renderer == "" {
				t.Errorf("result names backend %q, renderer %q", g.Backend, g.Renderer)
			}
			if math.Abs(g.B-cpu.B) > 1e-4 {
				t.Errorf("%v %s b=%.4f mode %v: cpu %.6f, gpu %.6f", m, im.Name, b, s.Mode, cpu.B, g.B)
			}
		}
	}
}

// TestStackOnGPU runs the stack trial on the GPU backend: 10 trials, as
// llvmpipe takes 12 s a trial (QUANTFIT_STACK_TRIALS=40 runs the full
// trial), with 90% asserted of so few.
func TestStackOnGPU(t *testing.T) {
	estimate.AccuracyTrial(t)
	d := openGPU(t)
	// CI runs 5 (a fixed seed; llvmpipe takes 13 s a trial); the
	// acceptance trial's 10 run with QUANTFIT_STACK_TRIALS=10.
	trials := estimate.StackTrialCount(5)
	if testing.Short() {
		trials = 3
	}
	estimate.StackTrials(t, trials, 63, estimate.Settings{Backend: &backend.GPU{Device: d}}, 0.9)
}

// TestOwnOperatorOnGPU: the GPU runs a caller's operator from its GLSL
// part and fits what the CPU fits.
func TestOwnOperatorOnGPU(t *testing.T) {
	if testing.Short() {
		t.Skip("a stack fit on llvmpipe: seconds")
	}
	dev := openGPU(t)
	st := estimate.ExposureStack()
	d := estimate.RampData(st, []float64{0.3, 21.7})
	cpu, err := estimate.EstimateStack(d, st, st.Params(), estimate.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := estimate.EstimateStack(d, st, st.Params(), estimate.Settings{Backend: &backend.GPU{Device: dev}})
	if err != nil {
		t.Fatal(err)
	}
	if g.Backend != "gpu" {
		t.Fatalf("ran on %s", g.Backend)
	}
	for _, name := range []string{"stops", "b"} {
		if c, v := cpu.Value(name), g.Value(name); math.Abs(c-v) > 0.01 {
			t.Errorf("%s: cpu %.4f, gpu %.4f", name, c, v)
		}
	}
	if math.Abs(g.Value("stops")-0.3) > 0.01 || math.Abs(g.Value("b")-21.7) > 0.05 {
		t.Errorf("gpu fitted %v, want stops 0.3, b 21.7", g)
	}
}

// TestSpatialStacksOnGPU runs the spatial stack trials with the image
// passes on the GPU: 2 trials a stack on llvmpipe, both within the
// bounds (QUANTFIT_SPATIAL_TRIALS sets more: the H100 ran 40, bench/RESULTS.md).
func TestSpatialStacksOnGPU(t *testing.T) {
	estimate.AccuracyTrial(t)
	d := openGPU(t)
	trials := estimate.SpatialTrialCount(2)
	for _, spec := range []string{"saturation,quantize", "blur,quantize", "colormatrix,quantize"} {
		estimate.SpatialTrials(t, spec, trials, 128, estimate.Settings{Backend: &backend.GPU{Device: d}})
	}
}

// TestOwnImageOperatorOnGPU: a caller's image operator (the example's
// white balance) runs on the GPU from its colour GLSL part, and fits what
// the CPU fits.
func TestOwnImageOperatorOnGPU(t *testing.T) {
	dev := openGPU(t)
	st := estimate.WhiteBalance()
	orig := estimate.Swatches()
	truth := []float64{0.93, 1.21, 17.3}
	quant, err := estimate.ApplyStack(orig, st, truth)
	if err != nil {
		t.Fatal(err)
	}
	set := &imageset.Set{Pairs: []imageset.Pair{{Orig: orig, Quant: quant}}}
	var got [2][]float64
	for i, be := range []estimate.Backend{estimate.CPU{}, &backend.GPU{Device: dev}} {
		_, rs, err := estimate.EstimateStackSet(set, false, st, st.Params(), estimate.Settings{Backend: be}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Backend != be.Name() {
			t.Errorf("ran on %s, not %s", rs[0].Backend, be.Name())
		}
		for _, n := range []string{"red", "blue", "b"} {
			got[i] = append(got[i], rs[0].Value(n))
		}
	}
	for j := range truth {
		if math.Abs(got[1][j]-got[0][j]) > 0.01 || math.Abs(got[1][j]-truth[j]) > 0.01 {
			t.Errorf("parameter %d: cpu %.4f, gpu %.4f, truth %.4f", j, got[0][j], got[1][j], truth[j])
		}
	}
}

// openGPU opens a context for a test, software renderers allowed, closed
// at the test's end. Without one the test skips, unless
// QUANTFIT_REQUIRE_GPU is set (CI): then it fails.
func openGPU(t *testing.T) *gpu.Device {
	d, err := gpu.Open(gpu.Options{AllowSoftware: true})
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_GPU") != "" {
			t.Fatalf("QUANTFIT_REQUIRE_GPU is set but no GPU context: %v", err)
		}
		t.Skipf("no OpenGL 4.3 context: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}
