package kernels

import "math"

// Config is everything that decides the per-sample mathematics.
type Config struct {
	Model     Model
	Surrogate Surrogate
	Loss      Loss
	// SoftForward evaluates the forward pass with the smooth surrogate
	// instead of the exact quantizer; only for smooth surrogates and
	// identity.
	SoftForward bool
	// OutputLevels is the number of steps of the stored output: the exact
	// forward rounds y to a multiple of 1/OutputLevels, as writing the
	// filtered image to an 8-bit file does (255). Modelling the storage
	// makes the true b fit 8-bit data exactly; without it the least-squares
	// b drifts by up to a few hundredths chasing the rounding errors of a
	// few output levels. 0 leaves the output unrounded. Derivatives pass
	// the rounding straight through.
	OutputLevels float64
}

// WithDefaults returns c with zero parameters replaced by their defaults.
func (c Config) WithDefaults() Config {
	c.Surrogate = c.Surrogate.WithDefaults()
	c.Loss = c.Loss.WithDefaults()
	return c
}

// Validate reports the first invalid choice.
func (c Config) Validate() error {
	if c.Model < 0 || int(c.Model) >= len(modelNames) {
		return fieldError("Model", c.Model, "unknown model")
	}
	if err := c.Surrogate.Validate(); err != nil {
		return err
	}
	if err := c.Loss.Validate(); err != nil {
		return err
	}
	if !(c.OutputLevels >= 0 && c.OutputLevels <= 1<<24) {
		return fieldError("OutputLevels", c.OutputLevels, "out of range [0, 2^24]")
	}
	if c.SoftForward && !(c.Surrogate.Kind.Smooth() || c.Surrogate.Kind == Identity) {
		return fieldError("SoftForward", true, "needs a smooth surrogate (identity, sine, atan, softround), not %v", c.Surrogate.Kind)
	}
	return nil
}

// Deriv is the reference forward value y and surrogate derivative dy/db of
// the quantizer at x, in closed form. It is the specification of the fast
// loops and of the shaders. Gaussian has no per-sample derivative of y (it
// smooths the loss): see SampleLossGrad.
//
// With F the floor surrogate, z = x·s + c and y = (F(z) + d)/s:
//
//	dy/db = dy/ds = (F'(z)·(z − c) − F(z) − d) / s²
//
// and 0 where the forward value is clamped to [0,1].
func (c Config) Deriv(x, b float64) (y, dy float64) {
	y, dy, _ = c.Derivs(x, b)
	return y, dy
}

// Derivs is Deriv with the surrogate derivative in the input x as well:
// dy/dx = F'(z), 0 where the output is clamped. A stack chains it.
func (c Config) Derivs(x, b float64) (y, dy, dx float64) {
	s := b - c.Model.Shift()
	co, d := c.Model.Offsets()
	z := x*s + co
	fl := math.Floor(z)
	var fz, fp float64
	switch k := c.Surrogate.Kind; {
	case k == Identity:
		fz, fp = z, 1
	case k.Smooth():
		q, q1, _ := c.Surrogate.periodic(frac(z + c.Surrogate.shift()))
		fz, fp = z+q, 1+q1
	default: // STE, and Gaussian's unused per-sample rule
		fz, fp = fl, 1
	}
	inv := 1 / s
	y = (fl + d) * inv
	if c.SoftForward {
		y = (fz + d) * inv
	}
	dy = (fp*(z-co) - fz - d) * (1 / (s * s))
	dx = fp
	if y < 0 || y > 1 {
		y, dy, dx = clamp01(y), 0, 0
	}
	if !c.SoftForward {
		y = c.store(y)
	}
	return y, dy, dx
}

// Value is Derivs's y alone, by the same arithmetic: a forward pass
// without tangents skips the surrogate, whose periodic part (an atan2 or a
// sine) costs more than the rest of a stack's step.
func (c Config) Value(x, b float64) float64 {
	if c.SoftForward {
		y, _, _ := c.Derivs(x, b)
		return y
	}
	s := b - c.Model.Shift()
	co, d := c.Model.Offsets()
	inv := 1 / s
	y := (math.Floor(x*s+co) + d) * inv
	if y < 0 || y > 1 {
		y = clamp01(y)
	}
	return c.store(y)
}

// store rounds y to the output's levels.
func (c Config) store(y float64) float64 {
	if c.OutputLevels == 0 {
		return y
	}
	return math.Floor(y*c.OutputLevels+0.5) * (1 / c.OutputLevels)
}

// Exact is the exact forward value at x: the quantizer, stored.
func (c Config) Exact(x, b float64) float64 { return c.store(c.Model.Apply(x, b)) }

// SampleLossGrad is the reference loss of one sample (x, t) at b and its
// surrogate derivative in b.
//
// Gaussian returns the exact loss and the antithetic estimate
// Σ_j ε_j (ℓ(b+σε_j) − ℓ(b−σε_j)) / (2σM) over the M fixed samples eps.
func (c Config) SampleLossGrad(x, t, b float64, eps []float64) (loss, grad float64) {
	if c.Surrogate.Kind == Gaussian {
		loss, _ = c.Loss.Eval(c.Exact(x, b) - t)
		sig := c.Surrogate.Sigma
		for _, e := range eps {
			lp, _ := c.Loss.Eval(c.Exact(x, b+sig*e) - t)
			lm, _ := c.Loss.Eval(c.Exact(x, b-sig*e) - t)
			grad += e * (lp - lm)
		}
		return loss, grad / (2 * sig * float64(len(eps)))
	}
	y, dy := c.Deriv(x, b)
	l, dl := c.Loss.Eval(y - t)
	return l, dl * dy
}

// SmoothForward is the smooth function whose derivative a smooth surrogate
// (or identity) is: (F(z) + d)/s, unclamped. Tests differentiate it
// numerically.
func (c Config) SmoothForward(x, b float64) float64 {
	s := b - c.Model.Shift()
	co, d := c.Model.Offsets()
	z := x*s + co
	fz := z
	if c.Surrogate.Kind.Smooth() {
		q, _, _ := c.Surrogate.periodic(frac(z + c.Surrogate.shift()))
		fz = z + q
	}
	return (fz + d) / s
}

func frac(z float64) float64 { return z - math.Floor(z) }
