package restore

import (
	"fmt"
	"math"
	"sync"

	"github.com/quantfit/quantfit/kernels"
)

// Ramps estimates the scene under the false contours of a plane q of
// stored values (cells [lo, hi], levels level): a band (a region of equal
// level) that meets level k − 1 on one side and k + 1 on the other is a
// step of a quantized ramp, whatever its width, and its samples are put on
// the ramp by their distances to the two contours, lo + (hi − lo)·a/(a +
// b). The contours' nearest samples are found through the band by be's
// Contours (nil: the CPU's sweeps, which follow bent bands). alpha, the weight given to the
// ramp over the stored value, asks for what tells a staircase from
// texture and from the edges of the scene: a band several samples wide,
// its two contours on opposite sides of the sample and a neighbouring
// step of about the same width; or a band so wide (rampWide) that only a
// smooth region holds it, bent as it may be, unless its contours double
// back or a stroke lies beyond one. A band meeting only lower or only
// higher levels, a local extreme, falls towards that side's cell edge at
// its rim where it is deep (extremeDepth), a step lies beyond its rim to
// give the scale, and its cell is not at an end of the range (clipped
// black or white); shallow ones (texture, a star on a black sky) and every
// jump of two levels or more keep the stored value. far is the plane's
// ContourDistances, for the samples that Ramps does not vouch for.
func Ramps(q, lo, hi []float32, level []int32, w, h int, be Backend) (est, alpha, far []float32, err error) {
	if be == nil {
		be = CPU{}
	}
	n := w * h
	band := kernels.BandLabels(level, w, h)
	ct, err := be.Contours(level, band, w, h)
	if err != nil {
		return nil, nil, nil, &BackendError{Backend: be.Name(), Err: err}
	}
	stroke, depth, near := bandGeometry(band, ct.Rim)
	slo, shi := ct.Lower, ct.Upper
	far = ContourDistances(q, lo, hi, ct.Seeds, w, h, depth)
	est, alpha = make([]float32, n), make([]float32, n)
	// each sample's band width across it, and how straight the run is
	width, straight := make([]float32, n), make([]float32, n)
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if slo[i] < 0 || shi[i] < 0 || hi[i] <= lo[i] {
					continue
				}
				// u from the lower contour to the sample, v from the
				// sample to the upper one: a ramp's run one way
				ux, uy := float32(x-int(slo[i])%w), float32(y-int(slo[i])/w)
				vx, vy := float32(int(shi[i])%w-x), float32(int(shi[i])/w-y)
				a, b := hypot(ux, uy), hypot(vx, vy)
				width[i] = a + b - 1
				straight[i] = (ux*vx + uy*vy) / (a * b)
			}
		}
	})
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				est[i] = q[i]
				wi := width[i]
				if wi == 0 {
					continue
				}
				ux, uy := float32(x-int(slo[i])%w), float32(y-int(slo[i])/w)
				a := hypot(ux, uy) - 0.5
				// a staircase's neighbouring steps are about as wide
				like := func(j int32) float32 {
					wj := width[j]
					return min(wj, wi) / max(wj, wi)
				}
				agree := max(like(slo[i]), like(shi[i]))
				al := min(1, max(0, (wi-rampMin)/rampSpan)) * min(1, max(0, (straight[i]-rampCos)/(1-rampCos))) *
					min(1, max(0, (agree-rampAgree)/(1-rampAgree)))
				// a one-sided stroke beyond a contour is an object, not
				// the next step
				thin := func(j int32) bool { return width[j] == 0 && stroke[j] }
				if wi >= rampWide && straight[i] > rampWideCos && !thin(slo[i]) && !thin(shi[i]) {
					// no texture holds one level across so many samples:
					// a wide band is a step of a ramp, bent as it may be,
					// unless its contours double back
					al = 1
				}
				est[i] = q[i] + al*(lo[i]+(hi[i]-lo[i])*a/wi-q[i])
				alpha[i] = al
			}
		}
	})
	// a deep band that meets only lower or only higher levels is a local
	// extreme of a smooth region (a highlight, a dip of the sky): at its
	// rim the scene crosses the cell's edge there, and it moves away as
	// fast as it does across the step beyond (that step's width), at most
	// over the band's depth; inside it keeps its stored value
	kernels.Parallel(n, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			if width[i] != 0 || hi[i] <= lo[i] || depth[i] < extremeDepth || lo[i] <= 0 || hi[i] >= 1 {
				// a cell at either end of the range holds clipped samples: a
				// flat black or white, not a dome
				continue
			}
			var edge float32
			var j int32
			switch {
			case slo[i] >= 0 && shi[i] < 0:
				edge, j = lo[i], slo[i]
			case shi[i] >= 0 && slo[i] < 0:
				edge, j = hi[i], shi[i]
			default:
				continue
			}
			if width[j] == 0 {
				continue // no step beyond: no scale to fall over
			}
			t := 1 - min(1, (near[i]-0.5)/min(depth[i], width[j]))
			est[i] = q[i] + t*(edge-q[i])
			alpha[i] = 1
		}
	})
	return est, alpha, far, nil
}

// BackendError is a backend's failure to prepare a restore: its own
// fault (a device that cannot hold the planes), not the input's.
type BackendError struct {
	Backend string
	Err     error
}

func (e *BackendError) Error() string {
	return fmt.Sprintf("restore: the %s backend: %v", e.Backend, e.Err)
}

func (e *BackendError) Unwrap() error { return e.Err }

// ContourDistances is the classical bit-depth expansion by contour
// distances (contour-region reconstruction, Cheng et al.; Wan et al.
// 2016) of a plane q of stored values: a sample of level k is put at lo +
// (hi − lo)·d₋/(d₋ + d₊), d₋ and d₊ its distances to the nearest samples of
// a lower and of a higher level (sd's Below and Above); one with no lower or no
// higher level takes its cell's middle. It serves the smooth regions that
// Ramps does not vouch for: bands that meet the image's border or one
// other level only, where the nearest contours beyond still give the
// slope. In a narrow band (its contours under contourSpan apart) a
// nearest sample in a band less than contourDepth deep (a speck, a line
// one or two samples wide: texture, such as a brick's shadowed rim) is no
// contour, and the sample keeps its stored value.
// bench/peers.DistanceBDE is the exact form, the false-contour trial's
// peer; depth is each sample's band depth (bandGeometry).
func ContourDistances(q, lo, hi []float32, sd kernels.Seeds, w, h int, depth []float32) []float32 {
	below, above := sd.Below, sd.Above
	out := make([]float32, w*h)
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				s, t := below[i], above[i]
				var a, b float32 = -1, -1
				if s >= 0 && t >= 0 {
					a = hypot(float32(x-int(s)%w), float32(y-int(s)/w))
					b = hypot(float32(x-int(t)%w), float32(y-int(t)/w))
				}
				switch {
				case a >= 0 && a+b < contourSpan && (depth[s] < contourDepth || depth[t] < contourDepth):
					out[i] = q[i]
				case s < 0 || t < 0:
					out[i] = (lo[i] + hi[i]) / 2
				default:
					out[i] = lo[i] + (hi[i]-lo[i])*a/(a+b)
				}
			}
		}
	})
	return out
}

// The ramp test's scales (measured on the shipped and held-out
// photographs and the false-contour trial, bench/RESULTS.md): a band is
// put on its ramp in full from rampMin + rampSpan samples wide where the
// two contours lie on opposite sides (cosine over rampCos) and a
// neighbouring step is about as wide (ratio over rampAgree), the weight
// falling linearly to 0 below; and in full from rampWide samples wide
// whatever the neighbours' widths, where the contours do not double back
// (cosine over rampWideCos): an upscaled sky's bands are blobs (rocket ×8
// at b 11.7: +0.59 → +2.1 dB). The neighbours' test stays for narrower
// bands (brick at b 5.7 lost 1.7 dB without it), the cosine's for wide
// ones (camera at b 5.7: −0.16 dB without it, +0.30 with).
const (
	rampMin, rampSpan = 3, 6
	rampCos           = 0.5
	rampAgree         = 0.2
	rampWide          = 48
	rampWideCos       = -0.5
	// A stroke is a band less than strokeDepth samples deep and more
	// than strokeLong times the area of its deepest disc: a thin object
	// (a mast against the sky) that is one level from its surround only
	// because the cells are wide. A wide band beside one is not trusted to
	// be a ramp's step (rocket at b 6.3: −0.10 dB with, +0.45 without).
	strokeDepth = 4
	strokeLong  = 2
	// A local extreme's band falls towards its edge from extremeDepth
	// samples deep: shallower ones are texture and specks (gravel lost
	// 0.07 dB at 3), deeper ones the domes of smooth regions (false
	// contours +1.64 → +1.78 dB, bench/RESULTS.md).
	extremeDepth = 6
	// A band less than contourDepth deep (two samples wide at most) holds
	// no contour for ContourDistances: brick at b 5.7 lost 0.72 dB to
	// the specks along its bricks' rims, −0.01 dB without them
	// (bench/RESULTS.md).
	contourDepth = 2
	// ... where the sample's two contours lie within contourSpan samples
	// of each other: a narrow band. In a wide one (a sky's) the specks
	// along a contour are its noise, and the contour is beside them
	// (rocket ×8 at b 19.2: +0.5 dB against every speck refused).
	contourSpan = 64
)

func hypot(x, y float32) float32 { return float32(math.Sqrt(float64(x*x + y*y))) }

// SweepSeeds are the Seeds of the plane level (w×h) found by raster
// sweeps of vector propagation (contourSeeds, beyondSeeds), the four side
// by side: each sweep runs one row after another, so together they take
// the cores. They are the CPU's; a GPU floods (kernels.JumpSeeds).
func SweepSeeds(level []int32, w, h int) kernels.Seeds {
	var sd kernels.Seeds
	concurrently(
		func() { sd.Lower = contourSeeds(level, w, h, -1) },
		func() { sd.Upper = contourSeeds(level, w, h, 1) },
		func() { sd.Below = beyondSeeds(level, w, h, -1) },
		func() { sd.Above = beyondSeeds(level, w, h, 1) })
	return sd
}

// contourSeeds returns, for every sample, the index of the nearest sample
// of level + dir reached through its band (by vector propagation: each
// sample takes the nearer of its neighbours' seeds), −1 where the band
// does not meet that level.
func contourSeeds(level []int32, w, h int, dir int32) []int32 {
	// the seeds as coordinates, their distances computed again rather
	// than stored: no division in the sweeps, no 8 bytes a sample
	n := w * h
	sx, sy := make([]int32, n), make([]int32, n)
	for i := range sx {
		sx[i] = -1
	}
	offer := func(i, x, y int, ax, ay int32) {
		if sx[i] < 0 || dist2(x, y, ax, ay) < dist2(x, y, sx[i], sy[i]) {
			sx[i], sy[i] = ax, ay
		}
	}
	kernels.Parallel(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			x, y := i%w, i/w
			neighbours(i, w, h, func(j int) {
				if level[j] == level[i]+dir {
					offer(i, x, y, int32(j%w), int32(j/w))
				}
			})
		}
	})
	// one round, as beyondSeeds: a band that must be followed down, up
	// and down again is a spiral, which photographs do not hold (a second
	// round moved the false-contour trial's and the photo trials' cases
	// by 0.06 dB at most, either way, their means by 0.01; the 4 MP
	// astronaut by −0.03 dB, for 0.8 s of its 10)
	sweep(w, h, 1, func(i, j, x, y int) {
		if sx[j] >= 0 && level[j] == level[i] {
			offer(i, x, y, sx[j], sy[j])
		}
	})
	seed := sy // reused: each sample's own entry is read before written
	for i, x := range sx {
		if x < 0 {
			seed[i] = -1
		} else {
			seed[i] = sy[i]*int32(w) + x
		}
	}
	return seed
}

// beyondSeeds returns, for every sample, the index of the nearest sample
// of any level below its own (dir −1) or above (dir 1), −1 where there is
// none, by vector propagation across bands. A band one or two levels the
// wrong side carries its own nearest seeds, which may not serve the
// samples beyond it, so each sample carries kernels.SeedTiers: the
// nearest at least one level its way, at least two, at least three.
// Against the exact search (an EDT per level, bench/peers.DistanceBDE: 4.8 s for a
// 4 MP channel at 17 levels) it costs one round of sweeps.
func beyondSeeds(level []int32, w, h int, dir int32) []int32 {
	n := w * h
	// each tier's seed as its coordinates (no division); its level is
	// looked up, and its distance computed again, not stored: memory is
	// the bound at 64 MP, not arithmetic (a 4 MP Dequantization took
	// 4.01–4.07 s with the level stored beside the coordinates, 3.92–3.93
	// s without). A sample's tiers lie together, so that a neighbour
	// whose tiers are the sample's own (most of a smooth region's) is
	// passed over at one comparison (4.55 → 4.16 s).
	type seedAt struct{ x, y int32 }
	type tiers [kernels.SeedTiers]seedAt
	seed := make([]tiers, n)
	kernels.Parallel(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			for t := range kernels.SeedTiers {
				seed[i][t] = seedAt{-1, -1}
			}
		}
	})
	// offer lets sample i, at (x, y) and of level li, take seed s
	offer := func(si *tiers, li int32, x, y int, s seedAt) {
		gap := (level[int(s.y)*w+int(s.x)] - li) * dir
		if gap < 1 {
			return
		}
		// a tier's seed is never nearer than a lower tier's (every seed
		// offered to a tier is offered to those below it), so a seed that
		// does not beat a tier beats none below: the tiers are tried from
		// the top, and the first it does not beat ends the offer
		e := dist2(x, y, s.x, s.y)
		for t := min(int(gap), kernels.SeedTiers) - 1; t >= 0; t-- {
			c := si[t]
			if c.x >= 0 && e >= dist2(x, y, c.x, c.y) {
				return
			}
			si[t] = s
		}
	}
	kernels.Parallel(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			x, y := i%w, i/w
			neighbours(i, w, h, func(j int) { offer(&seed[i], level[i], x, y, seedAt{int32(j % w), int32(j / w)}) })
		}
	})
	// one round finds what two do (the expansion's PSNR on rocket ×8 at
	// b 19.2 alike to 0.01 dB)
	sweep(w, h, 1, func(i, j, x, y int) {
		si, sj, li := &seed[i], &seed[j], level[i]
		if *si == *sj {
			return // a neighbour's seeds are most often the sample's own
		}
		for t := range kernels.SeedTiers {
			// a seed that tiers share was offered whole with the first
			if s := sj[t]; s.x >= 0 && (t == 0 || s != sj[t-1]) {
				offer(si, li, x, y, s)
			}
		}
	})
	out := make([]int32, n)
	for i := range seed {
		out[i] = -1
		if s := seed[i][0]; s.x >= 0 {
			out[i] = s.y*int32(w) + s.x
		}
	}
	return out
}

// dist2 is the squared distance from (x, y) to (sx, sy).
func dist2(x, y int, sx, sy int32) int64 {
	dx, dy := int64(x)-int64(sx), int64(y)-int64(sy)
	return dx*dx + dy*dy
}

// concurrently runs fs side by side and returns when all have.
func concurrently(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// neighbours calls f with each of sample i's four neighbours.
func neighbours(i, w, h int, f func(j int)) {
	x, y := i%w, i/w
	if x > 0 {
		f(i - 1)
	}
	if x+1 < w {
		f(i + 1)
	}
	if y > 0 {
		f(i - w)
	}
	if y+1 < h {
		f(i + w)
	}
}

// sweep runs rounds of the raster passes of vector propagation (down and
// up, each row both ways): relax(i, j, x, y) lets sample i, at (x, y),
// take neighbour j's seed.
func sweep(w, h, rounds int, relax func(i, j, x, y int)) {
	for range rounds {
		for y := range h {
			for x := range w {
				i := y*w + x
				if x > 0 {
					relax(i, i-1, x, y)
				}
				if y > 0 {
					relax(i, i-w, x, y)
					if x > 0 {
						relax(i, i-w-1, x, y)
					}
					if x+1 < w {
						relax(i, i-w+1, x, y)
					}
				}
			}
			for x := w - 1; x > 0; x-- {
				relax(y*w+x-1, y*w+x, x-1, y)
			}
		}
		for y := h - 1; y >= 0; y-- {
			for x := w - 1; x >= 0; x-- {
				i := y*w + x
				if x+1 < w {
					relax(i, i+1, x, y)
				}
				if y+1 < h {
					relax(i, i+w, x, y)
					if x+1 < w {
						relax(i, i+w+1, x, y)
					}
					if x > 0 {
						relax(i, i+w-1, x, y)
					}
				}
			}
			for x := 0; x+1 < w; x++ {
				relax(y*w+x+1, y*w+x, x+1, y)
			}
		}
	}
}

// bandGeometry marks the samples of strokes among the bands (band labels
// them, kernels.BandLabels) and returns each sample's band depth and its
// own distance from the band's rim (1 on the rim; rim is Contours.Rim).
// A band's depth is the radius of the
// largest disc inside it, 1 + the greatest distance of its samples from a
// sample that touches another level; a stroke is shallow and long
// (strokeDepth, strokeLong). A staircase's steps are deep, or two-sided;
// noise specks are short.
func bandGeometry(band []int32, rim []float64) (stroke []bool, depth, near []float32) {
	n := len(band)
	deepest := make([]float64, n)
	area := make([]int32, n)
	for i, r := range band {
		deepest[r] = max(deepest[r], rim[i])
		area[r]++
	}
	stroke, depth, near = make([]bool, n), make([]float32, n), make([]float32, n)
	kernels.Parallel(n, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			r := band[i]
			// depth counts the sample itself: a band one sample wide is 1 deep
			d := 1 + math.Sqrt(deepest[r])
			stroke[i] = d < strokeDepth && float64(area[r]) > strokeLong*math.Pi*d*d
			depth[i], near[i] = float32(d), float32(1+math.Sqrt(rim[i]))
		}
	})
	return stroke, depth, near
}
