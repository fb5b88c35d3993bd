package look

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"time"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/tiles"
	"github.com/quantfit/quantfit/kernels"
)

// Settings configure Fit. Zero values mean the defaults.
type Settings struct {
	// Stacks are the smooth stacks tried; default Stacks().
	Stacks []string
	// Quantize is "auto" (the default: a quantizer ends the look when the
	// edited images' values lie on a quantizer's lattice), "off", or a
	// model's name, which the look then ends in.
	Quantize string
	// LUTSize is the lattice's nodes a side; default 17.
	LUTSize int
	// Smooth weighs the smoothness prior of the curves and the lattice
	// (second differences: straight where no sample says otherwise);
	// default 1.
	Smooth float64
	// Tiles choose the pixels that the fit reads and the held-out ones it
	// is judged on; Tiles.Budget defaults to 2M pixels.
	Tiles tiles.Settings
	// Progress, if set, is called with the stage the fit is at.
	Progress func(stage string)
	// Backend runs the per-sample passes; nil means the CPU.
	Backend Backend
}

// Backend runs a fit's per-sample passes over its samples: the CPU's
// (CPU), or a GPU's (package gpu/backend).
type Backend interface {
	// Look returns the passes over d and the name of what runs them.
	Look(d *kernels.LookData) (kernels.LookPasses, string, error)
}

// CPU runs the passes on the CPU, all cores.
type CPU struct{}

// Look implements Backend.
func (CPU) Look(d *kernels.LookData) (kernels.LookPasses, string, error) {
	return kernels.NewCPULook(d), "cpu", nil
}

// Report describes a fit.
type Report struct {
	// Stack is the chosen stack.
	Stack      string      `json:"stack"`
	Candidates []Candidate `json:"candidates"`
	// ValidPSNR is the chosen stack's PSNR on the held-out tiles, and
	// TrainPSNR the final look's on every sampled pixel.
	ValidPSNR float64 `json:"validation_psnr"`
	TrainPSNR float64 `json:"train_psnr"`
	// Baked is the TrainPSNR of the look baked into the default .cube
	// ("cube-33") and Hald CLUT ("hald-8"): what a LUT loses (a quantizer's
	// steps, above all).
	Baked map[string]float64 `json:"baked_psnr"`
	// Pairs has each pair's PSNR of the look against the edited image,
	// over the whole image.
	Pairs []PairPSNR `json:"pairs"`
	// Pixels informed the fit, ValidPixels judged the stacks, of
	// TotalPixels in the pairs.
	Pixels      int `json:"pixels"`
	ValidPixels int `json:"validation_pixels"`
	TotalPixels int `json:"total_pixels"`
	// Unexplained is the share of the sampled pixels whose edit differs
	// by more than 3 levels from that of other pixels of the same colour:
	// no pixel-wise look explains them.
	Unexplained float64 `json:"unexplained"`
	// Backend ran the per-sample passes: cpu or gpu.
	Backend  string   `json:"backend"`
	Seconds  float64  `json:"seconds"`
	Warnings []string `json:"warnings,omitempty"`
}

// Candidate is one stack tried, with its PSNR on the training and on the
// held-out tiles.
type Candidate struct {
	Stack     string  `json:"stack"`
	TrainPSNR float64 `json:"train_psnr"`
	ValidPSNR float64 `json:"validation_psnr"`
}

// PairPSNR is one pair's PSNR.
type PairPSNR struct {
	Edited string  `json:"edited"`
	PSNR   float64 `json:"psnr"`
}

// maxPSNR stands for an exact match (JSON has no infinity); exactPSNR is
// where the choice between stacks stops telling them apart.
const (
	maxPSNR   = 100
	exactPSNR = 70
)

// unexplainedWarn is the share of unexplained pixels above which a fit
// warns that the edit is not pixel-wise.
const unexplainedWarn = 0.02

// samples are channel values of originals (x) and edited images (y).
type samples struct {
	x, y [3][]float32
	n    int
}

func (s *samples) add(p imageset.Pair, r image.Rectangle) {
	w := p.Orig.W
	for yy := r.Min.Y; yy < r.Max.Y; yy++ {
		for xx := r.Min.X; xx < r.Max.X; xx++ {
			i := yy*w + xx
			for c := range 3 {
				s.x[c] = append(s.x[c], p.Orig.Value(c, i))
				s.y[c] = append(s.y[c], p.Quant.Value(c, i))
			}
			s.n++
		}
	}
}

func (s *samples) join(o *samples) *samples {
	out := &samples{n: s.n + o.n}
	for c := range 3 {
		out.x[c] = append(append([]float32(nil), s.x[c]...), o.x[c]...)
		out.y[c] = append(append([]float32(nil), s.y[c]...), o.y[c]...)
	}
	return out
}

func (s *samples) at(i int) [3]float64 {
	return [3]float64{float64(s.x[0][i]), float64(s.x[1][i]), float64(s.x[2][i])}
}

// Fit fits a look to pairs.
func Fit(pairs []imageset.Pair, s Settings) (*Look, error) {
	start := time.Now()
	if len(pairs) == 0 {
		return nil, errors.New("look: no pairs")
	}
	if s.Stacks == nil {
		s.Stacks = Stacks()
	}
	if s.LUTSize == 0 {
		s.LUTSize = 17
	}
	if s.Smooth == 0 {
		s.Smooth = 1
	}
	if !(s.Smooth > 0) || math.IsInf(s.Smooth, 0) {
		return nil, fmt.Errorf("look: smoothness %v must be positive", s.Smooth)
	}
	if s.Quantize == "" {
		s.Quantize = "auto"
	}
	progress := s.Progress
	if progress == nil {
		progress = func(string) {}
	}
	channels := 1
	sizes := make([]image.Point, len(pairs))
	for i, p := range pairs {
		if p.Orig.W != p.Quant.W || p.Orig.H != p.Quant.H {
			return nil, &imageset.InputError{Name: p.Quant.Name, Err: fmt.Errorf("%w: %dx%d, but %s is %dx%d", imageset.ErrSizeMismatch, p.Quant.W, p.Quant.H, p.Orig.Name, p.Orig.W, p.Orig.H)}
		}
		channels = max(channels, p.Orig.Channels, p.Quant.Channels)
		sizes[i] = image.Pt(p.Orig.W, p.Orig.H)
	}
	stacks := s.Stacks
	if channels == 1 {
		stacks = []string{Curves}
	}
	for _, st := range stacks {
		if !slices.Contains(Stacks(), st) {
			return nil, fmt.Errorf("look: unknown stack %q; want %v", st, Stacks())
		}
	}
	if s.LUTSize < 2 || s.LUTSize > maxLattice {
		return nil, fmt.Errorf("look: lut size %d; want 2 to %d", s.LUTSize, maxLattice)
	}
	progress("sampling tiles")
	plan := tiles.Choose(sizes, s.Tiles, func(t tiles.Tile) []int32 { return colourBins(pairs[t.Image].Orig, t.Rectangle) })
	train, valid := &samples{}, &samples{}
	for _, t := range plan.Train {
		train.add(pairs[t.Image], t.Rectangle)
	}
	for _, t := range plan.Valid {
		valid.add(pairs[t.Image], t.Rectangle)
	}
	top := 255.0
	for _, p := range pairs {
		if p.Quant.Depth() == 16 {
			top = 65535
		}
	}
	q, err := detectQuantizer(pairs, s.Quantize, top)
	if err != nil {
		return nil, err
	}
	rep := &Report{Pixels: train.n, ValidPixels: valid.n, TotalPixels: plan.Total}
	be := s.Backend
	if be == nil {
		be = CPU{}
	}
	d := lookData(train, channels, q)
	passes, name, err := be.Look(d)
	if err != nil {
		return nil, err
	}
	rep.Backend = name
	var best *Look
	bestMSE := math.Inf(1)
	for _, st := range stacks {
		progress("fitting " + st)
		l, err := fitStack(st, train, d, passes, q, s)
		if err != nil {
			passes.Close()
			return nil, err
		}
		tr, va := l.mse(train, top), l.mse(valid, top)
		rep.Candidates = append(rep.Candidates, Candidate{Stack: l.Stack, TrainPSNR: psnr(tr), ValidPSNR: psnr(va)})
		// a more complex stack must beat a simpler one by 0.2 dB on
		// held-out tiles, counting 70 dB (past 8-bit rounding) as exact
		if best == nil || math.Min(psnr(va), exactPSNR) > math.Min(psnr(bestMSE), exactPSNR)+0.2 {
			best, bestMSE = l, va
		}
	}
	passes.Close()
	progress("refitting " + best.Stack + " on every sampled pixel")
	all := train.join(valid)
	d = lookData(all, channels, q)
	if passes, _, err = be.Look(d); err != nil {
		return nil, err
	}
	l, err := fitStack(best.smooth(), all, d, passes, q, s)
	passes.Close()
	if err != nil {
		return nil, err
	}
	rep.Stack, rep.ValidPSNR, rep.TrainPSNR = l.Stack, psnr(bestMSE), psnr(l.mse(all, top))
	rep.Baked = map[string]float64{
		fmt.Sprintf("cube-%d", DefaultCubeSize):  l.bakedPSNR(all, DefaultCubeSize, top),
		fmt.Sprintf("hald-%d", DefaultHaldLevel): l.bakedPSNR(all, DefaultHaldLevel*DefaultHaldLevel, top),
	}
	rep.Unexplained = unexplained(all, channels)
	if rep.Unexplained > unexplainedWarn {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%.1f%% of the sampled pixels are edited differently from others of the same colour by more than 3 levels: the edit is not pixel-wise (a blur, a crop, a retouch, a lossy save?), and no look reproduces those pixels", 100*rep.Unexplained))
	}
	progress("measuring the pairs")
	for _, p := range pairs {
		rep.Pairs = append(rep.Pairs, PairPSNR{p.Quant.Name, PSNR(l.Apply(p.Orig, p.Quant.Depth()), p.Quant)})
	}
	if rep.ValidPSNR < 30 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the look reproduces the held-out tiles at %.1f dB only", rep.ValidPSNR))
	}
	rep.Seconds = time.Since(start).Seconds()
	l.Fit = rep
	return l, nil
}

// colourBins lists the coarse colours (8 a channel) of r in im.
func colourBins(im *imageset.Image, r image.Rectangle) []int32 {
	var seen [512]bool
	var out []int32
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := y*im.W + x
			k := 0
			for c := range 3 {
				k = k<<3 | min(7, int(im.Value(c, i)*8))
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, int32(k))
			}
		}
	}
	return out
}

// quantizer is a detected last stage: its cells and how levels are stored.
type quantizer struct {
	model kernels.Model
	b     float64
	cells kernels.Cells
}

// detectQuantizer finds the quantizer whose lattice holds the edited
// images' values (blind estimation over b in [2, 64]); nil under auto when
// none does.
func detectQuantizer(pairs []imageset.Pair, mode string, top float64) (*quantizer, error) {
	if mode == "off" {
		return nil, nil
	}
	models := estimate.ModelsFrom(2)
	if mode != "auto" {
		m, err := kernels.ParseModel(mode)
		if err != nil {
			return nil, fmt.Errorf("look: quantize %q: want auto, off or a model (%v)", mode, kernels.Models())
		}
		models = []kernels.Model{m}
	}
	set := &imageset.Set{}
	for _, p := range pairs {
		set.Filtered = append(set.Filtered, p.Quant)
	}
	r, err := estimate.EstimateBlindSet(set, false, models, estimate.Range{Min: 2, Max: 64})
	if err != nil || r.Results[0].Noisy {
		if mode == "auto" {
			return nil, nil
		}
		if err == nil {
			err = fmt.Errorf("%.1f%% of the values lie off every level", 100*r.Results[0].Misfit)
		}
		return nil, fmt.Errorf("look: the edited images are no %s quantization: %w", mode, err)
	}
	res := r.Results[0]
	m, err := kernels.ParseModel(res.Model)
	if err != nil {
		return nil, err
	}
	return &quantizer{model: m, b: res.B, cells: kernels.NewCells(m, res.B, top, false)}, nil
}

// psnr of a mean squared error of values in [0,1], maxPSNR for none.
func psnr(mse float64) float64 {
	if !(mse > 0) {
		return maxPSNR
	}
	return math.Min(maxPSNR, -10*math.Log10(mse))
}

// PSNR compares two images of the same size over every channel of got
// (a grey want serves every channel).
func PSNR(got, want *imageset.Image) float64 {
	n := got.W * got.H
	sum := 0.0
	for c := range got.Channels {
		for i := range n {
			d := float64(got.Value(c, i) - want.Value(c, i))
			sum += d * d
		}
	}
	return psnr(sum / float64(n*got.Channels))
}

// mse is the look's mean squared error on s, outputs stored at top.
func (l *Look) mse(s *samples, top float64) float64 {
	return meanSquared(s, l.Channels, top, l.Eval)
}

// meanSquared is the mean squared error on s of f's outputs over
// channels, stored at top.
func meanSquared(s *samples, channels int, top float64, f func(x [3]float64) [3]float64) float64 {
	if s.n == 0 {
		return 0
	}
	sums := make([]float64, s.n)
	kernels.Parallel(s.n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y := f(s.at(i))
			for c := range channels {
				d := math.Round(y[c]*top)/top - float64(s.y[c][i])
				sums[i] += d * d
			}
		}
	})
	t := 0.0
	for _, v := range sums {
		t += v
	}
	return t / float64(s.n*channels)
}

// unexplained measures the share of samples, among those whose colour
// occurs more than once, edited more than 3 levels away from the mean
// edit of their colour.
func unexplained(s *samples, channels int) float64 {
	type acc struct {
		n   int
		sum [3]float64
	}
	key := func(i int) uint64 {
		k := uint64(0)
		for c := range 3 {
			k = k<<16 | uint64(math.Round(float64(s.x[c][i])*65535))
		}
		return k
	}
	groups := make(map[uint64]*acc)
	for i := range s.n {
		k := key(i)
		a := groups[k]
		if a == nil {
			a = &acc{}
			groups[k] = a
		}
		a.n++
		for c := range channels {
			a.sum[c] += float64(s.y[c][i])
		}
	}
	shared, off := 0, 0
	for i := range s.n {
		a := groups[key(i)]
		if a.n < 2 {
			continue
		}
		shared++
		for c := range channels {
			if math.Abs(float64(s.y[c][i])-a.sum[c]/float64(a.n)) > 3.0/255 {
				off++
				break
			}
		}
	}
	if shared == 0 {
		return 0
	}
	return float64(off) / float64(shared)
}
