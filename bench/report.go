package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/quantfit/quantfit/internal/plots"
)

// WriteJSON writes one JSON object per measurement, one per line.
func WriteJSON(w io.Writer, ms []Measurement) error {
	enc := json.NewEncoder(w)
	for _, m := range ms {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}

func si(v float64, unit string) string {
	switch {
	case v >= 1e12:
		return fmt.Sprintf("%.2f T%s", v/1e12, unit)
	case v >= 1e9:
		return fmt.Sprintf("%.2f G%s", v/1e9, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M%s", v/1e6, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.2f k%s", v/1e3, unit)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

func dur(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3f s", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3f ms", s*1e3)
	}
	return fmt.Sprintf("%.1f µs", s*1e6)
}

// WriteMarkdown writes the measurements as markdown tables: the steps, then
// the end-to-end estimations.
func WriteMarkdown(w io.Writer, ms []Measurement) {
	fmt.Fprintln(w, "| backend | pixels | surrogate | mode | K | step median (min–max) | pixels/s | bytes/s | of ceiling | GPU speed-up |")
	fmt.Fprintln(w, "| --- | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
	for _, m := range ms {
		if m.Kind != "step" {
			continue
		}
		sp := ""
		if m.Speedup > 0 {
			sp = fmt.Sprintf("%.3g×", m.Speedup)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s (%s–%s) | %s | %s | %.1f%% | %s |\n", m.Backend, si(float64(m.Pixels), ""),
			m.Surrogate, m.Mode, m.K, dur(m.StepMedian), dur(m.StepMin), dur(m.StepMax), si(m.PixelsPerSecond, "pix/s"),
			si(m.BytesPerSecond, "B/s"), 100*m.CeilingRatio, sp)
	}
	var auto []Measurement
	for _, m := range ms {
		if m.Kind == "auto" {
			auto = append(auto, m)
		}
	}
	if len(auto) > 0 {
		fmt.Fprintln(w, "\nEnd-to-end `auto` (histogram build, upload, every step, readback):")
		fmt.Fprintln(w, "\n| backend | pixels | median (min–max) | GPU speed-up |")
		fmt.Fprintln(w, "| --- | ---: | --- | ---: |")
		for _, m := range auto {
			sp := ""
			if m.Speedup > 0 {
				sp = fmt.Sprintf("%.3g×", m.Speedup)
			}
			fmt.Fprintf(w, "| %s | %s | %s (%s–%s) | %s |\n", m.Backend, si(float64(m.Pixels), ""), dur(m.StepMedian), dur(m.StepMin), dur(m.StepMax), sp)
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if m.Kind == "step" && !seen[m.Backend] {
			seen[m.Backend] = true
			fmt.Fprintf(w, "\nCeiling of %s: %s (large copy, read and write counted).\n", backendLabel(m.Backend, m.Renderer), si(m.Ceiling, "B/s"))
		}
	}
}

// WritePlot draws throughput against pixel count, log-log, one line per
// backend and surrogate (per-pixel mode, K = 1), with each backend's
// ceiling in pixels per second at its bytes per pixel.
func WritePlot(w io.Writer, ms []Measurement) error {
	type key struct{ backend, surrogate string }
	lines := map[key]*plots.Series{}
	var keys []key
	ceil := map[string]float64{}
	for _, m := range ms {
		if m.Kind != "step" || m.Mode != "pixel" || m.K != 1 {
			continue
		}
		k := key{m.Backend, m.Surrogate}
		s, ok := lines[k]
		if !ok {
			s = &plots.Series{Label: m.Backend + " " + m.Surrogate}
			lines[k] = s
			keys = append(keys, k)
		}
		s.X = append(s.X, float64(m.Pixels))
		s.Y = append(s.Y, m.PixelsPerSecond)
		ceil[m.Backend] = m.Ceiling / (m.BytesPerSecond / m.PixelsPerSecond)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].backend+keys[i].surrogate < keys[j].backend+keys[j].surrogate
	})
	var series []plots.Series
	for _, k := range keys {
		series = append(series, *lines[k])
	}
	var levels []plots.Level
	var names []string
	for b := range ceil {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		levels = append(levels, plots.Level{Label: b + " bandwidth ceiling", Y: ceil[b]})
	}
	title := "quantfit: one loss+gradient step, per-pixel mode"
	if len(series) == 0 {
		title += " (no per-pixel K=1 measurements)"
	}
	return plots.WriteLogLog(w, title, "pixels", "pixels per second", series, levels)
}
