package restore

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// TestDither: a Bayer-dithered photograph (4×4, 8 levels) is found
// dithered with the matrix's period and thresholds, blindly and from the
// pair, and its dithered cells hold the original where the lattice's do
// not; the restore within them gains over the one within the lattice's
// cells. Clean quantizations (midrise, posterize) have no dither.
func TestDither(t *testing.T) {
	orig, err := imageset.Load(filepath.Join("testdata", "heldout", "coffee.png"), 0)
	if err != nil {
		t.Fatal(err)
	}
	q := dithered(orig, 8, 0)
	bayer := [16]float64{0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5}
	for _, o := range []*imageset.Image{nil, orig} {
		qz, err := FindQuantizer(q, o, math.NaN(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if qz.Dither == nil || qz.Dither.P != 4 || !strings.Contains(qz.Note, "ordered dither") {
			t.Fatalf("original %v: dither %+v, note %q; want period 4", o != nil, qz.Dither, qz.Note)
		}
		for c, ts := range qz.Dither.T {
			for p, th := range ts {
				if want := (bayer[p] + 0.5) / 16; math.Abs(float64(th)-want) > 1.0/16 {
					t.Errorf("channel %d, phase %d: threshold %.3f, the matrix's %.3f", c, p, th, want)
				}
			}
		}
	}
	for _, clean := range []*imageset.Image{quantize(orig, 9.3), orig.Filter(func(x float64) float64 { return kernels.Posterize.Apply(x, 8) })} {
		qz, err := FindQuantizer(clean, nil, math.NaN(), nil)
		if err != nil || qz.Dither != nil {
			t.Errorf("a clean quantization: %s b %.2f, dither %+v (%v); want none", qz.ModelName(), qz.B, qz.Dither, err)
		}
	}

	qz, err := FindQuantizer(q, nil, math.NaN(), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := qz
	plain.Dither = nil
	e := kernels.Energy{Kind: kernels.EdgeAware, Fidelity: DefaultFidelity}
	var psnr [2]float64
	for k, z := range []Quantizer{plain, qz} {
		p, cell, err := z.Dequantization(q, e, nil)
		if err != nil {
			t.Fatal(err)
		}
		// the share of the original's samples inside their cells
		in, n := 0, 0
		for c := range p.Lo {
			for i, lo := range p.Lo[c] {
				if v := orig.Value(c, i); float32(v) >= lo-1e-6 && float32(v) <= p.Hi[c][i]+1e-6 {
					in++
				}
				n++
			}
		}
		share := float64(in) / float64(n)
		res, err := Run(p, cell, Settings{Shrink: DefaultShrinkPasses})
		if err != nil {
			t.Fatal(err)
		}
		psnr[k] = PSNR(res.Planes, orig)
		t.Logf("%s cells: %.1f%% of the original inside, restored %.2f dB (stored %.2f)", []string{"the lattice's", "dithered"}[k], 100*share, psnr[k], PSNR(Planes(q), orig))
		if k == 1 && share < 0.97 {
			t.Errorf("the dithered cells hold %.1f%% of the original; want 97%% or more", 100*share)
		}
	}
	if psnr[1] < psnr[0]+2 {
		t.Errorf("restored %.2f dB in the dithered cells, %.2f in the lattice's; want 2 dB more", psnr[1], psnr[0])
	}
}
