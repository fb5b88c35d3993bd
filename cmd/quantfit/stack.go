package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/quantfit/quantfit/host/atomicfile"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
)

// estimateStack prints what estimate -stack answers: every parameter with
// its value, interval and margin; -trace gets the optimizer's steps over
// all the parameters.
func estimateStack(c *cli, set *imageset.Set, f *estimateFlags, s estimate.Settings, rec *traceRecorder) error {
	st, ps, err := f.StackOf()
	if err != nil {
		return err
	}
	rep, rs, err := estimate.EstimateStackSet(set, f.PerChannel, st, ps, s, func(ch int) { rec.channel = ch })
	if err != nil {
		return err
	}
	losses := make([]float64, len(rs))
	for i, r := range rs {
		losses[i] = r.Loss
	}
	warnPoorFit(c.stderr, losses, set.TargetStep(), s.Loss)
	if f.trace != "" {
		names := make([]string, len(ps))
		for i, p := range ps {
			names[i] = p.Name
		}
		if err := atomicfile.Write(f.trace, func(w io.Writer) error { return rec.writeCSV(w, f.PerChannel, names) }); err != nil {
			return fmt.Errorf("-trace: %v", err)
		}
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}
