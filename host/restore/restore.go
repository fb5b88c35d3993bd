// Package restore recovers images by energy minimization: a quantized
// image dequantized (the image of least energy, smoothness plus a pull
// towards the stored values, whose every sample stays in the quantization
// cell of its stored value) and missing pixels inpainted (the smoothest
// fill of the known ones), by the per-pixel update rules of host/optim's
// methods. The steps run where a Backend puts them: the CPU
// (kernels.CPURestorer) or the GPU (package gpu through gpu/backend).
package restore

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// Backend makes the Restorer of a problem. CPU is the CPU's; gpu/backend
// puts a GPU behind it.
type Backend interface {
	Name() string
	// Renderer names the device ("" on the CPU).
	Renderer() string
	// Restorer returns the problem's restorer and the name of the backend
	// that runs it.
	Restorer(p *kernels.Restoration) (kernels.Restorer, string, error)
	// Contours are the contour search's findings on a plane of levels
	// (w×h, band labelling its bands) that a dequantization's Ramps
	// reads.
	Contours(level, band []int32, w, h int) (kernels.Contours, error)
}

// CPU runs restorations on the CPU, all cores.
type CPU struct{}

// Name implements Backend.
func (CPU) Name() string { return "cpu" }

// Renderer implements Backend.
func (CPU) Renderer() string { return "" }

// Restorer implements Backend.
func (CPU) Restorer(p *kernels.Restoration) (kernels.Restorer, string, error) {
	r, err := kernels.NewRestorer(p)
	return r, "cpu", err
}

// Contours implements Backend: SweepSeeds, and the rim's distances by
// kernels.EDT.
func (CPU) Contours(level, _ []int32, w, h int) (kernels.Contours, error) {
	var ct kernels.Contours
	concurrently(
		func() { ct.Seeds = SweepSeeds(level, w, h) },
		func() { ct.Rim = kernels.EDT(kernels.RimMask(level, w, h), w, h) })
	return ct, nil
}

// Settings of a run. Zero values mean the defaults documented per field.
type Settings struct {
	// Method is the update rule: *optim.SGD, *optim.Momentum,
	// *optim.Nesterov, *optim.Adagrad, *optim.RMSprop or *optim.Adam.
	// Default Nesterov.
	Method optim.Method
	// LearningRate is the base rate. Default: DefaultRate's.
	LearningRate float64
	// Schedule scales the rate per step. Default optim.Constant.
	Schedule optim.Schedule
	// Steps is the most steps taken. Default 300.
	Steps int
	// Tolerance stops the run once the energy falls by less than this
	// share of itself between two checks; negative: never. Default 0:
	// DefaultTolerance.
	Tolerance float64
	// Every is how many steps pass between energy checks (a reduction
	// over the whole image). Default 10.
	Every int
	// Recorder, if set, sees each check; an error it returns ends the run.
	Recorder func(Check) error
	// WantImage gives the Recorder the current image at each check (a
	// readback from the GPU).
	WantImage bool
	// Backend runs the steps. Default CPU.
	Backend Backend
	// Levels is how many coarser levels are solved first, each half the
	// size of the one above and started from the one below (a cascadic
	// multigrid: kernels.Restoration.Coarse), each with Steps steps, no
	// side shorter than minSide; negative: none. Default 0: as many as
	// fit for problems without data weights, whose band interiors only
	// smoothing moves (30 steps: +16 dB against +2 dB on bands 120
	// samples wide); none where data weights pull band interiors onto
	// their ramps (the edge energy's, Ramps), where the finest level
	// alone reached the same PSNR in half the time.
	Levels int
	// Shrink is how many passes of the block-sparsity prior
	// (Consistent) follow the finest level, for a dequantization: on the
	// device where the restorer is a kernels.Shrinker, else on the CPU.
	// Run takes 0 as none; Dequantize takes 0 as DefaultShrinkPasses and
	// a negative count as none.
	Shrink int
	// Refine, positive, runs the in-cell regression (refine) after the
	// prior, for a dequantization: it teaches itself from a coarser
	// quantization of its own result. Run takes 0 as none; Dequantize
	// takes 0 as on and a negative value as none.
	Refine int
}

// DefaultTolerance ends a run whose energy has stopped falling: a 4 MP
// photograph's restore met it at step 50 of the 300 it used to take, its
// PSNR within 0.002 dB of the 300 steps' (bench/RESULTS.md).
const DefaultTolerance = 1e-5

// minSide is the shortest side of a coarse level.
const minSide = 16

// Check is the state at an energy check.
type Check struct {
	Step   int
	Energy float64
	LR     float64
	// Image is the current image, given only where Settings.WantImage.
	Image [][]float32
}

// Result is a run's outcome.
type Result struct {
	// Planes are the restored image, one plane per channel, in [0, 1].
	Planes [][]float32
	Energy float64 // mean energy per sample at the end
	Start  float64 // ... and at the start
	Steps  int
	Status optim.Status
	Method string
	// LearningRate is the base rate the run used.
	LearningRate float64
	Backend      string
	Renderer     string
	Seconds      float64
	// Levels counts the coarser levels solved first.
	Levels int
}

// Rule returns the per-sample form of method, its defaults resolved as
// host/optim resolves them.
func Rule(method optim.Method) (kernels.Rule, error) {
	or := func(v, def float64) float64 {
		if v == 0 {
			return def
		}
		return v
	}
	switch m := method.(type) {
	case *optim.SGD:
		return kernels.Rule{Kind: kernels.RuleSGD}, nil
	case *optim.Momentum:
		return kernels.Rule{Kind: kernels.RuleMomentum, Mu: or(m.Mu, 0.9)}, nil
	case *optim.Nesterov:
		return kernels.Rule{Kind: kernels.RuleNesterov, Mu: or(m.Mu, 0.9)}, nil
	case *optim.Adagrad:
		return kernels.Rule{Kind: kernels.RuleAdagrad, Eps: or(m.Eps, 1e-10)}, nil
	case *optim.RMSprop:
		return kernels.Rule{Kind: kernels.RuleRMSprop, Rho: or(m.Rho, 0.99), Eps: or(m.Eps, 1e-8)}, nil
	case *optim.Adam:
		return kernels.Rule{Kind: kernels.RuleAdam, Beta1: or(m.Beta1, 0.9), Beta2: or(m.Beta2, 0.999), Eps: or(m.Eps, 1e-8)}, nil
	}
	return kernels.Rule{}, fmt.Errorf("restore: method %T has no per-pixel form", method)
}

// DefaultRate is the base rate of rule on energy e for images whose cells
// are about cell wide (1 when inpainting). The plain rules take steps of
// the gradient: stable below 1/(2·4·2) for the Laplacian of Tikhonov, and
// about ε/8 for TV, whose curvature is 1/ε. The adaptive ones step in
// units of u: a tenth of a cell.
func DefaultRate(rule kernels.RuleKind, e kernels.Energy, cell float64) float64 {
	switch rule {
	case kernels.RuleAdagrad, kernels.RuleRMSprop, kernels.RuleAdam:
		return 0.1 * cell
	}
	lr := 0.12
	if e.Kind == kernels.TV {
		lr = e.Eps / 8
	}
	lr /= 1 + e.Fidelity/8 // the data term adds 2λ to the Laplacian's 16
	if rule == kernels.RuleMomentum || rule == kernels.RuleNesterov {
		lr *= 2.0 / 3 // the momentum sums past gradients: stable below 2(1+μ)/L for μ = 0.9
	}
	return lr
}

// Run minimizes p's energy from its stored image, coarse to fine (see
// Settings.Levels): the coarser levels are made by the restorer itself
// (kernels.Leveled), on the device where it runs there. cell is the width
// of a quantization cell (the adaptive rules' unit; 1 when inpainting).
// The Recorder sees the finest level's checks.
func Run(p *kernels.Restoration, cell float64, s Settings) (*Result, error) {
	start := time.Now()
	if s.Steps < 0 || s.Every < 0 || math.IsNaN(s.Tolerance) || s.LearningRate < 0 || math.IsNaN(s.LearningRate) {
		return nil, errors.New("restore: negative steps, check interval or rate, or no tolerance")
	}
	if s.Tolerance == 0 {
		s.Tolerance = DefaultTolerance
	}
	if s.Method == nil {
		s.Method = &optim.Nesterov{}
	}
	rule, err := Rule(s.Method)
	if err != nil {
		return nil, err
	}
	p.Rule = rule
	if s.Steps == 0 {
		s.Steps = 300
	}
	if s.Every == 0 {
		s.Every = 10
	}
	if s.Schedule == nil {
		s.Schedule = optim.Constant{}
	}
	if s.LearningRate == 0 {
		s.LearningRate = DefaultRate(rule.Kind, p.Energy, cell)
	}
	be := s.Backend
	if be == nil {
		be = CPU{}
	}
	r, name, err := be.Restorer(p)
	if err != nil {
		return nil, err
	}
	chain := []kernels.Restorer{r}
	defer func() {
		for _, c := range chain {
			c.Close()
		}
	}()
	levels := s.Levels
	if levels == 0 && p.D == nil {
		levels = math.MaxInt
	}
	for w, h := p.W, p.H; len(chain)-1 < levels && min(w, h) >= 2*minSide; w, h = (w+1)/2, (h+1)/2 {
		lv, ok := chain[len(chain)-1].(kernels.Leveled)
		if !ok {
			break
		}
		c, err := lv.Coarser()
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	coarse := s
	coarse.Recorder, coarse.WantImage = nil, false
	var res *Result
	for l := len(chain) - 1; l >= 0; l-- {
		if l < len(chain)-1 {
			if err := chain[l].(kernels.Leveled).StartFrom(chain[l+1]); err != nil {
				return nil, err
			}
		}
		ls := coarse
		if l == 0 {
			ls = s
		}
		if res, err = descend(chain[l], rule, ls, l == 0 && s.Shrink <= 0); err != nil {
			return nil, err
		}
	}
	if s.Shrink > 0 {
		if err := shrink(chain[0], p, res, cell, s.Shrink); err != nil {
			return nil, err
		}
	}
	if s.Refine > 0 && p.Requantize != nil {
		if err := refine(chain[0], p, res, cell, s); err != nil {
			return nil, err
		}
	}
	res.Levels, res.Backend = len(chain)-1, name
	if name != "cpu" {
		res.Renderer = be.Renderer()
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// shrink runs passes of the prior on r's image, on r's device where it
// can, and reads the image back into res.
func shrink(r kernels.Restorer, p *kernels.Restoration, res *Result, cell float64, passes int) error {
	sh, ok := r.(kernels.Shrinker)
	if !ok {
		res.Planes = r.Image()
		Consistent(res.Planes, p.Lo, p.Hi, p.W, p.H, cell, passes)
		return r.Err()
	}
	tau, reach := shrinkConsts(len(p.Lo), cell)
	if err := sh.Shrink(tau, reach, shrinkStride, passes); err != nil {
		return err
	}
	res.Planes = r.Image()
	return r.Err()
}

// descend runs s's steps on r from its current image, its Settings'
// defaults resolved; the image is read back only when asked (the finest
// level).
func descend(r kernels.Restorer, rule kernels.Rule, s Settings, image bool) (*Result, error) {
	res := &Result{Method: methodName(rule.Kind), LearningRate: s.LearningRate, Status: optim.IterationLimit}
	res.Start = r.Energy()
	last := res.Start
	for t := 1; t <= s.Steps; t++ {
		lr := s.Schedule.Rate(s.LearningRate, t-1)
		r.Step(rule.Consts(lr, t))
		res.Steps = t
		if t%s.Every != 0 && t != s.Steps {
			continue
		}
		e := r.Energy()
		if err := r.Err(); err != nil {
			return nil, err
		}
		if s.Recorder != nil {
			c := Check{Step: t, Energy: e, LR: lr}
			if s.WantImage {
				c.Image = r.Image()
			}
			if err := s.Recorder(c); err != nil {
				return nil, err
			}
		}
		if s.Tolerance > 0 && last-e < s.Tolerance*last {
			res.Status = optim.EarlyStop
			last = e
			break
		}
		last = e
	}
	res.Energy = last
	if image {
		res.Planes = r.Image()
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

func methodName(k kernels.RuleKind) string {
	return [...]string{"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}[k]
}

// DefaultFidelity is the data term's weight quantfit restore uses: on the
// shipped photographs at b from 5.7 to 23.9 it gave the most PSNR with
// none lost, and on scikit-image's other photographs, held out, as much
// (bench/RESULTS.md).
const DefaultFidelity = 0.4

// Dequantization is the problem of restoring im, stored by the quantizer
// of model m at b: every sample bound to its value's cell. e.Fidelity is
// the data term's weight per cell: the kernel's λ is e.Fidelity·(b −
// shift), so the pull towards the stored value grows as the cells narrow.
// The edge-aware energy weighs its pairs by Weights and its data term by
// DataWeights, and where a band is a step of a quantized ramp (Ramps) its
// data term pulls towards the ramp, not the stored value, in full. be
// finds the ramps' seeds (nil: the CPU).
func Dequantization(im *imageset.Image, m kernels.Model, b float64, e kernels.Energy, be Backend) (*kernels.Restoration, float64, error) {
	tab, cells, err := modelTable(im, m, b)
	if err != nil {
		return nil, 0, err
	}
	return dequantization(im, []cellTable{tab}, cells.S, e, be, modelTeacher(m, cells.S), nil, false)
}

// modelTable is the cell of every stored value of im's depth under the
// quantizer of model m at b, and its cells.
func modelTable(im *imageset.Image, m kernels.Model, b float64) (cellTable, kernels.Cells, error) {
	if !(b > m.Shift()+1) || math.IsInf(b, 0) {
		return nil, kernels.Cells{}, fmt.Errorf("restore: b = %g is not a quantizer's for model %s", b, m)
	}
	cells := kernels.NewCells(m, b, im.Max(), false)
	// every stored value's cell, once: the samples look theirs up
	levels, level := depthLevels(im)
	tab := make(cellTable, levels)
	for v := range tab {
		t := level(v)
		l, h := cells.Bounds(float64(t))
		k, _, _ := cells.Cell(float64(t))
		tab[v] = storedCell{t, float32(l), float32(h), int32(k)}
	}
	return tab, cells, nil
}

// modelTeacher quantizes the in-cell regression's teacher with model m,
// its cells ratio times as wide as s a unit.
func modelTeacher(m kernels.Model, s float64) func(ratio float64) (kernels.Model, float64) {
	return func(ratio float64) (kernels.Model, float64) { return m, s / ratio }
}

// LevelsDequantization is the problem of restoring im whose stored
// values are themselves the quantizer's levels, whatever their spacing:
// a contrast stretch of an 8-bit file, whose levels no model's lattice
// holds, or ffmpeg's rgb565, its green on another lattice than red and
// blue. Each channel's cells reach halfway to its neighbouring stored
// values, and to 0 and 1 at the ends; the cell width the energy scales
// with is the median spacing of the levels.
func LevelsDequantization(im *imageset.Image, e kernels.Energy, be Backend) (*kernels.Restoration, float64, error) {
	tabs, scale, err := levelsTables(im)
	if err != nil {
		return nil, 0, err
	}
	// the teacher of the in-cell regression is quantized by the uniform
	// lattice of the median cell: it teaches a cell's geometry, not its
	// width
	return dequantization(im, tabs, scale, e, be, modelTeacher(kernels.Midrise, scale), nil, false)
}

// levelsTables are the cells of each channel of im whose stored values
// are its levels (LevelsDequantization), and the cells a unit at the
// median spacing.
func levelsTables(im *imageset.Image) ([]cellTable, float64, error) {
	var tabs []cellTable
	var gaps []float32
	for c := range im.Channels {
		tab, g := levelsTable(im, c)
		tabs, gaps = append(tabs, tab), append(gaps, g...)
	}
	if len(gaps) == 0 {
		return nil, 0, fmt.Errorf("restore: %s takes one value: no levels to restore between", im.Name)
	}
	slices.Sort(gaps)
	return tabs, 1 / float64(gaps[len(gaps)/2]), nil
}

// storedValues lists the values channel c of im takes, in order.
func storedValues(im *imageset.Image, c int) []int {
	n, _ := depthLevels(im)
	used := make([]bool, n)
	if im.Pix16 != nil {
		for _, v := range im.Pix16[c] {
			used[v] = true
		}
	} else {
		for _, v := range im.Pix8[c] {
			used[v] = true
		}
	}
	var vals []int
	for v, u := range used {
		if u {
			vals = append(vals, v)
		}
	}
	return vals
}

// levelsTable is the cells of channel c of im's stored values and the
// gaps between consecutive ones. A channel of one value is held at it.
func levelsTable(im *imageset.Image, c int) (cellTable, []float32) {
	levels, level := depthLevels(im)
	vals := storedValues(im, c)
	tab := make(cellTable, levels)
	if len(vals) == 1 {
		t := level(vals[0])
		for u := range tab {
			tab[u] = storedCell{t, t, t, 0}
		}
		return tab, nil
	}
	cells := make([]storedCell, len(vals))
	gaps := make([]float32, 0, len(vals)-1)
	for k, v := range vals {
		t, lo, hi := level(v), float32(0), float32(1)
		if k > 0 {
			lo = (level(vals[k-1]) + t) / 2
			gaps = append(gaps, t-level(vals[k-1]))
		}
		if k+1 < len(vals) {
			hi = (t + level(vals[k+1])) / 2
		}
		cells[k] = storedCell{t, lo, hi, int32(k)}
	}
	// the values no sample takes fill the table with the cell of the
	// level below them (the first's, below it), so that it is whole
	k := 0
	for u := range tab {
		for k+1 < len(vals) && vals[k+1] <= u {
			k++
		}
		tab[u] = cells[k]
	}
	return tab, gaps
}

// depthLevels is how many values a sample of im's depth takes, and the
// level each stands for.
func depthLevels(im *imageset.Image) (int, func(int) float32) {
	if im.Pix16 != nil {
		return 1 << 16, kernels.Level16
	}
	return 1 << 8, kernels.Level8
}

// storedCell is a stored value's level, cell and the level's index.
type storedCell struct {
	t, lo, hi float32
	k         int32
}

// cellTable is the storedCell of each value of a file's depth.
type cellTable []storedCell

// dequantization is the problem of restoring im, channel c's stored
// values' cells in tabs[c] (or tabs[0] for all), scale the cells per unit
// the energy scales with. teacher gives the model and its cells per unit
// that quantize a restore again with cells ratio times as wide, for the
// in-cell regression's teacher. Under a dither (non-nil) each sample's
// cell is its dithered one and its data term pulls towards that cell's
// middle, with no ramps (the levels' pattern is the dither's) and no
// regression (its teacher would need the dither's pattern too). Where
// local (a colour palette, an error diffusion: Quantizer.local) no cell
// is kept: each sample is pulled towards localEstimate's estimate, again
// with no ramps and no regression.
func dequantization(im *imageset.Image, tabs []cellTable, scale float64, e kernels.Energy, be Backend, teacher func(ratio float64) (kernels.Model, float64), dither *Dither, local bool) (*kernels.Restoration, float64, error) {
	if !(e.Fidelity >= 0) || math.IsInf(e.Fidelity, 0) {
		return nil, 0, fmt.Errorf("restore: fidelity %g: want 0 or more", e.Fidelity)
	}
	cell := 1 / scale
	p := &kernels.Restoration{W: im.W, H: im.H, Energy: e}
	p.Energy.Fidelity *= scale
	name, depth := im.Name, im.Depth()
	p.Requantize = func(planes [][]float32, w, h int, ratio float64) (*kernels.Restoration, float64, error) {
		m, s := teacher(ratio)
		if !(s >= 2) {
			return nil, 0, nil
		}
		bc := s + m.Shift()
		pim, err := Image(planes, w, h, depth, name)
		if err != nil {
			return nil, 0, err
		}
		return Dequantization(pim.Filter(func(x float64) float64 { return m.Apply(x, bc) }), m, bc, e, be)
	}
	var noise []float32
	if local {
		noise = paletteNoises(im, dither != nil && dither.isDiffusion())
	}
	if dither != nil || local {
		p.Requantize = nil
	}
	if p.Energy.Kind == kernels.TV && p.Energy.Eps == 0 {
		p.Energy.Eps = cell / 5
	}
	n := im.W * im.H
	for c := range im.Channels {
		tab := tabs[min(c, len(tabs)-1)]
		q, lo, hi, lv := make([]float32, n), make([]float32, n), make([]float32, n), make([]int32, n)
		kernels.Parallel(n, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				v := 0
				if im.Pix16 != nil {
					v = int(im.Pix16[c][i])
				} else {
					v = int(im.Pix8[c][i])
				}
				b := tab[v]
				q[i], lo[i], hi[i], lv[i] = b.t, b.lo, b.hi, b.k
			}
		})
		edge := p.Energy.Kind == kernels.EdgeAware
		if edge {
			wx, wy := Weights(q, im.W, im.H, cell)
			p.Wx, p.Wy = append(p.Wx, wx), append(p.Wy, wy)
		}
		if local {
			// no cell holds the scene: the sample goes where the energy
			// and the local estimate take it
			nk := int32(0)
			for _, b := range tab {
				nk = max(nk, b.k+1)
			}
			mid := localEstimate(q, lv, im.W, im.H, int(nk), noise)
			for i := range lo {
				lo[i], hi[i] = 0, 1
			}
			if edge {
				d := make([]float32, n)
				for i := range d {
					d[i] = 1
				}
				p.D = append(p.D, d)
			}
			p.Q, p.Lo, p.Hi = append(p.Q, mid), append(p.Lo, lo), append(p.Hi, hi)
			continue
		}
		if dither != nil {
			mid, delta := dither.cells(c, q, lo, hi, tab, im.W)
			if edge {
				p.D = append(p.D, dither.dataWeights(mid, im.W, im.H, delta))
			}
			p.Q, p.Lo, p.Hi = append(p.Q, mid), append(p.Lo, lo), append(p.Hi, hi)
			continue
		}
		if edge {
			// on a ramp the data term pulls towards the ramp, in full;
			// elsewhere part way towards the contour-distance expansion,
			// less the more texture there is
			rho := changeDensity(q, im.W, im.H)
			d := dataWeights(q, im.W, im.H, rho)
			est, alpha, far, err := Ramps(q, lo, hi, lv, im.W, im.H, be)
			if err != nil {
				return nil, 0, err
			}
			kernels.Parallel(n, func(i0, i1 int) {
				for i := i0; i < i1; i++ {
					a := alpha[i]
					est[i] += (1 - a) * contourShare * max(0, 1-rho[i]*rho[i]) * (far[i] - est[i])
					d[i] += a * (1 - d[i])
				}
			})
			p.Q = append(p.Q, est)
			p.D = append(p.D, d)
			p.Lo, p.Hi = append(p.Lo, lo), append(p.Hi, hi)
			continue
		}
		p.Q, p.Lo, p.Hi = append(p.Q, q), append(p.Lo, lo), append(p.Hi, hi)
	}
	return p, cell, nil
}

// Inpainting is the problem of filling im's missing samples (missing(c,
// i) for sample i of channel c) with the known ones fixed. The missing
// start at the mean of the known in their channel.
func Inpainting(im *imageset.Image, missing func(c, i int) bool, e kernels.Energy) (*kernels.Restoration, error) {
	p := &kernels.Restoration{W: im.W, H: im.H, Energy: e}
	if p.Energy.Kind == kernels.EdgeAware {
		return nil, errors.New("restore: the edge-aware energy reads the stored image, which inpainting lacks: use tikhonov or tv")
	}
	if p.Energy.Kind == kernels.TV && p.Energy.Eps == 0 {
		p.Energy.Eps = 0.01
	}
	p.Energy.Fidelity = 0
	n := im.W * im.H
	gone := 0
	for c := range im.Channels {
		q, lo, hi := make([]float32, n), make([]float32, n), make([]float32, n)
		sum, known := 0.0, 0
		for i := range n {
			if !missing(c, i) {
				v := im.Value(c, i)
				q[i], lo[i], hi[i] = v, v, v
				sum += float64(v)
				known++
			}
		}
		if known == 0 {
			return nil, fmt.Errorf("restore: %s: channel %d has no known pixel to inpaint from", im.Name, c)
		}
		fill := float32(sum / float64(known))
		for i := range n {
			if missing(c, i) {
				q[i], lo[i], hi[i] = fill, 0, 1
				gone++
			}
		}
		p.Q, p.Lo, p.Hi = append(p.Q, q), append(p.Lo, lo), append(p.Hi, hi)
	}
	if gone == 0 {
		return nil, fmt.Errorf("restore: %s: no pixel is missing", im.Name)
	}
	return p, nil
}

// Extremes is the classic demonstration's mask: a sample at 0 or at the
// full scale is missing.
func Extremes(im *imageset.Image) func(c, i int) bool {
	return func(c, i int) bool {
		v := im.Value(c, i)
		return v <= 0 || v >= 1
	}
}

// Image stores planes in [0, 1] as an image of depth 8 or 16 bits, named
// name.
func Image(planes [][]float32, w, h, depth int, name string) (*imageset.Image, error) {
	if depth != 8 && depth != 16 {
		return nil, fmt.Errorf("restore: depth %d: want 8 or 16", depth)
	}
	im := &imageset.Image{Name: name, W: w, H: h, Channels: len(planes)}
	for _, pl := range planes {
		if depth == 8 {
			out := make([]uint8, len(pl))
			for i, v := range pl {
				out[i] = uint8(math.Round(255 * float64(min(max(v, 0), 1))))
			}
			im.Pix8 = append(im.Pix8, out)
		} else {
			out := make([]uint16, len(pl))
			for i, v := range pl {
				out[i] = uint16(math.Round(65535 * float64(min(max(v, 0), 1))))
			}
			im.Pix16 = append(im.Pix16, out)
		}
	}
	return im, nil
}

// Planes are im's samples in [0, 1] as float32 planes, one per channel.
func Planes(im *imageset.Image) [][]float32 {
	out := make([][]float32, im.Channels)
	for c := range out {
		out[c] = make([]float32, im.W*im.H)
		for i := range out[c] {
			out[c][i] = im.Value(c, i)
		}
	}
	return out
}

// PSNR is the peak signal-to-noise ratio of planes a against image ref,
// in dB over every sample (+Inf when equal). A grey side serves as each
// of the other's channels, as in a pair (ImageMagick writes a grey
// result of a colour file as grey).
func PSNR(a [][]float32, ref *imageset.Image) float64 {
	se, n := 0.0, 0
	for c := range max(len(a), ref.Channels) {
		for i, v := range a[min(c, len(a)-1)] {
			d := float64(v) - float64(ref.Value(c, i))
			se += d * d
			n++
		}
	}
	return 10 * math.Log10(float64(n)/se)
}

// FalseSteps is the false-contour figure of planes against the original:
// the neighbour pairs (right and below) whose values step by half a cell
// or more where the original's change by less than a quarter, contours
// the scene does not have. A stored image of smooth content has one at
// every band edge; a restore that turns bands into ramps leaves few. A
// grey side serves as each of the other's channels, as in PSNR.
func FalseSteps(planes [][]float32, orig *imageset.Image, cell float64) int {
	w, h := orig.W, orig.H
	var total atomic.Int64
	for c := range max(len(planes), orig.Channels) {
		p := planes[min(c, len(planes)-1)]
		kernels.Parallel(h, func(y0, y1 int) {
			n := 0
			step := func(i, j int) {
				if math.Abs(float64(p[i]-p[j])) >= cell/2 && math.Abs(float64(orig.Value(c, i)-orig.Value(c, j))) < cell/4 {
					n++
				}
			}
			for y := y0; y < y1; y++ {
				for x := range w {
					i := y*w + x
					if x+1 < w {
						step(i, i+1)
					}
					if y+1 < h {
						step(i, i+w)
					}
				}
			}
			total.Add(int64(n))
		})
	}
	return int(total.Load())
}

func abs(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// Weights are the edge-aware energy's: each neighbour pair weighed by the
// jump of its stored values in levels, L = |Δq|/cell: 1 up to one level
// (a band's edge, which a ramp crosses), then 1/(1 + 4(L − 1)²), so an
// edge of the scene or of a texture, a jump of two levels or more, is
// smoothed little (1/5 at two levels).
func Weights(q []float32, w, h int, cell float64) (wx, wy []float32) {
	n := w * h
	wx, wy = make([]float32, n), make([]float32, n)
	inv := float32(1 / cell)
	weight := func(d float32) float32 {
		l := max(abs(d)*inv-1, 0)
		return 1 / (1 + 4*l*l)
	}
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if x+1 < w {
					wx[i] = weight(q[i+1] - q[i])
				}
				if y+1 < h {
					wy[i] = weight(q[i+w] - q[i])
				}
			}
		}
	})
	return wx, wy
}

// The data weights' scales, in pixels and in changes per pair (measured on
// the shipped photographs, checked on held-out ones: bench/RESULTS.md).
const (
	// bandRadius is the window in which DataWeights counts level changes:
	// a band's edge is ramp to recover within it.
	bandRadius = 3
	// throughRadius is the window in which a sample's level must have
	// both a lower and a higher one for its band to be part of a ramp.
	throughRadius = 30
	// textureDensity is the share of neighbour pairs changing level at
	// which a window is texture, held at full weight.
	textureDensity = 0.25
	// contourShare is how far the data term's target moves from the
	// stored value towards the contour-distance expansion where Ramps
	// vouches for no ramp, in a band's interior (ρ = 0); it falls as
	// 1 − (ρ/ρ₀)² to none in texture. Half way, the two estimates' errors
	// partly cancel: over 20 cases of five photographs, +1.92 dB without
	// the expansion, +1.72 pulled onto it in full, +2.42 half way
	// (bench/RESULTS.md).
	contourShare = 0.5
)

// DataWeights are the edge-aware energy's data weights of a plane q of
// stored values: where the cells' smoothing recovers the scene the data
// term steps aside, elsewhere it holds the stored value. Smoothing
// recovers a ramp: bands a few pixels either side of a level change, in
// a neighbourhood where few pairs change level. Texture (many changes)
// and flat regions (none within bandRadius) keep weight 1, and so does a
// level with no lower or no higher one within throughRadius: a local
// extremum, such as a faint star on a black sky, which smoothing would
// flatten onto its neighbours. Between, the weight is (ρ/ρ₀)², ρ the
// share of pairs changing level and ρ₀ = textureDensity.
func DataWeights(q []float32, w, h int) []float32 {
	return dataWeights(q, w, h, changeDensity(q, w, h))
}

func dataWeights(q []float32, w, h int, rho []float32) []float32 {
	lo, hi := extremes(q, w, h, throughRadius)
	out := make([]float32, w*h)
	kernels.Parallel(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			out[i] = 1
			if rho[i] == 0 || !(lo[i] < q[i] && q[i] < hi[i]) {
				continue
			}
			out[i] = min(rho[i]*rho[i], 1)
		}
	})
	return out
}

// changeDensity is ρ/ρ₀ about each sample: the share of neighbour pairs
// that change level within bandRadius, over textureDensity (0 in a band's
// interior, 1 or more in texture).
func changeDensity(q []float32, w, h int) []float32 {
	n := w * h
	// changes[i] counts the pairs to i's right and below that change level
	changes := make([]int32, n)
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range w {
				i := y*w + x
				if x+1 < w && q[i+1] != q[i] {
					changes[i]++
				}
				if y+1 < h && q[i+w] != q[i] {
					changes[i]++
				}
			}
		}
	})
	count := boxSum(changes, w, h, bandRadius)
	rho := make([]float32, n)
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			ny := min(y+bandRadius+1, h) - max(y-bandRadius, 0)
			for x := range w {
				i := y*w + x
				nx := min(x+bandRadius+1, w) - max(x-bandRadius, 0)
				rho[i] = float32(float64(count[i]) / float64(2*nx*ny) / textureDensity)
			}
		}
	})
	return rho
}

// boxSum sums v over the (2r+1)² window about each sample, cut at the
// borders: running sums along each row, then down spans of columns a row
// at a time (in memory order).
func boxSum(v []int32, w, h, r int) []int32 {
	rows := make([]int32, len(v))
	kernels.Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			line, out := v[y*w:(y+1)*w], rows[y*w:(y+1)*w]
			var s int32
			for x := range min(r, w) {
				s += line[x]
			}
			for x := range w {
				if x+r < w {
					s += line[x+r]
				}
				if x-r-1 >= 0 {
					s -= line[x-r-1]
				}
				out[x] = s
			}
		}
	})
	out := make([]int32, len(v))
	kernels.Parallel(w, func(x0, x1 int) {
		row := func(y int) []int32 { return rows[y*w+x0 : y*w+x1] }
		s := make([]int32, x1-x0)
		for y := range min(r, h) {
			for x, c := range row(y) {
				s[x] += c
			}
		}
		for y := range h {
			if y+r < h {
				for x, c := range row(y + r) {
					s[x] += c
				}
			}
			if y-r-1 >= 0 {
				for x, c := range row(y - r - 1) {
					s[x] -= c
				}
			}
			copy(out[y*w+x0:y*w+x1], s)
		}
	})
	return out
}

// extremes are the least and greatest of q over the (2r+1)² window about
// each sample, cut at the borders.
func extremes(q []float32, w, h, r int) (lo, hi []float32) {
	neg := make([]float32, len(q))
	for i, v := range q {
		neg[i] = -v
	}
	hi = boxMin(neg, w, h, r)
	for i, v := range hi {
		hi[i] = -v
	}
	return boxMin(q, w, h, r), hi
}

// boxMin is the least of q over the (2r+1)² window about each sample, cut
// at the borders: along each row, then down spans of columns a row at a
// time (in memory order). Both passes are van Herk's and Gil and Werman's:
// padded with r copies of its end values (which the cut windows hold
// anyway), a line's every window is k = 2r+1 long and spans at most two
// blocks of k: its least is the least of the first block's suffix and the
// second block's prefix, three comparisons a sample whatever r.
func boxMin(q []float32, w, h, r int) []float32 {
	k := 2*r + 1
	rows := make([]float32, len(q))
	kernels.Parallel(h, func(y0, y1 int) {
		m := w + 2*r
		padded, pre, suf := make([]float32, m), make([]float32, m), make([]float32, m)
		for y := y0; y < y1; y++ {
			line, out := q[y*w:(y+1)*w], rows[y*w:(y+1)*w]
			for j := range r {
				padded[j], padded[m-1-j] = line[0], line[w-1]
			}
			copy(padded[r:], line)
			for b0 := 0; b0 < m; b0 += k {
				b1 := min(b0+k, m)
				pre[b0], suf[b1-1] = padded[b0], padded[b1-1]
				for j := b0 + 1; j < b1; j++ {
					pre[j] = min32(pre[j-1], padded[j])
				}
				for j := b1 - 2; j >= b0; j-- {
					suf[j] = min32(suf[j+1], padded[j])
				}
			}
			for x := range w {
				out[x] = min32(suf[x], pre[x+2*r])
			}
		}
	})
	// Down the columns a block of k padded rows at a time: the block's
	// suffixes and the next block's prefixes.
	out := make([]float32, len(q))
	m := h + 2*r
	kernels.Parallel(w, func(x0, x1 int) {
		sw := x1 - x0
		row := func(j int) []float32 { y := min(h-1, max(j-r, 0)); return rows[y*w+x0 : y*w+x1] }
		sufs, pres := make([]float32, k*sw), make([]float32, k*sw)
		at := func(buf []float32, j int) []float32 { return buf[j*sw : (j+1)*sw] }
		for j0 := 0; j0 < h; j0 += k {
			j1 := min(j0+k, m)
			copy(at(sufs, j1-1-j0), row(j1-1))
			for j := j1 - 2; j >= j0; j-- {
				minRows(at(sufs, j-j0), at(sufs, j-j0+1), row(j))
			}
			n1 := min(j1+k, m) // the next block, [j1, n1)
			if j1 < n1 {
				copy(at(pres, 0), row(j1))
				for j := j1 + 1; j < n1; j++ {
					minRows(at(pres, j-j1), at(pres, j-j1-1), row(j))
				}
			}
			for y := j0; y < min(j1, h); y++ {
				dst := out[y*w+x0 : y*w+x1]
				if y == j0 {
					copy(dst, at(sufs, 0)) // the window is this block
					continue
				}
				minRows(dst, at(sufs, y-j0), at(pres, y+2*r-j1))
			}
		}
	})
	return out
}

// minRows sets dst to the least of a and b, element by element.
func minRows(dst, a, b []float32) {
	b = b[:len(a)]
	dst = dst[:len(a)]
	for i, v := range a {
		dst[i] = min32(v, b[i])
	}
}

func min32(a, b float32) float32 {
	if b < a {
		return b
	}
	return a
}
