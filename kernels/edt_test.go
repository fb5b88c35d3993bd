package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestEDT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w, h := 23, 17
	mask := make([]bool, w*h)
	for i := range mask {
		mask[i] = r.IntN(20) == 0
	}
	d := EDT(mask, w, h)
	for i := range mask {
		best := math.Inf(1)
		for j, m := range mask {
			if m {
				dx, dy := float64(i%w-j%w), float64(i/w-j/w)
				best = math.Min(best, dx*dx+dy*dy)
			}
		}
		if d[i] != best {
			t.Fatalf("sample %d: %v; want %v", i, d[i], best)
		}
	}
}

func TestEDTEmpty(t *testing.T) {
	for _, v := range EDT(make([]bool, 12), 4, 3) {
		if !math.IsInf(v, 1) {
			t.Fatal("an empty mask gives a finite distance")
		}
	}
}
