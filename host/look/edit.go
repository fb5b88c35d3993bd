package look

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// Edit is what `look apply` applies: a look, or the result of an estimate
// (b alone, one b per channel, or a stack of operators with its
// parameters), so that fit → apply is one workflow for every fit.
type Edit struct {
	// Kind is "look", "quantizer" or "stack".
	Kind  string
	Look  *Look
	model kernels.Model
	b     []float64
	stack *kernels.Stack
	p     []float64
}

// estimateReport is the part of an estimate's JSON report an edit needs.
type estimateReport struct {
	Version    *int            `json:"version"`
	Model      string          `json:"model"`
	B          json.RawMessage `json:"b"`
	Stack      string          `json:"stack"`
	PerChannel bool            `json:"per_channel"`
	Params     map[string]struct {
		Value json.RawMessage `json:"value"`
	} `json:"params"`
}

// maxParam bounds a stack parameter read from a report.
const maxParam = 1 << 16

// ReadEdit reads a LOOK.json or an estimate report, validated whole.
func ReadEdit(data []byte) (*Edit, error) {
	var r estimateReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, formatErr("%v", err)
	}
	if r.Version != nil {
		l, err := Parse(data)
		if err != nil {
			return nil, err
		}
		return &Edit{Kind: "look", Look: l}, nil
	}
	if r.Model == "" {
		return nil, formatErr("neither a look (no version) nor an estimate report (no model)")
	}
	m, err := kernels.ParseModel(r.Model)
	if err != nil {
		return nil, formatErr("report: %v", err)
	}
	e := &Edit{model: m}
	if r.Stack == "" {
		e.Kind = "quantizer"
		var one float64
		if err := json.Unmarshal(r.B, &one); err == nil {
			e.b = []float64{one}
		} else if err := json.Unmarshal(r.B, &e.b); err != nil || (len(e.b) != 1 && len(e.b) != 3) {
			return nil, formatErr("report: b is neither a number nor one a channel")
		}
		for _, b := range e.b {
			if !(b > m.MinB()) || b > 1<<16 {
				return nil, formatErr("report: b %v is not a quantizer's", b)
			}
		}
		return e, nil
	}
	if r.PerChannel {
		return nil, formatErr("report: a per-channel stack (-per-channel) has parameters per channel; apply needs one stack for the image")
	}
	e.Kind = "stack"
	if e.stack, err = kernels.ParseStack(r.Stack, kernels.Config{Model: m, Surrogate: kernels.Surrogate{Kind: kernels.STE}}); err != nil {
		return nil, formatErr("report: %v", err)
	}
	for _, pp := range e.stack.Params() {
		v, ok := r.Params[pp.Name]
		var x float64
		if !ok || json.Unmarshal(v.Value, &x) != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, formatErr("report: stack %s needs a numeric value of %q", r.Stack, pp.Name)
		}
		// beyond any fit's range: a blur of σ = 1e9 would ask for
		// gigabytes of taps
		if math.Abs(x) > maxParam {
			return nil, formatErr("report: %s = %v is beyond %v", pp.Name, x, float64(maxParam))
		}
		e.p = append(e.p, x)
	}
	return e, nil
}

// Apply applies the edit to im; the result has im's depth (a grey image
// meeting an RGB look comes out RGB).
func (e *Edit) Apply(im *imageset.Image) (*imageset.Image, error) {
	switch e.Kind {
	case "look":
		return e.Look.Apply(im, 0), nil
	case "stack":
		return estimate.ApplyStack(im, e.stack, e.p)
	}
	if len(e.b) == 3 && im.Channels == 1 {
		return nil, &imageset.InputError{Name: im.Name, Err: fmt.Errorf("a grey image, but the report has one b per channel")}
	}
	out := im.Filter(func(x float64) float64 { return e.model.Apply(x, e.b[0]) })
	for c := 1; c < len(e.b); c++ {
		pl := im.Filter(func(x float64) float64 { return e.model.Apply(x, e.b[c]) })
		if out.Pix16 != nil {
			out.Pix16[c] = pl.Pix16[c]
		} else {
			out.Pix8[c] = pl.Pix8[c]
		}
	}
	return out, nil
}

// Marshal writes the look as LOOK.json: compact, the tables being long.
func (l *Look) Marshal() ([]byte, error) {
	b, err := json.Marshal(l)
	return append(b, '\n'), err
}
