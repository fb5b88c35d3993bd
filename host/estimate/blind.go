package estimate

import (
	"errors"
	"math"
	"slices"

	"github.com/quantfit/quantfit/kernels"
)

// BlindResult is b estimated from filtered images alone.
type BlindResult struct {
	B     float64 `json:"b"`
	Model string  `json:"model"`
	// Interval is the run of b around the answer whose stored levels are
	// the same set: every b in it makes exactly these images' values.
	Interval [2]float64 `json:"interval"`
	// Occupied is the number of distinct values in the images; Empty the
	// levels of the answer's lattice inside their range that no pixel
	// takes (a finer lattice, such as a multiple of b, leaves many).
	Occupied int `json:"occupied"`
	Empty    int `json:"empty"`
	// RivalB and RivalEmpty are the best other lattice that holds every
	// value, if any (NaN and -1 when none does).
	RivalB     Number `json:"rival_b"`
	RivalEmpty int    `json:"rival_empty"`
	// Misfit is the share of pixels whose value is on no level of the
	// answer's lattice: 0 for a clean quantization; more means noise
	// (compression, dithering) that blind mode does not model yet.
	Misfit float64 `json:"misfit"`
}

// blindStep is the grid of the blind scan in b; runs are refined to 1e-9.
const blindStep = 1e-3

// EstimateBlind estimates b of model m from the histogram of the filtered
// values alone (counts[v], v = 0..len(counts)−1, stored as v/(len(counts)−1)):
// every value of a clean quantization is one of its stored levels
// store((k + d)/s), so the answer is the b whose lattice holds every value
// and leaves the fewest of its levels inside the values' range empty. The
// fewest empty levels is what tells b from its multiples, whose finer
// lattices hold every value too. Among equal lattices the answer is the
// middle of their run of b.
func EstimateBlind(counts []uint64, m kernels.Model, r Range) (*BlindResult, error) {
	top := len(counts) - 1
	if top < 1 {
		return nil, errors.New("estimate: blind: no levels")
	}
	var vals []int
	total := uint64(0)
	for v, c := range counts {
		if c > 0 {
			vals = append(vals, v)
			total += c
		}
	}
	if len(vals) < 2 {
		return nil, errors.New("estimate: blind: the images take fewer than two values: no spacing to measure")
	}
	if r.Min <= m.MinB() {
		return nil, fieldErr("Range.Min", r.Min, "must exceed %v for %v", m.MinB(), m)
	}
	cfg := kernels.Config{Model: m, OutputLevels: float64(top)}
	lat := func(b float64) []int { return lattice(nil, cfg, b, top) }
	// fit is the misfit count and the empty levels of lattice l
	fit := func(l []int) (miss uint64, empty int) {
		for _, v := range vals {
			if _, ok := slices.BinarySearch(l, v); !ok {
				miss += counts[v]
			}
		}
		for _, v := range l {
			if v >= vals[0] && v <= vals[len(vals)-1] && counts[v] == 0 {
				empty++
			}
		}
		return miss, empty
	}
	type run struct {
		lo, hi float64
		miss   uint64
		empty  int
	}
	var runs []run
	var prev, cur []int
	n := int(math.Floor((r.Max-r.Min)/blindStep)) + 1
	for i := 0; i < n; i++ {
		b := r.Min + float64(i)*blindStep
		cur = lattice(cur[:0], cfg, b, top)
		if len(runs) > 0 && slices.Equal(prev, cur) {
			runs[len(runs)-1].hi = b
			continue
		}
		miss, empty := fit(cur)
		runs = append(runs, run{b, b, miss, empty})
		prev, cur = cur, prev
	}
	better := func(a, b run) bool {
		if a.miss != b.miss {
			return a.miss < b.miss
		}
		if a.empty != b.empty {
			return a.empty < b.empty
		}
		return a.lo < b.lo
	}
	best := 0
	for i := range runs {
		if better(runs[i], runs[best]) {
			best = i
		}
	}
	w := runs[best]
	// The run's ends between grid points, by bisection on its lattice.
	same := lat(w.lo)
	edge := func(in, out float64) float64 {
		for range 60 {
			mid := (in + out) / 2
			if slices.Equal(lat(mid), same) {
				in = mid
			} else {
				out = mid
			}
		}
		return in
	}
	lo, hi := w.lo, w.hi
	if best > 0 {
		lo = edge(w.lo, runs[best-1].hi)
	}
	if best+1 < len(runs) {
		hi = edge(w.hi, runs[best+1].lo)
	}
	res := &BlindResult{B: (lo + hi) / 2, Model: m.String(), Interval: [2]float64{lo, hi}, Occupied: len(vals),
		Empty: w.empty, Misfit: float64(w.miss) / float64(total), RivalB: Number(math.NaN()), RivalEmpty: -1}
	// The rival: the best run of another lattice that holds as many values
	// and is no neighbour of the answer's.
	rival := -1
	for i, rr := range runs {
		if i == best || rr.miss != w.miss || (rr.hi >= lo-2*blindStep && rr.lo <= hi+2*blindStep) {
			continue
		}
		if rival < 0 || better(rr, runs[rival]) {
			rival = i
		}
	}
	if rival >= 0 {
		res.RivalB, res.RivalEmpty = Number((runs[rival].lo+runs[rival].hi)/2), runs[rival].empty
	}
	return res, nil
}

// lattice appends to out the sorted distinct stored values, in units of
// 1/top, of every level the model makes for x in [0, 1] at b.
func lattice(out []int, cfg kernels.Config, b float64, top int) []int {
	c, _ := cfg.Model.Offsets()
	s := b - cfg.Model.Shift()
	for k := 0.0; ; k++ {
		x := math.Min(1, (k+0.5-c)/s) // the middle of level k's x (or 1)
		y := cfg.Exact(x, b)
		v := int(math.Round(y * float64(top)))
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
		if x >= 1 {
			return out
		}
	}
}
