package restore

import (
	"math"

	"github.com/quantfit/quantfit/kernels"
)

// DefaultShrinkPasses is how many passes of the block-sparsity prior
// follow a dequantization's solve (Consistent): on the 15 colour cases of
// the false-contour trial, 1, 4 and 8 passes of the probe (stride 2) gained
// +0.95, +1.20 and +1.31 dB over the solve alone (bench/RESULTS.md).
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
	tau, reach := shrinkConsts(len(planes), cell)
	a, b := make([][]float32, len(planes)), make([][]float32, len(planes))
	for c := range planes {
		a[c], b[c] = kernels.ShrinkBounds(planes[c], lo[c], hi[c], reach)
	}
	scratch := make([][]float32, 2*len(planes))
	for c := range scratch {
		scratch[c] = make([]float32, w*h)
	}
	for range passes {
		kernels.ShrinkPass(planes, a, b, w, h, tau, shrinkStride, scratch)
	}
}

// shrinkConsts are the prior's thresholds per plane (luma first where
// three planes go to opponent space) and its trust region, in values.
func shrinkConsts(channels int, cell float64) (tau []float32, reach float32) {
	tau = make([]float32, channels)
	for c := range tau {
		switch {
		case channels != 3:
			tau[c] = float32(lumaShrink / math.Sqrt(3) * cell)
		case c == 0:
			tau[c] = float32(lumaShrink * cell)
		default:
			tau[c] = float32(chromaShrink * cell)
		}
	}
	return tau, float32(trustRegion * cell)
}
