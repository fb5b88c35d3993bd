package optim

import "math"

// The update rules follow the standard formulas (as PyTorch writes them).
// g is the gradient, lr the learning rate, t the 1-based step.

var (
	_ Method = (*SGD)(nil)
	_ Method = (*Momentum)(nil)
	_ Method = (*Nesterov)(nil)
	_ Method = (*Adagrad)(nil)
	_ Method = (*RMSprop)(nil)
	_ Method = (*Adam)(nil)
)

// SGD is plain gradient descent: x ← x − lr·g. With mini-batches in the
// Problem it is stochastic gradient descent.
type SGD struct{}

// Init implements Method.
func (*SGD) Init(int) {}

// Update implements Method.
func (*SGD) Update(x, g []float64, lr float64) {
	for i := range x {
		x[i] -= lr * g[i]
	}
}

// DefaultLearningRate implements Method. quantfit's gradients in b are
// small (about 1e-4 on photos), hence the large rate.
func (*SGD) DefaultLearningRate() float64 { return 1000 }

// Momentum is heavy-ball momentum: v ← μv + g; x ← x − lr·v.
type Momentum struct {
	// Mu is the momentum, in [0,1). Default 0.9.
	Mu float64
	v  []float64
}

// Init implements Method.
func (m *Momentum) Init(dim int) { m.v = make([]float64, dim) }

// Update implements Method.
func (m *Momentum) Update(x, g []float64, lr float64) {
	mu := orDefault(m.Mu, 0.9)
	for i := range x {
		m.v[i] = mu*m.v[i] + g[i]
		x[i] -= lr * m.v[i]
	}
}

// DefaultLearningRate implements Method.
func (*Momentum) DefaultLearningRate() float64 { return 100 }

// Nesterov is Nesterov's accelerated gradient in the form of Sutskever et
// al.: v ← μv + g; x ← x − lr·(g + μv).
type Nesterov struct {
	// Mu is the momentum, in [0,1). Default 0.9.
	Mu float64
	v  []float64
}

// Init implements Method.
func (m *Nesterov) Init(dim int) { m.v = make([]float64, dim) }

// Update implements Method.
func (m *Nesterov) Update(x, g []float64, lr float64) {
	mu := orDefault(m.Mu, 0.9)
	for i := range x {
		m.v[i] = mu*m.v[i] + g[i]
		x[i] -= lr * (g[i] + mu*m.v[i])
	}
}

// DefaultLearningRate implements Method.
func (*Nesterov) DefaultLearningRate() float64 { return 100 }

// Adagrad: G ← G + g²; x ← x − lr·g/(√G + ε).
type Adagrad struct {
	// Eps is ε. Default 1e-10.
	Eps float64
	g2  []float64
}

// Init implements Method.
func (m *Adagrad) Init(dim int) { m.g2 = make([]float64, dim) }

// Update implements Method.
func (m *Adagrad) Update(x, g []float64, lr float64) {
	eps := orDefault(m.Eps, 1e-10)
	for i := range x {
		m.g2[i] += g[i] * g[i]
		x[i] -= lr * g[i] / (math.Sqrt(m.g2[i]) + eps)
	}
}

// DefaultLearningRate implements Method.
func (*Adagrad) DefaultLearningRate() float64 { return 0.5 }

// RMSprop: E ← ρE + (1−ρ)g²; x ← x − lr·g/(√E + ε).
type RMSprop struct {
	// Rho is ρ, in [0,1). Default 0.99.
	Rho float64
	// Eps is ε. Default 1e-8.
	Eps float64
	e   []float64
}

// Init implements Method.
func (m *RMSprop) Init(dim int) { m.e = make([]float64, dim) }

// Update implements Method.
func (m *RMSprop) Update(x, g []float64, lr float64) {
	rho, eps := orDefault(m.Rho, 0.99), orDefault(m.Eps, 1e-8)
	for i := range x {
		m.e[i] = rho*m.e[i] + (1-rho)*g[i]*g[i]
		x[i] -= lr * g[i] / (math.Sqrt(m.e[i]) + eps)
	}
}

// DefaultLearningRate implements Method.
func (*RMSprop) DefaultLearningRate() float64 { return 0.05 }

// Adam with bias correction: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
// x ← x − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
type Adam struct {
	// Beta1 is β₁. Default 0.9.
	Beta1 float64
	// Beta2 is β₂. Default 0.999.
	Beta2 float64
	// Eps is ε. Default 1e-8.
	Eps  float64
	m, v []float64
	t    int
}

// Init implements Method.
func (m *Adam) Init(dim int) { m.m, m.v, m.t = make([]float64, dim), make([]float64, dim), 0 }

// Update implements Method.
func (m *Adam) Update(x, g []float64, lr float64) {
	b1, b2, eps := orDefault(m.Beta1, 0.9), orDefault(m.Beta2, 0.999), orDefault(m.Eps, 1e-8)
	m.t++
	c1, c2 := 1-math.Pow(b1, float64(m.t)), 1-math.Pow(b2, float64(m.t))
	for i := range x {
		m.m[i] = b1*m.m[i] + (1-b1)*g[i]
		m.v[i] = b2*m.v[i] + (1-b2)*g[i]*g[i]
		x[i] -= lr * (m.m[i] / c1) / (math.Sqrt(m.v[i]/c2) + eps)
	}
}

// DefaultLearningRate implements Method.
func (*Adam) DefaultLearningRate() float64 { return 0.05 }

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}
