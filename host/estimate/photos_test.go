package estimate

import (
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

var (
	photoOnce sync.Once
	photoSet  []*imageset.Image
)

func loadPhotos(t testing.TB) []*imageset.Image {
	photoOnce.Do(func() {
		for _, n := range photos.Names() {
			im, err := photos.Load(n)
			if err != nil {
				t.Fatal(err)
			}
			photoSet = append(photoSet, im)
		}
	})
	return photoSet
}

// pairData quantizes a photo with the model at b, as an 8-bit file stores it.
func pairData(t testing.TB, im *imageset.Image, m kernels.Model, b float64) *Data {
	return pairOf(t, im, im.Filter(func(x float64) float64 { return m.Apply(x, b) }))
}

// pairOf is the data of the pair (im, q), every channel jointly.
func pairOf(t testing.TB, im, q *imageset.Image) *Data {
	p, err := imageset.NewPair(im, q)
	if err != nil {
		t.Fatal(err)
	}
	set := &imageset.Set{Pairs: []imageset.Pair{p}}
	all := make([]int, set.Channels())
	for i := range all {
		all[i] = i
	}
	d, err := FromSet(set, all)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// denseMin is the least exact loss over a grid of step 1e-4 on [5, 30].
func denseMin(t testing.TB, d *Data, m kernels.Model) float64 {
	o, err := newObjective(d, Settings{Model: m, Strategy: Auto{ScanPoints: 250001}}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	_, ls := o.scanGrid(250001)
	return ls[argmin(ls)]
}

// TestAutoOnPhotos is the acceptance test of auto: on real photographs,
// for 40 random b per model stored as 8-bit, auto finds the global minimum
// of the exact loss, lands within 0.02 of the truth in 95% of trials and
// within 0.1 in all, and reports an interval holding the truth in 95%.
func TestAutoOnPhotos(t *testing.T) {
	accuracyTrial(t)
	ims := loadPhotos(t)
	trials := 40
	if testing.Short() {
		trials = 8
	}
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate} {
		r := rand.New(rand.NewPCG(uint64(m)+1, 99))
		near, inside, worst := 0, 0, 0.0
		for i := 0; i < trials; i++ {
			im := ims[i%len(ims)]
			b := 5 + 25*r.Float64()
			d := pairData(t, im, m, b)
			res, err := Estimate(d, Settings{Model: m, Seed: uint64(i)})
			if err != nil {
				t.Fatal(err)
			}
			miss := math.Abs(res.B - b)
			worst = math.Max(worst, miss)
			if miss <= 0.02 {
				near++
			}
			if res.Interval[0] <= b && b <= res.Interval[1] {
				inside++
			}
			if miss > 0.02 {
				o, _ := newObjective(d, Settings{Model: m}.withDefaults())
				t.Logf("%v %s b=%.4f: got %.4f (loss %.3g, at truth %.3g, interval %.4f..%.4f)", m, im.Name, b, res.B, res.Loss, o.loss(b), res.Interval[0], res.Interval[1])
			}
			if i%4 == 0 || !testing.Short() {
				if dm := denseMin(t, d, m); res.Loss > dm*(1+1e-9)+1e-15 {
					t.Errorf("%v %s b=%.4f: auto loss %.12g above the dense scan's %.12g", m, im.Name, b, res.Loss, dm)
				}
			}
		}
		t.Logf("%v: within 0.02 in %d/%d, truth inside the interval in %d/%d, worst miss %.4f", m, near, trials, inside, trials, worst)
		if float64(near) < 0.95*float64(trials) || float64(inside) < 0.95*float64(trials) || worst > 0.1 {
			t.Errorf("%v: within 0.02 in %d/%d, inside the interval %d/%d, worst miss %.4f", m, near, trials, inside, trials, worst)
		}
	}
}

// TestPosterizeIntegerLevels: image editors posterize to an integer level
// count N; auto must give round(b) = N every time.
func TestPosterizeIntegerLevels(t *testing.T) {
	ims := loadPhotos(t)
	for n := 5; n <= 30; n++ {
		if testing.Short() && n%5 != 0 {
			continue
		}
		im := ims[n%len(ims)]
		res, err := Estimate(pairData(t, im, kernels.Posterize, float64(n)), Settings{Model: kernels.Posterize})
		if err != nil {
			t.Fatal(err)
		}
		if math.Round(res.B) != float64(n) {
			t.Errorf("posterize N=%d on %s: b = %.4f", n, im.Name, res.B)
		}
	}
}

// TestPlainGDReport measures what users get from Adam with a surrogate from
// a random start, the baseline auto is built to beat, on the same pairs as
// auto: plain gd stalls in most trials, auto lands in all but at most one.
func TestPlainGDReport(t *testing.T) {
	ims := loadPhotos(t)
	trials := 10
	for _, k := range []kernels.SurrogateKind{kernels.Identity, kernels.Atan} {
		r := rand.New(rand.NewPCG(7, uint64(k)))
		gd, auto := 0, 0
		for i := 0; i < trials; i++ {
			b := 5 + 25*r.Float64()
			d := pairData(t, ims[i%len(ims)], kernels.Midrise, b)
			res, err := Estimate(d, Settings{Strategy: GD{}, Surrogate: kernels.Surrogate{Kind: k},
				Optim: Optim{Method: "adam", Steps: 500}, Seed: uint64(100 + i)})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.B-b) <= 0.05 {
				gd++
			}
			if res, err = Estimate(d, Settings{Surrogate: kernels.Surrogate{Kind: k}, Seed: uint64(100 + i)}); err != nil {
				t.Fatal(err)
			}
			if math.Abs(res.B-b) <= 0.05 {
				auto++
			}
		}
		t.Logf("Adam + %v, random init, 500 steps: within 0.05 of the truth in %d/%d; auto %d/%d", k, gd, trials, auto, trials)
		if gd > trials/2 || auto < trials-1 {
			t.Errorf("%v: plain gd %d/%d, auto %d/%d within 0.05: want gd at most half, auto all but one", k, gd, trials, auto, trials)
		}
	}
}

// accuracyTrial skips t unless QUANTFIT_ACCURACY is set: the accuracy
// trials on photos take minutes, so they are opt-in; CI sets it and runs
// them all.
func accuracyTrial(t *testing.T) {
	t.Helper()
	if os.Getenv("QUANTFIT_ACCURACY") == "" {
		t.Skip("an accuracy trial on photos: set QUANTFIT_ACCURACY=1 to run it")
	}
}

// TestSixteenBitGrouped: a 16-bit photograph (8-bit levels spread over the
// 16-bit range) estimates in histogram mode from its one-pass groups, far
// fewer than its samples, and lands within 0.001 of the truth.
func TestSixteenBitGrouped(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 16))
	im := spread16(loadPhotos(t)[0], r)
	const b = 9.64
	d := pairData(t, im, kernels.Midrise, b)
	res, err := Estimate(d, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "hist" || math.Abs(res.B-b) > 1e-3 {
		t.Errorf("16-bit: b = %v in %s mode, want %v in hist", res.B, res.Mode, b)
	}
	w, err := d.grouped(kernels.MSE)
	if err != nil {
		t.Fatal(err)
	}
	if w.Len() >= d.Len()/4 {
		t.Errorf("%d groups of %d samples", w.Len(), d.Len())
	}
}

// spread16 is src with each 8-bit level k spread at random over the 16-bit
// levels 257k to 257k+256: many distinct values, as in a 16-bit photo.
func spread16(src *imageset.Image, r *rand.Rand) *imageset.Image {
	im := &imageset.Image{W: src.W, H: src.H, Channels: src.Channels}
	for _, p := range src.Pix8 {
		q := make([]uint16, len(p))
		for i, v := range p {
			q[i] = 257*uint16(v) + uint16(r.IntN(257))
		}
		im.Pix16 = append(im.Pix16, q)
	}
	return im
}

// TestSixteenBitModels: on 16-bit photographs with tens of thousands of
// groups, whose refinements run on the merged guide groups, every model
// lands within 0.001 of a random b (or the truth is in the reported
// interval of equal loss).
func TestSixteenBitModels(t *testing.T) {
	photos := loadPhotos(t)
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 9 {
		im := spread16(photos[trial%len(photos)], r)
		m := []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate}[trial%3]
		b := 5 + 25*r.Float64()
		res, err := Estimate(pairData(t, im, m, b), Settings{Model: m, Seed: uint64(trial)})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(res.B-b) > 1e-3 && (b < res.Interval[0] || b > res.Interval[1]) {
			t.Errorf("%v b=%v: got %v, interval %v", m, b, res.B, res.Interval)
		}
	}
}
