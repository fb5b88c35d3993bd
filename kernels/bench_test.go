package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkLossGrad is one fused loss+gradient step over per-pixel float32
// samples: b.SetBytes counts the 8 bytes read per sample.
func BenchmarkLossGrad(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 20, 4 << 20} {
		s, _, _ := randomSamples(rand.New(rand.NewPCG(1, 1)), n)
		for _, c := range []struct {
			k  SurrogateKind
			lv float64
		}{{STE, 0}, {Identity, 0}, {Atan, 0}, {Sine, 0}, {SoftRound, 0}, {STE, 255}, {Atan, 255}} {
			k := c.k
			name := k.String()
			if c.lv != 0 {
				name += "+stored"
			}
			b.Run(fmt.Sprintf("%v/n=%d", name, n), func(b *testing.B) {
				e, err := NewEvaluator(s, Config{Surrogate: Surrogate{Kind: k}, OutputLevels: c.lv})
				if err != nil {
					b.Fatal(err)
				}
				p, g := []float64{12.3}, make([]float64, 1)
				b.SetBytes(int64(8 * n))
				b.ResetTimer()
				for range b.N {
					e.LossGrad(p, g)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
			})
		}
	}
}

// BenchmarkHistogramStep is one step in histogram mode: its cost does not
// depend on the pixel count.
func BenchmarkHistogramStep(b *testing.B) {
	s, xs, ts := randomSamples(rand.New(rand.NewPCG(2, 2)), 1<<20)
	_ = s
	var h Histogram
	h.Add8(xs, ts)
	for _, l := range []LossKind{MSE, L1} {
		for _, k := range []SurrogateKind{STE, Atan} {
			w := h.Weighted(l)
			b.Run(fmt.Sprintf("%v/%v/groups=%d", l, k, w.Len()), func(b *testing.B) {
				e, _ := NewWeightedEvaluator(&w, Config{Surrogate: Surrogate{Kind: k}, Loss: Loss{Kind: l}})
				p, g := []float64{12.3}, make([]float64, 1)
				for range b.N {
					e.LossGrad(p, g)
				}
			})
		}
	}
}

// BenchmarkStackStep is one loss+gradient step of a stack over a
// histogram's cells, the 4-operator stack against the quantizer alone.
func BenchmarkStackStep(b *testing.B) {
	_, xs, ts := randomSamples(rand.New(rand.NewPCG(4, 4)), 1<<20)
	var h Histogram
	h.Add8(xs, ts)
	w := h.Weighted(MSE)
	for _, c := range []struct {
		spec string
		p    []float64
	}{{"quantize", []float64{12.3}}, {"gamma,gain,bias,quantize", []float64{1.2, 0.9, 0.05, 12.3}}} {
		b.Run(fmt.Sprintf("%s/groups=%d", c.spec, w.Len()), func(b *testing.B) {
			st, err := ParseStack(c.spec, Config{Surrogate: Surrogate{Kind: STE}, OutputLevels: 255})
			if err != nil {
				b.Fatal(err)
			}
			e, err := NewStackEvaluator(st, &w)
			if err != nil {
				b.Fatal(err)
			}
			g := make([]float64, len(c.p))
			for range b.N {
				e.LossGrad(c.p, g)
			}
		})
	}
}

// BenchmarkLosses scans K candidates in one pass over the samples.
func BenchmarkLosses(b *testing.B) {
	n := 1 << 20
	s, _, _ := randomSamples(rand.New(rand.NewPCG(3, 3)), n)
	e, _ := NewEvaluator(s, Config{})
	for _, k := range []int{1, 256} {
		bs := make([]float64, k)
		for i := range bs {
			bs[i] = 5 + 25*float64(i)/float64(k)
		}
		out := make([]float64, k)
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for range b.N {
				e.Losses(bs, out)
			}
			b.ReportMetric(float64(n*k)*float64(b.N)/b.Elapsed().Seconds(), "evals/s")
		})
	}
}

func BenchmarkHistogramBuild(b *testing.B) {
	_, xs, ts := randomSamples(rand.New(rand.NewPCG(4, 4)), 4<<20)
	b.SetBytes(int64(2 * len(xs)))
	for range b.N {
		var h Histogram
		h.Add8(xs, ts)
	}
}
