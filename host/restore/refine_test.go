package restore

import (
	"math"
	"slices"
	"testing"
)

// TestRefineGains: on a grey texture and a colour photograph quantized
// at b 11.7, a round of the in-cell regression adds PSNR to the solve and
// the prior, every sample stays in its cell, and a quantizer too coarse
// to teach from leaves the image as it is.
func TestRefineGains(t *testing.T) {
	for _, tc := range []struct {
		path string
		gain float64 // at least this many dB over the solve and the prior
	}{
		{"testdata/heldout/gravel.png", 0.4},
		{"testdata/heldout/chelsea.png", 0.2},
	} {
		orig, q, p, cell := dequantized(t, tc.path, 11.7)
		s := Settings{Shrink: DefaultShrinkPasses}
		before, err := Run(p, cell, s)
		if err != nil {
			t.Fatal(err)
		}
		s.Refine = 1
		after, err := Run(p, cell, s)
		if err != nil {
			t.Fatal(err)
		}
		g0, g1 := PSNR(as8(t, before.Planes, q.W, q.H), orig), PSNR(as8(t, after.Planes, q.W, q.H), orig)
		t.Logf("%s: stored %.2f dB, solved with the prior %.2f, refined %.2f", tc.path, PSNR(Planes(q), orig), g0, g1)
		if g1-g0 < tc.gain {
			t.Errorf("%s: the regression adds %+.2f dB; want %+.2f or more", tc.path, g1-g0, tc.gain)
		}
		inCells(t, tc.path, after.Planes, p)
	}

	// b 2.4: the teacher's cells would number under two
	_, _, p, cell := dequantized(t, "testdata/heldout/gravel.png", 2.4)
	a, err := Run(p, cell, Settings{Shrink: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(p, cell, Settings{Shrink: 1, Refine: 1})
	if err != nil {
		t.Fatal(err)
	}
	for c := range a.Planes {
		for i := range a.Planes[c] {
			if a.Planes[c][i] != r.Planes[c][i] {
				t.Fatalf("b 2.4: the regression moved sample %d: %g → %g", i, a.Planes[c][i], r.Planes[c][i])
			}
		}
	}
}

// TestRefineMosaic: a large image teaches from a row of distinct tiles
// of itself, within the budget, the same on every run, and the fit leaves
// out the samples near the seams between them; a small one teaches from
// itself whole.
func TestRefineMosaic(t *testing.T) {
	const w, h = 1500, 900
	pl := make([]float32, w*h)
	for i := range pl {
		pl[i] = float32(i%w)*1e3 + float32(i/w)
	}
	out, mw, mh, use := refineMosaic([][]float32{pl}, w, h, 9)
	if mh != refineTile || mw%refineTile != 0 || mw*mh > refineBudget || mw*mh < refineBudget/2 {
		t.Fatalf("mosaic %d×%d: want a row of whole tiles of %d, at most %d samples and at least half that", mw, mh, refineTile, refineBudget)
	}
	seen := map[[2]int]bool{}
	for tx := 0; tx < mw; tx += refineTile {
		v := out[0][tx]
		x0 := int(math.Floor(float64(v) / 1e3))
		y0 := int(v - float32(x0)*1e3)
		if seen[[2]int{x0, y0}] {
			t.Fatalf("the tile at (%d, %d) comes twice", x0, y0)
		}
		seen[[2]int{x0, y0}] = true
		for y := range refineTile {
			for x := range refineTile {
				if got, want := out[0][y*mw+tx+x], pl[(y0+y)*w+x0+x]; got != want {
					t.Fatalf("tile at (%d, %d), sample (%d, %d): %g, want %g", x0, y0, x, y, got, want)
				}
			}
		}
	}
	for _, c := range []struct {
		x, y int
		want bool
	}{{0, 0, true}, {refineTile - 1, 5, false}, {refineTile, 5, false}, {refineTile + refineSeam, refineTile - 1, true}, {mw - 1, mh - 1, true}} {
		if got := use(c.x, c.y); got != c.want {
			t.Errorf("use(%d, %d) = %v; want %v", c.x, c.y, got, c.want)
		}
	}
	// the same tiles on every run (a tile's features come from a map)
	tex := make([]float32, w*h)
	for i := range tex {
		x, y := float64(i%w), float64(i/w)
		tex[i] = float32(0.5 + 0.45*math.Sin(x/37+math.Sin(y/53))*math.Cos(y/29-x/71))
	}
	first, _, _, _ := refineMosaic([][]float32{tex}, w, h, 9)
	for range 5 {
		if again, _, _, _ := refineMosaic([][]float32{tex}, w, h, 9); !slices.Equal(again[0], first[0]) {
			t.Fatal("the teacher's tiles change from run to run")
		}
	}
	small := make([]float32, 300*200)
	if _, sw, sh, _ := refineMosaic([][]float32{small}, 300, 200, 9); sw != 300 || sh != 200 {
		t.Errorf("a 300×200 image teaches from %d×%d; want itself", sw, sh)
	}
}
