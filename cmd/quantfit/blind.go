package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
)

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
	set := &imageset.Set{}
	for _, n := range names {
		im, err := imageset.Load(n, f.MaxPixels)
		if err != nil {
			return options.UsageError{Err: err}
		}
		set.Filtered = append(set.Filtered, im)
	}
	out, err := f.Estimate(set, nil, options.Hooks{})
	var ie *imageset.InputError
	if errors.As(err, &ie) {
		return options.UsageError{Err: err}
	}
	if err != nil {
		return err
	}
	rep := out.Blind
	if ru := rep.RunnerUp; ru != nil && ru.Tie {
		fmt.Fprintf(c.stderr, "quantfit: warning: %s b = %.4g and %s b = %.4g make the same values; from the filtered images alone they cannot be told apart (a pair can)\n",
			rep.Results[0].Model, rep.Results[0].B, ru.Model, ru.B)
	}
	for i, r := range rep.Results {
		warnBlind(c.stderr, r, i, f.PerChannel, s.Range)
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}

// warnBlind says what blind mode cannot vouch for: noisy values (which
// it reads by how tightly they gather, often wrongly), a rival lattice
// nearly as good, an answer at an end of the range.
func warnBlind(w io.Writer, r *estimate.BlindResult, group int, perChannel bool, rg estimate.Range) {
	where := ""
	if perChannel {
		where = fmt.Sprintf(" (channel %d)", group)
	}
	if r.Noisy {
		fmt.Fprintf(w, "quantfit: warning%s: %.1f%% of the pixels are off the answer's levels and no lattice holds them all: the images are not a clean quantization (compressed after it?); b is the lattice they gather on most tightly (score %.3g, next b = %.4g at %.3g), right in about half of JPEG q85 photos measured: give the originals too for a reliable answer\n",
			where, 100*r.Misfit, r.Score, float64(r.RivalB), float64(r.RivalScore))
	} else if r.Misfit > 0 {
		fmt.Fprintf(w, "quantfit: warning%s: %.2f%% of the pixels are on no level of the answer's lattice (edited or compressed?)\n", where, 100*r.Misfit)
	}
	if !r.Noisy && !math.IsNaN(float64(r.RivalB)) && r.RivalEmpty <= r.Empty+1 {
		fmt.Fprintf(w, "quantfit: warning%s: b = %.4g and b = %.4g fit these values almost equally (%d and %d empty levels)\n", where, r.B, float64(r.RivalB), r.Empty, r.RivalEmpty)
	}
	warnAtEdge(w, where, r.B, rg)
}
