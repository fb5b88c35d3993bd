package restore

import (
	"slices"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// A colour palette (ImageMagick's -colors and -remap, ffmpeg's
// paletteuse, GIF and PNG8 files) stores each pixel as one of a few
// colours. A colour's cell is then a region of colour space, not a box of
// per-channel levels, and the levels' cells put the scene where it is not
// (retina in 16 colours by paletteuse without a dither: 39.71 dB stored,
// 29.35 restored within them). A palette is mostly written with an error
// diffusion (Floyd–Steinberg, Riemersma, Sierra; ffmpeg's 8-bit formats
// too), which hands each sample's error on to the samples after it: a
// region's mean keeps the scene's while its samples alternate between the
// colours about it, a colour or two from the scene, in no cell.
//
// Both are restored towards a local estimate of the scene instead
// (localEstimate): the neighbours' mean, kept as far as the image varies
// more than the palette's noise does, that noise set by a local test of
// the dither (paletteNoises); no cell is kept. A grey image is left to
// its levels' cells: in one channel they are the palette's own, and the
// restore within them did as well or better on grey palettes of 16 to 64
// levels, where the local estimate lost up to 1 dB on the finest
// (bench/RESULTS.md).

// The noise of a palette's samples about the scene, in units of the
// square of a colour's step to its neighbours (colourSteps): a uniform
// error over a step without a dither (1/12), and the dither's under an
// error diffusion. Measured with one noise for a whole image
// (bench/RESULTS.md): on three colour photographs' -colors 16 and 64,
// -colors 32 with Floyd–Steinberg, paletteuse at 16 and 64 and bgr8 (18
// diffused cases) a noise of 0.7, 1 and 1.5 gained +4.69, +4.77 and +4.74
// dB on average, the least +2.52, +2.26 and +1.77; on 18 undithered
// palettes of six photographs (+dither -colors 16, paletteuse=dither=none
// at 16 and 64) 1/12, 1/4 and 1 gained +0.33, +0.62 and +0.41, the least
// −0.06, −0.56 and −2.62 (hubble's noisy sky).
const (
	paletteNoise   = 1.0 / 12
	diffusionNoise = 1
)

// paletteColours is the most colours a palette holds (GIF's and PNG8's
// 256), and paletteShare the most of its channels' levels' combinations
// it takes: a quantizer of each channel (ffmpeg's bgr8 without a dither,
// posterize 6 in another gamma) takes most of its combinations that a
// photograph's colours reach, a palette few (16 colours of 16 levels a
// channel: 1/256 of them).
const (
	paletteColours = 256
	paletteShare   = 0.25
)

// paletteOf is the number of colours of q, a colour image, where they
// are a palette's (paletteColours at most, paletteShare of its channels'
// values' combinations at most), else 0.
func paletteOf(q *imageset.Image) int {
	if q.Channels < 3 {
		return 0
	}
	combos := 1.0
	for c := range q.Channels {
		combos *= float64(len(storedValues(q, c)))
	}
	seen := make(map[[3]uint16]struct{}, paletteColours+1)
	var last [3]uint16
	for i := range q.W * q.H {
		var k [3]uint16
		for c := range 3 {
			if q.Pix16 != nil {
				k[c] = q.Pix16[c][i]
			} else {
				k[c] = uint16(q.Pix8[c][i])
			}
		}
		// a palette's pixels mostly repeat their left neighbour's colour
		if i > 0 && k == last {
			continue
		}
		last = k
		if seen[k] = struct{}{}; len(seen) > paletteColours {
			return 0
		}
	}
	if float64(len(seen)) > paletteShare*combos {
		return 0
	}
	return len(seen)
}

// diffusionMin is the least diffusionScore of an error diffusion. On 60
// palettes and lattices of five photographs: clean quantizations and
// palettes without a dither 0.70 to 0.86, error-diffused colour palettes
// (-colors 16 to 64, paletteuse at 16 and 64, bgr8) 0.94 to 1.27; a
// photograph with noise, posterized, 0.93 to 1.0, on a lattice and so
// never asked.
const diffusionMin = 0.9

// diffusionLevels is the most levels a channel of an image that is no
// palette may take for its error diffusion to be told: finer levels step
// by 4 values of an 8-bit file or less, under a photograph's own noise,
// which dithers them alike (a contrast stretch of coffee, 104 levels a
// channel, scored 0.97). ffmpeg's bgr8 takes 8 and 4.
const diffusionLevels = 64

// diffusionScore is, over a crop's levels (cw×ch, all channels), how
// many pairs of neighbours differ in colour against how many pairs two
// apart do, across and down: a quantizer's regions meet along contours,
// which a pair two apart crosses twice as often as a pair of neighbours
// (under 1); noise dithers both alike (1); error diffusion spreads its
// colours apart, so that neighbours differ more often than samples two
// apart (over 1). pairs counts the pairs two apart that differ.
func diffusionScore(levels [][]int32, cw, ch int) (score float64, pairs int) {
	one, two := lagChanges(cw, ch, func(i, j int) bool {
		for _, k := range levels {
			if k[i] != k[j] {
				return true
			}
		}
		return false
	})
	var o, t float64
	for i := range one {
		o, t = o+float64(one[i]), t+float64(two[i])
	}
	if t == 0 {
		return 0, 0
	}
	return o / t, int(t)
}

// lagChanges counts, for each sample of a w×h image, how many of its
// neighbours to the right and below (one) and of the samples two apart
// there (two) differ from it.
func lagChanges(w, h int, differ func(i, j int) bool) (one, two []float32) {
	one, two = make([]float32, w*h), make([]float32, w*h)
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if x+1 < w && differ(i, i+1) {
					one[i]++
				}
				if y+1 < h && differ(i, i+w) {
					one[i]++
				}
				if x+2 < w && differ(i, i+2) {
					two[i]++
				}
				if y+2 < h && differ(i, i+2*w) {
					two[i]++
				}
			}
		}
	})
	return one, two
}

// grey says whether every channel of im holds the same values as the
// first.
func grey(im *imageset.Image) bool {
	for c := 1; c < im.Channels; c++ {
		if im.Pix16 != nil && !slices.Equal(im.Pix16[c], im.Pix16[0]) || im.Pix16 == nil && !slices.Equal(im.Pix8[c], im.Pix8[0]) {
			return false
		}
	}
	return true
}

// The local estimate's scales, in pixels.
const (
	// estimateSigma is the Gaussian whose mean of the stored samples
	// stands for the scene where the palette's noise dominates.
	estimateSigma = 0.7
	// estimateWindow is the Gaussian over which a sample's variance is
	// taken.
	estimateWindow = 1.0
)

// localEstimate is a channel's estimate of the scene under a palette, its
// stored values q and their level indices k (w×h, nk levels): the local
// mean m, moved back towards the stored value as far as the samples about
// it vary more than the palette's noise alone would (a local Wiener
// filter): m + v/(v + n)·(q − m), v the local variance less n, n the
// sample's noise (paletteNoises) times the square of its level's step
// (colourSteps). Texture, edges and
// fine palettes keep their samples; a dithered flat takes its mean.
func localEstimate(q []float32, k []int32, w, h, nk int, noise []float32) []float32 {
	step := colourSteps(q, k, w, h, nk)
	m := blur32(q, w, h, estimateSigma)
	sq := make([]float32, len(q))
	for i, v := range q {
		sq[i] = v * v
	}
	m1, m2 := blur32(q, w, h, estimateWindow), blur32(sq, w, h, estimateWindow)
	kernels.Parallel(len(q), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			s := step[k[i]]
			n := noise[i] * s * s
			v := max(0, m2[i]-m1[i]*m1[i]-n)
			if v+n > 0 {
				m[i] += v / (v + n) * (q[i] - m[i])
			}
		}
	})
	return m
}

// stepBins is the resolution of colourSteps' changes: 1/256.
const stepBins = 256

// colourSteps is, for each level index of a channel (nk of them), the
// median of the changes from a sample at that level to each of its four
// neighbours that holds another value in this channel: under error
// diffusion, the step to the colours it alternates with.
func colourSteps(q []float32, k []int32, w, h, nk int) []float32 {
	hist := make([]int64, nk*(stepBins+1))
	add := func(i, j int) {
		d := abs(q[i] - q[j])
		if d == 0 {
			return
		}
		b := min(stepBins, int(d*stepBins+0.5))
		hist[int(k[i])*(stepBins+1)+b]++
		hist[int(k[j])*(stepBins+1)+b]++
	}
	for y := range h {
		for x := range w {
			i := y*w + x
			if x+1 < w {
				add(i, i+1)
			}
			if y+1 < h {
				add(i, i+w)
			}
		}
	}
	step := make([]float32, nk)
	for l := range step {
		row := hist[l*(stepBins+1) : (l+1)*(stepBins+1)]
		var total, seen int64
		for _, c := range row {
			total += c
		}
		for b, c := range row {
			if seen += c; total > 0 && 2*seen >= total {
				step[l] = float32(b) / stepBins
				break
			}
		}
	}
	return step
}

// blur32 is v (w×h) blurred by the Gaussian of sigma, its taps those of
// kernels.GaussTaps, the edge samples replicated.
func blur32(v []float32, w, h int, sigma float64) []float32 {
	taps, _ := kernels.GaussTaps(sigma)
	r := len(taps) - 1
	tmp, out := make([]float32, len(v)), make([]float32, len(v))
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := v[y*w : (y+1)*w]
			for x := range w {
				s := float32(taps[0]) * row[x]
				for i := 1; i <= r; i++ {
					s += float32(taps[i]) * (row[max(x-i, 0)] + row[min(x+i, w-1)])
				}
				tmp[y*w+x] = s
			}
		}
	})
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				s := float32(taps[0]) * tmp[y*w+x]
				for i := 1; i <= r; i++ {
					s += float32(taps[i]) * (tmp[max(y-i, 0)*w+x] + tmp[min(y+i, h-1)*w+x])
				}
				out[y*w+x] = s
			}
		}
	})
	return out
}

// isDiffusion says whether a dither is an error diffusion (P 0), not an
// ordered one.
func (d *Dither) isDiffusion() bool { return d.P == 0 }

// Kind names the dither: "ordered" or "error diffusion".
func (d *Dither) Kind() string {
	if d.isDiffusion() {
		return "error diffusion"
	}
	return "ordered"
}

// The local test of an error diffusion (paletteNoises): the ratio of
// neighbours to samples two apart that differ in colour (diffusionScore's)
// over a Gaussian window of ditherReach, from contourRatio (a palette's
// bands: paletteNoise) to diffusedRatio (a dither: diffusionNoise). A
// photograph's own noise dithers a palette too, at a ratio about 1, as
// does Riemersma's diffusion (ImageMagick's -colors), so the test alone
// is cautious. Measured on 36 palettes of six colour photographs
// (bench/RESULTS.md): the test from 0.8 to 1 gained +1.84 dB on average,
// 4 cases under −0.1 dB (a noisy astrophotograph's 64 colours: −2.43);
// from 0.9 to 1.1 +1.72, 2 under (−1.08); from 0.95 to 1.2 +1.58, none
// under (the least −0.08), but chelsea's -colors 16 +3.60 where its
// diffusion found over the whole image (diffusionScore) gains +5.91. So
// an image whose diffusion is found takes diffusionNoise throughout, and
// the test serves the others (ihc's texture hides its dither from the
// whole image's score: +1.08 → +1.52 dB): +1.81 on average, 1 under
// (that astrophotograph, its background noise and faintest stars
// smoothed: −2.62).
const (
	ditherReach   = 4.0
	contourRatio  = 0.95
	diffusedRatio = 1.2
)

// paletteNoises is the noise of each sample of im, a palette, about the
// scene, in steps squared: diffusionNoise throughout where an error
// diffusion was found over the image (diffused); else paletteNoise where
// its colours form bands, diffusionNoise where they alternate as a
// dither's do (diffusionScore's ratio taken locally), between them in
// between, so that a palette diffused in its smooth regions but not in
// its texture is restored as each region needs.
func paletteNoises(im *imageset.Image, diffused bool) []float32 {
	w, h := im.W, im.H
	if diffused {
		n := make([]float32, w*h)
		for i := range n {
			n[i] = diffusionNoise
		}
		return n
	}
	one, two := lagChanges(w, h, func(i, j int) bool {
		for c := range im.Channels {
			if im.Value(c, i) != im.Value(c, j) {
				return true
			}
		}
		return false
	})
	one, two = blur32(one, w, h, ditherReach), blur32(two, w, h, ditherReach)
	kernels.Parallel(len(one), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			t := float32(0)
			if two[i] > 1e-3 {
				t = min(1, max(0, (one[i]/two[i]-contourRatio)/(diffusedRatio-contourRatio)))
			}
			one[i] = paletteNoise + t*(diffusionNoise-paletteNoise)
		}
	})
	return one
}
