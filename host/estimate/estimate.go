package estimate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

func errorf(format string, args ...any) error {
	return fmt.Errorf("estimate: "+format, args...)
}

// Run is how an estimate was made, in a result and in a report.
type Run struct {
	Model     string `json:"model"`
	Surrogate string `json:"surrogate"`
	Optimizer string `json:"optimizer"`
	Strategy  string `json:"strategy"`
	Mode      string `json:"mode"`
	Backend   string `json:"backend"`
	Renderer  string `json:"renderer,omitempty"`

	Steps       int     `json:"steps"`
	Evaluations int     `json:"evaluations"`
	Seconds     float64 `json:"seconds"`
}

// Result is one estimated b and how it was found.
type Result struct {
	B    float64 `json:"b"`
	Loss float64 `json:"loss"`
	Run

	// RivalB and RivalLoss are the best minimum of the exact loss outside
	// the answer's basin; Margin is RivalLoss − Loss, negative when the
	// answer is not the global minimum found.
	RivalB    float64 `json:"rival_b"`
	RivalLoss float64 `json:"rival_loss"`
	Margin    float64 `json:"margin"`

	// Interval holds every b near the answer whose exact loss exceeds the
	// answer's by at most the loss of the worst rounding error of the
	// stored targets, ℓ(q/2) with q their level spacing: those b explain
	// the data as well as the answer within its rounding noise.
	Interval [2]float64 `json:"interval"`

	// Narrowed is set when the exact polish had to shrink its bracket to
	// fit its budget (very large non-8-bit data): the minimum is then
	// exact within the narrowed bracket only.
	Narrowed bool `json:"narrowed,omitempty"`

	// Blocks is set when the answer was chosen among the basins by block
	// means (lossy targets): BlockLoss is its mean squared block-mean
	// difference, BlockRivalB and BlockRivalLoss the best other basin's.
	Blocks         bool    `json:"blocks,omitempty"`
	BlockLoss      float64 `json:"block_loss,omitempty"`
	BlockRivalB    float64 `json:"block_rival_b,omitempty"`
	BlockRivalLoss float64 `json:"block_rival_loss,omitempty"`

	// PillowBits is, under the truncate model, the bits of Pillow's
	// ImageOps.posterize(bits) when its b = 255/2^(8−bits) lies in the
	// interval: that filter is exactly truncate at that b. 0 otherwise.
	PillowBits int `json:"pillow_bits,omitempty"`
}

// pillowBits is the bits of ImageOps.posterize that truncate at a b in
// iv is, or 0.
func pillowBits(m kernels.Model, iv [2]float64) int {
	if m != kernels.Truncate {
		return 0
	}
	for bits := 1; bits < 8; bits++ {
		b := 255 / float64(int(1)<<(8-bits))
		if tol := 1e-9 * b; b >= iv[0]-tol && b <= iv[1]+tol {
			return bits
		}
	}
	return 0
}

// Estimate fits b to d.
func Estimate(d *Data, s Settings) (*Result, error) {
	start := time.Now()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults()
	o, err := newObjective(d, s)
	if err != nil {
		return nil, err
	}
	defer o.close()
	r := &Result{Run: Run{
		Model: s.Model.String(), Surrogate: s.Surrogate.String(), Optimizer: s.Optim.Method,
		Strategy: s.Strategy.Name(), Mode: o.mode.String(), Backend: o.backend,
	}}
	if o.backend == "gpu" {
		r.Renderer = s.Backend.Renderer()
	}
	var b float64
	switch st := s.Strategy.(type) {
	case GD:
		b, err = o.gd(st)
	case Multistart:
		b, err = o.multistart(st)
	case Continuation:
		b, err = o.continuation(st)
	case Scan:
		b = o.scan(st)
	case Auto:
		b, r.Narrowed, err = o.auto(st)
	default:
		err = fieldErr("Strategy", s.Strategy.Name(), "fits a stack, not b alone")
	}
	if err != nil {
		return nil, err
	}
	if bl := o.blockLoss(); bl != nil {
		var rival candidate
		b, r.BlockLoss, rival = o.rankByBlocks(bl, b)
		r.Blocks, r.BlockRivalB, r.BlockRivalLoss = true, rival.b, rival.loss
	}
	r.B, r.Loss = b, o.loss(b)
	r.RivalB, r.RivalLoss = o.rival(b)
	r.Margin = r.RivalLoss - r.Loss
	r.Interval = o.interval(b, r.Loss)
	r.PillowBits = pillowBits(s.Model, r.Interval)
	r.Steps, r.Evaluations = o.steps, o.evals
	if err := o.err(); err != nil {
		// Never a wrong answer: a GPU that failed midway gave NaNs.
		if retryOnCPU(s.Backend, err) {
			s.Backend = CPU{}
			return Estimate(d, s)
		}
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// ModelsFrom are the models, in kernels.Models order, whose b can be as
// low as bmin: those -model auto fits.
func ModelsFrom(bmin float64) []kernels.Model {
	var ms []kernels.Model
	for _, name := range kernels.Models() {
		if m, _ := kernels.ParseModel(name); bmin > m.MinB() {
			ms = append(ms, m)
		}
	}
	return ms
}

// EstimateModels estimates set under each of models (s.Model ignored) and
// keeps the least summed loss. Every model has the one parameter b, so the
// least loss prefers none for its flexibility; a tie (within rounding)
// goes to the earlier of models. The report names the runner-up and its
// loss.
func EstimateModels(set *imageset.Set, perChannel bool, s Settings, models []kernels.Model, before func(group int)) (*Report, []*Result, error) {
	if len(models) == 0 {
		return nil, nil, errors.New("estimate: no model to fit")
	}
	type fit struct {
		rep   *Report
		rs    []*Result
		model kernels.Model
		loss  float64
	}
	var fits []fit
	for _, m := range models {
		sm := s
		sm.Model = m
		rep, rs, err := EstimateSet(set, perChannel, sm, before)
		if err != nil {
			return nil, nil, err
		}
		f := fit{rep, rs, m, 0}
		for _, r := range rs {
			f.loss += r.Loss
		}
		fits = append(fits, f)
	}
	slices.SortStableFunc(fits, func(a, b fit) int {
		if math.Abs(a.loss-b.loss) <= 1e-12*math.Max(a.loss, b.loss) {
			return 0
		}
		return cmp.Compare(a.loss, b.loss)
	})
	best := fits[0]
	if len(fits) > 1 {
		best.rep.RunnerUp = &RunnerUp{Model: fits[1].model.String(), Loss: fits[1].loss}
	}
	return best.rep, best.rs, nil
}

// EstimateSet estimates every channel group of set (see Groups) with s and
// summarizes them in a report. before, if set, is called with the group's
// index before each estimation (to tell a recorder which channel it sees).
func EstimateSet(set *imageset.Set, perChannel bool, s Settings, before func(group int)) (*Report, []*Result, error) {
	rs, err := eachGroup(set, perChannel, before, func(d *Data) (*Result, error) { return Estimate(d, s) })
	if err != nil {
		return nil, nil, err
	}
	rep := NewReport(rs, len(set.Pairs), set.Channels(), perChannel)
	return &rep, rs, nil
}

// EstimateStackSet fits the stack to every channel group of set, like
// EstimateSet; a stack with image operators is fitted to whole images,
// all channels together.
func EstimateStackSet(set *imageset.Set, perChannel bool, st *kernels.Stack, params []kernels.Param, s Settings, before func(group int)) (*StackReport, []*StackResult, error) {
	if st.Spatial() {
		if perChannel {
			return nil, nil, fieldErr("PerChannel", true, "stack %s reads across channels or pixels: fit its channels together", st.Name())
		}
		if len(set.Pairs) == 0 {
			return nil, nil, errors.New("estimate: a stack needs image pairs")
		}
		if before != nil {
			before(0)
		}
		r, err := estimateImageStack(set, st, params, s)
		if err != nil {
			return nil, nil, err
		}
		rep := NewStackReport([]*StackResult{r}, len(set.Pairs), set.Channels(), false)
		return &rep, []*StackResult{r}, nil
	}
	rs, err := eachGroup(set, perChannel, before, func(d *Data) (*StackResult, error) { return EstimateStack(d, st, params, s) })
	if err != nil {
		return nil, nil, err
	}
	rep := NewStackReport(rs, len(set.Pairs), set.Channels(), perChannel)
	return &rep, rs, nil
}

// eachGroup runs fit on the data of every channel group of set in turn.
func eachGroup[R any](set *imageset.Set, perChannel bool, before func(group int), fit func(*Data) (R, error)) ([]R, error) {
	var rs []R
	for i, g := range Groups(set, perChannel) {
		if before != nil {
			before(i)
		}
		d, err := FromSet(set, g)
		if err != nil {
			return nil, err
		}
		r, err := fit(d)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Groups returns the channel groups estimated separately: all channels
// pooled, or with perChannel one group per channel.
func Groups(set *imageset.Set, perChannel bool) [][]int {
	n := set.Channels()
	if perChannel {
		gs := make([][]int, n)
		for c := range gs {
			gs[c] = []int{c}
		}
		return gs
	}
	all := make([]int, n)
	for c := range all {
		all[c] = c
	}
	return [][]int{all}
}

func (o *objective) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(o.s.Seed, stream))
}

func (o *objective) init(b float64) float64 {
	if b != 0 {
		return b
	}
	return o.s.Range.Min + (o.s.Range.Max-o.s.Range.Min)*o.rng(1).Float64()
}

// gd is one gradient run from Init: what users try first.
func (o *objective) gd(st GD) (float64, error) {
	res, err := o.run(o.init(st.Init), o.s.Range.Min, o.s.Range.Max, o.s.Optim.Steps)
	if err != nil {
		return 0, err
	}
	return res.X[0], nil
}

// multistart runs gd from Starts points, one in each equal part of the
// range at a random offset, and keeps the least exact loss.
func (o *objective) multistart(st Multistart) (float64, error) {
	r := o.rng(2)
	best, bestLoss := 0.0, math.Inf(1)
	k := st.Starts
	w := (o.s.Range.Max - o.s.Range.Min) / float64(k)
	for i := 0; i < k; i++ {
		res, err := o.run(o.s.Range.Min+w*(float64(i)+r.Float64()), o.s.Range.Min, o.s.Range.Max, o.s.Optim.Steps)
		if err != nil {
			return 0, err
		}
		if l := o.loss(res.X[0]); l < bestLoss {
			best, bestLoss = res.X[0], l
		}
	}
	return best, nil
}

// continuation anneals the surrogate from smooth to sharp over Stages
// stages that share the Steps, each starting where the last ended. The
// smooth surrogates run with their soft forward, which is what smooths
// the loss landscape; gaussian smooths the loss itself.
func (o *objective) continuation(st Continuation) (float64, error) {
	base := o.s.config(o.levels)
	b := o.init(st.Init)
	n := st.Stages
	per := max(1, o.s.Optim.Steps/n)
	for k := 0; k < n; k++ {
		t := float64(k+1) / float64(n)
		c := base
		switch c.Surrogate.Kind {
		case kernels.Atan:
			c.Surrogate.Gamma = 0.99 * t
			c.SoftForward = true
		case kernels.SoftRound:
			c.Surrogate.Alpha = 0.5 * math.Pow(100, t)
			c.SoftForward = true
		case kernels.Gaussian:
			s0 := (o.s.Range.Max - o.s.Range.Min) / 4
			c.Surrogate.Sigma = s0 * math.Pow(0.01/s0, t)
		}
		if err := o.setConfig(c); err != nil {
			return 0, err
		}
		res, err := o.run(b, o.s.Range.Min, o.s.Range.Max, per)
		if err != nil {
			return 0, err
		}
		b = res.Last[0]
	}
	return b, o.setConfig(base)
}

func (o *objective) grid(k int) []float64 {
	bs := make([]float64, k)
	for i := range bs {
		bs[i] = o.s.Range.Min + (o.s.Range.Max-o.s.Range.Min)*float64(i)/float64(k-1)
	}
	bs[k-1] = o.s.Range.Max
	return bs
}

// scanBlock bounds the candidates of one pass, so a dense scan needs no
// more memory than this many partial sums per chunk.
const scanBlock = 4096

// scanGrid returns the exact losses over k evenly spaced b.
func (o *objective) scanGrid(k int) ([]float64, []float64) {
	// the exact losses do not change: auto's scan serves the block ranking
	if s, ok := o.scans[k]; ok {
		return s[0], s[1]
	}
	bs := o.grid(k)
	ls := make([]float64, k)
	for lo := 0; lo < k; lo += scanBlock {
		hi := min(lo+scanBlock, k)
		o.losses(bs[lo:hi], ls[lo:hi])
	}
	if o.scans == nil {
		o.scans = map[int][2][]float64{}
	}
	o.scans[k] = [2][]float64{bs, ls}
	return bs, ls
}

// scan is the best point of a dense exact-loss grid.
func (o *objective) scan(st Scan) float64 {
	bs, ls := o.scanGrid(st.Points)
	return bs[argmin(ls)]
}

func argmin(v []float64) int {
	j := 0
	for i := range v {
		if v[i] < v[j] {
			j = i
		}
	}
	return j
}

// coarsePoints is auto's grid: 4096 points when the grouped data are small
// (8-bit data: at most 65536 groups), fewer on large data, at least 512.
func (o *objective) coarsePoints() int {
	if a, ok := o.s.Strategy.(Auto); ok && a.ScanPoints > 0 {
		return a.ScanPoints
	}
	return max(512, min(4096, int(2e9/float64(max(1, o.grouped.Len())))))
}

// basins returns the indices of the local minima of ls, best first.
func basins(ls []float64) []int {
	var idx []int
	for i := range ls {
		if (i == 0 || ls[i] <= ls[i-1]) && (i == len(ls)-1 || ls[i] <= ls[i+1]) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return ls[idx[a]] < ls[idx[b]] })
	return idx
}

type candidate struct{ b, loss float64 }

// auto: a coarse exact scan; from the best Starts basins, a short gradient
// refinement with the chosen surrogate and optimizer (on o.guide's merged
// groups when the data have many: it only widens the bracket); then the exact
// polish of a bracket around each, which finds the global minimum of the
// exact loss inside it; the least wins.
func (o *objective) auto(st Auto) (float64, bool, error) {
	k := o.coarsePoints()
	bs, ls := o.scanGrid(k)
	h := bs[1] - bs[0]
	narrowedAny := false
	var cands []candidate
	bas := basins(ls)
	for _, i := range bas[:min(st.Basins, len(bas))] {
		b0 := bs[i]
		lo, hi := math.Max(o.s.Range.Min, b0-h), math.Min(o.s.Range.Max, b0+h)
		guide := o.step
		if o.guide != nil {
			guide = o.guide
		}
		res, err := o.runOn(guide, b0, lo, hi, min(o.s.Optim.Steps, 50))
		if err != nil {
			return 0, false, err
		}
		r := res.X[0]
		p := o.polishAround(b0, math.Min(b0, r)-h, math.Max(b0, r)+h)
		narrowedAny = narrowedAny || p.narrowed
		for _, b := range []float64{p.b, r, b0} {
			cands = append(cands, candidate{b, o.loss(b)})
		}
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.loss < best.loss {
			best = c
		}
	}
	return best.b, narrowedAny, nil
}

// polishAround polishes [lo, hi] (clipped to the range), widening a side
// while the run of least loss reaches it, so that the middle of the run is
// the middle of all of it.
func (o *objective) polishAround(center, lo, hi float64) polished {
	cfg := o.exact.Config()
	var p polished
	for range 8 {
		lo, hi = math.Max(o.s.Range.Min, lo), math.Min(o.s.Range.Max, hi)
		p = polish(o.grouped, o.runs, cfg, lo, hi, center)
		w := hi - lo
		grow := false
		if p.lo-lo < 1e-6*w && lo > o.s.Range.Min {
			lo -= w
			grow = true
		}
		if hi-p.hi < 1e-6*w && hi < o.s.Range.Max {
			hi += w
			grow = true
		}
		if !grow || p.narrowed || p.lo == p.hi {
			break
		}
	}
	return p
}

// rival returns the best local minimum of a coarse exact scan outside the
// basin of b: at least two grid steps away and separated from b by a rise
// of the loss.
func (o *objective) rival(b float64) (float64, float64) {
	bs, ls := o.scanGrid(min(1024, o.coarsePoints()))
	h := bs[1] - bs[0]
	for _, i := range basins(ls) {
		if math.Abs(bs[i]-b) > 2*h {
			return bs[i], ls[i]
		}
	}
	return math.NaN(), math.NaN()
}

// tolerance is the loss the interval allows above the answer's: with
// stored outputs modelled, what one level of error on 0.1% of the samples
// costs (a tool that rounds a little differently); without, the loss of a
// half-level error on every sample, the rounding noise left unexplained.
func (o *objective) tolerance() float64 {
	if L := o.exact.Config().OutputLevels; L > 0 {
		v, _ := o.s.Loss.Eval(1 / L)
		return v / 1000
	}
	v, _ := o.s.Loss.Eval(o.data.Step / 2)
	return v
}

// interval scans outward from b on a fine grid and returns the hull of the
// points within the rounding tolerance, widening the window while the hull
// touches its edge.
func (o *objective) interval(b, loss float64) [2]float64 {
	return hull(b, o.s.Range.Min, o.s.Range.Max, 0.05, 2001, loss+o.tolerance()+1e-12*loss, o.losses)
}

// hull returns the smallest interval holding center and every point whose
// loss is at most lim on a grid of n points over [center−w, center+w] ∩
// [lo, hi], widened by half a grid step where the set ends between grid
// points; the window grows fourfold while the hull reaches its edge.
func hull(center, lo, hi, w float64, n int, lim float64, losses func(vs, out []float64)) [2]float64 {
	vs, ls := make([]float64, n), make([]float64, n)
	for {
		a, b := math.Max(lo, center-w), math.Min(hi, center+w)
		for i := range vs {
			vs[i] = a + (b-a)*float64(i)/float64(n-1)
		}
		losses(vs, ls)
		ilo, ihi := n, -1
		for i := range vs {
			if ls[i] <= lim {
				ilo, ihi = min(ilo, i), max(ihi, i)
			}
		}
		if ihi < 0 { // the grid missed a narrow set: the center alone
			return [2]float64{center, center}
		}
		atEdge := (ilo == 0 && a > lo) || (ihi == n-1 && b < hi)
		if !atEdge || w >= hi-lo {
			half := (b - a) / float64(n-1) / 2
			if ilo > 0 {
				vs[ilo] -= half
			}
			if ihi < n-1 {
				vs[ihi] += half
			}
			return [2]float64{math.Max(lo, math.Min(center, vs[ilo])), math.Min(hi, math.Max(center, vs[ihi]))}
		}
		w *= 4
	}
}

// Landscape returns the exact loss at n evenly spaced b over [BMin, BMax],
// for plots.
func Landscape(d *Data, s Settings, n int) (bs, ls []float64, err error) {
	if n < 2 {
		return nil, nil, errorf("landscape needs 2 points or more, not %d", n)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	o, err := newObjective(d, s.withDefaults())
	if err != nil {
		return nil, nil, err
	}
	bs, ls = o.scanGrid(n)
	return bs, ls, nil
}
