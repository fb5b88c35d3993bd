package estimate

import (
	"math/rand/v2"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// objective holds the evaluators of one estimation: step evaluates the
// surrogate loss and gradient in the chosen mode; exact evaluates exact
// losses on grouped data (equal to the per-pixel losses to 1e-9), for
// scans, polish and ranking.
type objective struct {
	s     Settings
	data  *Data
	mode  Mode
	step  Evaluator
	exact Evaluator
	// guide is step over the groups merged on a grid of x (nil: step
	// itself), for auto's refinements, which only choose where the
	// exact polish looks: with 16-bit data it makes them cost what they
	// cost with 8-bit data.
	guide Evaluator
	// levels is the storage rounding modelled (0: none), Settings.Levels
	// resolved for these data.
	levels float64
	// backend names where the steps ran: "cpu" or "gpu"
	backend string
	grouped *kernels.Weighted
	// runs are grouped's level runs for the polish (nil for few groups)
	runs *kernels.LevelRuns

	// mini-batches
	batch     *kernels.Evaluator
	bx, bt    []float32
	perm      []int32
	permEpoch int
	batchRng  *rand.Rand

	// scans holds the exact-loss scans made, by grid size
	scans map[int][2][]float64

	evals int
	steps int
	// recorder numbering across runs
	recStep int
}

func newObjective(d *Data, s Settings) (*objective, error) {
	o := &objective{s: s, data: d, mode: s.Mode, permEpoch: -1, levels: resolveLevels(s.Levels, d)}
	if o.mode == AutoMode {
		o.mode = d.autoMode()
	}
	g, err := d.grouped(s.Loss.Kind)
	if err != nil {
		return nil, err
	}
	o.grouped, o.runs = g, kernels.NewLevelRuns(g)
	cfg := s.config(o.levels)
	exactCfg := cfg
	exactCfg.Surrogate, exactCfg.SoftForward = kernels.Surrogate{Kind: kernels.STE}, false
	be := s.Backend
	if be == nil {
		be = CPU{}
	}
	if o.exact, _, err = be.Weighted(g, exactCfg); err != nil {
		return nil, err
	}
	if o.mode == HistMode {
		o.step, o.backend, err = be.Weighted(g, cfg)
		if c := g.Coarse(guideBins); err == nil && 4*c.Len() <= g.Len() && s.Optim.BatchSize == 0 {
			o.guide, _, err = be.Weighted(c, cfg)
		}
	} else {
		var smp kernels.Samples
		if smp, err = d.Samples(); err == nil {
			x8, t8 := d.bytes()
			o.step, o.backend, err = be.Pixels(smp, x8, t8, cfg)
		}
	}
	if err != nil {
		o.close()
		return nil, err
	}
	if s.Optim.BatchSize > 0 {
		smp, err := d.Samples()
		if err != nil {
			return nil, err
		}
		n := min(s.Optim.BatchSize, smp.Len())
		o.bx, o.bt = make([]float32, n), make([]float32, n)
		copy(o.bx, smp.X)
		copy(o.bt, smp.T)
		if o.batch, err = kernels.NewEvaluator(kernels.Samples{X: o.bx, T: o.bt}, cfg); err != nil {
			return nil, err
		}
		o.perm = make([]int32, smp.Len())
		for i := range o.perm {
			o.perm[i] = int32(i)
		}
		o.batchRng = rand.New(rand.NewPCG(s.Seed, 0xba7c4))
	}
	return o, nil
}

// close frees the evaluators' resources.
func (o *objective) close() {
	for _, e := range []Evaluator{o.step, o.exact, o.guide} {
		closeEvaluator(e)
	}
}

// err is the first failure of an evaluator.
func (o *objective) err() error {
	for _, e := range []Evaluator{o.step, o.exact, o.guide} {
		if e != nil {
			if err := e.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// setConfig changes the surrogate of the step evaluators (continuation).
func (o *objective) setConfig(c kernels.Config) error {
	if err := o.step.SetConfig(c); err != nil {
		return err
	}
	if o.guide != nil {
		if err := o.guide.SetConfig(c); err != nil {
			return err
		}
	}
	if o.batch != nil {
		return o.batch.SetConfig(c)
	}
	return nil
}

// loss is the exact mean loss at b.
func (o *objective) loss(b float64) float64 {
	o.evals++
	return o.exact.Loss(b)
}

// losses fills out with the exact losses at bs in one pass.
func (o *objective) losses(bs, out []float64) {
	o.evals += len(bs)
	o.exact.Losses(bs, out)
}

// problem is the descent on ev: o.step, or o.guide for a refinement.
func (o *objective) problem(ev Evaluator) optim.Problem {
	p := optim.Problem{
		LossGrad: func(g, x []float64) float64 {
			o.evals++
			return ev.LossGrad(x, g)
		},
	}
	if o.batch != nil {
		p.NumBatches = len(o.perm) / len(o.bx)
		if p.NumBatches > 1 {
			p.BatchLossGrad = o.batchLossGrad
			p.Loss = func(x []float64) float64 { return o.loss(x[0]) }
		}
	}
	return p
}

// batchLossGrad gathers batch i of the epoch's permutation into the batch
// buffers and evaluates them.
func (o *objective) batchLossGrad(g, x []float64, epoch, batch int) float64 {
	if epoch != o.permEpoch {
		o.batchRng.Shuffle(len(o.perm), func(i, j int) { o.perm[i], o.perm[j] = o.perm[j], o.perm[i] })
		o.permEpoch = epoch
	}
	smp, _ := o.data.Samples()
	n := len(o.bx)
	for k, idx := range o.perm[batch*n : (batch+1)*n] {
		o.bx[k], o.bt[k] = smp.X[idx], smp.T[idx]
	}
	o.evals++
	return o.batch.LossGrad(x, g)
}

// guideBins is the grid of x on which guide merges the groups: 4096 bins
// put a merged group's x within 30/4096 of a level of its members' at
// b = 30. 8-bit data (one value a bin) have no guide.
const guideBins = 4096

// run is one gradient run from b0 within [lo, hi].
func (o *objective) run(b0, lo, hi float64, steps int) (*optim.Result, error) {
	return o.runOn(o.step, b0, lo, hi, steps)
}

// runOn is run on the evaluator ev.
func (o *objective) runOn(ev Evaluator, b0, lo, hi float64, steps int) (*optim.Result, error) {
	m, err := optim.ParseMethod(o.s.Optim.Method)
	if err != nil {
		return nil, err
	}
	set := &optim.Settings{
		Steps:        steps,
		LearningRate: o.s.Optim.LearningRate,
		Schedule:     o.s.Optim.Schedule,
		Noise:        o.s.Optim.Noise,
		Patience:     o.s.Optim.Patience,
		Tolerance:    o.s.Optim.Tolerance,
		Lower:        []float64{lo},
		Upper:        []float64{hi},
		Seed:         o.s.Seed + uint64(o.steps),
	}
	if o.s.Recorder != nil {
		set.Recorder = optim.RecorderFunc(func(st optim.Step) error {
			st.Step = o.recStep
			o.recStep++
			return o.s.Recorder.Record(st)
		})
	}
	res, err := optim.Minimize(o.problem(ev), []float64{b0}, set, m)
	if err != nil {
		return nil, err
	}
	o.steps += res.Steps
	return res, nil
}
