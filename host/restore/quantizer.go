package restore

import (
	"fmt"
	"math"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// BlindRange is the range of b a blind restore searches.
var BlindRange = estimate.Range{Min: 5, Max: 30}

// Quantizer is the quantizer a dequantization undoes, and where it came
// from: "flag" (given), "pair" (estimated from an original) or "blind"
// (from the quantized image's values alone). Note, when set, says why an
// original was given but not used.
type Quantizer struct {
	Model     kernels.Model
	B         float64
	BFrom     string
	ModelFrom string
	Note      string
}

// FindQuantizer resolves the quantizer of q: b as given (NaN: unknown)
// and the model among models (several: the one that fits best), from the
// pair with orig when there is one, else blindly from q.
func FindQuantizer(q, orig *imageset.Image, b float64, models []kernels.Model) (Quantizer, error) {
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
		_, rs, err := estimate.EstimateModels(set, false, estimate.Settings{}, models, nil)
		if err != nil {
			return r, err
		}
		// a pair that no quantizer explains sample by sample (dithered: a
		// sample may be stored a level or two from its cell) fits best
		// with narrow cells that hold the dither as detail; where the
		// stored values lie on a lattice, its cells serve better (ffmpeg's
		// rgb444 of camera: +0.0 dB from the pair's b, +4.6 from the
		// lattice's). Values on none (a palette, levels beyond
		// BlindRange) keep the pair's b (ffmpeg's rgb565 of camera: +1.4
		// dB, against −0.3 from the best lattice in range).
		levels := estimate.ResidualLevels(rs[0].Loss, kernels.Loss{}.WithDefaults(), set.TargetStep())
		if !rs[0].Blocks && levels > estimate.PoorFitLevels {
			if lattice, noisy, err := blindQuantizer(r, q, models); err == nil && !noisy {
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

// blindQuantizer completes r, b unknown (NaN) or given, from q's values
// alone; noisy says that they lie on no lattice (estimate.BlindResult).
func blindQuantizer(r Quantizer, q *imageset.Image, models []kernels.Model) (_ Quantizer, noisy bool, _ error) {
	b := r.B
	rep, err := estimate.EstimateBlindSet(&imageset.Set{Filtered: []*imageset.Image{q}}, false, models, BlindRange)
	if err != nil {
		if !math.IsNaN(b) {
			return r, false, fmt.Errorf("choosing the model blindly (name it): %w", err)
		}
		return r, false, fmt.Errorf("estimating b blindly (give b or an original): %w", err)
	}
	if r.Model, err = kernels.ParseModel(rep.Results[0].Model); err != nil {
		return r, false, err
	}
	if math.IsNaN(b) {
		r.B, r.BFrom = rep.Results[0].B, "blind"
	}
	if len(models) > 1 {
		r.ModelFrom = "blind"
	}
	return r, rep.Results[0].Noisy, nil
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
	p, cell, err := Dequantization(q, qz.Model, qz.B, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: DefaultFidelity})
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
