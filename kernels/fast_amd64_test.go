//go:build amd64 && !purego

package kernels

import (
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
					for _, b := range []float64{5, 11.37, 29.99} {
						var ga, gg [1]float64
						la := e.LossGrad([]float64{b}, ga[:])
						useAVX2 = false
						lg := e.LossGrad([]float64{b}, gg[:])
						useAVX2 = true
						if !close(la, lg, 1e-12) || math.Abs(ga[0]-gg[0]) > 1e-12*(math.Abs(gg[0])+1/(b*b)) {
							t.Errorf("n=%d %v %v levels=%v b=%v: asm (%v, %v), Go (%v, %v)", n, m, k, lv, b, la, ga[0], lg, gg[0])
						}
					}
				}
			}
		}
	}
}
