package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/quantfit/quantfit/host/estimate"
)

// The long commands show their progress on a terminal's standard error,
// and nothing where it is a file or a pipe: logs stay clean.

// fitProgress draws a bar of a long fit's progress on a terminal, its
// stage and passes beside it; elsewhere nothing. done clears it.
func fitProgress(w io.Writer) (report func(estimate.Progress), done func()) {
	fh, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(fh.Fd())) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	return func(p estimate.Progress) {
			if bar == nil {
				bar = progressbar.NewOptions(1000, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("fit"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish())
			}
			bar.Describe(fmt.Sprintf("fit: %-9s %4d passes", p.Stage, p.Passes))
			bar.Set(int(1000 * p.Done))
		}, func() {
			if bar != nil {
				bar.Finish()
			}
		}
}

// restoreProgress draws a bar of steps on a terminal; elsewhere nothing.
func restoreProgress(w io.Writer, steps int) (report func(step int), finish func()) {
	fh, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(fh.Fd())) {
		return func(int) {}, func() {}
	}
	bar := progressbar.NewOptions(steps, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("restore"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("steps"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
	return func(step int) { bar.Set(step) }, func() { fmt.Fprintln(w) }
}

// stageProgress names the fit's stages on a terminal; elsewhere nothing.
func stageProgress(w io.Writer) (func(string), func()) {
	fh, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(fh.Fd())) {
		return nil, func() {}
	}
	start := time.Now()
	return func(stage string) {
			fmt.Fprintf(w, "\r\033[Klook fit: %s (%.1fs)", stage, time.Since(start).Seconds())
		}, func() {
			fmt.Fprint(w, "\r\033[K")
		}
}
