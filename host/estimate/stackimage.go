package estimate

import (
	"image"
	"math"
	"time"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// planesOf returns an image's samples as planes of values in [0, 1].
func planesOf(im *imageset.Image, channels int) kernels.Planes {
	return cropPlanes(im, channels, image.Rect(0, 0, im.W, im.H))
}

// ApplyStack returns im filtered by the stack at p (spatial or not),
// stored at im's depth as a file would hold it.
func ApplyStack(im *imageset.Image, st *kernels.Stack, p []float64) (*imageset.Image, error) {
	if !st.Spatial() {
		return im.Filter(func(x float64) float64 { return st.Forward(x, p) }), nil
	}
	x := planesOf(im, im.Channels)
	e, err := kernels.NewImageEvaluator(st, []kernels.Planes{x}, []kernels.Planes{x})
	if err != nil {
		return nil, err
	}
	y, _ := e.Forward(0, len(st.Ops), p, false)
	out := &imageset.Image{Name: im.Name, W: im.W, H: im.H, Channels: im.Channels}
	top := float64(im.Max())
	for _, pl := range y.C {
		if im.Pix16 != nil {
			q := make([]uint16, len(pl))
			for i, v := range pl {
				q[i] = uint16(math.Round(math.Min(1, math.Max(0, v)) * top))
			}
			out.Pix16 = append(out.Pix16, q)
			continue
		}
		q := make([]uint8, len(pl))
		for i, v := range pl {
			q[i] = uint8(math.Round(math.Min(1, math.Max(0, v)) * top))
		}
		out.Pix8 = append(out.Pix8, q)
	}
	return out, nil
}

// estimateImageStack fits a spatial stack (one with an image operator) to
// every pair of set, all channels pooled. With the quantizer last and the
// auto strategy: b from the lattice of the targets' values (blind mode's
// global search: with an 8-bit target every level shows), then the smooth
// parameters by Levenberg–Marquardt on the quantization cells (each
// target sample says in which cell its pre-quantizer value fell; at the
// true parameters every sample is inside its cell), then the exact loss
// polishes b within the lattice's run and every parameter. Otherwise, and
// with -strategy gd or multistart, the joint descent of the chosen
// optimizer through the quantizer's surrogate.
func estimateImageStack(set *imageset.Set, st *kernels.Stack, params []kernels.Param, s Settings) (*StackResult, error) {
	start := time.Now()
	s, err := checkStack(st, params, s)
	if err != nil {
		return nil, err
	}
	ch := set.Channels()
	eight := true
	for _, p := range set.Pairs {
		eight = eight && p.Quant.Pix16 == nil
	}
	stc := *st
	switch {
	case s.Levels < 0:
		stc.OutputLevels = 0
	case s.Levels > 0:
		stc.OutputLevels = s.Levels
	case eight:
		stc.OutputLevels = 255
	default:
		stc.OutputLevels = 0
	}
	st = &stc
	be := s.Backend
	if be == nil {
		be = CPU{}
	}
	m := newMeter(s.Progress)
	// fit estimates the stack on crops of the images, each summed within
	// its inner rectangle (nil: whole).
	fit := func(xs, ts []kernels.Planes, inner []image.Rectangle) (*StackResult, []float64, error) {
		e, backend, err := be.Images(st, xs, ts)
		if err != nil {
			return nil, nil, err
		}
		if c, ok := e.(interface{ Close() }); ok {
			defer c.Close()
		}
		if err := e.SetInteriors(inner); err != nil {
			return nil, nil, err
		}
		if m != nil {
			e = meteredImages{e, m}
		}
		f := &stackFit{st: st, params: params, eval: e, s: s, q: -1}
		f.locateQuantizer()
		dataStep := 1.0 / 255
		if !eight {
			dataStep = 1.0 / 65535
		}
		f.setTolerance(dataStep)
		m.enter(fitPlan(st, len(params), s)[0].name)
		p, strategy, err := f.fit(func(Auto) ([]float64, error) { return f.cells(set, e) },
			func(p []float64) []float64 {
				m.enter("refine")
				return f.coordinate(f.refine(p))
			})
		if err != nil {
			return nil, nil, err
		}
		m.enter("intervals")
		renderer := ""
		if backend == "gpu" {
			renderer = be.Renderer()
		}
		r := f.result(p, strategy, "image", backend, renderer, f.edges)
		return r, p, e.Err()
	}
	var r *StackResult
	if tiled(set, s, len(params)) {
		r, err = estimateOnTiles(set, st, params, s, ch, fit, m)
	} else {
		m.ahead(fitPlan(st, len(params), s)...)
		var xs, ts []kernels.Planes
		for _, p := range set.Pairs {
			xs, ts = append(xs, planesOf(p.Orig, ch)), append(ts, planesOf(p.Quant, ch))
		}
		r, _, err = fit(xs, ts, nil)
	}
	if err != nil {
		if retryOnCPU(be, err) {
			s.Backend = CPU{}
			return estimateImageStack(set, st, params, s)
		}
		return nil, err
	}
	m.finish()
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// cells is the auto strategy of a spatial stack ending in the quantizer.
func (f *stackFit) cells(set *imageset.Set, e ImageEvaluator) ([]float64, error) {
	bp := f.params[f.q]
	targets := &imageset.Set{}
	for _, p := range set.Pairs {
		targets.Filtered = append(targets.Filtered, p.Quant)
	}
	rep, err := EstimateBlindSet(targets, false, []kernels.Model{f.qcfg.Model}, Range{Min: bp.Lo, Max: bp.Hi})
	if err != nil {
		return nil, err
	}
	bl := rep.Results[0]
	p := f.init()
	p[f.q] = bl.B
	p = f.cellFit(e, p)
	// b within the run of its lattice (any b there makes the same levels
	// of the targets; the pre-quantizer values tell them apart), by the
	// exact loss, the smooth parameters refitted at the best.
	lo, hi := bl.Interval[0], bl.Interval[1]
	if bl.Noisy || hi-lo > 0.05*bl.B {
		lo, hi = math.Max(bp.Lo, bl.B*0.98), math.Min(bp.Hi, bl.B*1.02)
	}
	// b and the smooth map trade against each other inside the run:
	// alternate a scan of b with a refit, while the loss falls.
	best, bestLoss := p, f.loss(p)
	for round := 0; round < 4; round++ {
		scan := best
		for i := range 21 {
			q := append([]float64(nil), best...)
			q[f.q] = lo + (hi-lo)*float64(i)/20
			if l := f.loss(q); l < bestLoss {
				scan, bestLoss = q, l
			}
		}
		q := f.cellFit(e, scan)
		l := f.loss(q)
		if l >= bestLoss && scan[f.q] == best[f.q] {
			break
		}
		if l <= bestLoss {
			scan, bestLoss = q, l
		}
		best = scan
	}
	return best, nil
}

// cellFit fits the smooth parameters from p, b held, by Levenberg–Marquardt:
// first every sample's pre-quantizer value g to the middle of the cell its
// target names (a smooth least-squares start), then only the samples
// outside their cell back to its edge, which is zero exactly when every
// sample is explained.
func (f *stackFit) cellFit(e ImageEvaluator, p []float64) []float64 {
	q := f.q // the smooth parameters precede b, the last
	// b stays: scaling the smooth map and b together moves no cell, so
	// the cells leave b to the targets' lattice (the caller's scan).
	idx := make([]int, q)
	for a := range idx {
		idx[a] = a
	}
	for _, middle := range []bool{true, false} {
		cells := kernels.NewCells(f.qcfg.Model, p[q], f.st.OutputLevels, middle)
		p = f.levenberg(p, idx, 100, 1e-12,
			func(p []float64) float64 { return e.CellSums(p[:q], cells, nil, nil) },
			func(p, jtj, jtr []float64) { e.CellSums(p[:q], cells, jtj, jtr) })
	}
	return p
}

// edges is the interval of parameter i, the others held: the values whose
// exact loss stays within the rounding tolerance of loss, found on each
// side by steps growing fourfold from a millionth of the way to the bound,
// then bisection of the last step to 1% of the half-width (a fine scan
// per parameter would cost hundreds of passes over whole images; plain
// bisection from the bound, 31 a side).
func (f *stackFit) edges(p []float64, i int, loss float64) [2]float64 {
	lim := loss + f.tol + 1e-12*loss
	pp := f.params[i]
	q := append([]float64(nil), p...)
	within := func(v float64) bool {
		q[i] = v
		return f.loss(q) <= lim
	}
	var iv [2]float64
	for side, end := range [2]float64{pp.Lo, pp.Hi} {
		in, out := p[i], end
		if within(end) {
			iv[side] = end
			continue
		}
		d := end - p[i]
		for k := 1e-6; k < 0.5; k *= 4 {
			v := p[i] + k*d
			if !within(v) {
				out = v
				break
			}
			in = v
		}
		for range 30 {
			if math.Abs(out-in) <= 0.01*math.Abs(in-p[i])+1e-12*math.Abs(d) {
				break
			}
			mid := (in + out) / 2
			if within(mid) {
				in = mid
			} else {
				out = mid
			}
		}
		iv[side] = in
	}
	return iv
}
