package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
)

// stackReport is what estimate -stack prints: every parameter with its
// value, interval and margin; with -per-channel, params is a list with one
// entry per channel.
type stackReport struct {
	Stack       string  `json:"stack"`
	Params      any     `json:"params"`
	Loss        any     `json:"loss"`
	Strategy    string  `json:"strategy"`
	Optimizer   string  `json:"optimizer"`
	Surrogate   string  `json:"surrogate"`
	Backend     string  `json:"backend"`
	Steps       int     `json:"steps"`
	Evaluations int     `json:"evaluations"`
	Seconds     float64 `json:"seconds"`
	Pairs       int     `json:"pairs"`
	Channels    int     `json:"channels"`
	PerChannel  bool    `json:"per_channel"`
}

type paramJSON struct {
	Value    estimate.Number    `json:"value"`
	Interval [2]estimate.Number `json:"interval"`
	Margin   estimate.Number    `json:"margin"`
}

func estimateStack(w io.Writer, set *imageset.Set, o *options.Options, s estimate.Settings) error {
	st, ps, err := o.StackOf()
	if err != nil {
		return err
	}
	var params, losses []any
	rep := stackReport{Pairs: len(set.Pairs), Channels: set.Channels(), PerChannel: o.PerChannel}
	for _, g := range estimate.Groups(set, o.PerChannel) {
		d, err := estimate.FromSet(set, g)
		if err != nil {
			return err
		}
		r, err := estimate.EstimateStack(d, st, ps, s)
		if err != nil {
			return err
		}
		m := map[string]paramJSON{}
		for _, p := range r.Params {
			m[p.Name] = paramJSON{estimate.Number(p.Value), [2]estimate.Number{estimate.Number(p.Interval[0]), estimate.Number(p.Interval[1])}, estimate.Number(p.Margin)}
		}
		params, losses = append(params, m), append(losses, estimate.Number(r.Loss))
		rep.Stack, rep.Strategy, rep.Optimizer, rep.Surrogate, rep.Backend = r.Stack, r.Strategy, r.Optimizer, r.Surrogate, r.Backend
		rep.Steps += r.Steps
		rep.Evaluations += r.Evaluations
		rep.Seconds += r.Seconds
	}
	rep.Params, rep.Loss = params[0], losses[0]
	if o.PerChannel {
		rep.Params, rep.Loss = params, losses
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}
