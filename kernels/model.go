package kernels

import (
	"fmt"
	"math"
	"strings"
)

// Model is a quantizer: a map from a channel value x in [0,1] to a value on a
// grid whose density is set by the continuous parameter b.
//
// Every model has the form y = clamp((floor(x·s + c) + d) / s, 0, 1) with
// s = b − Shift; the table below gives Shift, c and d. Sharing that form lets
// one loop, one surrogate derivation and one exact polish serve all models.
type Model int

const (
	// Midrise is y = (floor(x·b) + 0.5) / b: s = b, c = 0, d = 0.5.
	Midrise Model = iota
	// Posterize has N = b levels including black and white:
	// y = round(x·(N−1)) / (N−1): s = b − 1, c = 0.5, d = 0.
	Posterize
	// Truncate is y = floor(x·b) / b: s = b, c = 0, d = 0.
	Truncate
)

var modelNames = []string{"midrise", "posterize", "truncate"}

func (m Model) String() string {
	if m < 0 || int(m) >= len(modelNames) {
		return fmt.Sprintf("Model(%d)", int(m))
	}
	return modelNames[m]
}

// Models lists the model names in their canonical order.
func Models() []string { return append([]string(nil), modelNames...) }

// ParseModel returns the model with the given name.
func ParseModel(name string) (Model, error) {
	for i, n := range modelNames {
		if strings.EqualFold(name, n) {
			return Model(i), nil
		}
	}
	return 0, fieldError("Model", name, "unknown model; want one of %s", strings.Join(modelNames, ", "))
}

// Shift is b − s: the scale s of the model is b − Shift.
func (m Model) Shift() float64 {
	if m == Posterize {
		return 1
	}
	return 0
}

// Offsets returns c and d of the model's form.
func (m Model) Offsets() (c, d float64) {
	switch m {
	case Posterize:
		return 0.5, 0
	case Truncate:
		return 0, 0
	default:
		return 0, 0.5
	}
}

// MinB is the infimum of valid b: the scale s must stay positive.
func (m Model) MinB() float64 { return m.Shift() }

// Apply is the exact filter: the quantized value of x for parameter b. It
// multiplies by 1/s rather than dividing, as every loop and shader does, so
// that all of them agree on outputs that fall exactly on a rounding tie.
func (m Model) Apply(x, b float64) float64 {
	s := b - m.Shift()
	c, d := m.Offsets()
	return clamp01((math.Floor(x*s+c) + d) * (1 / s))
}

func clamp01(y float64) float64 {
	if y < 0 {
		return 0
	}
	if y > 1 {
		return 1
	}
	return y
}
