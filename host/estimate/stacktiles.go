package estimate

import (
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/tiles"
	"github.com/quantfit/quantfit/kernels"
)

// A spatial stack's evidence saturates long before a 12 MP photo is used
// whole (σ and N come out the same from a 512×384 crop), while every
// evaluation costs a pass over every pixel. So large images are fitted on
// tiles: square tiles chosen to cover the originals' tones and edges and
// the targets' levels (host/tiles), each cut with a border as wide as the
// image operators read, which feeds the blurs but is not summed
// (SetInteriors). The fit is then verified: its exact loss on held-out
// tiles, drawn at random, against its loss on the training tiles; where
// they disagree, the held-out tiles join the training and the fit runs
// again; last, one evaluation over the whole images, in bands.

// tileBudget is Settings.TileBudget, its default resolved for a stack of
// npar parameters: the evidence a parameter needs, measured on blur,
// quantize (σ within 0.01% and N exact from 8 tiles of 128² on a 2.5 MP
// photo, as from the whole photo).
func tileBudget(s Settings, npar int) int {
	if s.TileBudget != 0 {
		return s.TileBudget
	}
	return max(1<<17, npar<<16)
}

// stackTile is the side of a tile: large against its border (a blur of σ 4
// reads 12 pixels around), small enough that a budget holds a dozen.
const stackTile = 128

// TileReport says how a spatial stack was fitted on tiles.
type TileReport struct {
	// Tiles and Pixels are the training tiles and their pixels (borders
	// excluded); Total is the pixels of the whole images.
	Tiles  int `json:"tiles"`
	Pixels int `json:"pixels"`
	Total  int `json:"total_pixels"`
	// Border is the width of the border each tile is cut with.
	Border int `json:"border"`
	// TrainLoss, HeldOutLoss and WholeLoss are the exact mean losses at
	// the answer on the training tiles, the held-out tiles and the whole
	// images; HeldOutPixels are the held-out tiles' pixels.
	TrainLoss     float64 `json:"train_loss"`
	HeldOutLoss   float64 `json:"held_out_loss"`
	HeldOutPixels int     `json:"held_out_pixels"`
	WholeLoss     float64 `json:"whole_loss"`
	// Refits is 1 where the held-out tiles disagreed and joined the
	// training for a second fit.
	Refits int `json:"refits"`
}

// border is how far a spatial stack's output reads around a pixel, at the
// upper bounds of its Gaussian mixes' widths: 3σ each (kernels.GaussTaps).
func border(st *kernels.Stack, params []kernels.Param) int {
	m, off := 0, 0
	for _, op := range st.Ops {
		n := len(op.Params())
		if _, ok := op.(kernels.ImageOp); ok {
			for _, p := range params[off : off+n] {
				if strings.Contains(p.Name, "sigma") {
					m += int(math.Ceil(3 * p.Hi))
				}
			}
		}
		off += n
	}
	return m
}

// crop is a tile cut with its border, clamped to the image: the planes
// and, within them, the tile's own rectangle.
type crop struct {
	x, t  kernels.Planes
	inner image.Rectangle
}

func cropOf(set *imageset.Set, channels, m int, tl tiles.Tile) crop {
	p := set.Pairs[tl.Image]
	outer := tl.Rectangle.Inset(-m).Intersect(image.Rect(0, 0, p.Orig.W, p.Orig.H))
	return crop{x: cropPlanes(p.Orig, channels, outer), t: cropPlanes(p.Quant, channels, outer),
		inner: tl.Rectangle.Sub(outer.Min)}
}

// cropPlanes is planesOf of the rectangle r of im.
func cropPlanes(im *imageset.Image, channels int, r image.Rectangle) kernels.Planes {
	p := kernels.NewPlanes(r.Dx(), r.Dy(), channels)
	scale := 1 / im.Max()
	for c := range channels {
		src := min(c, im.Channels-1)
		out := p.C[c]
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := out[(y-r.Min.Y)*r.Dx() : (y-r.Min.Y+1)*r.Dx()]
			at := y*im.W + r.Min.X
			if im.Pix16 != nil {
				for i, v := range im.Pix16[src][at : at+r.Dx()] {
					row[i] = float64(v) * scale
				}
			} else {
				for i, v := range im.Pix8[src][at : at+r.Dx()] {
					row[i] = float64(v) * scale
				}
			}
		}
	}
	return p
}

// tileFeatures are what a tile shows, as small integers for the coverage
// of tiles.Choose, read on every other pixel: the original's tone (16
// bins of luma) with its local contrast (4 bins of the gradient), and the
// levels of the target (64 bins a channel).
func tileFeatures(set *imageset.Set) func(tiles.Tile) []int32 {
	return func(tl tiles.Tile) []int32 {
		p := set.Pairs[tl.Image]
		o, q := p.Orig, p.Quant
		luma := func(i int) float64 {
			if o.Channels == 1 {
				return float64(o.Value(0, i))
			}
			return 0.2126*float64(o.Value(0, i)) + 0.7152*float64(o.Value(1, i)) + 0.0722*float64(o.Value(2, i))
		}
		seen := map[int32]bool{}
		for y := tl.Min.Y; y < tl.Max.Y-1; y += 2 {
			for x := tl.Min.X; x < tl.Max.X-1; x += 2 {
				i := y*o.W + x
				l := luma(i)
				g := math.Abs(luma(i+1)-l) + math.Abs(luma(i+o.W)-l)
				edge := 0
				switch {
				case g > 32.0/255:
					edge = 3
				case g > 8.0/255:
					edge = 2
				case g > 2.0/255:
					edge = 1
				}
				seen[int32(min(15, int(l*16))*4+edge)] = true
				for c := range q.Channels {
					seen[int32(100+c*64+min(63, int(float64(q.Value(c, i))*64)))] = true
				}
			}
		}
		out := make([]int32, 0, len(seen))
		for f := range seen {
			out = append(out, f)
		}
		return out
	}
}

// estimateOnTiles fits a spatial stack to tiles of set's images and
// verifies the fit; fit runs the whole estimation on the given crops.
func estimateOnTiles(set *imageset.Set, st *kernels.Stack, params []kernels.Param, s Settings, channels int,
	fit func(xs, ts []kernels.Planes, inner []image.Rectangle) (*StackResult, []float64, error), m *meter) (*StackResult, error) {
	var sizes []image.Point
	for _, p := range set.Pairs {
		sizes = append(sizes, image.Pt(p.Orig.W, p.Orig.H))
	}
	bands, mp := 0, 0.0
	for _, p := range set.Pairs {
		bands += (p.Orig.H + bandRows(p.Orig.W) - 1) / bandRows(p.Orig.W)
		mp += float64(p.Orig.W*p.Orig.H) / 1e6
	}
	// What follows a fit: the held-out tiles' pass and the whole images',
	// which takes 1.5% of a fit's time a megapixel.
	fp := fitPlan(st, len(params), s)
	check := []stagePlan{{"held-out", 0.01, 1}, {"whole", 0.015 * mp, bands}}
	m.ahead(append(append([]stagePlan{{"tiles", 0.02, 1}}, fp...), check...)...)
	m.enter("tiles")
	bw := border(st, params)
	plan := tiles.Choose(sizes, tiles.Settings{Size: stackTile, Budget: tileBudget(s, len(params)), Hold: 0.25, Seed: s.Seed}, tileFeatures(set))
	cut := func(ts []tiles.Tile) (xs, tgs []kernels.Planes, inner []image.Rectangle) {
		for _, tl := range ts {
			c := cropOf(set, channels, bw, tl)
			xs, tgs, inner = append(xs, c.x), append(tgs, c.t), append(inner, c.inner)
		}
		return xs, tgs, inner
	}
	rep := &TileReport{Total: plan.Total, Border: bw}
	// lossOn is the exact mean loss at p over crops, in a fresh evaluator.
	lossOn := func(xs, ts []kernels.Planes, inner []image.Rectangle, p []float64) (float64, error) {
		be := s.Backend
		if be == nil {
			be = CPU{}
		}
		e, _, err := be.Images(st, xs, ts)
		if err != nil {
			return 0, err
		}
		if c, ok := e.(interface{ Close() }); ok {
			defer c.Close()
		}
		if err := e.SetInteriors(inner); err != nil {
			return 0, err
		}
		l := e.Loss(p)
		return l, e.Err()
	}
	train := plan.Train
	var r *StackResult
	var p []float64
	for round := 0; ; round++ {
		xs, ts, inner := cut(train)
		var err error
		if r, p, err = fit(xs, ts, inner); err != nil {
			return nil, err
		}
		rep.Tiles, rep.Pixels, rep.TrainLoss = len(train), tiles.Pixels(train), r.Loss
		if len(plan.Valid) == 0 {
			break
		}
		m.enter("held-out")
		vx, vt, vi := cut(plan.Valid)
		if rep.HeldOutLoss, err = lossOn(vx, vt, vi, p); err != nil {
			return nil, err
		}
		m.pass()
		rep.HeldOutPixels = tiles.Pixels(plan.Valid)
		// Agreement: the held-out tiles are explained about as well as the
		// training ones (both near 0 for a clean filter; alike for a
		// noisy one).
		tol := 1e-6
		if round > 0 || rep.HeldOutLoss <= 2*rep.TrainLoss+tol {
			break
		}
		rep.Refits++
		train = append(append([]tiles.Tile(nil), train...), plan.Valid...)
		m.ahead(append(fp, check...)...)
	}
	// One evaluation over the whole images, in bands of rows with their
	// borders: memory stays that of a band.
	m.enter("whole")
	sum, n := 0.0, 0.0
	for i, pr := range set.Pairs {
		rows := bandRows(pr.Orig.W)
		for y := 0; y < pr.Orig.H; y += rows {
			band := tiles.Tile{Image: i, Rectangle: image.Rect(0, y, pr.Orig.W, min(y+rows, pr.Orig.H))}
			c := cropOf(set, channels, bw, band)
			l, err := lossOn([]kernels.Planes{c.x}, []kernels.Planes{c.t}, []image.Rectangle{c.inner}, p)
			if err != nil {
				return nil, err
			}
			m.pass()
			k := float64(band.Pixels())
			sum, n = sum+l*k, n+k
		}
	}
	rep.WholeLoss = sum / n
	r.Tiles = rep
	return r, nil
}

// bandRows is the rows of a band of the whole-image check of an image w
// wide: about a megapixel, at least 16 rows.
func bandRows(w int) int { return max(16, (1<<20)/max(1, w)) }

// tiled reports whether a fit of set reads tiles rather than whole images.
func tiled(set *imageset.Set, s Settings, npar int) bool {
	budget := tileBudget(s, npar)
	if budget < 0 {
		return false
	}
	total := 0
	for _, p := range set.Pairs {
		total += p.Orig.W * p.Orig.H
	}
	return float64(total) > 1.5*float64(budget)
}

func (r *TileReport) String() string {
	return fmt.Sprintf("%d tiles, %d of %d pixels; loss %.3g on them, %.3g held out, %.3g whole", r.Tiles, r.Pixels, r.Total, r.TrainLoss, r.HeldOutLoss, r.WholeLoss)
}
