// Package plots draws quantfit's figures as PNG with gonum.org/v1/plot: the
// course of an estimation (b per step against the answer, and the loss
// landscape with the trajectory on it).
package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one step of a run.
type Point struct {
	Step    int
	B, Loss float64
}

// Run is the data of an estimation figure.
type Run struct {
	Title string
	// Trajectory is the gradient steps of the run, in order.
	Trajectory []Point
	// Reference is the value b is compared with: the truth if known, else
	// the answer.
	Reference      float64
	ReferenceLabel string
	// Answer is the final b.
	Answer float64
	// Grid and Landscape are the exact loss over [bmin, bmax].
	Grid, Landscape []float64
}

var (
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	green  = color.RGBA{44, 160, 44, 255}
	red    = color.RGBA{214, 39, 40, 255}
)

// WriteRun writes the two-panel figure of r as PNG.
func WriteRun(w io.Writer, r Run) error {
	top := plot.New()
	top.Title.Text = r.Title
	top.X.Label.Text = "step"
	top.Y.Label.Text = "b"
	if len(r.Trajectory) > 0 {
		xy := make(plotter.XYs, len(r.Trajectory))
		for i, p := range r.Trajectory {
			xy[i] = plotter.XY{X: float64(p.Step), Y: p.B}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		l.Color = blue
		top.Add(l)
		top.Legend.Add("b per step", l)
		ref, err := plotter.NewLine(plotter.XYs{{X: 0, Y: r.Reference}, {X: float64(r.Trajectory[len(r.Trajectory)-1].Step), Y: r.Reference}})
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		ref.Color, ref.Dashes = red, []vg.Length{vg.Points(4), vg.Points(3)}
		top.Add(ref)
		top.Legend.Add(r.ReferenceLabel, ref)
	} else {
		top.Title.Text += " (no gradient steps)"
	}
	top.Legend.Top = true

	bot := plot.New()
	bot.X.Label.Text = "b"
	bot.Y.Label.Text = "exact loss"
	if len(r.Grid) > 0 {
		xy := make(plotter.XYs, len(r.Grid))
		for i := range r.Grid {
			xy[i] = plotter.XY{X: r.Grid[i], Y: r.Landscape[i]}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		l.Color = green
		bot.Add(l)
		bot.Legend.Add("loss landscape", l)
	}
	if len(r.Trajectory) > 0 {
		xy := make(plotter.XYs, 0, len(r.Trajectory))
		for _, p := range r.Trajectory {
			if !math.IsNaN(p.Loss) && !math.IsInf(p.Loss, 0) {
				xy = append(xy, plotter.XY{X: p.B, Y: p.Loss})
			}
		}
		if len(xy) > 0 {
			s, err := plotter.NewScatter(xy)
			if err != nil {
				return fmt.Errorf("plots: %w", err)
			}
			s.Color, s.Radius = blue, vg.Points(1.5)
			bot.Add(s)
			bot.Legend.Add("trajectory", s)
		}
	}
	if len(r.Grid) > 0 {
		lo, hi := minMax(r.Landscape)
		for _, v := range []struct {
			b     float64
			c     color.Color
			label string
		}{{r.Answer, orange, "answer"}, {r.Reference, red, r.ReferenceLabel}} {
			l, err := plotter.NewLine(plotter.XYs{{X: v.b, Y: lo}, {X: v.b, Y: hi}})
			if err != nil {
				return fmt.Errorf("plots: %w", err)
			}
			l.Color, l.Dashes = v.c, []vg.Length{vg.Points(4), vg.Points(3)}
			bot.Add(l)
			bot.Legend.Add(v.label, l)
		}
	}
	bot.Legend.Top = true

	img := vgimg.New(vg.Points(800), vg.Points(700))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	cs := plot.Align([][]*plot.Plot{{top}, {bot}}, tiles, dc)
	top.Draw(cs[0][0])
	bot.Draw(cs[1][0])
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// Series is one line of a log-log figure.
type Series struct {
	Label string
	X, Y  []float64
}

// Level is a horizontal line of a figure, such as a hardware ceiling.
type Level struct {
	Label string
	Y     float64
}

// WriteLogLog writes a log-log figure of the series with the levels drawn
// dashed, as PNG.
func WriteLogLog(w io.Writer, title, xLabel, yLabel string, series []Series, levels []Level) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	palette := []color.Color{blue, orange, green, red, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
		color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255}}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		xy := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if s.X[j] > 0 && s.Y[j] > 0 {
				xy = append(xy, plotter.XY{X: s.X[j], Y: s.Y[j]})
				xmin, xmax = math.Min(xmin, s.X[j]), math.Max(xmax, s.X[j])
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		c := palette[i%len(palette)]
		l.Color, pts.Color = c, c
		p.Add(l, pts)
		p.Legend.Add(s.Label, l, pts)
	}
	for i, lv := range levels {
		if lv.Y <= 0 || math.IsInf(xmin, 0) {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: lv.Y}, {X: xmax, Y: lv.Y}})
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		l.Color = palette[(len(series)+i)%len(palette)]
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(lv.Label, l)
	}
	// Keep the levels inside the frame, with room for the legend.
	for _, lv := range levels {
		if lv.Y > 0 && lv.Y*2 > p.Y.Max {
			p.Y.Max = lv.Y * 2
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	wt, err := p.WriterTo(vg.Points(800), vg.Points(550), "png")
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}
