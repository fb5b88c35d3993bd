package restore

import (
	"math"
	"slices"

	"github.com/quantfit/quantfit/kernels"
)

// Dither is an ordered dither that a quantizer's samples went through
// (ImageMagick's -ordered-dither and halftone maps, the low-depth formats
// of ffmpeg's swscale): a threshold that repeats every P samples across
// and down was added to each value, in cells, before the quantizer took
// its floor. A sample of channel c at (x, y), stored at level v, came
// from [v − t·Δ, v + (1 − t)·Δ), t = T[c][(y mod P)·P + x mod P] in
// [0, 1] and Δ its cell's width: not from the cell about v, which holds
// it only where t is a half. The dither's own pattern is then no detail
// of the scene, and a restore within these cells takes it out.
//
// P 0 is an error diffusion instead (diffusion.go): no pattern, no T; a
// sample lies about its neighbours' mean, not in a cell.
type Dither struct {
	P int
	T [][]float32
}

// The dither search (findDither): the periods it tries (ImageMagick's
// ordered maps 2×2, 3×3, 4×4 and 8×8, its halftone and circle maps 4×4
// to 8×8 and 16×16, swscale's 2×2 to 8×8), the crop it reads (a centred
// square, enough for 256 phases), and the resolution of a threshold.
var ditherPeriods = []int{2, 3, 4, 5, 6, 7, 8, 16}

const (
	ditherCrop = 1024
	ditherBins = 128
)

// ditherFit is how a period's thresholds explain a channel's levels:
// misses counts the samples they mispredict, fitted on one half of the
// crop (a checkerboard of ditherBlock squares) and tried on the other,
// both ways, so that a longer period's more thresholds gain nothing by
// fitting the noise; plain is the same for one threshold for all, read
// the samples tried; t the thresholds fitted on all of them.
type ditherFit struct {
	misses, plain, read int
	t                   []float32
}

// ditherWindow is the side of the window whose mean stands for a
// sample's undithered value under a dither of period P: the least
// multiple of P from 12 (so that it meets every phase as often), wide
// enough that a window's mean moves in steps finer than the bins.
func ditherWindow(P int) int { return P * ((12 + P - 1) / P) }

// ditherBlock is the side of the squares of fitDither's two halves.
const ditherBlock = 64

// fitDither fits P×P thresholds to the level indices k of one channel
// in a crop (cw×ch, at x0, y0 in the image) whose prefix sums of k and
// k² are sum and sq: where the window about a sample holds two adjacent
// levels at most, its mean m stands for the sample's undithered value in
// levels, and the sample took the level above floor(m) exactly when
// frac(m) ≥ 1 − t. Each phase's t is the step that mispredicts the
// fewest of its samples, over frac(m) in ditherBins bins.
func fitDither(k []int32, x0, y0, cw, ch, P int, sum, sq []int64) ditherFit {
	at := func(s []int64, x, y int) int64 { return s[y*(cw+1)+x] }
	phases := P * P
	// counts[half][phase][bin], of the samples that took the level above
	// floor(m) and of those that did not
	ones := make([]int32, 2*phases*ditherBins)
	zeros := make([]int32, 2*phases*ditherBins)
	W := ditherWindow(P)
	n := float64(W * W)
	lo := -(W / 2)
	for y := -lo; y+lo+W <= ch; y++ {
		for x := -lo; x+lo+W <= cw; x++ {
			ax, ay, bx, by := x+lo, y+lo, x+lo+W, y+lo+W
			m := float64(at(sum, bx, by)-at(sum, ax, by)-at(sum, bx, ay)+at(sum, ax, ay)) / n
			v := float64(at(sq, bx, by)-at(sq, ax, by)-at(sq, bx, ay)+at(sq, ax, ay))/n - m*m
			if v > 0.25+1e-9 {
				// more than two adjacent levels: not smooth enough for
				// the mean to stand for the sample
				continue
			}
			fl := math.Floor(m)
			d := float64(k[y*cw+x]) - fl
			if d != 0 && d != 1 {
				continue
			}
			half := (x/ditherBlock + y/ditherBlock) % 2
			p := ((y0+y)%P)*P + (x0+x)%P
			b := (half*phases+p)*ditherBins + min(ditherBins-1, int((m-fl)*ditherBins))
			if d == 1 {
				ones[b]++
			} else {
				zeros[b]++
			}
		}
	}
	// step is the bin of the step that mispredicts the fewest of o (the
	// ones below it) and z (the zeros from it on); miss counts what a
	// step at bin j mispredicts
	miss := func(o, z []int32, j int) int {
		c := 0
		for b := range ditherBins {
			if b < j {
				c += int(o[b])
			} else {
				c += int(z[b])
			}
		}
		return c
	}
	step := func(o, z []int32) int {
		c := miss(o, z, 0)
		best, at := c, 0
		for j := range ditherBins {
			c += int(o[j]) - int(z[j])
			if c < best {
				best, at = c, j+1
			}
		}
		return at
	}
	sumOf := func(a, b []int32) []int32 {
		s := make([]int32, ditherBins)
		for i := range s {
			s[i] = a[i] + b[i]
		}
		return s
	}
	fit := ditherFit{t: make([]float32, phases)}
	var plain [2][2][]int32 // [half][ones, zeros]
	for h := range 2 {
		plain[h] = [2][]int32{make([]int32, ditherBins), make([]int32, ditherBins)}
	}
	for p := range phases {
		var o, z [2][]int32
		for h := range 2 {
			r := (h*phases + p) * ditherBins
			o[h], z[h] = ones[r:r+ditherBins], zeros[r:r+ditherBins]
			plain[h][0], plain[h][1] = sumOf(plain[h][0], o[h]), sumOf(plain[h][1], z[h])
		}
		for h := range 2 {
			fit.misses += miss(o[1-h], z[1-h], step(o[h], z[h]))
		}
		fit.t[p] = 1 - float32(step(sumOf(o[0], o[1]), sumOf(z[0], z[1])))/ditherBins
	}
	for h := range 2 {
		fit.plain += miss(plain[1-h][0], plain[1-h][1], step(plain[h][0], plain[h][1]))
		for b := range ditherBins {
			fit.read += int(plain[h][0][b] + plain[h][1][b])
		}
	}
	return fit
}

// findDither looks for an ordered dither in the level indices of each
// channel in a crop (cw×ch, at x0, y0 in the image): the period whose thresholds, over all
// channels, mispredict under ditherGain of what one threshold does, the
// fewest samples; the smallest of those within ditherTie of it (a
// period's multiples fit as well). nil where none does, or where too few
// samples were read to tell.
func findDither(levels [][]int32, x0, y0, cw, ch int) *Dither {
	sums, sqs := make([][]int64, len(levels)), make([][]int64, len(levels))
	for c, k := range levels {
		sum, sq := make([]int64, (cw+1)*(ch+1)), make([]int64, (cw+1)*(ch+1))
		for y := range ch {
			var rs, rq int64
			for x := range cw {
				v := int64(k[y*cw+x])
				rs, rq = rs+v, rq+v*v
				sum[(y+1)*(cw+1)+x+1] = sum[y*(cw+1)+x+1] + rs
				sq[(y+1)*(cw+1)+x+1] = sq[y*(cw+1)+x+1] + rq
			}
		}
		sums[c], sqs[c] = sum, sq
	}
	type period struct {
		share float64
		d     *Dither
	}
	// every period's fit of every channel, side by side
	nc := len(levels)
	fits := make([]ditherFit, len(ditherPeriods)*nc)
	jobs := make([]func(), len(fits))
	for j := range jobs {
		c := j % nc
		jobs[j] = func() { fits[j] = fitDither(levels[c], x0, y0, cw, ch, ditherPeriods[j/nc], sums[c], sqs[c]) }
	}
	concurrently(jobs...)
	var found []period
	best := math.Inf(1)
	for i, P := range ditherPeriods {
		misses, plain, read := 0, 0, 0
		d := &Dither{P: P}
		for _, f := range fits[i*nc : (i+1)*nc] {
			misses, plain, read = misses+f.misses, plain+f.plain, read+f.read
			d.T = append(d.T, f.t)
		}
		if read < ditherRead || float64(misses) >= ditherGain*float64(plain) {
			continue
		}
		share := float64(misses) / float64(read)
		found = append(found, period{share, d})
		best = min(best, share)
	}
	for _, f := range found {
		if f.share <= best*ditherTie {
			return f.d
		}
	}
	return nil
}

// A dither is found where its thresholds mispredict under ditherGain of
// what one threshold does, from ditherRead samples or more in windows of
// two levels.
const (
	ditherGain = 0.7
	ditherRead = 4096
	ditherTie  = 1.02
)

// cells turns the cells lo, hi of channel c's stored levels q (w wide,
// its table tab) into the dithered ones, in place, and returns their
// middles and the width Δ: the median of the table's cells that end
// inside (0, 1), the lattice's spacing (a levels table's per channel).
func (d *Dither) cells(c int, q, lo, hi []float32, tab cellTable, w int) (mid []float32, delta float32) {
	var widths []float32
	for v, b := range tab {
		if (v == 0 || tab[v-1] != b) && b.lo > 0 && b.hi < 1 {
			widths = append(widths, b.hi-b.lo)
		}
	}
	if len(widths) == 0 {
		return slices.Clone(q), 1
	}
	slices.Sort(widths)
	delta = widths[len(widths)/2]
	t := d.T[min(c, len(d.T)-1)]
	mid = make([]float32, len(q))
	kernels.Parallel(len(q), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			th := t[(i/w%d.P)*d.P+i%w%d.P]
			lo[i] = max(0, q[i]-th*delta)
			hi[i] = min(1, q[i]+(1-th)*delta)
			mid[i] = (lo[i] + hi[i]) / 2
		}
	})
	return mid, delta
}

// boxMean is the mean of v (w×h) over the P×P window from (x − P/2,
// y − P/2), cut at the plane's edges.
func boxMean(v []float32, w, h, P int) []float32 {
	rows := make([]float32, len(v))
	out := make([]float32, len(v))
	lo := P / 2
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				var s float32
				n := 0
				for xx := max(0, x-lo); xx < min(w, x-lo+P); xx++ {
					s += v[y*w+xx]
					n++
				}
				rows[y*w+x] = s / float32(n)
			}
		}
	})
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				var s float32
				n := 0
				for yy := max(0, y-lo); yy < min(h, y-lo+P); yy++ {
					s += rows[yy*w+x]
					n++
				}
				out[y*w+x] = s / float32(n)
			}
		}
	})
	return out
}

// dataWeights are the data term's weights of a channel under the
// dither, its cells' middles mid (w×h) on a lattice of spacing delta:
// the middles are the dither's noise about the scene, which a smooth
// region's data term would keep, so the weight follows the texture of
// the levels with the pattern taken out (the P×P mean of the middles, on
// the lattice again): 0 where no level changes within bandRadius, rising
// as √ρ to 1 from ditherTexture of the density at which DataWeights
// holds texture in full. On 10 dithered photographs (bench/RESULTS.md)
// against the stored levels' DataWeights, which see the dither as
// texture: retina +4.5 and +6.4 dB, the others −0.3 to +0.4.
func (d *Dither) dataWeights(mid []float32, w, h int, delta float32) []float32 {
	u := boxMean(mid, w, h, d.P)
	for i, v := range u {
		u[i] = float32(math.Round(float64(v/delta))) * delta
	}
	rho := changeDensity(u, w, h)
	kernels.Parallel(len(rho), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			rho[i] = min(1, float32(math.Sqrt(float64(rho[i]/ditherTexture))))
		}
	})
	return rho
}

// ditherTexture is the share of DataWeights' texture density from which a
// dithered image's data term is in full.
const ditherTexture = 1.0 / 16
