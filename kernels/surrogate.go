package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// SurrogateKind names a rule for differentiating the quantizer with respect
// to b, where floor has zero derivative almost everywhere.
type SurrogateKind int

const (
	// Atan, the default (the zero value), is floor(z) ≈ z − 0.5 − atan(−γ sin 2πz / (1 − γ cos 2πz))/π,
	// the Fourier series of floor with terms damped by γⁿ; γ in [0,1).
	Atan SurrogateKind = iota
	// Identity replaces floor(z) by z when differentiating (what users call
	// straight-through): for midrise dy/db = −0.5/b².
	Identity
	// STE keeps the exact floor value and takes d floor(z)/dz = 1; for
	// midrise this is Learned Step Size Quantization's rule,
	// dy/db = −(floor(z) + 0.5 − z)/b². Also called lsq.
	STE
	// Sine is floor(z) ≈ f(f(z)) with f(z) = z − sin(2πz)/(2π), as users
	// write it. f has its plateaus at the integers, so f∘f tracks round(z),
	// half a step above floor(z): the rule is kept as written.
	Sine
	// SoftRound is the tanh soft rounding of DSQ / soft-round with
	// sharpness α, applied to floor(z) = round(z − 0.5).
	SoftRound
	// Gaussian smooths the exact loss by a Gaussian of width σ in b and
	// estimates its derivative with antithetic samples from a fixed seed.
	Gaussian
)

var surrogateNames = []string{"atan", "identity", "ste", "sine", "softround", "gaussian"}

func (k SurrogateKind) String() string {
	if k < 0 || int(k) >= len(surrogateNames) {
		return fmt.Sprintf("SurrogateKind(%d)", int(k))
	}
	return surrogateNames[k]
}

// Surrogates lists the surrogate names in their canonical order.
func Surrogates() []string { return append([]string(nil), surrogateNames...) }

// ParseSurrogate returns the surrogate kind with the given name; lsq is
// another name for ste.
func ParseSurrogate(name string) (SurrogateKind, error) {
	if strings.EqualFold(name, "lsq") {
		return STE, nil
	}
	for i, n := range surrogateNames {
		if strings.EqualFold(name, n) {
			return SurrogateKind(i), nil
		}
	}
	return 0, fieldError("Surrogate.Kind", name, "unknown surrogate; want one of %s, lsq", strings.Join(surrogateNames, ", "))
}

// Smooth reports whether the surrogate replaces floor by a smooth periodic
// function F(z) = z + Q(frac(z + shift)), the kinds that can run forward.
func (k SurrogateKind) Smooth() bool { return k == Sine || k == Atan || k == SoftRound }

// Surrogate is a surrogate kind with its parameters. Zero values mean the
// defaults documented on each field.
type Surrogate struct {
	Kind SurrogateKind
	// Gamma is the damping of Atan, in [0,1). Default 0.9.
	Gamma float64
	// Alpha is the sharpness of SoftRound, > 0. Default 4.
	Alpha float64
	// Sigma is the width in b of Gaussian smoothing, > 0. Default 0.25.
	Sigma float64
	// Samples is the number of antithetic pairs of Gaussian. Default 16.
	Samples int
	// Seed seeds the samples of Gaussian. Default 1.
	Seed uint64
}

// WithDefaults returns s with zero fields replaced by their defaults.
func (s Surrogate) WithDefaults() Surrogate {
	if s.Gamma == 0 && s.Kind == Atan {
		s.Gamma = 0.9
	}
	if s.Alpha == 0 {
		s.Alpha = 4
	}
	if s.Sigma == 0 {
		s.Sigma = 0.25
	}
	if s.Samples == 0 {
		s.Samples = 16
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	return s
}

// Validate reports the first parameter out of its range.
func (s Surrogate) Validate() error {
	s = s.WithDefaults()
	switch {
	case s.Kind < 0 || int(s.Kind) >= len(surrogateNames):
		return fieldError("Surrogate.Kind", s.Kind, "unknown surrogate")
	case !(s.Gamma >= 0 && s.Gamma < 1):
		return fieldError("Surrogate.Gamma", s.Gamma, "out of range [0, 1)")
	case !(s.Alpha > 0 && s.Alpha <= 1000):
		return fieldError("Surrogate.Alpha", s.Alpha, "out of range (0, 1000]")
	case !(s.Sigma > 0 && s.Sigma < 1e6):
		return fieldError("Surrogate.Sigma", s.Sigma, "must be positive (and below 1e6)")
	case s.Samples < 1 || s.Samples > 4096:
		return fieldError("Surrogate.Samples", s.Samples, "out of range [1, 4096]")
	}
	return nil
}

func (s Surrogate) String() string {
	s = s.WithDefaults()
	switch s.Kind {
	case Atan:
		return fmt.Sprintf("atan(gamma=%g)", s.Gamma)
	case SoftRound:
		return fmt.Sprintf("softround(alpha=%g)", s.Alpha)
	case Gaussian:
		return fmt.Sprintf("gaussian(sigma=%g)", s.Sigma)
	}
	return s.Kind.String()
}

// Epsilons returns the fixed standard normal samples of Gaussian; sample j
// is used at b + σε_j and b − σε_j.
func (s Surrogate) Epsilons() []float64 {
	s = s.WithDefaults()
	r := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	eps := make([]float64, s.Samples)
	for i := range eps {
		eps[i] = r.NormFloat64()
	}
	return eps
}

// shift is the phase of the periodic part: F(z) = z + Q(frac(z + shift)).
// SoftRound's second derivative jumps at half-integers of z; the phase puts
// that seam at v = 0, between table segments.
func (s Surrogate) shift() float64 {
	if s.Kind == SoftRound {
		return 0.5
	}
	return 0
}

// periodic returns Q(v), Q'(v) and Q”(v) of a smooth surrogate for v in
// [0,1], in closed form: F(z) = z + Q(frac(z + shift)).
func (s Surrogate) periodic(v float64) (q, q1, q2 float64) {
	switch s.Kind {
	case Atan:
		g := s.Gamma
		sn, cs := math.Sincos(2 * math.Pi * v)
		den := 1 - 2*g*cs + g*g
		q = -0.5 + math.Atan2(g*sn, 1-g*cs)/math.Pi
		q1 = 2 * (g*cs - g*g) / den
		q2 = 4 * math.Pi * (-g * sn * (1 - g*g) / (den * den))
	case SoftRound:
		a := s.Alpha
		r := v - 0.5
		th := math.Tanh(a * r)
		sech2 := 1 - th*th
		n := math.Tanh(a / 2)
		q = th/(2*n) - v
		q1 = a*sech2/(2*n) - 1
		q2 = -a * a * sech2 * th / n
	case Sine:
		p := func(v float64) (p, p1, p2 float64) {
			sn, cs := math.Sincos(2 * math.Pi * v)
			return -sn / (2 * math.Pi), -cs, 2 * math.Pi * sn
		}
		pv, pv1, pv2 := p(v)
		pw, pw1, pw2 := p(v + pv)
		q = pv + pw
		q1 = pv1 + pw1*(1+pv1)
		q2 = pv2 + pw2*(1+pv1)*(1+pv1) + pw1*pv2
	default:
		panic("kernels: periodic called on a non-smooth surrogate")
	}
	return q, q1, q2
}

// table holds Q and Q' of a smooth surrogate as functions of u = frac(z),
// as cubic Hermite pieces over n equal segments of [0,1): per segment the
// coefficients a0..a3 of Q and b0..b3 of Q' in the local coordinate t in
// [0,1], so one evaluation reads one 64-byte line. Built from exact values
// and slopes at the nodes. n is a power of two, so u·n is exact and below
// n: the index needs no clamp. The phase shift is folded into the table,
// and SoftRound's seam (at u = 1/2) falls on a node.
type table struct {
	n    int
	fn   float64
	coef [][8]float64
}

// tableTol is the accuracy the table must reach against the closed form, on
// Q and on Q', relative to max(1, |value|); the issue allows 1e-6.
const tableTol = 1e-7

var errTableInaccurate = errors.New("kernels: no table reaches the accuracy")

// newTable returns the smallest power-of-two table (from 1024 to 65536
// segments) within tableTol of the closed form at interior test points.
func newTable(s Surrogate) (*table, error) {
	for n := 1024; n <= 1<<16; n *= 2 {
		t := buildTable(s, n)
		if t.maxError(s) <= tableTol {
			return t, nil
		}
	}
	return nil, errTableInaccurate
}

func buildTable(s Surrogate, n int) *table {
	t := &table{n: n, fn: float64(n), coef: make([][8]float64, n)}
	h := 1 / float64(n)
	for i := 0; i < n; i++ {
		// v runs continuously over the segment, to 1 at most: periodic
		// takes the closed interval.
		v0 := frac(float64(i)*h + s.shift())
		q0, p0, pp0 := s.periodic(v0)
		q1, p1, pp1 := s.periodic(v0 + h)
		c := t.coef[i][:]
		hermite(c[0:4], q0, q1, h*p0, h*p1)
		hermite(c[4:8], p0, p1, h*pp0, h*pp1)
	}
	return t
}

// hermite writes the monomial coefficients of the cubic with values f0, f1
// and slopes m0, m1 (per unit t) at t = 0 and 1.
func hermite(c []float64, f0, f1, m0, m1 float64) {
	c[0] = f0
	c[1] = m0
	c[2] = 3*(f1-f0) - 2*m0 - m1
	c[3] = 2*(f0-f1) + m0 + m1
}

func (t *table) maxError(s Surrogate) float64 {
	worst := 0.0
	for i := 0; i < t.n; i++ {
		for _, f := range [...]float64{0.25, 0.5, 0.75} {
			u := (float64(i) + f) / t.fn
			q, q1, _ := s.periodic(frac(u + s.shift()))
			tq, tq1 := t.at(u)
			worst = math.Max(worst, math.Abs(tq-q)/math.Max(1, math.Abs(q)))
			worst = math.Max(worst, math.Abs(tq1-q1)/math.Max(1, math.Abs(q1)))
		}
	}
	return worst
}

// at evaluates Q and Q' at f = frac(z) in [0,1): the one table lookup of
// every Go loop (the assembly and shaders/quant.glsl compute the same
// cubics). The table has a power-of-two number of segments, so f·n is
// exact and below n: the index needs no clamp. Small enough to inline.
func (t *table) at(f float64) (q, q1 float64) {
	p := f * t.fn
	c := t.coef[int(p)]
	u := p - float64(int(p))
	return c[0] + u*(c[1]+u*(c[2]+u*c[3])), c[4] + u*(c[5]+u*(c[6]+u*c[7]))
}
