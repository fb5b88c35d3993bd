package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
)

// blindReport is what estimate -blind prints: the result of the pooled
// channels, or one a channel with -per-channel.
type blindReport struct {
	Mode       string                  `json:"mode"`
	Images     int                     `json:"images"`
	PerChannel bool                    `json:"per_channel"`
	Results    []*estimate.BlindResult `json:"results"`
	// RunnerUp is, under -model auto, the next best model of the first
	// result.
	RunnerUp *blindRunnerUp `json:"runner_up,omitempty"`
}

type blindRunnerUp struct {
	Model  string  `json:"model"`
	B      float64 `json:"b"`
	Empty  int     `json:"empty"`
	Misfit float64 `json:"misfit"`
}

// runBlind estimates b from filtered images alone.
func (c *cli) runBlind(f *estimateFlags, names []string) error {
	if len(names) == 0 {
		return options.Usagef("blind", "-blind needs one or more filtered images")
	}
	if f.pairs || f.Stack != "" || f.plot != "" || f.window || f.trace != "" {
		return options.Usagef("blind", "-blind reads filtered images alone: not with -pairs, -stack, -plot, -trace or -window")
	}
	s, err := f.Settings()
	if err != nil {
		return err
	}
	var ims []*imageset.Image
	depth := 0
	for _, n := range names {
		im, err := imageset.Load(n, f.MaxPixels)
		if err != nil {
			return options.UsageError{Err: err}
		}
		if depth != 0 && im.Depth() != depth {
			return options.Usagef("blind", "%s is %d-bit, the others %d-bit: blind mode counts the values of one depth", n, im.Depth(), depth)
		}
		depth = im.Depth()
		ims = append(ims, im)
	}
	groups := [][]int{{0, 1, 2}}
	if f.PerChannel {
		groups = [][]int{{0}, {1}, {2}}
	}
	rep := &blindReport{Mode: "blind", Images: len(ims), PerChannel: f.PerChannel}
	for gi, g := range groups {
		counts := make([]uint64, 1<<depth)
		for _, im := range ims {
			for _, ch := range g {
				if len(g) > 1 && ch >= im.Channels {
					continue // pooled, a gray image counts once
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
		var fits []*estimate.BlindResult
		for _, m := range f.Models() {
			r, err := estimate.EstimateBlind(counts, m, s.Range)
			if err != nil {
				return options.UsageError{Err: err}
			}
			fits = append(fits, r)
		}
		// the cleanest fit, then the fewest empty levels; ties to the first model
		rank := func(a, b *estimate.BlindResult) int {
			return cmp.Or(cmp.Compare(a.Misfit, b.Misfit), cmp.Compare(a.Empty, b.Empty))
		}
		slices.SortStableFunc(fits, rank)
		best := fits[0]
		rep.Results = append(rep.Results, best)
		if len(fits) > 1 && gi == 0 {
			next := fits[1]
			rep.RunnerUp = &blindRunnerUp{next.Model, next.B, next.Empty, next.Misfit}
			if rank(best, next) == 0 {
				fmt.Fprintf(c.stderr, "quantfit: warning: %s b = %.4g and %s b = %.4g make the same values; from the filtered images alone they cannot be told apart (a pair can)\n",
					best.Model, best.B, next.Model, next.B)
			}
		}
		warnBlind(c.stderr, best, gi, f.PerChannel, s.Range)
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}

// warnBlind says what blind mode cannot vouch for: values off the
// answer's lattice (noise it does not model), a rival lattice nearly as
// full, an answer at an end of the range.
func warnBlind(w io.Writer, r *estimate.BlindResult, group int, perChannel bool, rg estimate.Range) {
	where := ""
	if perChannel {
		where = fmt.Sprintf(" (channel %d)", group)
	}
	if r.Misfit > 0.001 {
		fmt.Fprintf(w, "quantfit: warning%s: %.1f%% of the pixels are on no level of the answer's lattice: the images are not a clean quantization (compressed or dithered?), which blind mode does not model; the answer is unreliable\n", where, 100*r.Misfit)
	}
	if !math.IsNaN(float64(r.RivalB)) && r.RivalEmpty <= r.Empty+1 {
		fmt.Fprintf(w, "quantfit: warning%s: b = %.4g and b = %.4g fit these values almost equally (%d and %d empty levels)\n", where, r.B, float64(r.RivalB), r.Empty, r.RivalEmpty)
	}
	warnAtEdge(w, where, r.B, rg)
}
