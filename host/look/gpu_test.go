package look_test

import (
	"os"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/look"
	"github.com/quantfit/quantfit/kernels"
)

// TestFitOnGPU: a look fitted with the GPU's passes (llvmpipe in CI) is
// the CPU's: the same stack, the same quantizer, the same output within a
// level on the pair. It skips without a context unless
// QUANTFIT_REQUIRE_GPU is set.
func TestFitOnGPU(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole fit on llvmpipe: TestLookParity in package gpu is the quick check")
	}
	d, err := gpu.Open(gpu.Options{AllowSoftware: true})
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_GPU") != "" {
			t.Fatalf("QUANTFIT_REQUIRE_GPU is set but no GPU context: %v", err)
		}
		t.Skipf("no OpenGL 4.3 context: %v", err)
	}
	defer d.Close()
	o, err := imageset.Load("../restore/testdata/heldout/coffee.png", 0)
	if err != nil {
		t.Fatal(err)
	}
	// a colour look ending in a posterize: every pass runs
	e := &imageset.Image{Name: "edited", W: o.W, H: o.H, Channels: 3}
	for c := range 3 {
		p := make([]uint8, o.W*o.H)
		for i := range p {
			r, g, b := float64(o.Value(0, i)), float64(o.Value(1, i)), float64(o.Value(2, i))
			v := [3]float64{0.8*r + 0.2*g, 0.1*r + 0.8*g + 0.1*b, 0.2*g + 0.8*b}[c]
			p[i] = uint8(255*kernels.Posterize.Apply(v*v, 8) + 0.5)
		}
		e.Pix8 = append(e.Pix8, p)
	}
	pairs := []imageset.Pair{{Orig: o, Quant: e}}
	cpu, err := look.Fit(pairs, look.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := look.Fit(pairs, look.Settings{Backend: &backend.GPU{Device: d}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cpu: %s %.2f dB, gpu (%s): %s %.2f dB; candidates %v / %v", cpu.Stack, cpu.Fit.Pairs[0].PSNR, g.Fit.Backend, g.Stack, g.Fit.Pairs[0].PSNR, cpu.Fit.Candidates, g.Fit.Candidates)
	if g.Fit.Backend != "gpu" || g.Stack != cpu.Stack || g.Quantizer == nil || g.Quantizer.B != cpu.Quantizer.B {
		t.Fatalf("gpu fit: %s on %s; cpu: %s", g.Stack, g.Fit.Backend, cpu.Stack)
	}
	if p := look.PSNR(g.Apply(o, 8), cpu.Apply(o, 8)); p < 45 {
		t.Errorf("the GPU's look is %.2f dB from the CPU's", p)
	}
}
