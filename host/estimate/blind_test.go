package estimate

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// blindCounts is the histogram of a photo's 8-bit values quantized by the
// model at b, all channels.
func blindCounts(t testing.TB, photo int, m kernels.Model, b float64) []uint64 {
	im := loadPhotos(t)[photo]
	q := im.Filter(func(x float64) float64 { return m.Apply(x, b) })
	counts := make([]uint64, 256)
	for _, p := range q.Pix8 {
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
			b := 5 + 25*r.Float64()
			if m == kernels.Posterize {
				b = math.Round(b)
			}
			res, err := EstimateBlind(blindCounts(t, i%n, m, b), m, Range{Min: 5, Max: 30})
			if err != nil {
				t.Fatal(err)
			}
			good := math.Abs(res.B-b) <= 0.05
			if m == kernels.Posterize {
				good = math.Round(res.B) == b
			}
			if good {
				ok++
			} else {
				t.Logf("%v photo %d b=%.4f: got %.4f in [%.4f, %.4f], %d occupied, %d empty; rival %.4f (%d empty)",
					m, i%n, b, res.B, res.Interval[0], res.Interval[1], res.Occupied, res.Empty, res.RivalB, res.RivalEmpty)
			}
		}
		t.Logf("blind %v: %d/%d trials", m, ok, trials)
		want := 38
		if m == kernels.Posterize {
			want = trials
		}
		if ok < want {
			t.Errorf("blind %v: %d/%d trials right, want %d", m, ok, trials, want)
		}
	}
}
