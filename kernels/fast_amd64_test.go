//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAssemblyMatchesGo holds the AVX2 loops to the pure-Go loops they
// document, on lengths that leave every possible tail.
func TestAssemblyMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 3, 4, 7, 8, 9, 15, 1001, 1 << 15} {
		s, _, _ := randomSamples(r, n)
		for _, m := range allModels {
			for _, k := range []Surrogate{{Kind: STE}, {Kind: Identity}, {Kind: Atan}, {Kind: Sine}, {Kind: SoftRound, Alpha: 20}} {
				for _, lv := range []float64{0, 255} {
					e, _ := NewEvaluator(s, Config{Model: m, Surrogate: k, OutputLevels: lv})
					compareAsm(t, e, []float64{5, 11.37, 29.99}, fmt.Sprintf("n=%d %v %v levels=%v", n, m, k, lv))
				}
			}
		}
	}
}

// TestWeightedAssemblyMatchesGo holds tableSumsWAVX2 to tableMSE over
// weighted groups such as 16-bit data make.
func TestWeightedAssemblyMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{8, 9, 10, 11, 1001, 1 << 15} {
		w := &Weighted{X: make([]float64, n), T: make([]float64, n), W: make([]float64, n), MSEOnly: true}
		for i := range n {
			w.X[i] = float64(r.IntN(65536)) / 65535
			w.T[i] = r.Float64()
			w.W[i] = float64(1 + r.IntN(50))
		}
		for _, m := range allModels {
			for _, k := range []Surrogate{{Kind: Atan, Gamma: 0.9}, {Kind: Sine}, {Kind: SoftRound, Alpha: 20}} {
				for _, lv := range []float64{0, 65535} {
					e, err := NewWeightedEvaluator(w, Config{Model: m, Surrogate: k, OutputLevels: lv})
					if err != nil {
						t.Fatal(err)
					}
					compareAsm(t, e, []float64{5, 9.64, 29.99}, fmt.Sprintf("n=%d %v %v levels=%v", n, m, k, lv))
				}
			}
		}
	}
}

// compareAsm holds e's loss and gradient with the assembly to those of the
// Go loops at each b.
func compareAsm(t *testing.T, e *Evaluator, bs []float64, what string) {
	t.Helper()
	for _, b := range bs {
		var ga, gg [1]float64
		la := e.LossGrad([]float64{b}, ga[:])
		useAVX2 = false
		lg := e.LossGrad([]float64{b}, gg[:])
		useAVX2 = true
		if !close(la, lg, 1e-12) || math.Abs(ga[0]-gg[0]) > 1e-12*(math.Abs(gg[0])+1/(b*b)) {
			t.Errorf("%s b=%v: asm (%v, %v), Go (%v, %v)", what, b, la, ga[0], lg, gg[0])
		}
	}
}
