package estimate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// BlindReport is blind mode's answer for a set of filtered images: one
// result for their pooled channels, or one a channel.
type BlindReport struct {
	Mode       string         `json:"mode"`
	Images     int            `json:"images"`
	PerChannel bool           `json:"per_channel"`
	Results    []*BlindResult `json:"results"`
	// RunnerUp is, when several models were fitted, the next best of the
	// first result.
	RunnerUp *BlindRunnerUp `json:"runner_up,omitempty"`
}

// BlindRunnerUp is the next best model's fit. Tie means its lattice fits
// the values as well as the answer's: from the filtered images alone the
// two cannot be told apart (a pair can).
type BlindRunnerUp struct {
	Model  string  `json:"model"`
	B      float64 `json:"b"`
	Empty  int     `json:"empty"`
	Misfit float64 `json:"misfit"`
	Tie    bool    `json:"tie"`
}

// EstimateBlindSet estimates b from the filtered images of set alone
// (set.Filtered): the values of every channel pooled (a gray image counts
// once), or each channel alone, under each of models; the best fit is
// kept, a tie going to the earlier model.
func EstimateBlindSet(set *imageset.Set, perChannel bool, models []kernels.Model, r Range) (*BlindReport, error) {
	ims := set.Filtered
	if len(ims) == 0 {
		return nil, errors.New("estimate: blind: no filtered images")
	}
	if len(models) == 0 {
		return nil, errors.New("estimate: blind: no model to fit")
	}
	depth := ims[0].Depth()
	for _, im := range ims[1:] {
		if im.Depth() != depth {
			return nil, &imageset.InputError{Name: im.Name, Err: fmt.Errorf("%d-bit, but %s is %d-bit: blind mode counts the values of one depth", im.Depth(), ims[0].Name, depth)}
		}
	}
	groups := [][]int{{0, 1, 2}}
	if perChannel {
		groups = [][]int{{0}, {1}, {2}}
	}
	rep := &BlindReport{Mode: "blind", Images: len(ims), PerChannel: perChannel}
	for gi, g := range groups {
		counts := make([]uint64, 1<<depth)
		for _, im := range ims {
			for _, ch := range g {
				if len(g) > 1 && ch >= im.Channels {
					continue
				}
				ch = min(ch, im.Channels-1)
				if im.Pix16 != nil {
					for _, v := range im.Pix16[ch] {
						counts[v]++
					}
				} else {
					for _, v := range im.Pix8[ch] {
						counts[v]++
					}
				}
			}
		}
		var fits []*BlindResult
		for _, m := range models {
			f, err := EstimateBlind(counts, m, r)
			var fe *kernels.FieldError
			if err != nil && !errors.As(err, &fe) {
				// the values themselves cannot be read: the images' fault
				name := ims[0].Name
				if len(ims) > 1 {
					name = fmt.Sprintf("the %d filtered images", len(ims))
				}
				return nil, &imageset.InputError{Name: name, Err: err}
			}
			if err != nil {
				return nil, err
			}
			fits = append(fits, f)
		}
		slices.SortStableFunc(fits, blindRank)
		rep.Results = append(rep.Results, fits[0])
		if len(fits) > 1 && gi == 0 {
			next := fits[1]
			rep.RunnerUp = &BlindRunnerUp{next.Model, next.B, next.Empty, next.Misfit, blindRank(fits[0], next) == 0}
		}
	}
	return rep, nil
}

// blindRank orders fits of several models to the same values: clean fits
// first, by misfit, then the fewest empty levels; noisy ones by comb
// score.
func blindRank(a, b *BlindResult) int {
	switch {
	case a.Noisy != b.Noisy:
		if a.Noisy {
			return 1
		}
		return -1
	case a.Noisy:
		return cmp.Compare(b.Score, a.Score)
	}
	return cmp.Or(cmp.Compare(a.Misfit, b.Misfit), cmp.Compare(a.Empty, b.Empty))
}

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
	// Noisy is set when no lattice holds the values (more than
	// noisyMisfit of the pixels off every one): the answer is then the
	// lattice the values gather on most tightly, by Score.
	Noisy bool `json:"noisy"`
	// Score and RivalScore are the comb score (nats a pixel; see
	// noisyScore) of the answer's and the rival's lattice.
	Score      float64 `json:"score"`
	RivalScore Number  `json:"rival_score"`
	// Floor is set when the values fit only with every level stored
	// rounded down to the file's depth, not to the nearest value: what
	// ImageMagick writes (its -posterize 9 stores level 1 as 31/255, not
	// 32/255).
	Floor bool `json:"floor,omitempty"`
}

// noisyMisfit is the share of pixels off every lattice beyond which the
// values are taken as noisy (compressed, filtered after quantization).
const noisyMisfit = 1e-3

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
	comb := newComb(counts)
	floor := false // the answer's levels stored rounded down, as ImageMagick does
	lat := func(b float64) []int { return lattice(nil, cfg, b, top, floor) }
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
		score  float64 // the comb score of noisyScore
	}
	// scan cuts the grid of b into runs of one lattice; clean reports
	// whether one of them holds (nearly) every value
	scan := func(floor bool) (runs []run, clean bool) {
		var prev, cur []int
		n := int(math.Floor((r.Max-r.Min)/blindStep)) + 1
		for i := 0; i < n; i++ {
			b := r.Min + float64(i)*blindStep
			cur = lattice(cur[:0], cfg, b, top, floor)
			if len(runs) > 0 && slices.Equal(prev, cur) {
				runs[len(runs)-1].hi = b
				continue
			}
			miss, empty := fit(cur)
			runs = append(runs, run{b, b, miss, empty, comb.score(cur)})
			clean = clean || float64(miss) <= noisyMisfit*float64(total)
			prev, cur = cur, prev
		}
		return runs, clean
	}
	runs, clean := scan(false)
	if !clean {
		// the levels rounded down instead, which only a clean fit takes
		if fr, ok := scan(true); ok {
			runs, clean, floor = fr, true, true
		}
	}
	// noisy: no lattice holds (nearly) every value, so the values are
	// judged by how tightly they gather on a lattice, not whether they
	// are on it.
	noisy := !clean
	better := func(a, b run) bool {
		if noisy {
			return a.score > b.score || (a.score == b.score && a.lo < b.lo)
		}
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
		Empty: w.empty, Misfit: float64(w.miss) / float64(total), RivalB: Number(math.NaN()), RivalEmpty: -1,
		Noisy: noisy, Score: w.score, RivalScore: Number(math.NaN()), Floor: floor}
	// The rival: the best run of another lattice that holds as many values
	// and is no neighbour of the answer's. Noisy scores change little from
	// one lattice to the next, so there the neighbours reach 1% of b.
	near := 2 * blindStep
	if noisy {
		near = max(near, 0.01*res.B)
	}
	rival := -1
	for i, rr := range runs {
		if i == best || (!noisy && rr.miss != w.miss) || (rr.hi >= lo-near && rr.lo <= hi+near) {
			continue
		}
		if rival < 0 || better(rr, runs[rival]) {
			rival = i
		}
	}
	if rival >= 0 {
		res.RivalB, res.RivalEmpty = Number((runs[rival].lo+runs[rival].hi)/2), runs[rival].empty
		res.RivalScore = Number(runs[rival].score)
	}
	return res, nil
}

// lattice appends to out the sorted distinct stored values, in units of
// 1/top, of every level the model makes for x in [0, 1] at b: each level
// rounded to the nearest unit, or down where floor is set (less a hair
// of rounding, so that a level on a unit stays on it).
//
// A blind estimate scans b finely (blindStep), a lattice each, so the
// model's arithmetic is inlined here with its constants hoisted; it is
// cfg.Model.Apply's and cfg.Exact's, operation for operation.
func lattice(out []int, cfg kernels.Config, b float64, top int, floor bool) []int {
	c, d := cfg.Model.Offsets()
	s := b - cfg.Model.Shift()
	inv, levels := 1/s, cfg.OutputLevels
	invLevels, ftop := 1/levels, float64(top)
	for k := 0.0; ; k++ {
		x := math.Min(1, (k+0.5-c)/s) // the middle of level k's x (or 1)
		y := (math.Floor(x*s+c) + d) * inv
		y = min(max(y, 0), 1)
		var v int
		if floor {
			v = int(math.Floor(y*ftop + 1e-6))
		} else {
			if levels != 0 {
				y = math.Floor(y*levels+0.5) * invLevels
			}
			v = int(math.Round(y * ftop))
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
		if x >= 1 {
			return out
		}
	}
}

// comb scores lattices against a histogram of noisy values, on 8-bit
// units whatever the depth (the noise of compression is a few 8-bit
// steps).
type comb struct {
	h      [256]float64 // the histogram, in 8-bit bins
	lo, hi int          // the bins the values span, less their thinnest tails
	mass   float64      // the count in [lo, hi]
	top    int          // the depth's largest value
	cum    [257]float64 // cum[v] = Σ h[0:v]
	levels []int        // scratch: a lattice in 8-bit bins
}

// combTail is the share of the values left out at each end of their span:
// noise spreads beyond the extreme levels.
const combTail = 5e-4

func newComb(counts []uint64) *comb {
	c := &comb{top: len(counts) - 1}
	total := 0.0
	for v, n := range counts {
		c.h[c.bin(v)] += float64(n)
		total += float64(n)
	}
	acc := 0.0
	c.lo, c.hi = -1, 255
	for v, n := range c.h {
		acc += n
		if c.lo < 0 && acc > combTail*total {
			c.lo = v
		}
		if acc >= (1-combTail)*total {
			c.hi = v
			break
		}
	}
	for v := c.lo; v <= c.hi; v++ {
		c.mass += c.h[v]
	}
	for v, n := range c.h {
		c.cum[v+1] = c.cum[v] + n
	}
	return c
}

func (c *comb) bin(v int) int { return int(math.Round(float64(v) * 255 / float64(c.top))) }

// combBands is the number of distance bands of noisyScore: 0, 1, 2 and
// more 8-bit steps from the nearest level.
const combBands = 4

// score is the comb score of a lattice (stored values in the depth's
// units): the values' bins in [lo, hi] fall in bands by their distance
// to the nearest level; with M_k the share of the pixels in band k and
// n_k the share of the bins, the score is Σ M_k·log(M_k/n_k), the
// log-likelihood per pixel of a density constant on each band against a
// flat one. A lattice the values gather on puts most pixels in the
// narrow near bands; a multiple of b covers twice the bins for the same
// pixels, and a sub-multiple leaves the pixels of every other level far.
// Every lattice has the same four free shares, so none is favoured for
// its flexibility.
func (c *comb) score(lat []int) float64 {
	c.levels = c.levels[:0]
	for _, v := range lat {
		c.levels = append(c.levels, c.bin(v))
	}
	// the period: the mean spacing of the levels
	span := c.levels[len(c.levels)-1] - c.levels[0]
	half := max(1, span/(2*max(1, len(c.levels)-1)))
	var m, e [combBands]float64
	j := 0
	for v := c.lo; v <= c.hi; v++ {
		for j+1 < len(c.levels) && abs(c.levels[j+1]-v) <= abs(c.levels[j]-v) {
			j++
		}
		d := min(abs(c.levels[j]-v), combBands-1)
		m[d] += c.h[v]
		a, b := max(0, v-half), min(255, v+half)
		e[d] += (c.cum[b+1] - c.cum[a]) / float64(b-a+1)
	}
	et := 0.0
	for _, x := range e {
		et += x
	}
	s := 0.0
	for k := range combBands {
		if m[k] > 0 {
			p := m[k] / c.mass
			s += p * math.Log(p*et/e[k])
		}
	}
	return s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
