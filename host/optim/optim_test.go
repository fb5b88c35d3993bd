package optim

import (
	"math"
	"testing"
)

// quad is f = (εx² + y²)/2 with ε = 0.01: condition number 100.
var quad = Problem{LossGrad: func(g, x []float64) float64 {
	g[0], g[1] = 0.01*x[0], x[1]
	return (0.01*x[0]*x[0] + x[1]*x[1]) / 2
}}

// stepsTo returns the first step at which the loss is below 1e-6.
func stepsTo(t *testing.T, m Method, lr float64) int {
	t.Helper()
	first := -1
	rec := RecorderFunc(func(s Step) error {
		if first < 0 && s.Loss < 1e-6 {
			first = s.Step
		}
		return nil
	})
	if _, err := Minimize(quad, []float64{1, 1}, &Settings{Steps: 5000, LearningRate: lr, Recorder: rec}, m); err != nil {
		t.Fatal(err)
	}
	if first < 0 {
		return math.MaxInt
	}
	return first
}

func TestAccelerationBeatsBestFixedStep(t *testing.T) {
	best := math.MaxInt
	for lr := 0.05; lr < 2.0; lr += 0.01 {
		best = min(best, stepsTo(t, &SGD{}, lr))
	}
	// Tuned as the theory says: heavy ball α = 4/(√L+√μ)², β = ((√κ−1)/(√κ+1))²;
	// Nesterov lr = 1/L, μ = (√κ−1)/(√κ+1).
	mom := stepsTo(t, &Momentum{Mu: math.Pow(9.0/11, 2)}, 4/1.21)
	nes := stepsTo(t, &Nesterov{Mu: 9.0 / 11}, 1)
	t.Logf("steps to f < 1e-6: gradient descent at its best fixed step %d, momentum %d, Nesterov %d", best, mom, nes)
	if !(mom < best) || !(nes < best) {
		t.Errorf("momentum %d and Nesterov %d should need fewer steps than gradient descent's %d", mom, nes, best)
	}
}

// TestFirstSteps checks each rule against hand-computed iterates on
// f = x²/2 from x = 1.
func TestFirstSteps(t *testing.T) {
	half := Problem{LossGrad: func(g, x []float64) float64 { g[0] = x[0]; return x[0] * x[0] / 2 }}
	for _, c := range []struct {
		m    Method
		lr   float64
		want [3]float64
	}{
		{&SGD{}, 0.1, [3]float64{0.9, 0.81, 0.729}},
		{&Momentum{}, 0.1, [3]float64{0.9, 0.72, 0.486}},
		{&Nesterov{}, 0.1, [3]float64{0.81, 0.5751, 0.327321}},
		{&Adagrad{}, 0.1, [3]float64{0.90000000001, 0.833103526852317, 0.780456181365516}},
		{&RMSprop{}, 0.01, [3]float64{0.900000009999999, 0.832917975265059, 0.779982281982354}},
		{&Adam{}, 0.1, [3]float64{0.900000001, 0.800412229712338, 0.701586274504415}},
	} {
		var got []float64
		rec := RecorderFunc(func(s Step) error {
			if s.Step > 0 {
				got = append(got, s.X[0])
			}
			return nil
		})
		res, err := Minimize(half, []float64{1}, &Settings{Steps: 3, LearningRate: c.lr, Recorder: rec}, c.m)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Last[0])
		for i, w := range c.want {
			if math.Abs(got[i]-w) > 1e-12 {
				t.Errorf("%T step %d: x = %.15g, want %.15g", c.m, i+1, got[i], w)
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		t    int
		want float64
	}{
		{Constant{}, 7, 1},
		{StepDecay{Every: 10, Factor: 0.1}, 25, 0.01},
		{Exponential{Decay: 0.5}, 3, 0.125},
		{InverseTime{Tau: 10}, 10, 0.5},
	} {
		if got := c.s.Rate(1, c.t); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%T at %d: %v, want %v", c.s, c.t, got, c.want)
		}
	}
}

func TestProjectionEarlyStopAndNoise(t *testing.T) {
	// The minimum of (x−5)² lies outside [0, 2]: the run stays on the bound.
	p := Problem{LossGrad: func(g, x []float64) float64 { g[0] = 2 * (x[0] - 5); return (x[0] - 5) * (x[0] - 5) }}
	res, err := Minimize(p, []float64{1}, &Settings{Steps: 200, Lower: []float64{0}, Upper: []float64{2}}, &Adam{})
	if err != nil || res.X[0] != 2 {
		t.Fatalf("projected optimum %v, %v; want 2", res.X, err)
	}
	// A flat function stops after Patience steps.
	flat := Problem{LossGrad: func(g, x []float64) float64 { g[0] = 0; return 1 }}
	res, _ = Minimize(flat, []float64{1}, &Settings{Steps: 1000, Patience: 10}, nil)
	if res.Status != EarlyStop || res.Steps > 11 {
		t.Errorf("flat run: status %v after %d steps", res.Status, res.Steps)
	}
	// Noise moves a point that has zero gradient, reproducibly per seed.
	run := func(seed uint64) float64 {
		r, _ := Minimize(flat, []float64{0}, &Settings{Steps: 20, Noise: 1, Seed: seed, LearningRate: 0.1}, &SGD{})
		return r.Last[0]
	}
	if a, b, c := run(1), run(1), run(2); a == 0 || a != b || a == c {
		t.Errorf("noise: runs %v %v %v", a, b, c)
	}
}

func TestMiniBatches(t *testing.T) {
	// Minimize the mean of (x − a_i)² over 4 batches; the answer is the mean.
	a := []float64{1, 2, 3, 6}
	p := Problem{
		NumBatches: 4,
		BatchLossGrad: func(g, x []float64, epoch, batch int) float64 {
			d := x[0] - a[(batch+epoch)%4]
			g[0] = 2 * d
			return d * d
		},
		Loss: func(x []float64) float64 {
			s := 0.0
			for _, v := range a {
				s += (x[0] - v) * (x[0] - v)
			}
			return s / 4
		},
	}
	res, err := Minimize(p, []float64{0}, &Settings{Steps: 4000, LearningRate: 0.05, Schedule: InverseTime{Tau: 50}}, &SGD{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.X[0]-3) > 0.05 {
		t.Errorf("mini-batch SGD ended at %v, want 3", res.X[0])
	}
}

func TestInvalidSettings(t *testing.T) {
	for _, s := range []Settings{
		{Steps: -1}, {LearningRate: -1}, {LearningRate: math.NaN()}, {Noise: -1},
		{Lower: []float64{1, 2, 3}}, {Lower: []float64{2, 2}, Upper: []float64{1, 1}},
	} {
		if _, err := Minimize(quad, []float64{1, 1}, &s, nil); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if _, err := Minimize(Problem{}, []float64{1}, nil, nil); err == nil {
		t.Error("nil LossGrad accepted")
	}
	if _, err := ParseMethod("lbfgs"); err == nil {
		t.Error("unknown method accepted")
	}
}
