// Package tiles chooses the parts of large images that a fit reads: square
// tiles, a training set that covers what the images show within a pixel
// budget, and held-out tiles, drawn at random, that the fit is judged on.
package tiles

import (
	"container/heap"
	"image"
	"math/rand/v2"
	"slices"
)

// Tile is a rectangle of image Image of a set.
type Tile struct {
	Image int
	image.Rectangle
}

// Pixels is the tile's area.
func (t Tile) Pixels() int { return t.Dx() * t.Dy() }

// Settings configure Choose. Zero values mean the defaults.
type Settings struct {
	// Size is the side of a tile; default 64.
	Size int
	// Budget is the most pixels of training tiles over all images;
	// default 2M. Images smaller than that are read whole.
	Budget int
	// Hold is the share of the tiles held out for validation, at most
	// Hold·Budget pixels of them; default 0.2.
	Hold float64
	// Seed seeds the draw of the held-out tiles.
	Seed uint64
}

func (s Settings) withDefaults() Settings {
	if s.Size <= 0 {
		s.Size = 64
	}
	if s.Budget <= 0 {
		s.Budget = 2 << 20
	}
	if !(s.Hold > 0) || s.Hold >= 1 {
		s.Hold = 0.2
	}
	return s
}

// Plan is the tiles a fit reads.
type Plan struct {
	Train, Valid []Tile
	// Total is the pixels of all images.
	Total int
}

// Pixels sums the tiles' areas.
func Pixels(ts []Tile) int {
	n := 0
	for _, t := range ts {
		n += t.Pixels()
	}
	return n
}

// Choose cuts images of the given sizes into tiles, draws the held-out
// ones at random and picks the training tiles greedily by coverage: each
// next tile is the one whose features (small integers from the caller's
// features function, such as coarse colour bins) add the most weight not
// yet covered, each feature's weight falling as 1/(1+times covered), so
// that rare colours and tones are all seen before common ones are seen
// again. Tiles that add nothing come last, in order.
func Choose(sizes []image.Point, s Settings, features func(Tile) []int32) Plan {
	s = s.withDefaults()
	var all []Tile
	p := Plan{}
	for i, sz := range sizes {
		p.Total += sz.X * sz.Y
		for y := 0; y < sz.Y; y += s.Size {
			for x := 0; x < sz.X; x += s.Size {
				all = append(all, Tile{i, image.Rect(x, y, min(x+s.Size, sz.X), min(y+s.Size, sz.Y))})
			}
		}
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x7469_6c65))
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	hold := int(s.Hold * float64(s.Budget))
	nv := 0
	for nv < len(all)-1 && float64(nv+1) <= s.Hold*float64(len(all)) && Pixels(all[:nv+1]) <= hold {
		nv++
	}
	if nv == 0 && len(all) > 1 {
		nv = 1
	}
	p.Valid = append(p.Valid, all[:nv]...)
	rest := all[nv:]
	if Pixels(rest) <= s.Budget {
		p.Train = rest
		return p
	}
	p.Train = greedy(rest, s.Budget, features)
	return p
}

// greedy picks tiles of rest by coverage until budget pixels (lazy greedy:
// a tile's gain only falls as others are picked, so a stale gain is an
// upper bound).
func greedy(rest []Tile, budget int, features func(Tile) []int32) []Tile {
	feats := make([][]int32, len(rest))
	maxf := int32(0)
	for i, t := range rest {
		// in order: a gain sums over them, and callers often collect
		// them from a map, whose order would change which of two equal
		// tiles wins from run to run
		feats[i] = features(t)
		slices.Sort(feats[i])
		for _, f := range feats[i] {
			maxf = max(maxf, f+1)
		}
	}
	covered := make([]int, maxf)
	gain := func(i int) float64 {
		g := 0.0
		for _, f := range feats[i] {
			g += 1 / float64(1+covered[f])
		}
		return g
	}
	h := &gains{}
	for i := range rest {
		*h = append(*h, item{i, gain(i)})
	}
	heap.Init(h)
	var out []Tile
	px := 0
	for h.Len() > 0 && px < budget {
		top := (*h)[0]
		if g := gain(top.i); g < top.g {
			(*h)[0].g = g
			heap.Fix(h, 0)
			continue
		}
		heap.Pop(h)
		t := rest[top.i]
		if px+t.Pixels() > budget && len(out) > 0 {
			continue
		}
		out = append(out, t)
		px += t.Pixels()
		for _, f := range feats[top.i] {
			covered[f]++
		}
	}
	return out
}

type item struct {
	i int
	g float64
}

type gains []item

func (h gains) Len() int { return len(h) }
func (h gains) Less(a, b int) bool {
	if h[a].g != h[b].g {
		return h[a].g > h[b].g
	}
	return h[a].i < h[b].i
}
func (h gains) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *gains) Push(x any)   { *h = append(*h, x.(item)) }
func (h *gains) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
