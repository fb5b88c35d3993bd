package estimate

import (
	"encoding/json"
	"math"

	"github.com/quantfit/quantfit/kernels"
)

// Report is the JSON object of an estimate: what `quantfit estimate`
// prints, a batch writes per job and the service answers. With
// PerChannel the per-channel fields are lists, one entry per channel.
type Report struct {
	B          any     `json:"b"`
	Loss       any     `json:"loss"`
	Interval   any     `json:"interval"`
	RivalB     any     `json:"rival_b"`
	RivalLoss  any     `json:"rival_loss"`
	Margin     any     `json:"margin"`
	Run                // steps, evaluations and seconds summed over channels
	Pairs      int     `json:"pairs"`
	Channels   int     `json:"channels"`
	PerChannel bool    `json:"per_channel"`
	Truth      *Number `json:"truth,omitempty"`
	Narrowed   bool    `json:"narrowed,omitempty"`
	// RunnerUp is, when the model was chosen (-model auto), the next best
	// model and its loss (summed over channel groups, as the choice was
	// made).
	RunnerUp *RunnerUp `json:"runner_up,omitempty"`
	// PillowBits is Result.PillowBits (a list with PerChannel), when any
	// channel group has it.
	PillowBits any `json:"pillow_bits,omitempty"`
	// Blocks, BlockLoss, BlockRivalB and BlockRivalLoss are Result's (lists
	// with PerChannel), when the basins were ranked by block means.
	Blocks         bool `json:"blocks,omitempty"`
	BlockLoss      any  `json:"block_loss,omitempty"`
	BlockRivalB    any  `json:"block_rival_b,omitempty"`
	BlockRivalLoss any  `json:"block_rival_loss,omitempty"`
}

// RunnerUp is the model that fitted second best, and its loss.
type RunnerUp struct {
	Model string  `json:"model"`
	Loss  float64 `json:"loss"`
}

// Number marshals NaN and infinities as null: JSON has neither.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// NewReport summarizes the results of the channel groups of one estimate.
func NewReport(rs []*Result, pairs, channels int, perChannel bool) Report {
	pick := func(f func(*Result) any) any {
		if !perChannel {
			return f(rs[0])
		}
		out := make([]any, len(rs))
		for i, r := range rs {
			out[i] = f(r)
		}
		return out
	}
	r0 := rs[0]
	out := Report{
		B:         pick(func(r *Result) any { return Number(r.B) }),
		Loss:      pick(func(r *Result) any { return Number(r.Loss) }),
		Interval:  pick(func(r *Result) any { return [2]Number{Number(r.Interval[0]), Number(r.Interval[1])} }),
		RivalB:    pick(func(r *Result) any { return Number(r.RivalB) }),
		RivalLoss: pick(func(r *Result) any { return Number(r.RivalLoss) }),
		Margin:    pick(func(r *Result) any { return Number(r.Margin) }),
		Run:       r0.Run, Pairs: pairs, Channels: channels, PerChannel: perChannel,
	}
	out.Steps, out.Evaluations, out.Seconds = 0, 0, 0
	for _, r := range rs {
		if r.PillowBits != 0 {
			out.PillowBits = pick(func(r *Result) any { return r.PillowBits })
		}
		out.Steps += r.Steps
		out.Evaluations += r.Evaluations
		out.Seconds += r.Seconds
		out.Narrowed = out.Narrowed || r.Narrowed
		out.Blocks = out.Blocks || r.Blocks
	}
	if out.Blocks {
		out.BlockLoss = pick(func(r *Result) any { return Number(r.BlockLoss) })
		out.BlockRivalB = pick(func(r *Result) any { return Number(r.BlockRivalB) })
		out.BlockRivalLoss = pick(func(r *Result) any { return Number(r.BlockRivalLoss) })
	}
	return out
}

// StackReport is the JSON object of a stack estimate: every parameter with
// its value, interval and margin. With PerChannel, Params and Loss are
// lists, one entry per channel.
type StackReport struct {
	StackRun
	Params     any  `json:"params"`
	Loss       any  `json:"loss"`
	Pairs      int  `json:"pairs"`
	Channels   int  `json:"channels"`
	PerChannel bool `json:"per_channel"`
	// Tiles, for a spatial stack fitted on tiles: StackResult.Tiles.
	Tiles *TileReport `json:"tiles,omitempty"`
}

// ParamReport is one parameter of a StackReport.
type ParamReport struct {
	Value    Number    `json:"value"`
	Interval [2]Number `json:"interval"`
	Margin   Number    `json:"margin"`
}

// NewStackReport summarizes the results of the channel groups of one
// stack estimate.
func NewStackReport(rs []*StackResult, pairs, channels int, perChannel bool) StackReport {
	out := StackReport{Pairs: pairs, Channels: channels, PerChannel: perChannel}
	var params, losses []any
	for _, r := range rs {
		m := map[string]ParamReport{}
		for _, p := range r.Params {
			m[p.Name] = ParamReport{Number(p.Value), [2]Number{Number(p.Interval[0]), Number(p.Interval[1])}, Number(p.Margin)}
		}
		params, losses = append(params, m), append(losses, Number(r.Loss))
		steps, evals, secs := out.Steps+r.Steps, out.Evaluations+r.Evaluations, out.Seconds+r.Seconds
		out.StackRun = r.StackRun
		out.Steps, out.Evaluations, out.Seconds = steps, evals, secs
	}
	out.Params, out.Loss = params[0], losses[0]
	if len(rs) == 1 {
		out.Tiles = rs[0].Tiles
	}
	if perChannel {
		out.Params, out.Loss = params, losses
	}
	return out
}

// PoorFitLevels is the typical residual, in levels of the filtered images,
// beyond which a fit is not a quantization of the original: quantization
// and storage explain under one, JPEG a few; dithering (ffmpeg's low-depth
// formats, ImageMagick's -ordered-dither) leaves 4 to 24.
const PoorFitLevels = 4

// ResidualLevels is the typical residual of a fit whose loss of kind l is
// loss, in levels of size step: the root of an MSE, an L1 as it is; NaN
// for losses that give no such reading (Huber).
func ResidualLevels(loss float64, l kernels.Loss, step float64) float64 {
	switch l.Kind {
	case kernels.MSE:
		return math.Sqrt(loss) / step
	case kernels.L1:
		return loss / step
	}
	return math.NaN()
}
