package estimate

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// crop8 returns the w×h window of an 8-bit photo at (x0, y0).
func crop8(src *imageset.Image, x0, y0, w, h int) *imageset.Image {
	im := &imageset.Image{Name: src.Name, W: w, H: h, Channels: src.Channels}
	for _, pl := range src.Pix8 {
		out := make([]uint8, w*h)
		for y := range h {
			copy(out[y*w:(y+1)*w], pl[(y0+y)*src.W+x0:][:w])
		}
		im.Pix8 = append(im.Pix8, out)
	}
	return im
}

// textured draws size×size crops of src until one has at least 64
// distinct values in every channel: a photo's flat margins (the retina's
// black surround) say nothing about a filter.
func textured(r *rand.Rand, src *imageset.Image, size int) *imageset.Image {
	for {
		im := crop8(src, r.IntN(src.W-size), r.IntN(src.H-size), size, size)
		rich := true
		for _, pl := range im.Pix8 {
			var seen [256]bool
			n := 0
			for _, v := range pl {
				if !seen[v] {
					seen[v] = true
					n++
				}
			}
			rich = rich && n >= 64
		}
		if rich {
			return im
		}
	}
}

// applyStack runs a stack on an image, stored as a file would hold it.
func applyStack(t testing.TB, im *imageset.Image, st *kernels.Stack, p []float64) *imageset.Image {
	q, err := ApplyStack(im, st, p)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSpatialStacks: stacks with an image operator before the quantizer,
// applied to crops of the colour photos and stored as 8-bit, with the
// issue's bounds and counts: saturation within 0.02 and b within 0.05 in
// 38 of 40 trials; blur's σ within 5% in 18 of 20 (ImageMagick's own blur
// in cmd/quantfit); a colour matrix within 0.1 of the identity, entries
// within 0.02, in 18 of 20. -short runs 2 trials of each, both within.
// QUANTFIT_SPATIAL_TRIALS sets the trials per stack, the share the same.
func TestSpatialStacks(t *testing.T) {
	for _, c := range []struct {
		spec   string
		trials int
	}{{"saturation,quantize", 10}, {"blur,quantize", 5}, {"colormatrix,quantize", 5}} {
		// CI runs these counts (a fixed seed: the same trials each run);
		// the acceptance trial's 40, 20 and 20 run with
		// QUANTFIT_SPATIAL_TRIALS (bench/RESULTS.md).
		n, size := spatialTrialCount(c.trials), 160
		if testing.Short() {
			n, size = 1, 96
		}
		spatialTrials(t, c.spec, n, size, Settings{})
	}
}

// spatialTrialCount is n, or QUANTFIT_SPATIAL_TRIALS where set.
func spatialTrialCount(n int) int {
	if v, err := strconv.Atoi(os.Getenv("QUANTFIT_SPATIAL_TRIALS")); err == nil && v > 0 {
		return v
	}
	return n
}

// spatialShare is the share of trials a stack must get within bounds: the
// issue's 95% for saturation, 90% for the others; all of two or fewer.
func spatialShare(spec string, trials int) int {
	share := 0.9
	if spec == "saturation,quantize" {
		share = 0.95
	}
	if trials <= 2 {
		return trials
	}
	return int(math.Ceil(share * float64(trials)))
}

// spatialTrials fits spec to size×size crops of the colour photos filtered
// at random parameters (saturation in [0, 2], σ in [0.5, 3], a matrix
// within 0.1 of the identity, b in [5, 30]) and fails unless
// spatialShare of them land within the bounds.
func spatialTrials(t *testing.T, spec string, trials, size int, s Settings) {
	r := rand.New(rand.NewPCG(9, uint64(len(spec))))
	var colour []*imageset.Image
	for _, im := range loadPhotos(t) {
		if im.Channels == 3 && im.Pix8 != nil && im.W > size+40 && im.H > size+40 {
			colour = append(colour, im)
		}
	}
	st, err := kernels.ParseStack(spec, kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for i := range trials {
		src := colour[i%len(colour)]
		im := textured(r, src, size)
		ps := st.Params()
		truth := make([]float64, len(ps))
		for j, pp := range ps {
			truth[j] = pp.Init
		}
		switch spec {
		case "saturation,quantize":
			truth[0] = 2 * r.Float64()
		case "blur,quantize":
			truth[0] = 0.5 + 2.5*r.Float64()
		default:
			for j := range 9 {
				truth[j] += 0.2 * (r.Float64() - 0.5)
			}
		}
		nb := len(truth) - 1
		truth[nb] = 5 + 25*r.Float64()
		set := &imageset.Set{Pairs: []imageset.Pair{{Orig: im, Quant: applyStack(t, im, st, truth)}}}
		_, rs, err := EstimateStackSet(set, false, st, ps, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := rs[0]
		worst := 0.0
		for j := range truth[:nb] {
			worst = math.Max(worst, math.Abs(res.Params[j].Value-truth[j]))
		}
		db := math.Abs(res.Params[nb].Value - truth[nb])
		good := worst <= 0.02 && db <= 0.05
		if spec == "blur,quantize" {
			good = worst <= 0.05*truth[0] && db <= 0.05
		}
		if good {
			ok++
		}
		t.Logf("%s %s on %s: worst parameter off by %.4f, b %.3f (truth %.3f), loss %.3g, %.1f s", spec, src.Name, res.Backend, worst, res.Params[nb].Value, truth[nb], res.Loss, res.Seconds)
		if !good {
			t.Logf("%s %s: outside the bounds: parameters %v, truth %v", spec, src.Name, res.Params, truth)
		}
	}
	t.Logf("%s: %d/%d trials within bounds", spec, ok, trials)
	if need := spatialShare(spec, trials); ok < need {
		t.Errorf("%s: %d of %d trials within bounds, want %d", spec, ok, trials, need)
	}
}

// TestSpatialStackOnTiles: an image larger than the tile budget is fitted
// on tiles with borders, and finds what a fit on the whole image finds:
// σ and b, with the tiles, the held-out loss and the whole image's loss
// in the result.
func TestSpatialStackOnTiles(t *testing.T) {
	var src *imageset.Image
	for _, im := range loadPhotos(t) {
		if im.Channels == 3 && im.Pix8 != nil && im.W >= 400 && im.H >= 300 {
			src = im
			break
		}
	}
	w, h, budget := 400, 300, 32768 // two tiles of 128²
	if testing.Short() {
		w, h, budget = 300, 200, 16384
	}
	im := crop8(src, 0, 0, w, h)
	st, err := kernels.ParseStack("blur,quantize", kernels.Config{Model: kernels.Posterize, OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	truth := []float64{1.7, 11}
	set := &imageset.Set{Pairs: []imageset.Pair{{Orig: im, Quant: applyStack(t, im, st, truth)}}}
	ps := st.Params()
	ps[1].Lo, ps[1].Hi = 2, 64
	var seen []Progress
	s := Settings{Model: kernels.Posterize, TileBudget: budget, Progress: func(p Progress) { seen = append(seen, p) }}
	_, rs, err := EstimateStackSet(set, false, st, ps, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkProgress(t, seen, []string{"tiles", "cells", "refine", "intervals", "held-out", "whole", "done"})
	r := rs[0]
	tr := r.Tiles
	if tr == nil {
		t.Fatalf("a %d-pixel image over a %d budget was not fitted on tiles", w*h, budget)
	}
	t.Logf("σ %.4f b %.4f: %v", r.Value("sigma"), r.Value("b"), tr)
	if math.Abs(r.Value("sigma")-truth[0]) > 0.02*truth[0] || math.Abs(r.Value("b")-truth[1]) > 0.05 {
		t.Errorf("σ %.4f, b %.4f on tiles; truth %v", r.Value("sigma"), r.Value("b"), truth)
	}
	if tr.Pixels > budget || tr.Tiles == 0 || tr.Border != 12 || tr.Total != w*h || tr.HeldOutPixels == 0 {
		t.Errorf("tile report %+v", tr)
	}
	// the answer explains the held-out tiles and the whole image as well
	// as the training tiles: every sample within a rounding of its cell
	for name, l := range map[string]float64{"train": tr.TrainLoss, "held out": tr.HeldOutLoss, "whole": tr.WholeLoss} {
		if !(l >= 0 && l < 1e-5) {
			t.Errorf("%s loss %g", name, l)
		}
	}
	if testing.Short() {
		return
	}
	// a negative budget reads the whole image
	s.TileBudget = -1
	if _, rs, err := EstimateStackSet(set, false, st, ps, s, nil); err != nil || rs[0].Tiles != nil {
		t.Errorf("TileBudget -1: tiles %+v (%v)", rs[0].Tiles, err)
	}
}

// checkProgress checks what a fit's Progress said: the stages in order
// (a refit may repeat some), Done never falling and 1 at the end, passes
// counted, and the bar filled at a pace: no stage jumps it by more than
// half.
func checkProgress(t *testing.T, seen []Progress, stages []string) {
	t.Helper()
	if len(seen) == 0 {
		t.Fatal("no progress reported")
	}
	var names []string
	prev := Progress{}
	for i, p := range seen {
		if p.Done < prev.Done || p.Done > 1 || p.Passes < prev.Passes {
			t.Fatalf("progress %d: %+v after %+v", i, p, prev)
		}
		if p.Done-prev.Done > 0.5 {
			t.Errorf("progress %d: the bar jumps from %.3f to %.3f", i, prev.Done, p.Done)
		}
		if len(names) == 0 || names[len(names)-1] != p.Stage {
			names = append(names, p.Stage)
		}
		prev = p
	}
	if last := seen[len(seen)-1]; last.Done != 1 || last.Stage != "done" || last.Passes < 10 {
		t.Errorf("the last progress is %+v", last)
	}
	// each stage expected appears, in order
	k := 0
	for _, n := range names {
		if k < len(stages) && n == stages[k] {
			k++
		}
	}
	if k != len(stages) {
		t.Errorf("stages %v, want %v in this order", names, stages)
	}
}
