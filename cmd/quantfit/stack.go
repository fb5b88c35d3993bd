package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
)

// estimateStack prints what estimate -stack answers: every parameter with
// its value, interval and margin.
func estimateStack(w io.Writer, set *imageset.Set, o *options.Options, s estimate.Settings) error {
	st, ps, err := o.StackOf()
	if err != nil {
		return err
	}
	rep, _, err := estimate.EstimateStackSet(set, o.PerChannel, st, ps, s)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("writing the result: %v", err)
	}
	return nil
}
