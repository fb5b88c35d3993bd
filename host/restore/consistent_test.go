package restore

import (
	"math"
	"testing"
)

// TestConsistentGains: on a colour photograph quantized at b 11.7, the
// passes of the block-sparsity prior add PSNR to the solve's result and
// keep every sample in its cell; on a grey texture they move little.
func TestConsistentGains(t *testing.T) {
	for _, tc := range []struct {
		path      string
		gain      float64 // at least this many dB over the solve alone
		mostMoved float64 // ... and at most this much changed
	}{
		{"testdata/heldout/chelsea.png", 0.5, math.Inf(1)},
		{"testdata/heldout/gravel.png", -0.1, 0.3},
	} {
		orig, q, p, cell := dequantized(t, tc.path, 11.7)
		res, err := Run(p, cell, Settings{})
		if err != nil {
			t.Fatal(err)
		}
		before := PSNR(as8(t, res.Planes, q.W, q.H), orig)
		Consistent(res.Planes, p.Lo, p.Hi, q.W, q.H, cell, DefaultShrinkPasses)
		after := PSNR(as8(t, res.Planes, q.W, q.H), orig)
		t.Logf("%s: stored %.2f dB, solved %.2f, with the prior %.2f", tc.path, PSNR(Planes(q), orig), before, after)
		if after-before < tc.gain {
			t.Errorf("%s: the prior adds %+.2f dB; want %+.2f or more", tc.path, after-before, tc.gain)
		}
		if d := math.Abs(after - before); d > tc.mostMoved {
			t.Errorf("%s: the prior moves PSNR by %.2f dB; want at most %.2f", tc.path, d, tc.mostMoved)
		}
		inCells(t, tc.path, res.Planes, p)
	}
}

// TestConsistentSmallImages: planes with a side under a block are left
// as they are, and no passes means no change.
func TestConsistentSmallImages(t *testing.T) {
	pl := [][]float32{{0.1, 0.5, 0.9, 0.2, 0.4, 0.6, 0.8}}
	lo, hi := [][]float32{make([]float32, 7)}, [][]float32{{1, 1, 1, 1, 1, 1, 1}}
	want := append([]float32(nil), pl[0]...)
	Consistent(pl, lo, hi, 7, 1, 0.1, DefaultShrinkPasses)
	for i := range want {
		if pl[0][i] != want[i] {
			t.Fatalf("a 7×1 image changed at %d: %g → %g", i, want[i], pl[0][i])
		}
	}
}
