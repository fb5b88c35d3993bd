package restore

import (
	"errors"
	"fmt"
	"math"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// BlindRange is the range of b a restore searches, blind or from a pair:
// to 64, six bits, past the estimator's default 30, so that ffmpeg's
// rgb555 and posterize 32 to 48 are found, not taken for a lattice of half
// their levels (camera at posterize 32: −2.1 dB restored at b 16.5, +1.3 at
// b 32; bench/RESULTS.md).
var BlindRange = estimate.Range{Min: 5, Max: 64}

// Quantizer is the quantizer a dequantization undoes, and where it came
// from: "flag" (given), "pair" (estimated from an original) or "blind"
// (from the quantized image's values alone). Note, when set, is a caveat
// on b: an original given but not used, or the values taken as the
// levels.
type Quantizer struct {
	Model kernels.Model
	B     float64
	// Levels is set where no model's lattice holds the stored values but
	// they are few (levelsMax a channel at most): each is a level, its
	// cell reaching halfway to its neighbours (LevelsDequantization). B
	// is then the most levels a channel takes.
	Levels bool
	// Dither, where set, is the dither the samples went through: an
	// ordered one (findDither), whose cells they are restored in, or an
	// error diffusion of a colour image's levels (diffusionScore).
	Dither *Dither
	// Palette, where over 0, is the number of colours of a colour
	// image's palette (paletteOf). A palette's samples, and an error
	// diffusion's, are restored towards a local estimate of the scene,
	// not within cells (localEstimate).
	Palette   int
	BFrom     string
	ModelFrom string
	Note      string
}

// ErrNoLattice: a blind restore's image takes many values, on no
// quantizer's lattice.
var ErrNoLattice = errors.New("its values lie on no quantizer's lattice")

// levelsMax is the most values a channel may take for its values to be
// taken as the levels: 128, cells two values of an 8-bit file wide on
// average. A photograph never quantized, or one compressed after the
// quantizer, takes nearly all 256.
const levelsMax = 128

// ModelName is the quantizer's model, "levels" where Levels is set.
func (qz Quantizer) ModelName() string {
	if qz.Levels {
		return "levels"
	}
	return qz.Model.String()
}

// Dequantization is the problem of restoring q, stored by qz, with
// energy e (restore.Dequantization, or LevelsDequantization; in qz's
// dithered cells where it has a Dither).
func (qz Quantizer) Dequantization(q *imageset.Image, e kernels.Energy, be Backend) (*kernels.Restoration, float64, error) {
	tabs, scale, teacher, err := qz.tables(q)
	if err != nil {
		return nil, 0, err
	}
	return dequantization(q, tabs, scale, e, be, teacher, qz.Dither, qz.local())
}

// local says whether qz's samples are restored towards a local estimate
// of the scene rather than within cells: a colour palette's and an error
// diffusion's (palette.go).
func (qz Quantizer) local() bool {
	return qz.Palette > 0 || qz.Dither != nil && qz.Dither.isDiffusion()
}

// tables are the cells of q's stored values under qz, per channel (or one
// for all), the cells a unit and the in-cell regression's teacher.
func (qz Quantizer) tables(q *imageset.Image) ([]cellTable, float64, func(float64) (kernels.Model, float64), error) {
	if qz.Levels {
		tabs, scale, err := levelsTables(q)
		return tabs, scale, modelTeacher(kernels.Midrise, scale), err
	}
	tab, cells, err := modelTable(q, qz.Model, qz.B)
	return []cellTable{tab}, cells.S, modelTeacher(qz.Model, cells.S), err
}

// withDither sets qz's Dither where q's levels under it, in a centred
// crop of ditherCrop a side at most, show one, with a note: an ordered
// dither (findDither), else, for a colour palette (Levels), an error
// diffusion (diffusionScore).
func (qz Quantizer) withDither(q *imageset.Image) Quantizer {
	tabs, _, _, err := qz.tables(q)
	if err != nil {
		return qz
	}
	cw, ch := min(q.W, ditherCrop), min(q.H, ditherCrop)
	x0, y0 := (q.W-cw)/2, (q.H-ch)/2
	levels := make([][]int32, q.Channels)
	for c := range levels {
		tab := tabs[min(c, len(tabs)-1)]
		k := make([]int32, cw*ch)
		kernels.Parallel(ch, func(y1, y2 int) {
			for y := y1; y < y2; y++ {
				for x := range cw {
					i := (y0+y)*q.W + x0 + x
					if q.Pix16 != nil {
						k[y*cw+x] = tab[q.Pix16[c][i]].k
					} else {
						k[y*cw+x] = tab[q.Pix8[c][i]].k
					}
				}
			}
		})
		levels[c] = k
	}
	qz.Dither = findDither(levels, x0, y0, cw, ch)
	if qz.Dither == nil && qz.Levels && !grey(q) {
		qz.Palette = paletteOf(q)
		if score, pairs := diffusionScore(levels, cw, ch); pairs >= ditherRead && score >= diffusionMin && (qz.Palette > 0 || qz.B <= diffusionLevels) {
			qz.Dither = &Dither{}
		}
	}
	var note string
	switch {
	case qz.Dither != nil && !qz.Dither.isDiffusion():
		note = fmt.Sprintf("an ordered dither repeating every %d samples was found: each sample is restored within its dithered cell", qz.Dither.P)
	case qz.Dither != nil:
		note = "an error diffusion was found (neighbours differ in colour more often than samples two apart): each sample is restored towards its neighbours' mean, as far as the image varies no more than the dither, its cell not kept"
	case qz.Palette > 0:
		note = fmt.Sprintf("a palette of %d colours: each sample is restored towards its neighbours' mean, as far as the image varies no more than its colours' steps, its cell (a region of colour space, not its levels' box) not kept", qz.Palette)
	}
	if note != "" {
		if qz.Note != "" {
			note = qz.Note + "; " + note
		}
		qz.Note = note
	}
	return qz
}

// FindQuantizer resolves the quantizer of q: b as given (NaN: unknown)
// and the model among models (several: the one that fits best), from the
// pair with orig when there is one, else blindly from q; then the ordered
// dither its samples went through, if any (findDither).
func FindQuantizer(q, orig *imageset.Image, b float64, models []kernels.Model) (Quantizer, error) {
	r, err := findQuantizer(q, orig, b, models)
	if err != nil {
		return r, err
	}
	return r.withDither(q), nil
}

func findQuantizer(q, orig *imageset.Image, b float64, models []kernels.Model) (Quantizer, error) {
	if len(models) == 0 {
		models = estimate.ModelsFrom(BlindRange.Min)
	}
	r := Quantizer{Model: models[0], B: b, BFrom: "flag", ModelFrom: "flag"}
	switch {
	case orig != nil:
		pair, err := imageset.NewPair(orig, q)
		if err != nil {
			return r, err
		}
		set := &imageset.Set{Pairs: []imageset.Pair{pair}}
		_, rs, err := estimate.EstimateModels(set, false, estimate.Settings{Range: BlindRange}, models, nil)
		if err != nil {
			return r, err
		}
		// a pair that no quantizer explains sample by sample (dithered: a
		// sample may be stored a level or two from its cell) fits best
		// with the finest cells, which keep the dither as detail; where
		// most stored values lie on a lattice, its cells serve better
		// (ffmpeg's rgb444 of camera: +0.2 dB from the pair's b, +4.6
		// from the lattice's; rgb565, its green on a finer lattice than
		// red and blue: −0.2 and +1.9). Values on none (a palette) keep
		// the pair's b.
		levels := estimate.ResidualLevels(rs[0].Loss, kernels.Loss{}.WithDefaults(), set.TargetStep())
		if !rs[0].Blocks && levels > ditherLevels {
			if lattice, misfit, err := blindQuantizer(r, q, models); err == nil && misfit <= latticeMisfit {
				lattice.Note = fmt.Sprintf("the pair's best fit leaves residuals of about %.0f levels (dithered, or not a quantization of the original): b and the model come from the stored values' levels", levels)
				return lattice, nil
			}
		}
		r.B, r.BFrom = rs[0].B, "pair"
		if r.Model, err = kernels.ParseModel(rs[0].Model); err != nil {
			return r, err
		}
		if len(models) > 1 {
			r.ModelFrom = "pair"
		}
	case math.IsNaN(b) || len(models) > 1:
		r, _, err := blindQuantizer(r, q, models)
		return r, err
	}
	return r, nil
}

// A pair whose best fit leaves a typical residual of more than
// ditherLevels levels is no quantization sample by sample: clean ones
// leave under 1 (rounding, and ImageMagick's floored levels: 0.7 at
// posterize 32), dithered ones 3.8 (ffmpeg's rgb565) to 24 (its bgr8). Its
// stored values' lattice is taken instead when no more than latticeMisfit
// of them lie off it (rgb565: 0.40), or the values themselves as the
// levels where they are few (a -colors 16 palette; blindQuantizer).
const (
	ditherLevels  = 2
	latticeMisfit = 0.5
)

// blindQuantizer completes r, b unknown (NaN) or given, from q's values
// alone; misfit is the share of q's values off its lattice.
func blindQuantizer(r Quantizer, q *imageset.Image, models []kernels.Model) (_ Quantizer, misfit float64, _ error) {
	b := r.B
	rep, err := estimate.EstimateBlindSet(&imageset.Set{Filtered: []*imageset.Image{q}}, false, models, BlindRange)
	if err != nil {
		if !math.IsNaN(b) {
			return r, 1, fmt.Errorf("choosing the model blindly (name it): %w", err)
		}
		return r, 1, fmt.Errorf("estimating b blindly (give b or an original): %w", err)
	}
	res := rep.Results[0]
	if r.Model, err = kernels.ParseModel(res.Model); err != nil {
		return r, 1, err
	}
	if math.IsNaN(b) {
		r.B, r.BFrom = res.B, "blind"
	}
	if len(models) > 1 {
		r.ModelFrom = "blind"
	}
	// a lattice that holds the values but leaves more of its levels
	// between them empty than it fills holds them by its fineness (7
	// levels spaced in another gamma: posterize 50), not as their
	// quantizer: quantized photographs fill their levels (every clean
	// case measured left none empty)
	sparse := !res.Noisy && res.Empty > res.Occupied
	if (res.Noisy || sparse) && math.IsNaN(b) && len(models) > 1 {
		// no model's lattice holds the values, but they may be few: a
		// contrast stretch of an 8-bit file (its levels 3 or 4 values
		// apart, offset, much of it clipped: posterize 5 was the best
		// lattice, 47.9 → 30.3 dB), levels spaced in another gamma (+0.3
		// dB on the best lattice, +2.4 on the values), a palette. Each
		// value is then a level. Dithered files lose some: the wider
		// cells of a lattice coarser than the values leave the dither
		// room to smooth (ffmpeg's rgb565 of camera: +1.9 dB at posterize
		// 32, +0.35 on its values; bench/RESULTS.md).
		most := 0
		for c := range q.Channels {
			most = max(most, len(storedValues(q, c)))
		}
		if most <= levelsMax {
			r.Levels, r.B = true, float64(most)
			r.Note = fmt.Sprintf("no model's lattice holds the values as their quantizer (%.0f%% off the best, %d of its levels empty); the %d values a channel takes at most are taken as its levels", 100*res.Misfit, res.Empty, most)
			return r, 0, nil
		}
	}
	if res.Noisy && math.IsNaN(b) {
		// many values on no lattice: compressed after the quantizer, or
		// never quantized. The lattice they gather on most flattens the
		// second (video frames and JPEG photographs of the 14: −7.6 dB on
		// average, to −21) and serves the first poorly (posterized at 6,
		// 12 and 20 levels, then JPEG q 85: +0.26 dB on average, 16 of 56
		// below −0.1); no score of the values tells the two apart
		// (bench/RESULTS.md). So b is asked for, with the best guess.
		return r, 1, &imageset.InputError{Name: q.Name, Err: fmt.Errorf("%w (%.0f%% off the best, %s at b = %.4g): compressed after the quantizer, or never quantized, which a restore would flatten; give -b and -model to restore with a quantizer you know, or an original",
			ErrNoLattice, 100*res.Misfit, res.Model, res.B)}
	}
	return r, res.Misfit, nil
}

// Dequantize restores q as quantfit restore does by default: the
// quantizer FindQuantizer resolves (b NaN: from orig, else blindly; the
// model among models, all when empty), the edge-aware energy at
// DefaultFidelity, s's rule and steps, then s's passes of Consistent and
// the in-cell regression (Settings.Refine); the result at depth bits.
func Dequantize(q, orig *imageset.Image, b float64, models []kernels.Model, s Settings, depth int) (*imageset.Image, Quantizer, *Result, error) {
	qz, err := FindQuantizer(q, orig, b, models)
	if err != nil {
		return nil, qz, nil, err
	}
	p, cell, err := qz.Dequantization(q, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: DefaultFidelity}, s.Backend)
	if err != nil {
		return nil, qz, nil, err
	}
	switch {
	case s.Shrink == 0:
		s.Shrink = DefaultShrinkPasses
	case s.Shrink < 0:
		s.Shrink = 0
	}
	switch {
	case s.Refine == 0:
		s.Refine = 1
	case s.Refine < 0:
		s.Refine = 0
	}
	res, err := Run(p, cell, s)
	if err != nil {
		return nil, qz, nil, err
	}
	out, err := Image(res.Planes, q.W, q.H, depth, q.Name)
	return out, qz, res, err
}
