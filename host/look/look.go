// Package look fits pixel-wise colour edits ("looks") from pairs of
// original and edited images, applies them to other images and exports
// them as 3D LUTs.
//
// A look is y = Q(S(x)): S a smooth stack, the simplest of
//
//	curves   one monotone tone curve per channel
//	matrix   a 3×3 colour matrix with offset, then a tone curve per channel
//	lut      a tone curve per channel plus a 3D lattice (trilinear)
//
// that validation on held-out tiles prefers, and Q an optional quantizer
// (midrise, posterize, truncate) whose levels are stored as the edited
// images store them. The per-pixel tables are kernels.Curve and
// kernels.Lattice.
package look

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// Version is the LOOK.json format this package writes and reads.
const Version = 1

// The smooth stacks, simplest first.
const (
	Curves = "curves"
	Matrix = "matrix"
	LUT    = "lut"
)

// Stacks lists the smooth stacks in the order a fit tries them.
func Stacks() []string { return []string{Curves, Matrix, LUT} }

// Look is a fitted edit, as LOOK.json holds it.
type Look struct {
	Version int `json:"version"`
	// Stack is the smooth stack's name, with ",quantize" when the look
	// ends in a quantizer.
	Stack string `json:"stack"`
	// Channels is 1 (grey) or 3 (RGB).
	Channels int `json:"channels"`
	// The tables: input tone curves, one a channel (curves, lut); the
	// matrix's rows (m_c0, m_c1, m_c2, o_c) and the curves after it
	// (matrix); the lattice added to the curves' output (lut).
	kernels.LookStack
	Quantizer *Quantizer `json:"quantizer,omitempty"`
	// Fit is the report of the fit that made the look.
	Fit *Report `json:"fit,omitempty"`
}

// Quantizer is a look's last stage: level k = floor(clamp(g)·s + c) of the
// model at B, stored as Levels[channel][k].
type Quantizer struct {
	Model  string      `json:"model"`
	B      float64     `json:"b"`
	Levels [][]float64 `json:"levels"`
	model  kernels.Model
}

// smooth returns the stack's name without the quantizer.
func (l *Look) smooth() string { return strings.TrimSuffix(l.Stack, ",quantize") }

// Eval is the look's output at x in [0,1]: stored levels for a quantizer,
// else clamped to [0,1].
func (l *Look) Eval(x [3]float64) [3]float64 {
	y := l.LookStack.Smooth(x)
	for c := range l.Channels {
		y[c] = l.finish(c, y[c])
	}
	return y
}

// finish clamps g, or quantizes it to its stored level.
func (l *Look) finish(c int, g float64) float64 {
	g = clamp01(g)
	q := l.Quantizer
	if q == nil {
		return g
	}
	s := q.B - q.model.Shift()
	off, _ := q.model.Offsets()
	k := int(math.Floor(g*s + off))
	return q.Levels[c][max(0, min(k, len(q.Levels[c])-1))]
}

func clamp01(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	return math.Min(v, 1)
}

// levelCount is the number of levels of model m at b over [0,1].
func levelCount(m kernels.Model, b float64) int {
	off, _ := m.Offsets()
	return int(math.Floor(b-m.Shift()+off)) + 1
}

// defaultLevels are the model's own levels (k + d)/s.
func defaultLevels(m kernels.Model, b float64) []float64 {
	s := b - m.Shift()
	_, d := m.Offsets()
	v := make([]float64, levelCount(m, b))
	for k := range v {
		v[k] = clamp01((float64(k) + d) / s)
	}
	return v
}

// Apply applies the look to im and returns the result at depth bits (8 or
// 16; 0: im's depth). A grey image meets an RGB look as R = G = B and
// comes out RGB; an RGB image meets a grey look channel by channel.
func (l *Look) Apply(im *imageset.Image, depth int) *imageset.Image {
	if depth == 0 {
		depth = im.Depth()
	}
	ch := max(l.Channels, im.Channels)
	out := &imageset.Image{Name: im.Name, W: im.W, H: im.H, Channels: ch}
	n := im.W * im.H
	top := float64(int(1)<<depth - 1)
	if depth == 16 {
		out.Pix16 = make([][]uint16, ch)
		for c := range out.Pix16 {
			out.Pix16[c] = make([]uint16, n)
		}
	} else {
		out.Pix8 = make([][]uint8, ch)
		for c := range out.Pix8 {
			out.Pix8[c] = make([]uint8, n)
		}
	}
	kernels.Parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			var y [3]float64
			if l.Channels == 1 {
				for c := range ch {
					y[c] = l.Eval([3]float64{float64(im.Value(c, i))})[0]
				}
			} else {
				y = l.Eval([3]float64{float64(im.Value(0, i)), float64(im.Value(1, i)), float64(im.Value(2, i))})
			}
			for c := range ch {
				v := math.Round(y[c] * top)
				if depth == 16 {
					out.Pix16[c][i] = uint16(v)
				} else {
					out.Pix8[c][i] = uint8(v)
				}
			}
		}
	})
	return out
}

// ErrFormat marks a LOOK.json that cannot be read: unknown version,
// missing or corrupt tables.
var ErrFormat = errors.New("look: not a valid look")

func formatErr(f string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(f, a...))
}

// Parse reads a LOOK.json and validates it whole: a look that loads
// applies without error.
func Parse(data []byte) (*Look, error) {
	var l Look
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, formatErr("%v", err)
	}
	if dec.More() {
		return nil, formatErr("data after the look")
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// maxKnots and maxLattice bound the tables a file may hold.
const (
	maxKnots   = 65536
	maxLattice = 129
)

// Validate checks every table of l.
func (l *Look) Validate() error {
	if l.Version != Version {
		return formatErr("version %d; this quantfit reads version %d", l.Version, Version)
	}
	if l.Channels != 1 && l.Channels != 3 {
		return formatErr("channels %d; want 1 or 3", l.Channels)
	}
	smooth, quant := l.smooth(), strings.HasSuffix(l.Stack, ",quantize")
	if smooth != Curves && (l.Channels != 3 || (smooth != Matrix && smooth != LUT)) {
		return formatErr("stack %q with %d channels; want curves, matrix or lut (the last two RGB), optionally ending in ,quantize", l.Stack, l.Channels)
	}
	want := map[string]bool{"curves": smooth != Matrix, "matrix": smooth == Matrix, "post": smooth == Matrix, "lut": smooth == LUT, "quantizer": quant}
	has := map[string]bool{"curves": l.Curves != nil, "matrix": l.Matrix != nil, "post": l.Post != nil, "lut": l.Lattice != nil, "quantizer": l.Quantizer != nil}
	for _, k := range []string{"curves", "matrix", "post", "lut", "quantizer"} {
		if want[k] != has[k] {
			if want[k] {
				return formatErr("stack %s needs %q", l.Stack, k)
			}
			return formatErr("stack %s has no use for %q", l.Stack, k)
		}
	}
	for name, cs := range map[string][]kernels.Curve{"curves": l.Curves, "post": l.Post} {
		if cs == nil {
			continue
		}
		if len(cs) != l.Channels {
			return formatErr("%d %s for %d channels", len(cs), name, l.Channels)
		}
		for c, cv := range cs {
			if err := checkCurve(cv); err != nil {
				return formatErr("%s[%d]: %v", name, c, err)
			}
		}
	}
	if l.Matrix != nil {
		if len(l.Matrix) != 3 {
			return formatErr("matrix has %d rows; want 3", len(l.Matrix))
		}
		for _, row := range l.Matrix {
			if !finite(row[:]...) {
				return formatErr("matrix holds a value that is not finite")
			}
		}
	}
	if lt := l.Lattice; lt != nil {
		if lt.N < 2 || lt.N > maxLattice {
			return formatErr("lut size %d; want 2 to %d", lt.N, maxLattice)
		}
		if len(lt.V) != 3*lt.N*lt.N*lt.N {
			return formatErr("lut of size %d holds %d values; want %d", lt.N, len(lt.V), 3*lt.N*lt.N*lt.N)
		}
		if !finite(lt.V...) {
			return formatErr("lut holds a value that is not finite")
		}
	}
	if q := l.Quantizer; q != nil {
		m, err := kernels.ParseModel(q.Model)
		if err != nil {
			return formatErr("quantizer: %v", err)
		}
		if !(q.B > m.MinB()) || q.B > 1<<16 {
			return formatErr("quantizer b %v out of (%v, 65536]", q.B, m.MinB())
		}
		q.model = m
		if len(q.Levels) != l.Channels {
			return formatErr("quantizer has levels for %d channels; want %d", len(q.Levels), l.Channels)
		}
		for c, lv := range q.Levels {
			if len(lv) != levelCount(m, q.B) {
				return formatErr("quantizer levels[%d] holds %d levels; %s at b = %v has %d", c, len(lv), m, q.B, levelCount(m, q.B))
			}
			for _, v := range lv {
				if !(v >= 0 && v <= 1) {
					return formatErr("quantizer level %v outside [0,1]", v)
				}
			}
		}
	}
	return nil
}

func checkCurve(c kernels.Curve) error {
	switch {
	case len(c.V) < 2 || len(c.V) > maxKnots:
		return fmt.Errorf("%d knots; want 2 to %d", len(c.V), maxKnots)
	case !finite(c.Lo, c.Hi) || !(c.Hi > c.Lo):
		return fmt.Errorf("range [%v, %v] is empty or not finite", c.Lo, c.Hi)
	case !finite(c.V...):
		return errors.New("a knot value is not finite")
	}
	return nil
}

func finite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e6 {
			return false
		}
	}
	return true
}
