package kernels

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Samples is per-pixel data as a structure of arrays: X[i] is a value of the
// original image, T[i] the same value of the filtered one, both in [0,1].
type Samples struct {
	X, T []float32
}

// Len returns the number of samples.
func (s Samples) Len() int { return len(s.X) }

// Validate checks lengths and values.
func (s Samples) Validate() error {
	if len(s.X) != len(s.T) {
		return fmt.Errorf("kernels: %d originals but %d targets", len(s.X), len(s.T))
	}
	if len(s.X) == 0 {
		return errors.New("kernels: no samples")
	}
	for i := range s.X {
		x, t := s.X[i], s.T[i]
		if !(x >= 0 && x <= 1 && t >= 0 && t <= 1) {
			return fmt.Errorf("kernels: sample %d (%v, %v) outside [0,1] or NaN", i, x, t)
		}
	}
	return nil
}

// Weighted is grouped data: W[i] samples of original value X[i] whose
// targets, under MSE, have mean T[i]. Offset is a constant added to the
// summed loss: under MSE the within-group spread Σ w·(t − mean)², which no
// parameter changes; under other losses every (x, t) pair is its own group
// and Offset is 0.
type Weighted struct {
	X, T, W []float64
	Offset  float64
	// MSEOnly marks grouped-by-x moments, valid only for MSE.
	MSEOnly bool
	// rows, set for a histogram's cells, evaluates L1 and Huber per
	// original level instead of per cell.
	rows *levelRows
}

// Len returns the number of groups.
func (w *Weighted) Len() int { return len(w.X) }

// Total returns the number of samples the groups stand for.
func (w *Weighted) Total() float64 {
	n := 0.0
	for _, v := range w.W {
		n += v
	}
	return n
}

// Level8 is the value of 8-bit level k. Both modes use exactly this float32
// value, so histogram mode and per-pixel mode see the same numbers.
func Level8(k int) float32 { return float32(k) / 255 }

// Histogram is the joint (x, t) count table of 8-bit data, index x·256 + t.
type Histogram struct {
	Counts [256 * 256]uint64
}

// Add8 counts the pairs (x[i], t[i]).
func (h *Histogram) Add8(x, t []uint8) {
	t = t[:len(x)]
	c := &h.Counts
	for i, xv := range x {
		c[int(xv)<<8|int(t[i])]++
	}
}

// Merge adds the counts of o.
func (h *Histogram) Merge(o *Histogram) {
	for i, v := range o.Counts {
		h.Counts[i] += v
	}
}

// Total returns the number of pairs counted.
func (h *Histogram) Total() uint64 {
	var n uint64
	for _, v := range h.Counts {
		n += v
	}
	return n
}

// Weighted returns the histogram as groups for the given loss: under MSE one
// group per original level with the mean target (at most 256 groups,
// whatever the pixel count); otherwise one group per non-empty cell.
func (h *Histogram) Weighted(loss LossKind) Weighted {
	var w Weighted
	if loss != MSE {
		for x := 0; x < 256; x++ {
			for t := 0; t < 256; t++ {
				if c := h.Counts[x<<8|t]; c > 0 {
					w.X = append(w.X, float64(Level8(x)))
					w.T = append(w.T, float64(Level8(t)))
					w.W = append(w.W, float64(c))
				}
			}
		}
		w.rows = newLevelRows(h)
		return w
	}
	w.MSEOnly = true
	for x := 0; x < 256; x++ {
		row := h.Counts[x<<8 : x<<8+256]
		n, s := 0.0, 0.0
		for t, c := range row {
			n += float64(c)
			s += float64(c) * float64(Level8(t))
		}
		if n == 0 {
			continue
		}
		m := s / n
		for t, c := range row {
			if c > 0 {
				r := float64(Level8(t)) - m
				w.Offset += float64(c) * r * r
			}
		}
		w.X = append(w.X, float64(Level8(x)))
		w.T = append(w.T, m)
		w.W = append(w.W, n)
	}
	return w
}

// Group returns per-pixel samples as groups, like Histogram.Weighted: by
// original value with mean targets under MSE, by distinct (x, t) pair
// otherwise. It sorts a copy: O(n log n).
func Group(s Samples, loss LossKind) Weighted {
	type pair struct{ x, t float32 }
	ps := make([]pair, s.Len())
	for i := range ps {
		ps[i] = pair{s.X[i], s.T[i]}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		return cmp.Compare(a.t, b.t)
	})
	var w Weighted
	w.MSEOnly = loss == MSE
	for i := 0; i < len(ps); {
		j := i
		if w.MSEOnly {
			for j < len(ps) && ps[j].x == ps[i].x {
				j++
			}
			n, sum := float64(j-i), 0.0
			for _, p := range ps[i:j] {
				sum += float64(p.t)
			}
			m := sum / n
			for _, p := range ps[i:j] {
				r := float64(p.t) - m
				w.Offset += r * r
			}
			w.X = append(w.X, float64(ps[i].x))
			w.T = append(w.T, m)
			w.W = append(w.W, n)
		} else {
			for j < len(ps) && ps[j] == ps[i] {
				j++
			}
			w.X = append(w.X, float64(ps[i].x))
			w.T = append(w.T, float64(ps[i].t))
			w.W = append(w.W, float64(j-i))
		}
		i = j
	}
	return w
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
