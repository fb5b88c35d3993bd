package restore

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/bench/peers"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// bands quantizes a plane of values at b (midrise), returning the stored
// values, cells and levels.
func bands(v []float64, b float64) (q, lo, hi []float32, lv []int32) {
	cells := kernels.NewCells(kernels.Midrise, b, 0, false)
	for _, x := range v {
		t := kernels.Midrise.Apply(x, b)
		k, _, _ := cells.Cell(t)
		l, h := cells.Bounds(t)
		q, lo, hi, lv = append(q, float32(t)), append(lo, float32(l)), append(hi, float32(h)), append(lv, int32(k))
	}
	return q, lo, hi, lv
}

// TestRamps: a slow diagonal ramp, bands about 40 samples wide, is put
// back on its ramp (the inner bands' samples within a tenth of a cell,
// against a quarter for the stored values); a single step between two
// flat regions (an edge) and noise keep their stored values.
func TestRamps(t *testing.T) {
	const w, h, b = 300, 200, 8.0
	v := make([]float64, w*h)
	for y := range h {
		for x := range w {
			v[y*w+x] = 0.1 + 0.8*(0.8*float64(x)+0.2*float64(y))/(0.8*w+0.2*h)
		}
	}
	q, lo, hi, lv := bands(v, b)
	est, alpha, _, _ := Ramps(q, lo, hi, lv, w, h, nil)
	var errStored, errRamp float64
	n := 0
	for i := range v {
		// the first and last bands meet one other level only
		if lv[i] <= lv[0]+0 || lv[i] >= lv[w*h-1] {
			continue
		}
		errStored += math.Abs(float64(q[i]) - v[i])
		errRamp += math.Abs(float64(est[i]) - v[i])
		n++
	}
	errStored, errRamp = errStored*b/float64(n), errRamp*b/float64(n)
	t.Logf("mean error in cells: stored %.3f, ramps %.3f", errStored, errRamp)
	if errRamp > 0.1 || errStored < 0.2 {
		t.Errorf("inner bands: mean error %.3f cells (stored %.3f); want under 0.1", errRamp, errStored)
	}
	// an edge: two flat regions one level apart
	for i := range v {
		v[i] = 0.44
		if i%w >= w/2 {
			v[i] = 0.56
		}
	}
	q, lo, hi, lv = bands(v, b)
	_, alpha, _, _ = Ramps(q, lo, hi, lv, w, h, nil)
	for i, a := range alpha {
		if a != 0 {
			t.Fatalf("an edge between flat regions: sample %d put on a ramp (alpha %v)", i, a)
		}
	}
	// texture: noise over a few levels
	r := rand.New(rand.NewPCG(1, 2))
	for i := range v {
		v[i] = 0.5 + 0.2*r.NormFloat64()
	}
	q, lo, hi, lv = bands(v, b)
	_, alpha, _, _ = Ramps(q, lo, hi, lv, w, h, nil)
	sum := 0.0
	for _, a := range alpha {
		sum += float64(a)
	}
	if sum/float64(len(alpha)) > 0.01 {
		t.Errorf("noise: mean ramp weight %.3f; want under 0.01", sum/float64(len(alpha)))
	}
}

// TestStrokes: a long line two samples wide, one level off its surround,
// is a stroke; a speck of the same depth, a wide band and the surround
// are not.
func TestStrokes(t *testing.T) {
	const w, h = 120, 80
	lv := make([]int32, w*h)
	for y := range h {
		for x := range w {
			switch {
			case x >= 60 && x < 62 && y >= 5 && y < 75:
				lv[y*w+x] = 1 // the line
			case x >= 10 && x < 12 && y >= 10 && y < 12:
				lv[y*w+x] = 1 // the speck
			case x >= 80:
				lv[y*w+x] = 2 // a band 40 wide
			}
		}
	}
	s, _, _ := geometry(lv, w, h)
	for _, c := range []struct {
		name   string
		x, y   int
		stroke bool
	}{{"line", 60, 40, true}, {"speck", 10, 10, false}, {"band", 100, 40, false}, {"surround", 30, 40, false}} {
		if got := s[c.y*w+c.x]; got != c.stroke {
			t.Errorf("%s: stroke %v, want %v", c.name, got, c.stroke)
		}
	}
}

// TestExtremes: the top band of a smooth hill, which meets only lower
// levels, falls towards its cell's lower edge at its rim and comes closer
// to the hill than its stored value; a region clipped at black beside a
// ramp keeps its stored value.
func TestExtremes(t *testing.T) {
	const w, h, b = 300, 300, 8.0
	v := make([]float64, w*h)
	for y := range h {
		for x := range w {
			r2 := float64((x-150)*(x-150) + (y-150)*(y-150))
			v[y*w+x] = 0.3 + 0.4*math.Exp(-r2/(2*70*70))
		}
	}
	q, lo, hi, lv := bands(v, b)
	est, _, _, _ := Ramps(q, lo, hi, lv, w, h, nil)
	top := lv[150*w+150]
	var errStored, errEst float64
	for i := range v {
		if lv[i] == top {
			errStored += math.Abs(float64(q[i]) - v[i])
			errEst += math.Abs(float64(est[i]) - v[i])
		}
	}
	t.Logf("top band: summed error stored %.2f, estimated %.2f", errStored, errEst)
	if errEst > 0.8*errStored {
		t.Errorf("top band: error %.4f against the stored %.4f; want a fifth less", errEst, errStored)
	}
	// black clipped beside a ramp
	for y := range h {
		for x := range w {
			v[y*w+x] = max(0, 0.6*float64(x-100)/float64(w))
		}
	}
	q, lo, hi, lv = bands(v, b)
	est, _, _, _ = Ramps(q, lo, hi, lv, w, h, nil)
	for i := range v {
		if lo[i] <= 0 && est[i] != q[i] {
			t.Fatalf("clipped sample %d moved from %v to %v", i, q[i], est[i])
		}
	}
}

// TestContourDistancesIsPeers: on a smooth field of hills and valleys
// the propagated seeds give the exact contour-distance expansion
// (bench/peers.DistanceBDE, an EDT per level) but at a few samples; a
// sample of a narrow band whose nearest lower level is a speck keeps its
// stored value.
func TestContourDistancesIsPeers(t *testing.T) {
	const w, h, b = 240, 160, 9.0
	v := make([]float64, w*h)
	for y := range h {
		for x := range w {
			v[y*w+x] = 0.5 + 0.2*math.Sin(float64(x)/23)*math.Cos(float64(y)/31) + 0.15*math.Sin(float64(x+2*y)/57)
		}
	}
	q, lo, hi, lv := bands(v, b)
	deep := make([]float32, w*h)
	for i := range deep {
		deep[i] = contourDepth
	}
	got, want := ContourDistances(q, lo, hi, SweepSeeds(lv, w, h), w, h, deep), peers.DistanceBDE(lv, lo, hi, w, h)
	off := 0
	for i := range got {
		if math.Abs(float64(got[i]-want[i]))*b > 0.02 {
			off++
		}
	}
	t.Logf("%d of %d samples differ from the exact expansion by more than 2%% of a cell", off, w*h)
	if off > w*h/100 {
		t.Errorf("%d of %d samples off the exact expansion; want under 1%%", off, w*h)
	}
	// a speck one level down inside a narrow band (its contours under
	// contourSpan apart) that meets a higher level
	for i := range v {
		v[i] = 0.2 + 0.6*float64(i%w)/w
	}
	q, lo, hi, lv = bands(v, b)
	k := lv[w*h/2+20]
	lv[w*h/2+20] = k - 1
	_, depth, _ := geometry(lv, w, h)
	got = ContourDistances(q, lo, hi, SweepSeeds(lv, w, h), w, h, depth)
	if i := w*h/2 + 22; got[i] != q[i] {
		t.Errorf("beside a speck: %v, want the stored %v", got[i], q[i])
	}
}

// geometry is bandGeometry of the plane lv as the CPU's Ramps finds it.
func geometry(lv []int32, w, h int) (stroke []bool, depth, near []float32) {
	return bandGeometry(kernels.BandLabels(lv, w, h), kernels.EDT(kernels.RimMask(lv, w, h), w, h))
}

// failing is a backend that finds no contours.
type failing struct{ CPU }

func (failing) Name() string { return "failing" }

func (failing) Contours([]int32, []int32, int, int) (kernels.Contours, error) {
	return kernels.Contours{}, errors.New("no room")
}

// TestBackendError: a backend's failure in the preparation is returned
// as a BackendError naming it, which callers tell from a refusal of the
// input (a 500, not a 400).
func TestBackendError(t *testing.T) {
	im := &imageset.Image{Name: "ramp", W: 64, H: 8, Channels: 1}
	pl := make([]uint8, im.W*im.H)
	for i := range pl {
		pl[i] = uint8(4 * (i % im.W))
	}
	im.Pix8 = [][]uint8{pl}
	_, _, _, err := Dequantize(im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, 6.3) }), nil, 6.3, nil, Settings{Backend: failing{}}, 8)
	var bad *BackendError
	if !errors.As(err, &bad) || bad.Backend != "failing" || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("got %v, want the backend's error named", err)
	}
}
