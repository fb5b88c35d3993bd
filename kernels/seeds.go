package kernels

import (
	"sync"
	"sync/atomic"
)

// SeedTiers is how many nearest seeds a search of the levels beyond a
// sample carries: the nearest at least one level its way, at least two,
// at least three. A band one or two levels the wrong side carries its own
// nearest seeds, which may not serve the samples beyond it; the
// contour-distance expansion on rocket ×8 at b 19.2 came 2.3, 0.8, 0.2 and
// 0.1 dB under the exact one's with 1 to 4 tiers (bench/RESULTS.md).
const SeedTiers = 3

// Seeds are the contour search's nearest samples, by index, for every
// sample of a plane of levels; −1 where there is none.
type Seeds struct {
	// Lower and Upper are the nearest samples of level − 1 and level + 1
	// that touch the sample's band (its 4-connected region of one level),
	// reached within the band.
	Lower, Upper []int32
	// Below and Above are the nearest samples of any level below and
	// above the sample's own.
	Below, Above []int32
}

// Contours are what the contour search finds for every sample of a plane
// of levels.
type Contours struct {
	Seeds
	// Rim is the squared distance from the nearest sample of a band's rim
	// (one with a 4-neighbour of another level): EDT of RimMask.
	Rim []float64
}

// RimMask marks the samples of the plane level (w×h) that have a
// 4-neighbour of another level.
func RimMask(level []int32, w, h int) []bool {
	rim := make([]bool, w*h)
	Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i, l := y*w+x, level[y*w+x]
				rim[i] = x > 0 && level[i-1] != l || x+1 < w && level[i+1] != l ||
					y > 0 && level[i-w] != l || y+1 < h && level[i+w] != l
			}
		}
	})
	return rim
}

// JumpSteps are the strides of a jump flooding over a w×h plane: half the
// power of two that spans it, halved down to 1, then 1 again (JFA+1,
// which mends most of the flooding's few misses).
func JumpSteps(w, h int) []int {
	n := 1
	for n < max(w, h) {
		n *= 2
	}
	var ks []int
	for k := n / 2; k >= 1; k /= 2 {
		ks = append(ks, k)
	}
	return append(ks, 1)
}

// JumpSeeds finds the Seeds of the plane level (w×h, band labelling its
// bands: equal labels for the samples of one band) by jump flooding
// (Rong and Tan 2006): the seeds start at each sample's 4-neighbours,
// then at each of JumpSteps' strides k every sample takes the nearest of
// the seeds held by itself and the 8 samples k away, in parallel from the
// previous stride's field. Lower and Upper take a neighbour's seed only
// from a sample of the same band, and passes of stride 1 follow until
// none changes (at most MaxRelax); Below and Above carry SeedTiers seeds,
// the nearest at least t + 1 levels the sample's way in tier t. Nearer
// means a smaller squared distance, then a smaller index, so the result
// does not depend on the order of the offers.
//
// It is the specification of shaders/seeds.comp, which must equal it
// sample for sample. The CPU restore finds its seeds by raster sweeps
// instead (host/restore), which follow bent bands where the flooding
// jumps across them, and cost a twentieth of its time on a CPU (a 4 MP
// plane: 0.96 s against 17 s).
func JumpSeeds(level, band []int32, w, h int) Seeds {
	var s Seeds
	s.Lower = jumpBand(level, band, w, h, -1)
	s.Upper = jumpBand(level, band, w, h, 1)
	s.Below = jumpBeyond(level, w, h, -1)
	s.Above = jumpBeyond(level, w, h, 1)
	return s
}

// seedDist2 is the squared distance from sample (x, y) to seed s of a
// plane w wide.
func seedDist2(x, y int, s int32, w int) int64 {
	dx, dy := int64(x)-int64(int(s)%w), int64(y)-int64(int(s)/w)
	return dx*dx + dy*dy
}

// nearer tells whether seed a is nearer (x, y) than seed b (−1: none).
func nearer(x, y int, a, b int32, w int) bool {
	if b < 0 {
		return true
	}
	da, db := seedDist2(x, y, a, w), seedDist2(x, y, b, w)
	return da < db || da == db && a < b
}

// jumpNeighbours calls f with the samples k away from (x, y) in the 8
// directions that lie inside the plane.
func jumpNeighbours(x, y, k, w, h int, f func(j int)) {
	for dy := -k; dy <= k; dy += k {
		yy := y + dy
		if yy < 0 || yy >= h {
			continue
		}
		for dx := -k; dx <= k; dx += k {
			xx := x + dx
			if xx < 0 || xx >= w || dx == 0 && dy == 0 {
				continue
			}
			f(yy*w + xx)
		}
	}
}

// jumpBand is Seeds.Lower (dir −1) or Seeds.Upper (dir 1).
func jumpBand(level, band []int32, w, h int, dir int32) []int32 {
	n := w * h
	cur, next := make([]int32, n), make([]int32, n)
	Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				best := int32(-1)
				jumpNeighbours4(x, y, w, h, func(j int) {
					if level[j] == level[i]+dir && nearer(x, y, int32(j), best, w) {
						best = int32(j)
					}
				})
				cur[i] = best
			}
		}
	})
	pass := func(k int) (changed bool) {
		var any atomic.Bool
		Parallel(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				for x := range w {
					i := y*w + x
					best := cur[i]
					jumpNeighbours(x, y, k, w, h, func(j int) {
						if s := cur[j]; s >= 0 && band[j] == band[i] && nearer(x, y, s, best, w) {
							best = s
						}
					})
					next[i] = best
					if best != cur[i] {
						any.Store(true)
					}
				}
			}
		})
		cur, next = next, cur
		return any.Load()
	}
	for _, k := range JumpSteps(w, h) {
		pass(k)
	}
	// a jump lands outside a band narrower than its stride, so a winding
	// band's far samples are reached step by step: passes of stride 1
	// until none changes (the fixpoint, whatever the order of passes)
	for range MaxRelax {
		if !pass(1) {
			break
		}
	}
	return cur
}

// MaxRelax bounds the passes of stride 1 after a band's flooding: a
// band winding further keeps the seeds found by then. A power of two,
// so that the GPU's batches of passes between its checks (1, 1, 2, 4, 8,
// then 16 each) end on it.
const MaxRelax = 4096

// jumpNeighbours4 calls f with the 4-neighbours of (x, y).
func jumpNeighbours4(x, y, w, h int, f func(j int)) {
	i := y*w + x
	if y > 0 {
		f(i - w)
	}
	if x > 0 {
		f(i - 1)
	}
	if x+1 < w {
		f(i + 1)
	}
	if y+1 < h {
		f(i + w)
	}
}

// seedTiers are a sample's SeedTiers seeds, nearest first.
type seedTiers [SeedTiers]int32

// offer lets the tiers t of the sample at (x, y), of level li, take seed
// s. Every seed offered to a tier is offered to those below it, so a
// tier's seed is never nearer than a lower tier's: a seed that does not
// beat a tier beats none below, and the tiers are tried from the top.
func (t *seedTiers) offer(level []int32, li int32, x, y int, s int32, w int, dir int32) {
	gap := (level[s] - li) * dir
	if gap < 1 {
		return
	}
	for k := min(int(gap), SeedTiers) - 1; k >= 0; k-- {
		if c := t[k]; c >= 0 && !nearer(x, y, s, c, w) {
			return
		}
		t[k] = s
	}
}

// jumpBeyond is Seeds.Below (dir −1) or Seeds.Above (dir 1).
func jumpBeyond(level []int32, w, h int, dir int32) []int32 {
	n := w * h
	cur, next := make([]seedTiers, n), make([]seedTiers, n)
	Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				t := seedTiers{-1, -1, -1}
				jumpNeighbours4(x, y, w, h, func(j int) { t.offer(level, level[i], x, y, int32(j), w, dir) })
				cur[i] = t
			}
		}
	})
	for _, k := range JumpSteps(w, h) {
		Parallel(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				for x := range w {
					i := y*w + x
					t := cur[i]
					jumpNeighbours(x, y, k, w, h, func(j int) {
						for _, s := range cur[j] {
							if s >= 0 {
								t.offer(level, level[i], x, y, s, w, dir)
							}
						}
					})
					next[i] = t
				}
			}
		})
		cur, next = next, cur
	}
	out := make([]int32, n)
	for i := range cur {
		out[i] = cur[i][0]
	}
	return out
}

// BandLabels labels the bands of the plane level (w×h), its 4-connected
// regions of one level: each sample's label is the least index in its
// band. Union-find, the larger root put under the less (so that a root is
// its band's least index whatever the order of the unions), with path
// halving: the rows in strips side by side, then the strips' seams one
// after another, then every sample's root, read only, side by side.
func BandLabels(level []int32, w, h int) []int32 {
	parent := make([]int32, w*h)
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(i, j int) {
		a, b := find(int32(i)), find(int32(j))
		if a != b {
			parent[max(a, b)] = min(a, b)
		}
	}
	var mu sync.Mutex
	var seams []int
	Parallel(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			parent[i] = int32(i)
		}
		// a strip's unions reach only its own samples
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if x+1 < w && level[i+1] == level[i] {
					union(i, i+1)
				}
				if y+1 < y1 && level[i+w] == level[i] {
					union(i, i+w)
				}
			}
		}
		// each sample under its strip's root: the seams' unions add a
		// hop or two above them
		for i := y0 * w; i < y1*w; i++ {
			parent[i] = parent[parent[i]]
		}
		mu.Lock()
		seams = append(seams, y1)
		mu.Unlock()
	})
	for _, y := range seams {
		if y >= h {
			continue
		}
		for i := (y - 1) * w; i < y*w; i++ {
			if level[i+w] == level[i] {
				union(i, i+w)
			}
		}
	}
	label := make([]int32, w*h)
	Parallel(len(label), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			r := int32(i)
			for parent[r] != r {
				r = parent[r]
			}
			label[i] = r
		}
	})
	return label
}
