package estimate

import (
	"math"
	"math/rand/v2"
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

// applyStack runs a stack on an image, stored as a file would hold it.
func applyStack(t testing.TB, im *imageset.Image, st *kernels.Stack, p []float64) *imageset.Image {
	q, err := ApplyStack(im, st, p)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSpatialStacks: stacks with an image operator before the quantizer,
// applied to crops of the colour photos and stored as 8-bit: saturation
// within 0.02 and blur's σ within 5%, b within 0.05, in every trial; a
// colour matrix within 0.1 of the identity is reported (its entries are
// weakly determined where a photo's channels move together) and must
// explain the targets.
func TestSpatialStacks(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var colour []*imageset.Image
	for _, im := range loadPhotos(t) {
		if im.Channels == 3 && im.Pix8 != nil && im.W > 200 && im.H > 200 {
			colour = append(colour, im)
		}
	}
	trials := 6
	if testing.Short() {
		trials = 2
	}
	for _, spec := range []string{"saturation,quantize", "blur,quantize", "colormatrix,quantize"} {
		st, err := kernels.ParseStack(spec, kernels.Config{OutputLevels: 255})
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for i := range trials {
			src := colour[i%len(colour)]
			im := crop8(src, r.IntN(src.W-160), r.IntN(src.H-160), 160, 160)
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
			_, rs, err := EstimateStackSet(set, false, st, ps, Settings{}, nil)
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
			t.Logf("%s %s: worst parameter off by %.4f, b %.3f (truth %.3f), loss %.3g, %.1f s", spec, src.Name, worst, res.Params[nb].Value, truth[nb], res.Loss, res.Seconds)
			if spec == "colormatrix,quantize" {
				if res.Loss > 1e-4 {
					t.Errorf("%s %s: loss %.3g: the fit does not explain the targets", spec, src.Name, res.Loss)
				}
			} else if !good {
				t.Errorf("%s %s: parameters %v, truth %v", spec, src.Name, res.Params, truth)
			}
		}
		t.Logf("%s: %d/%d trials within bounds", spec, ok, trials)
	}
}
