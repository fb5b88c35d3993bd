package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLevelRunsMatchLoop: the exact MSE losses summed over runs of levels
// equal the plain loop's over the same groups, for every model, with and
// without stored outputs, at candidates far from and at the data's b
// (where the run sums cancel).
func TestLevelRunsMatchLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, m := range []Model{Midrise, Posterize, Truncate} {
		for _, levels := range []float64{0, 255, 65535} {
			const b0 = 13.37
			n := 40000
			x, tt := make([]uint16, n), make([]uint16, n)
			for i := range x {
				x[i] = uint16(r.IntN(65536))
				y := m.Apply(float64(Level16(int(x[i]))), b0)
				tt[i] = uint16(math.Round(y*65535)) + uint16(r.IntN(2))
			}
			g := NewGroups16(MSE)
			g.Add16(x, tt)
			w := g.Weighted()
			cfg := Config{Model: m, OutputLevels: levels}
			fast, err := NewWeightedEvaluator(&w, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if fast.runs == nil {
				t.Fatalf("%d groups: no level sums", w.Len())
			}
			slow, _ := NewWeightedEvaluator(&w, cfg)
			slow.runs = nil
			bs := []float64{5, 7.7, b0, math.Nextafter(b0, 0), 21.5, 30}
			for i := range 50 {
				bs = append(bs, 5+25*r.Float64(), b0+float64(i-25)*1e-5)
			}
			got, want := make([]float64, len(bs)), make([]float64, len(bs))
			fast.Losses(bs, got)
			slow.Losses(bs, want)
			for i, b := range bs {
				if math.Abs(got[i]-want[i]) > 1e-12*want[i]+1e-18 {
					t.Errorf("%v levels %v b=%v: runs %v, loop %v", m, levels, b, got[i], want[i])
				}
			}
		}
	}
}

func TestNoLevelSumsForSmallOrUnsortedData(t *testing.T) {
	var h Histogram
	h.Add8([]uint8{1, 2, 3}, []uint8{1, 2, 3})
	w := h.Weighted(MSE)
	if NewLevelRuns(&w) != nil {
		t.Error("level sums for an 8-bit histogram")
	}
	big := Weighted{MSEOnly: true}
	for i := range 2 * levelRunsMin {
		big.X = append(big.X, float64(2*levelRunsMin-i))
		big.T = append(big.T, 0.5)
		big.W = append(big.W, 1)
	}
	if NewLevelRuns(&big) != nil {
		t.Error("level sums for groups in decreasing x")
	}
}
