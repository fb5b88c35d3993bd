package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// blindCounts is the histogram of a photo's 8-bit values quantized by the
// model at b, all channels.
func blindCounts(t testing.TB, photo int, m kernels.Model, b float64) []uint64 {
	im := loadPhotos(t)[photo]
	return counts8(im.Filter(func(x float64) float64 { return m.Apply(x, b) }))
}

// randomB is a trial's b: uniform in [5, 30], whole for posterize (its
// level count).
func randomB(r *rand.Rand, m kernels.Model) float64 {
	b := 5 + 25*r.Float64()
	if m == kernels.Posterize {
		b = math.Round(b)
	}
	return b
}

// blindWant is the trials a blind test asks right of want: posterize's
// level count is asked right in every trial.
func blindWant(m kernels.Model, want, trials int) int {
	if m == kernels.Posterize {
		return trials
	}
	return want
}

// tally logs how many of the trials of what were right and fails the
// test below want.
func tally(t *testing.T, what string, ok, trials, want int) {
	t.Helper()
	t.Logf("%s: %d/%d trials", what, ok, trials)
	if ok < want {
		t.Errorf("%s: %d/%d trials right, want at least %d", what, ok, trials, want)
	}
}

// counts8 is the histogram of an 8-bit image's values, all channels.
func counts8(im *imageset.Image) []uint64 {
	counts := make([]uint64, 256)
	for _, p := range im.Pix8 {
		for _, v := range p {
			counts[v]++
		}
	}
	return counts
}

// TestBlindOnPhotos: from the filtered photographs alone, 40 random b per
// model: midrise and truncate within 0.05 in at least 95% of trials,
// posterize's level count N = round(b) in every one.
func TestBlindOnPhotos(t *testing.T) {
	r := rand.New(rand.NewPCG(40, 41))
	n := len(loadPhotos(t))
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Truncate, kernels.Posterize} {
		ok, trials := 0, 40
		for i := range trials {
			b := randomB(r, m)
			res, err := EstimateBlind(blindCounts(t, i%n, m, b), m, Range{Min: 5, Max: 30})
			if err != nil {
				t.Fatal(err)
			}
			if blindHit(m, res.B, b) {
				ok++
			} else {
				t.Logf("%v photo %d b=%.4f: got %.4f in [%.4f, %.4f], %d occupied, %d empty; rival %.4f (%d empty)",
					m, i%n, b, res.B, res.Interval[0], res.Interval[1], res.Occupied, res.Empty, res.RivalB, res.RivalEmpty)
			}
		}
		tally(t, fmt.Sprintf("blind %v", m), ok, trials, blindWant(m, 38, trials))
	}
}

// TestBlindFloorStored: levels stored rounded down to 8 bits, as
// ImageMagick writes its -posterize (level 1 of 9 as 31, not 32), fit
// cleanly (with Floor set, unless a lattice stored to the nearest value
// holds them too): posterize's N in every trial, midrise and
// truncate within 0.05 in 85% (rounding down leaves more b making the
// same values than rounding to the nearest: measured 20/20 and 18/20).
// Stored to the nearest value they fit without it.
func TestBlindFloorStored(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 43))
	photos := loadPhotos(t)
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Truncate, kernels.Posterize} {
		ok, trials := 0, 20
		for i := range trials {
			b := randomB(r, m)
			im := photos[i%len(photos)]
			counts := make([]uint64, 256)
			for c := range im.Channels {
				for j := range im.W * im.H {
					y := m.Apply(float64(im.Value(c, j)), b)
					counts[int(math.Floor(255*y+1e-6))]++
				}
			}
			res, err := EstimateBlind(counts, m, Range{Min: 5, Max: 30})
			if err != nil {
				t.Fatal(err)
			}
			if res.Noisy || res.Misfit > noisyMisfit {
				t.Errorf("%v b=%.4f stored rounded down: noisy, misfit %g", m, b, res.Misfit)
			}
			if blindHit(m, res.B, b) {
				ok++
			} else {
				t.Logf("%v photo %d b=%.4f: got %.4f in [%.4f, %.4f], misfit %g, empty %d, occupied %d", m, i%len(photos), b, res.B, res.Interval[0], res.Interval[1], res.Misfit, res.Empty, res.Occupied)
			}
		}
		tally(t, fmt.Sprintf("blind %v, stored rounded down", m), ok, trials, blindWant(m, 17, trials))
		res, err := EstimateBlind(blindCounts(t, 0, m, 9), m, Range{Min: 5, Max: 30})
		if err != nil {
			t.Fatal(err)
		}
		if res.Floor || res.Misfit != 0 {
			t.Errorf("%v b=9 stored to the nearest value: floor %v, misfit %g", m, res.Floor, res.Misfit)
		}
	}
}

// TestBlindDitheredPosterize: error diffusion (Floyd–Steinberg, as
// ImageMagick's -posterize dithers) picks among the same N levels, so the
// blind count of levels stays exact, in every one of 20 random trials.
func TestBlindDitheredPosterize(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 43))
	ims := loadPhotos(t)
	for i := range 20 {
		n := 5 + r.IntN(26)
		im := ims[i%len(ims)]
		counts := make([]uint64, 256)
		for _, p := range im.Pix8 {
			for _, v := range floydSteinberg(p, im.W, im.H, n) {
				counts[v]++
			}
		}
		res, err := EstimateBlind(counts, kernels.Posterize, Range{Min: 5, Max: 30})
		if err != nil {
			t.Fatal(err)
		}
		if math.Round(res.B) != float64(n) || res.Misfit != 0 {
			t.Errorf("photo %d, %d levels dithered: b = %v (misfit %v)", i%len(ims), n, res.B, res.Misfit)
		}
	}
}

// floydSteinberg posterizes one 8-bit plane to n levels with error
// diffusion, stored as 8-bit.
func floydSteinberg(p []uint8, w, h, n int) []uint8 {
	v := make([]float64, len(p))
	for i, x := range p {
		v[i] = float64(x) / 255
	}
	out := make([]uint8, len(p))
	top := float64(n - 1)
	for y := range h {
		for x := range w {
			i := y*w + x
			q := math.Min(1, math.Max(0, math.Round(v[i]*top)/top))
			out[i] = uint8(math.Round(q * 255))
			e := v[i] - q
			if x+1 < w {
				v[i+1] += e * 7 / 16
			}
			if y+1 < h {
				if x > 0 {
					v[i+w-1] += e * 3 / 16
				}
				v[i+w] += e * 5 / 16
				if x+1 < w {
					v[i+w+1] += e * 1 / 16
				}
			}
		}
	}
	return out
}

// jpegCounts is the histogram of a photo quantized by the model at b and
// saved as a JPEG of the quality (Go's encoder, 4:2:0 chroma), all
// channels.
func jpegCounts(t testing.TB, src *imageset.Image, m kernels.Model, b float64, quality int) []uint64 {
	return counts8(jpegOf(t, src, m, b, quality))
}

// TestBlindJPEG measures blind mode on quantized photos saved as JPEG,
// whose values no lattice holds: the comb score finds b from how tightly
// the values gather. It reports the figures the README quotes and holds
// them as a floor: this is what blind mode can tell of compressed images,
// not a promise (a pair with -blocks is the reliable way).
func TestBlindJPEG(t *testing.T) {
	ims := loadPhotos(t)
	for _, c := range []struct{ quality, want int }{{95, 15}, {85, 10}} {
		for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize} {
			r := rand.New(rand.NewPCG(7, uint64(c.quality)))
			ok, trials, want := 0, 20, c.want
			if testing.Short() {
				trials, want = 10, c.want/2
			}
			for i := range trials {
				b := randomB(r, m)
				im := ims[i%len(ims)]
				res, err := EstimateBlind(jpegCounts(t, im, m, b, c.quality), m, Range{Min: 5, Max: 30})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Noisy {
					t.Errorf("q%d %v %s b=%.3f: not taken as noisy (misfit %v)", c.quality, m, im.Name, b, res.Misfit)
				}
				if blindHit(m, res.B, b) {
					ok++
				} else {
					t.Logf("q%d %v %s b=%.3f: got %.3f (score %.3f; rival %.3f, %.3f)", c.quality, m, im.Name, b, res.B, res.Score, float64(res.RivalB), float64(res.RivalScore))
				}
			}
			tally(t, fmt.Sprintf("blind %v on JPEG q%d", m, c.quality), ok, trials, want)
		}
	}
}

// blindHit: a blind answer within 0.05 of b, or posterize's level count
// exactly.
func blindHit(m kernels.Model, got, b float64) bool {
	if m == kernels.Posterize {
		return math.Round(got) == b
	}
	return math.Abs(got-b) <= 0.05
}

// TestLatticeIsTheModels holds lattice's inlined arithmetic to the model's
// own: the levels of kernels.Config.Exact (and of Model.Apply, rounded
// down, for floor), for every model and depth over a fine grid of b.
func TestLatticeIsTheModels(t *testing.T) {
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate} {
		for _, top := range []int{255, 65535} {
			cfg := kernels.Config{Model: m, OutputLevels: float64(top)}
			for _, floor := range []bool{false, true} {
				for b := m.MinB() + 1.25; b < 70; b += 0.0137 {
					var want []int
					c, _ := m.Offsets()
					s := b - m.Shift()
					for k := 0.0; ; k++ {
						x := math.Min(1, (k+0.5-c)/s)
						v := int(math.Round(cfg.Exact(x, b) * float64(top)))
						if floor {
							v = int(math.Floor(m.Apply(x, b)*float64(top) + 1e-6))
						}
						if len(want) == 0 || want[len(want)-1] != v {
							want = append(want, v)
						}
						if x >= 1 {
							break
						}
					}
					if got := lattice(nil, cfg, b, top, floor); !slices.Equal(got, want) {
						t.Fatalf("%v top %d floor %v b %v: lattice %v, the model's %v", m, top, floor, b, got, want)
					}
				}
			}
		}
	}
}
