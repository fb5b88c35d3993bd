package peers

import (
	"math"

	"github.com/quantfit/quantfit/kernels"
)

// DistanceBDE is the classical bit-depth expansion by contour distances
// (contour-region reconstruction, Cheng et al.; Wan et al. 2016), given the
// true cells: every sample of level k is put at lo + (hi − lo)·d₋/(d₋ +
// d₊), d₋ and d₊ its Euclidean distances to the nearest sample of a lower
// and of a higher level, [lo, hi] its cell; a sample with no lower (or no
// higher) level anywhere takes its cell's edge on the other side's way, at
// the middle. level holds each sample's level, w×h of them.
func DistanceBDE(level []int32, lo, hi []float32, w, h int) []float32 {
	n := w * h
	out := make([]float32, n)
	kmin, kmax := level[0], level[0]
	for _, k := range level {
		kmin, kmax = min(kmin, k), max(kmax, k)
	}
	mask := make([]bool, n)
	for k := kmin; k <= kmax; k++ {
		any := false
		for _, l := range level {
			if l == k {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		for i, l := range level {
			mask[i] = l < k
		}
		dlo := kernels.EDT(mask, w, h)
		for i, l := range level {
			mask[i] = l > k
		}
		dhi := kernels.EDT(mask, w, h)
		for i, l := range level {
			if l != k {
				continue
			}
			a, b := math.Sqrt(dlo[i]), math.Sqrt(dhi[i])
			switch {
			case math.IsInf(a, 1) && math.IsInf(b, 1):
				out[i] = (lo[i] + hi[i]) / 2
			case math.IsInf(a, 1):
				out[i] = (lo[i] + hi[i]) / 2
			case math.IsInf(b, 1):
				out[i] = (lo[i] + hi[i]) / 2
			default:
				out[i] = lo[i] + (hi[i]-lo[i])*float32(a/(a+b))
			}
		}
	}
	return out
}
