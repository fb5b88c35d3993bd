package estimate

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/kernels"
)

// TestGPUMatchesCPUOnPhotos: -backend gpu gives the CPU's answers on real
// photographs, per-pixel and histogram mode, every strategy that scans.
// On a machine without a context it skips, unless QUANTFIT_REQUIRE_GPU is
// set (CI): then it fails.
func TestGPUMatchesCPUOnPhotos(t *testing.T) {
	accuracyTrial(t)
	d := openGPU(t)
	t.Logf("renderer %s", d.Info().Renderer)
	ims := loadPhotos(t)
	r := rand.New(rand.NewPCG(11, 12))
	trials := 8
	if testing.Short() {
		trials = 2
	}
	for i := 0; i < trials; i++ {
		m := []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate}[i%3]
		b := 5 + 25*r.Float64()
		im := ims[i%len(ims)]
		data := pairData(t, im, m, b)
		settings := []Settings{{Model: m, Mode: HistMode}}
		if im.W*im.H <= 512*512 { // llvmpipe is slow per pixel
			settings = append(settings, Settings{Model: m, Mode: PixelMode, Optim: Optim{Steps: 100}, Strategy: Auto{Basins: 4}})
		}
		for _, s := range settings {
			cpu, err := Estimate(data, s)
			if err != nil {
				t.Fatal(err)
			}
			s.Backend = &GPU{Device: d}
			g, err := Estimate(data, s)
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
