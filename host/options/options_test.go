package options

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/quantfit/quantfit/host/estimate"
)

func parsed(t *testing.T, args ...string) *Options {
	t.Helper()
	o := &Options{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Declare(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCloneKeepsParamRanges: jobs applied to clones of one base, at once,
// each keep their own ranges and leave the base as it was. Before Clone,
// `opt := *base` shared the slice and Apply appended to it: job A ended
// with job B's range, and -race reported the race.
func TestCloneKeepsParamRanges(t *testing.T) {
	base := parsed(t, "-stack", "gain,bias,quantize", "-param", "gain=0.5:2", "-param", "bias=-0.5:0.5", "-param", "b=5:30")
	want := slices.Clone(base.ParamRanges)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := base.Clone()
			r := fmt.Sprintf("gain=0.%d:2", 5+i%4)
			if err := o.Apply(map[string]string{"param": r}); err != nil {
				errs <- err
				return
			}
			if got := o.ParamRanges[len(o.ParamRanges)-1]; got != r || len(o.ParamRanges) != 4 {
				errs <- fmt.Errorf("job %d: ranges %v, want %s last of 4", i, o.ParamRanges, r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !slices.Equal(base.ParamRanges, want) {
		t.Errorf("base ranges became %v, want %v", base.ParamRanges, want)
	}
}

// TestIgnoredOptionsRefused: an option that the other choices would ignore,
// or a count of 0 that a lower layer would read as "default", is a usage
// error naming it.
func TestIgnoredOptionsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-param", "gain=0:1"}, "param"},
		{[]string{"-init", "12"}, "init"},
		{[]string{"-strategy", "multistart", "-init", "12"}, "init"},
		{[]string{"-starts", "0"}, "starts"},
		{[]string{"-strategy", "gd", "-starts", "4"}, "starts"},
		{[]string{"-surrogate", "gaussian", "-samples", "0"}, "samples"},
		{[]string{"-samples", "8"}, "samples"},
		{[]string{"-stages", "0", "-strategy", "continuation"}, "stages"},
		{[]string{"-gamma", "0.5", "-surrogate", "ste"}, "gamma"},
		{[]string{"-delta", "0.1"}, "delta"},
		{[]string{"-tol", "0.1"}, "tol"},
		{[]string{"-strategy", "scan", "-optimizer", "sgd"}, "optimizer"},
		{[]string{"-bmin", "35"}, "bmin"},
		{[]string{"-stack", "gain,quantize", "-strategy", "auto", "-init", "9"}, "init"},
	} {
		o := parsed(t, c.args...)
		err := o.Check()
		var ue UsageError
		if !errors.As(err, &ue) || ue.Flag != c.flag {
			t.Errorf("%v: error %v (flag %q), want a usage error naming -%s", c.args, err, ue.Flag, c.flag)
		}
	}
	for _, args := range [][]string{
		{"-strategy", "gd", "-init", "12"},
		{"-strategy", "continuation", "-init", "12", "-stages", "4"},
		{"-surrogate", "gaussian", "-samples", "8"},
		{"-loss", "huber", "-delta", "0.1"},
		{"-patience", "10", "-tol", "1e-6"},
		{"-stack", "gain,quantize", "-param", "gain=0.5:1.5", "-strategy", "gd", "-init", "9"},
		{"-strategy", "scan", "-scan-points", "1000"},
	} {
		if err := parsed(t, args...).Check(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestApplyOverBase: an option set by a job is checked together with the
// base's options, not the defaults: -bmax 60 and a job's bmin 35 agree.
func TestApplyOverBase(t *testing.T) {
	base := parsed(t, "-bmax", "60")
	o := base.Clone()
	if err := o.Apply(map[string]string{"bmin": "35"}); err != nil {
		t.Fatal(err)
	}
	s, err := o.Settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.Range != (estimate.Range{Min: 35, Max: 60}) {
		t.Errorf("range %+v", s.Range)
	}
	// The job's explicit options are its own: the base is untouched.
	if err := base.Check(); err != nil {
		t.Errorf("base: %v", err)
	}
	if err := o.Apply(map[string]string{"backend": "cpu"}); err == nil {
		t.Error("a job set the process-wide -backend")
	}
}

// TestFlaggedNamesEveryField: every settings field an error can name maps
// to a flag that exists.
func TestFlaggedNamesEveryField(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	(&Options{}).Declare(fs)
	for field, name := range fieldFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("field %s maps to -%s, which is no flag", field, name)
		}
	}
}
