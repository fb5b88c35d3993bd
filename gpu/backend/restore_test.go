package backend

import (
	"math"
	"os"
	"testing"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

// openGPU opens the GPU backend with debug checks for the test, or skips
// it where there is none (fails where QUANTFIT_REQUIRE_GPU is set).
func openGPU(t *testing.T) *GPU {
	be, release, err := Open("gpu", gpu.Options{Debug: true, Strict: true}, nil)
	if err != nil {
		if os.Getenv("QUANTFIT_REQUIRE_GPU") != "" {
			t.Fatalf("QUANTFIT_REQUIRE_GPU is set but no GPU: %v", err)
		}
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(release)
	return be.(*GPU)
}

// TestRestoreLevelsOnGPU: a restore that goes coarse to fine (Tikhonov,
// no data weights) makes its levels on the device and ends where the CPU
// ends: bands 60 samples wide become the same ramp in 30 steps.
func TestRestoreLevelsOnGPU(t *testing.T) {
	be := openGPU(t)
	im := &imageset.Image{Name: "wide", W: 300, H: 70, Channels: 1}
	pl := make([]uint8, im.W*im.H)
	for i := range pl {
		pl[i] = uint8(math.Round(255 * (0.1 + 0.8*float64(i%im.W)/float64(im.W))))
	}
	im.Pix8 = append(im.Pix8, pl)
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 5.3) })
	var out [2]*restore.Result
	for k, rb := range []restore.Backend{floodCPU{}, Restore(be)} {
		p, cell, err := restore.Dequantization(q, kernels.Midrise, 5.3, kernels.Energy{Kind: kernels.Tikhonov}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out[k], err = restore.Run(p, cell, restore.Settings{Steps: 30, Backend: rb}); err != nil {
			t.Fatal(err)
		}
	}
	c, g := out[0], out[1]
	if g.Backend != "gpu" || g.Levels != c.Levels || g.Levels < 2 {
		t.Fatalf("gpu ran on %q with %d coarser levels, the CPU with %d", g.Backend, g.Levels, c.Levels)
	}
	worst := 0.0
	for i := range c.Planes[0] {
		worst = math.Max(worst, math.Abs(float64(c.Planes[0][i]-g.Planes[0][i])))
	}
	if worst > 1e-4 || math.Abs(c.Energy-g.Energy) > 1e-4*c.Energy {
		t.Errorf("gpu and cpu differ by %.3g at most; energies %.6g and %.6g", worst, g.Energy, c.Energy)
	}
}

// TestDequantizeOnGPU: the default dequantization, the seeds, the
// prior's passes and the in-cell regression included, runs on the device
// and ends where the CPU ends from the same seeds.
func TestDequantizeOnGPU(t *testing.T) {
	be := openGPU(t)
	im := &imageset.Image{Name: "ramps", W: 96, H: 72, Channels: 3}
	for c := range 3 {
		pl := make([]uint8, im.W*im.H)
		for i := range pl {
			x, y := float64(i%im.W), float64(i/im.W)
			// ramps, and a texture on the right half for the in-cell regression
			v := 0.2 + 0.2*float64(c)*x/96 + 0.3*math.Sin(y/13+float64(c))
			if x >= 48 {
				v += 0.1 * math.Sin(x*1.7+y*0.9) * math.Cos(x*0.6-y*2.3+float64(c))
			}
			pl[i] = uint8(math.Round(255 * min(1, max(0, v))))
		}
		im.Pix8 = append(im.Pix8, pl)
	}
	q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 9.3) })
	var out [2][][]float32
	for k, rb := range []restore.Backend{floodCPU{}, Restore(be)} {
		res, _, r, err := restore.Dequantize(q, nil, 9.3, []kernels.Model{kernels.Midrise}, restore.Settings{Backend: rb}, 8)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"cpu", "gpu"}[k]; r.Backend != want {
			t.Fatalf("ran on %q, want %q", r.Backend, want)
		}
		out[k] = restore.Planes(res)
	}
	plain, _, _, err := restore.Dequantize(q, nil, 9.3, []kernels.Model{kernels.Midrise}, restore.Settings{Refine: -1}, 8)
	if err != nil {
		t.Fatal(err)
	}
	off, moved := 0, 0
	for c, pl := range restore.Planes(plain) {
		for i := range out[0][c] {
			if math.Abs(float64(out[0][c][i]-out[1][c][i])) > 1.5/255 {
				off++
			}
			if pl[i] != out[0][c][i] {
				moved++
			}
		}
	}
	t.Logf("the in-cell regression moved %d of %d samples", moved, 3*im.W*im.H)
	if moved < im.W*im.H/10 {
		t.Errorf("the in-cell regression moved %d samples; the test wants it to work", moved)
	}
	if off > 0 {
		t.Errorf("%d samples of the GPU's 8-bit output differ from the CPU's by more than a level", off)
	}
}

// floodCPU is the CPU's backend with the GPU's seeds: their twin,
// kernels.JumpSeeds, in place of the CPU's sweeps.
type floodCPU struct{ restore.CPU }

func (floodCPU) Contours(level, band []int32, w, h int) (kernels.Contours, error) {
	return kernels.Contours{Seeds: kernels.JumpSeeds(level, band, w, h), Rim: kernels.EDT(kernels.RimMask(level, w, h), w, h)}, nil
}
