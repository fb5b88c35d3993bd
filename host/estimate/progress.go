package estimate

import "github.com/quantfit/quantfit/kernels"

// Progress is where a long fit stands (a spatial or colour stack on whole
// images or tiles): what a terminal's bar and the service's job status
// show.
type Progress struct {
	// Stage names what the fit does now: "tiles", "cells" (b and the
	// smooth parameters on the quantization cells), "descent", "refine",
	// "intervals", "held-out", "refit", "whole" or "done".
	Stage string `json:"stage"`
	// Done is the fraction of the fit done, 0 to 1; it never falls. Each
	// stage has a share of the fit (its share of the time of fits of
	// photos), filled as its passes approach the number such fits make.
	Done float64 `json:"done"`
	// Passes counts the passes over the data so far: evaluations of the
	// loss, its gradient or the cells' sums, on every pixel fitted.
	Passes int `json:"passes"`
}

// stagePlan is a stage ahead: its weight among the stages planned and the
// passes it makes.
type stagePlan struct {
	name   string
	weight float64
	passes int
}

// fitPlan is the plan of a fit of st, npar parameters, with settings s.
// The weights and passes are those measured on 2.5–12 MP photos
// (blur,quantize and sharpen,quantize on 2 cores: cells 35–45% of the
// time in 200–330 passes, refine 45–55% in 150–180, intervals under 10%
// in about 25 a parameter).
func fitPlan(st *kernels.Stack, npar int, s Settings) []stagePlan {
	_, auto := s.Strategy.(Auto)
	_, last := st.Ops[len(st.Ops)-1].(kernels.Quantize)
	intervals := stagePlan{"intervals", 0.08, 25 * npar}
	if auto && last {
		return []stagePlan{{"cells", 0.42, 250}, {"refine", 0.5, 160}, intervals}
	}
	steps := s.Optim.Steps
	if _, gd := s.Strategy.(GD); !gd {
		steps *= defaultStarts
		if m, ok := s.Strategy.(Multistart); ok {
			steps = s.Optim.Steps * m.Starts
		}
	}
	return []stagePlan{{"descent", 0.8, steps}, intervals}
}

// meter turns a fit's stages and passes into Progress for report. A nil
// meter (no report) does nothing.
type meter struct {
	report func(Progress)
	plan   []stagePlan // the stages ahead, current first
	starts []float64   // where each begins on the bar
	ends   []float64
	cur    int // index in plan of the current stage, -1 before the first
	passes int // in the current stage
	p      Progress
}

func newMeter(report func(Progress)) *meter {
	if report == nil {
		return nil
	}
	return &meter{report: report, cur: -1}
}

// ahead plans the stages ahead, which share what is left of the bar by
// weight.
func (m *meter) ahead(stages ...stagePlan) {
	if m == nil {
		return
	}
	total := 0.0
	for _, s := range stages {
		total += s.weight
	}
	m.plan, m.starts, m.ends, m.cur = stages, nil, nil, -1
	at := m.p.Done
	for _, s := range stages {
		m.starts = append(m.starts, at)
		at += (1 - m.p.Done) * s.weight / total
		m.ends = append(m.ends, at)
	}
}

// enter begins the named stage; those planned before it are passed over.
// A stage not in the plan is shown under its name at the bar's place.
func (m *meter) enter(name string) {
	if m == nil {
		return
	}
	for i := max(m.cur, 0); i < len(m.plan); i++ {
		if m.plan[i].name == name {
			m.cur, m.passes = i, 0
			m.p.Done = max(m.p.Done, min(m.starts[i], 0.999))
			break
		}
	}
	m.p.Stage = name
	m.report(m.p)
}

// pass counts a pass over the data.
func (m *meter) pass() {
	if m == nil {
		return
	}
	m.p.Passes++
	m.passes++
	if m.cur >= 0 && m.plan[m.cur].name == m.p.Stage {
		s := m.plan[m.cur]
		f := min(float64(m.passes)/float64(max(s.passes, 1)), 1)
		// below 1 until finish: the shares' sum may round above it
		m.p.Done = max(m.p.Done, min(m.starts[m.cur]+f*(m.ends[m.cur]-m.starts[m.cur]), 0.999))
	}
	m.report(m.p)
}

// finish reports the fit done.
func (m *meter) finish() {
	if m == nil {
		return
	}
	m.p.Stage, m.p.Done = "done", 1
	m.report(m.p)
}

// meteredImages counts an image evaluator's passes.
type meteredImages struct {
	ImageEvaluator
	m *meter
}

func (e meteredImages) Loss(p []float64) float64 {
	e.m.pass()
	return e.ImageEvaluator.Loss(p)
}

func (e meteredImages) LossGrad(p, grad []float64) float64 {
	e.m.pass()
	return e.ImageEvaluator.LossGrad(p, grad)
}

func (e meteredImages) CellSums(p []float64, cells kernels.Cells, jtj, jtr []float64) float64 {
	e.m.pass()
	return e.ImageEvaluator.CellSums(p, cells, jtj, jtr)
}
