package restore

import (
	"math"

	"github.com/quantfit/quantfit/kernels"
)

// DefaultShrinkPasses is how many passes of the block-sparsity prior
// follow a dequantization's solve (Consistent): on the colour cases of the
// false-contour trial, 1, 4 and 8 passes gained +0.95, +1.20 and +1.31 dB
// over the solve alone (bench/RESULTS.md).
const DefaultShrinkPasses = 8

const (
	// The thresholds per cell width: the luma's low, as texture lives
	// there and is not sparse; the chroma's higher, as their signal is
	// small beside the cells' noise. A grey plane's is the luma's over
	// √3: the luma sums three channels' signal over one channel's noise.
	lumaShrink   = 0.15
	chromaShrink = 0.5
	// shrinkStride 4 against 2: −0.06 dB on the trial's mean, a quarter
	// of the blocks.
	shrinkStride = 4
	// trustRegion is how far, in cells, the prior may move a sample
	// from the solve's value: beyond it, ringing about stars and edges
	// costs more than the noise it removes (hubble's deep field at b
	// 23.9: +1.26 dB solved, +0.58 with the prior free in the cell,
	// +1.47 within a quarter cell).
	trustRegion = 0.25
)

// Consistent applies the block-sparsity prior to a dequantization's
// restored planes, in place: passes times, the planes are shrunk in 8×8
// DCT blocks (kernels.ShrinkDCT; colour planes in opponent space,
// kernels.Opponent) and every sample put back within its cell [lo, hi]
// and within trustRegion cells of its value before. Samples in the first
// or the last cell (lo 0 or hi 1) keep their value: there the originals
// pile up at the bound (a black sky) rather than spread over the cell, and
// the prior's smoothing lifts them. Planes with a side under
// kernels.ShrinkBlock are left as they are.
func Consistent(planes, lo, hi [][]float32, w, h int, cell float64, passes int) {
	if passes <= 0 || w < kernels.ShrinkBlock || h < kernels.ShrinkBlock {
		return
	}
	n := w * h
	colour := len(planes) == 3
	shrunk, opp := make([][]float32, len(planes)), planes
	for c := range shrunk {
		shrunk[c] = make([]float32, n)
	}
	if colour {
		opp = [][]float32{make([]float32, n), make([]float32, n), make([]float32, n)}
	}
	back := kernels.Opponent // its transpose undoes it
	// the trust region: within reach of the solve's image as well as in
	// the cell
	reach := float32(trustRegion * cell)
	lo2, hi2 := make([][]float32, len(planes)), make([][]float32, len(planes))
	for c := range planes {
		lo2[c], hi2[c] = make([]float32, n), make([]float32, n)
		p, l, u, a, b := planes[c], lo[c], hi[c], lo2[c], hi2[c]
		kernels.Parallel(n, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				a[i], b[i] = max(l[i], p[i]-reach), min(u[i], p[i]+reach)
				if l[i] <= 0 || u[i] >= 1 {
					a[i], b[i] = p[i], p[i]
				}
			}
		})
	}
	lo, hi = lo2, hi2
	for range passes {
		if colour {
			kernels.ToOpponent(opp, planes, false)
		}
		for c := range opp {
			tau := chromaShrink
			if c == 0 {
				tau = lumaShrink
				if !colour {
					tau /= math.Sqrt(3)
				}
			}
			kernels.ShrinkDCT(shrunk[c], opp[c], w, h, float32(tau*cell), shrinkStride)
		}
		kernels.Parallel(n, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				if !colour {
					for c := range planes {
						planes[c][i] = min(hi[c][i], max(lo[c][i], shrunk[c][i]))
					}
					continue
				}
				a, b, d := shrunk[0][i], shrunk[1][i], shrunk[2][i]
				for c := range 3 {
					v := back[0][c]*a + back[1][c]*b + back[2][c]*d
					planes[c][i] = min(hi[c][i], max(lo[c][i], v))
				}
			}
		})
	}
}
