//go:build linux && cgo

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/quantfit/quantfit/kernels"
)

// BenchmarkLossGrad is one fused loss+gradient step over packed 8-bit
// pairs, readback included: b.SetBytes counts the 2 bytes read per pair.
func BenchmarkLossGrad(b *testing.B) {
	d := devForBench(b)
	for _, n := range []int{1 << 16, 1 << 20, 4 << 20, 64 << 20} {
		_, xs, ts := randomPairs(rand.New(rand.NewPCG(1, 1)), n)
		for _, k := range []kernels.SurrogateKind{kernels.STE, kernels.Atan} {
			b.Run(fmt.Sprintf("%v/n=%d", k, n), func(b *testing.B) {
				e, err := d.NewEvaluator8(xs, ts, kernels.Config{Surrogate: kernels.Surrogate{Kind: k}, OutputLevels: 255})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				p, g := []float64{12.3}, make([]float64, 1)
				warmUp(d, func() { e.LossGrad(p, g) })
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

// BenchmarkHistogram builds the joint histogram of n pairs resident on
// the GPU, readback of the 65536 counts included: "photo" is an 8-bit
// photo-like image (smooth with noise) quantized, "random" pairs overflow
// the private tables.
func BenchmarkHistogram(b *testing.B) {
	d := devForBench(b)
	for _, n := range []int{4 << 20, 64 << 20} {
		for _, kind := range []string{"photo", "random"} {
			var xs, ts []uint8
			if kind == "random" {
				_, xs, ts = randomPairs(rand.New(rand.NewPCG(2, 2)), n)
			} else {
				xs, ts = photoPairs(n)
			}
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				p, err := d.NewPairs(xs, ts)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				var h kernels.Histogram
				warmUp(d, func() { _ = p.Histogram(&h) })
				b.SetBytes(int64(2 * n))
				b.ResetTimer()
				for range b.N {
					if err := p.Histogram(&h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// photoPairs is a 4096-wide image of n pixels, smooth gradients with a
// little noise, and its quantization to 12 levels: the few hundred
// distinct pairs of a photo, in runs.
func photoPairs(n int) (x, t []uint8) {
	r := rand.New(rand.NewPCG(9, 9))
	x, t = make([]uint8, n), make([]uint8, n)
	for i := range x {
		u, v := float64(i%4096)/4096, float64(i/4096%4096)/4096
		f := 255*(0.5+0.3*math.Sin(6*u+2*v)+0.15*math.Cos(9*v)) + 2*r.NormFloat64()
		x[i] = uint8(max(0, min(255, f)))
		t[i] = uint8((int(x[i])*12/256*255 + 5) / 11)
	}
	return x, t
}

func devForBench(b *testing.B) *Device {
	// QUANTFIT_BENCH_GL=mutable benches glBufferData's buffers, =debug
	// logs the driver's messages, notifications (buffer placement) too.
	o := Options{AllowSoftware: true}
	switch os.Getenv("QUANTFIT_BENCH_GL") {
	case "mutable":
		o.MutableBuffers = true
	case "debug":
		o.Debug, o.Notifications, o.DebugLog = true, true, os.Stderr
	}
	devOnce.Do(func() { dev, devErr = Open(o) })
	if devErr != nil {
		b.Skipf("no OpenGL 4.3 context: %v", devErr)
	}
	return dev
}

// warmUp runs step for a quarter of a second before a benchmark times it:
// a GPU's clocks rise from idle only under load, and a benchmark's data
// are made on the CPU while the GPU idles (the restore bench's first
// figure on the H200 was 5× the next without it).
func warmUp(d *Device, step func()) {
	if d.Info().Software {
		step()
		return
	}
	for t := time.Now(); time.Since(t) < time.Second/4; {
		step()
	}
}

// BenchmarkStackLossGrad is one loss+gradient step of the 4-operator stack
// gamma,gain,bias,quantize over packed 8-bit pairs; compare with
// BenchmarkLossGrad/ste at the same n (the goal: within 2×).
func BenchmarkStackLossGrad(b *testing.B) {
	d := devForBench(b)
	for _, n := range []int{1 << 20, 16 << 20, 64 << 20} {
		_, xs, ts := randomPairs(rand.New(rand.NewPCG(3, 3)), n)
		st, err := kernels.ParseStack("gamma,gain,bias,quantize", kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			e, err := d.NewStackEvaluator8(st, xs, ts)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			p, g := []float64{1.2, 0.9, 0.05, 12.3}, make([]float64, 4)
			warmUp(d, func() { e.LossGrad(p, g) })
			b.SetBytes(int64(2 * n))
			b.ResetTimer()
			for range b.N {
				e.LossGrad(p, g)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
		})
	}
}

// BenchmarkCopy copies 256 MB on the GPU (beyond any cache): the memory
// bandwidth the streaming kernels can reach, read and write counted.
func BenchmarkCopy(b *testing.B) {
	d := devForBench(b)
	var bw float64
	for range b.N {
		v, err := d.CopyBandwidth(256<<20, 1)
		if err != nil {
			b.Fatal(err)
		}
		bw = max(bw, v)
	}
	b.ReportMetric(bw/1e9, "GB/s")
}

// BenchmarkRoundTrip is one call on the device's thread that does nothing:
// the fixed cost of every step beside its GL work.
func BenchmarkRoundTrip(b *testing.B) {
	d := devForBench(b)
	noop := func() error { return nil }
	for range b.N {
		_ = d.do(noop)
	}
}

// BenchmarkSpatialStep is one loss+gradient step of
// blur,saturation,gamma,quantize over an RGB image on the GPU, readback
// included: the twin of kernels' BenchmarkSpatialStep. -short stops at
// 1 MP (llvmpipe); the 16 MP figure is the issue's.
func BenchmarkSpatialStep(b *testing.B) {
	d := devForBench(b)
	sides := []int{1024, 2048, 4096}
	if testing.Short() {
		sides = sides[:1]
	}
	st, err := kernels.ParseStack("blur,saturation,gamma,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		b.Fatal(err)
	}
	for _, side := range sides {
		b.Run(fmt.Sprintf("MP=%d", side*side>>20), func(b *testing.B) {
			x := texture(rand.New(rand.NewPCG(7, 7)), side, side, 3)
			e, err := d.NewImageEvaluator(st, []kernels.Planes{x}, []kernels.Planes{x})
			if err != nil {
				b.Skip(err)
			}
			defer e.Close()
			p := []float64{1.5, 0.8, 1.2, 11.3}
			g := make([]float64, len(p))
			warmUp(d, func() { e.LossGrad(p, g) })
			b.ResetTimer()
			for range b.N {
				e.LossGrad(p, g)
			}
			if err := e.Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(side*side)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
		})
	}
}

// BenchmarkContours finds the contour search's seeds and rim distances of
// one plane on the GPU, all read back: a smooth field of 12 levels, its bands
// tens to hundreds of samples wide, with 2% of its samples one level off
// (a sky's dither and specks). -short stops at 1 MP (llvmpipe); the 16 MP
// figure is the issue's, three planes to an RGB image.
func BenchmarkContours(b *testing.B) {
	d := devForBench(b)
	sides := []int{1024, 2048, 4096}
	if testing.Short() {
		sides = sides[:1]
	}
	for _, side := range sides {
		b.Run(fmt.Sprintf("MP=%d", side*side>>20), func(b *testing.B) {
			r := rand.New(rand.NewPCG(9, 9))
			level := make([]int32, side*side)
			for i := range level {
				x, y := float64(i%side)/float64(side), float64(i/side)/float64(side)
				v := 12 * (0.5 + 0.3*math.Sin(3*x+2*y) + 0.2*math.Cos(5*x*y))
				if r.Float64() < 0.02 {
					v += 1
				}
				level[i] = int32(min(11, max(0, v)))
			}
			band := kernels.BandLabels(level, side, side)
			seeds := func() {
				if _, err := d.Contours(level, band, side, side); err != nil {
					b.Fatal(err)
				}
			}
			warmUp(d, seeds)
			b.ResetTimer()
			for range b.N {
				seeds()
			}
			b.ReportMetric(float64(side*side)*float64(b.N)/b.Elapsed().Seconds(), "pix/s")
		})
	}
}
