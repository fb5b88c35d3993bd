//go:build linux && cgo

package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// BenchmarkLossGrad is one fused loss+gradient step over packed 8-bit
// pairs, readback included: b.SetBytes counts the 2 bytes read per pair.
func BenchmarkLossGrad(b *testing.B) {
	d := devForBench(b)
	for _, n := range []int{1 << 16, 1 << 20, 4 << 20} {
		_, xs, ts := randomPairs(rand.New(rand.NewPCG(1, 1)), n)
		for _, k := range []kernels.SurrogateKind{kernels.STE, kernels.Atan} {
			b.Run(fmt.Sprintf("%v/n=%d", k, n), func(b *testing.B) {
				e, err := d.NewEvaluator8(xs, ts, kernels.Config{Surrogate: kernels.Surrogate{Kind: k}, OutputLevels: 255})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				p, g := []float64{12.3}, make([]float64, 1)
				e.LossGrad(p, g)
				b.SetBytes(int64(2 * n))
				b.ResetTimer()
				for range b.N {
					e.LossGrad(p, g)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
			})
		}
	}
}

// BenchmarkHistogram builds the joint histogram of n packed pairs.
func BenchmarkHistogram(b *testing.B) {
	d := devForBench(b)
	n := 4 << 20
	_, xs, ts := randomPairs(rand.New(rand.NewPCG(2, 2)), n)
	b.SetBytes(int64(2 * n))
	for range b.N {
		if _, err := d.Histogram(xs, ts); err != nil {
			b.Fatal(err)
		}
	}
}

func devForBench(b *testing.B) *Device {
	devOnce.Do(func() { dev, devErr = Open(Options{AllowSoftware: true}) })
	if devErr != nil {
		b.Skipf("no OpenGL 4.3 context: %v", devErr)
	}
	return dev
}
