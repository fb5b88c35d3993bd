package kernels

import (
	"math"
	"sync"
)

// The in-cell regression, a dequantization's last stage
// (host/restore's refine): each sample's place in its cell is predicted
// linearly from its restored neighbourhood, with weights per class of
// local texture that the image teaches itself (the host fits them on a
// coarser quantization of its own restore). The loops here are the
// specification of shaders/refine.comp, float32 as there.

const (
	// RefineRadius is the neighbourhood's reach: 5×5 samples.
	RefineRadius = 2
	refineSide   = 2*RefineRadius + 1
	// RefineTaps are the regression's inputs: the neighbourhood in row
	// order, then a constant.
	RefineTaps = refineSide*refineSide + 1
	// RefineCentre is the tap of the sample itself.
	RefineCentre = RefineRadius*refineSide + RefineRadius
	// RefineClasses are the classes of local texture (refineClass).
	RefineClasses = 5
	// RefineFrom is the first class the weights move: flatter samples
	// keep their value. The smooth solve already places them, and a
	// coarser quantization of a nearly flat sky teaches little about the
	// finer one (rocket's sky at b 6.3: −0.97 dB with every class moved,
	// −0.05 with the two flattest kept).
	RefineFrom = 2
)

// RefineWeights are a regression's weights, per class: RefineTaps each,
// the neighbourhood's offsets from the centre's cell middle in cells, then
// the constant. The prediction is the centre's offset from its cell
// middle, in cells.
type RefineWeights [RefineClasses][RefineTaps]float32

// RefineIdentity are weights that keep every sample's value.
func RefineIdentity() *RefineWeights {
	var w RefineWeights
	for k := range w {
		w[k][RefineCentre] = 1
	}
	return &w
}

// refineLimits are the class bounds on the sum of the 24 neighbours'
// whole-cell steps from the centre: mean steps of 0.1, 0.3, 0.6 and 1 a
// neighbour. Steps are counted in whole cells (refineLevels), so that
// the class is the same on every device.
var refineLimits = [RefineClasses - 1]int32{2, 7, 14, 23}

// refineWindow fills j with the indices of sample (x, y)'s neighbourhood
// in row order, coordinates clamped at the edges.
func refineWindow(w, h, x, y int, j *[refineSide * refineSide]int) {
	t := 0
	if x >= RefineRadius && x < w-RefineRadius && y >= RefineRadius && y < h-RefineRadius {
		for dy := -RefineRadius; dy <= RefineRadius; dy++ {
			row := (y+dy)*w + x
			for dx := -RefineRadius; dx <= RefineRadius; dx++ {
				j[t] = row + dx
				t++
			}
		}
		return
	}
	for dy := -RefineRadius; dy <= RefineRadius; dy++ {
		row := min(h-1, max(0, y+dy)) * w
		for dx := -RefineRadius; dx <= RefineRadius; dx++ {
			j[t] = row + min(w-1, max(0, x+dx))
			t++
		}
	}
}

// refineLevels are the cells' whole-cell indices, floor(mid·inv + 1/4)
// with mid = (lo + hi)/2: the middles of every quantizer's cells lie a
// half, a quarter (posterize's first and last half cells) or no cell
// above a whole cell, so the quarter puts each well inside one integer's
// span, exact in float32 on every device.
func refineLevels(lo, hi []float32, inv float32) []int32 {
	lv := make([]int32, len(lo))
	Parallel(len(lo), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			lv[i] = int32(math.Floor(float64(0.5*(lo[i]+hi[i])*inv + 0.25)))
		}
	})
	return lv
}

// refineClass is the texture class of sample i with neighbourhood j
// (refineWindow): the sum of its neighbours' steps from it in whole
// cells (refineLevels), against refineLimits.
//
//	s := Σ_j |lv_j − lv_i|
//	class = number of limits below s
func refineClass(lv []int32, i int, j *[refineSide * refineSide]int) int {
	l := lv[i]
	var s int32
	for _, jj := range j {
		d := lv[jj] - l
		m := d >> 31
		s += (d ^ m) - m
	}
	k := 0
	for k < len(refineLimits) && s > refineLimits[k] {
		k++
	}
	return k
}

// refineFeatures fills f with sample i's inputs: (u_j − mid_i)·inv over
// its neighbourhood j in row order, then 1.
func refineFeatures(u, lo, hi []float32, i int, j *[refineSide * refineSide]int, inv float32, f *[RefineTaps]float32) {
	m := 0.5 * (lo[i] + hi[i])
	for t, jj := range j {
		f[t] = (u[jj] - m) * inv
	}
	f[RefineTaps-1] = 1
}

// RefineApply writes into dst the regression's result on plane u with
// cells [lo, hi] of width 1/inv: for each sample not fixed (the first or
// last cell) whose class is RefineFrom or above,
//
//	v := Σ_t wt[class][t]·f[t] over the neighbourhood (in order), + wt[class][25]
//	dst = clamp(mid + v/inv, lo, hi)
//
// f its refineFeatures; other samples copy u.
func RefineApply(dst, u, lo, hi []float32, w, h int, inv float32, wt *RefineWeights) {
	lv := refineLevels(lo, hi, inv)
	Parallel(h, func(y0, y1 int) {
		var j [refineSide * refineSide]int
		var f [RefineTaps]float32
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if endCell(lo, hi, i) {
					dst[i] = u[i]
					continue
				}
				refineWindow(w, h, x, y, &j)
				k := refineClass(lv, i, &j)
				if k < RefineFrom {
					dst[i] = u[i]
					continue
				}
				refineFeatures(u, lo, hi, i, &j, inv, &f)
				var v float32
				for t, c := range wt[k] {
					v += c * f[t]
				}
				dst[i] = min(max(0.5*(lo[i]+hi[i])+v/inv, lo[i]), hi[i])
			}
		}
	})
}

// RefineSystem is the normal equations of the regression, per class: A
// the features' second moments (upper triangle, row-major), B their
// products with the target offsets, N the samples.
type RefineSystem struct {
	A [RefineClasses][RefineTaps * RefineTaps]float64
	B [RefineClasses][RefineTaps]float64
	N [RefineClasses]int
}

// RefineNormal adds to sys the samples of plane u (cells [lo, hi] of
// width 1/inv) that the regression would move and use(x, y) admits, each
// with its target offset (target − mid)·inv: the least-squares problem
// whose weights bring u nearest to target.
func RefineNormal(sys *RefineSystem, u, lo, hi, target []float32, w, h int, inv float32, use func(x, y int) bool) {
	// the parts are summed in row order, so that the sums do not hang on
	// the workers' timing
	lv := refineLevels(lo, hi, inv)
	var mu sync.Mutex
	parts := map[int]*RefineSystem{}
	Parallel(h, func(y0, y1 int) {
		s := new(RefineSystem)
		var f [RefineTaps]float32
		var g [RefineTaps]float64
		var j [refineSide * refineSide]int
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if endCell(lo, hi, i) || !use(x, y) {
					continue
				}
				refineWindow(w, h, x, y, &j)
				k := refineClass(lv, i, &j)
				if k < RefineFrom {
					continue
				}
				refineFeatures(u, lo, hi, i, &j, inv, &f)
				for t := range f {
					g[t] = float64(f[t])
				}
				tg := float64((target[i] - 0.5*(lo[i]+hi[i])) * inv)
				a := &s.A[k]
				for r := range RefineTaps {
					gr := g[r]
					row := a[r*RefineTaps:]
					for c := r; c < RefineTaps; c++ {
						row[c] += gr * g[c]
					}
					s.B[k][r] += gr * tg
				}
				s.N[k]++
			}
		}
		mu.Lock()
		parts[y0] = s
		mu.Unlock()
	})
	for y0 := range h {
		s, ok := parts[y0]
		if !ok {
			continue
		}
		for k := range RefineClasses {
			for t := range s.A[k] {
				sys.A[k][t] += s.A[k][t]
			}
			for t := range s.B[k] {
				sys.B[k][t] += s.B[k][t]
			}
			sys.N[k] += s.N[k]
		}
	}
}

// Refiner is a Restorer that runs the in-cell regression (RefineApply)
// on its own image, where it lives, within its problem's cells.
type Refiner interface {
	Refine(wt *RefineWeights, inv float32) error
}
