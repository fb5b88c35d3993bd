// Package bench measures quantfit's per-pixel step and end-to-end
// estimation on the CPU and the GPU, against each device's measured
// memory-bandwidth ceiling: the engine of `quantfit bench`.
package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// Config lists what to measure: every combination of the lists.
type Config struct {
	Backends   []string // "cpu", "gpu"
	Pixels     []int
	Surrogates []kernels.SurrogateKind
	Modes      []string // "pixel", "hist"
	Ks         []int    // candidates per step: 1 is a loss+gradient step, more an exact scan
	Repeat     int      // timed repeats after a warm-up
	// Auto adds the end-to-end auto estimation per backend and size.
	Auto bool
	// Device is the GPU for backend "gpu".
	Device *gpu.Device
	// Progress, if set, is called after each measurement.
	Progress func(done, total int)
}

// Measurement is one configuration's figures. Kind "step" times one step
// (K = 1: fused loss and gradient; K > 1: exact losses of K candidates in
// one pass); kind "auto" times a whole auto estimation, histogram build and
// upload included.
type Measurement struct {
	Kind      string `json:"kind"`
	Backend   string `json:"backend"`
	Renderer  string `json:"renderer"`
	Pixels    int    `json:"pixels"`
	Surrogate string `json:"surrogate"`
	Mode      string `json:"mode"`
	K         int    `json:"k"`

	StepMedian float64 `json:"step_seconds_median"`
	StepMin    float64 `json:"step_seconds_min"`
	StepMax    float64 `json:"step_seconds_max"`
	// PixelsPerSecond counts pixel-candidate evaluations: pixels·K per
	// second.
	PixelsPerSecond float64 `json:"pixels_per_second"`
	// BytesPerSecond is the data read per second: bytes per pixel (8 for
	// the CPU's float32 pairs, 2 for the GPU's packed 8-bit pairs, 24 per
	// histogram group) over the step time.
	BytesPerSecond float64 `json:"bytes_per_second"`
	// CeilingRatio is BytesPerSecond over the device's copy bandwidth.
	CeilingRatio float64 `json:"ceiling_ratio"`
	Ceiling      float64 `json:"ceiling_bytes_per_second"`
	// Speedup is the CPU's step time over the GPU's, on GPU rows whose
	// configuration the CPU also ran.
	Speedup float64 `json:"gpu_speedup,omitempty"`
}

// Data returns n 8-bit pairs: original values drawn from a real photograph,
// targets its midrise quantization at b = 12.3, stored as 8-bit.
func Data(n int, seed uint64) (x, t []uint8, err error) {
	im, err := photos.Load("retina.jpg")
	if err != nil {
		return nil, nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0xda7a))
	var lut [256]uint8
	for v := range lut {
		y := kernels.Midrise.Apply(float64(kernels.Level8(v)), 12.3)
		lut[v] = uint8(math.Floor(y*255 + 0.5))
	}
	x, t = make([]uint8, n), make([]uint8, n)
	m := im.W * im.H
	for i := range x {
		x[i] = im.Pix8[r.IntN(3)][r.IntN(m)]
		t[i] = lut[x[i]]
	}
	return x, t, nil
}

// CPUCeiling measures the CPU's memory bandwidth: a large copy on all
// cores, each byte read and written (counted twice), best of repeat.
func CPUCeiling(size, repeat int) float64 {
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	p := runtime.GOMAXPROCS(0)
	best := math.Inf(1)
	for range max(1, repeat) + 1 {
		t := time.Now()
		var wg sync.WaitGroup
		for k := 0; k < p; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				lo, hi := k*size/p, (k+1)*size/p
				copy(dst[lo:hi], src[lo:hi])
			}(k)
		}
		wg.Wait()
		best = math.Min(best, time.Since(t).Seconds())
	}
	return 2 * float64(size) / best
}

// evaluator is what a step runs on.
type evaluator interface {
	LossGrad(p, grad []float64) float64
	Losses(bs, out []float64)
	Err() error
}

// Run measures every configuration.
func Run(ctx context.Context, c Config) ([]Measurement, error) {
	if c.Repeat < 1 {
		c.Repeat = 20
	}
	ceil := map[string]float64{}
	renderer := map[string]string{}
	for _, b := range c.Backends {
		switch b {
		case "cpu":
			ceil[b] = CPUCeiling(256<<20, 5)
		case "gpu":
			if c.Device == nil {
				return nil, fmt.Errorf("bench: backend gpu without a device")
			}
			bw, err := c.Device.CopyBandwidth(256<<20, 10)
			if err != nil {
				return nil, err
			}
			ceil[b], renderer[b] = bw, c.Device.Info().Renderer
		default:
			return nil, fmt.Errorf("bench: unknown backend %q", b)
		}
	}
	total := len(c.Backends) * len(c.Pixels) * (len(c.Surrogates)*len(c.Modes)*len(c.Ks) + boolInt(c.Auto))
	var out []Measurement
	done := 0
	tick := func() {
		done++
		if c.Progress != nil {
			c.Progress(done, total)
		}
	}
	for _, n := range c.Pixels {
		x, t, err := Data(n, uint64(n))
		if err != nil {
			return nil, err
		}
		var samples kernels.Samples
		var hist *kernels.Histogram
		for _, be := range c.Backends {
			for _, mode := range c.Modes {
				for _, sk := range c.Surrogates {
					cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: sk}, OutputLevels: 255}
					var ev evaluator
					var bpp float64
					var closeFn func()
					var err error
					switch {
					case mode == "hist":
						if hist == nil {
							hist = new(kernels.Histogram)
							hist.Add8(x, t)
						}
						w := hist.Weighted(kernels.MSE)
						bpp = 24 * float64(w.Len()) / float64(n)
						if be == "cpu" {
							ev, err = kernels.NewWeightedEvaluator(&w, cfg)
						} else {
							var g *gpu.Evaluator
							g, err = c.Device.NewWeightedEvaluator(&w, cfg)
							ev, closeFn = g, func() { g.Close() }
						}
					case be == "cpu":
						if samples.Len() == 0 {
							samples = kernels.Samples{X: make([]float32, n), T: make([]float32, n)}
							for i := range x {
								samples.X[i], samples.T[i] = kernels.Level8(int(x[i])), kernels.Level8(int(t[i]))
							}
						}
						bpp = 8
						ev, err = kernels.NewEvaluator(samples, cfg)
					default:
						bpp = 2
						var g *gpu.Evaluator
						g, err = c.Device.NewEvaluator8(x, t, cfg)
						ev, closeFn = g, func() { g.Close() }
					}
					if err != nil {
						return nil, fmt.Errorf("bench: %s %s %v n=%d: %v", be, mode, sk, n, err)
					}
					for _, k := range c.Ks {
						if err := ctx.Err(); err != nil {
							return out, err
						}
						m := Measurement{Kind: "step", Backend: be, Renderer: renderer[be], Pixels: n, Surrogate: sk.String(), Mode: mode, K: k, Ceiling: ceil[be]}
						times, err := timeSteps(ev, k, c.Repeat, warmUp(be))
						if err != nil {
							return nil, err
						}
						m.StepMin, m.StepMax, m.StepMedian = times[0], times[len(times)-1], times[len(times)/2]
						m.PixelsPerSecond = float64(n) * float64(k) / m.StepMedian
						m.BytesPerSecond = bpp * float64(n) / m.StepMedian
						m.CeilingRatio = m.BytesPerSecond / m.Ceiling
						out = append(out, m)
						tick()
					}
					if closeFn != nil {
						closeFn()
					}
				}
			}
			if c.Auto {
				m, err := timeAuto(c, be, x, t, renderer[be])
				if err != nil {
					return nil, err
				}
				out = append(out, m)
				tick()
			}
		}
	}
	speedups(out)
	return out, nil
}

// warmUp is the warm-up of a backend's steps before they are timed.
func warmUp(be string) time.Duration {
	if be == "gpu" {
		return time.Second / 4
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// timeSteps times repeat steps, sorted, after a warm-up of three steps
// and at least warm: a GPU's clocks rise from idle only under load (on the
// H200 the 64M step took 0.8 ms cold and 0.165 ms warm).
func timeSteps(ev evaluator, k, repeat int, warm time.Duration) ([]float64, error) {
	p, g := []float64{12.3}, make([]float64, 1)
	bs := make([]float64, k)
	for i := range bs {
		bs[i] = 5 + 25*float64(i)/float64(max(1, k-1))
	}
	out := make([]float64, k)
	step := func(j int) {
		if k == 1 {
			p[0] = 12.3 + 0.001*float64(j%7)
			ev.LossGrad(p, g)
		} else {
			ev.Losses(bs, out)
		}
	}
	for j, t := 0, time.Now(); j < 3 || time.Since(t) < warm; j++ {
		step(j)
	}
	times := make([]float64, repeat)
	for j := range times {
		t := time.Now()
		step(j)
		times[j] = time.Since(t).Seconds()
	}
	if err := ev.Err(); err != nil {
		return nil, err
	}
	slices.Sort(times)
	return times, nil
}

// timeAuto times a whole auto estimation on the pairs: histogram build
// (on the backend), upload, every step and readback.
func timeAuto(c Config, be string, x, t []uint8, renderer string) (Measurement, error) {
	m := Measurement{Kind: "auto", Backend: be, Renderer: renderer, Pixels: len(x), Surrogate: "atan", Mode: "hist", K: 1}
	var times []float64
	for range 3 {
		start := time.Now()
		var h *kernels.Histogram
		var err error
		s := estimate.Settings{}
		if be == "gpu" {
			h, err = c.Device.Histogram(x, t)
			s.Backend = &backend.GPU{Device: c.Device}
		} else {
			h = new(kernels.Histogram)
			h.Add8(x, t)
		}
		if err != nil {
			return m, err
		}
		d, err := estimate.FromHistogram(h)
		if err != nil {
			return m, err
		}
		if _, err := estimate.Estimate(d, s); err != nil {
			return m, err
		}
		times = append(times, time.Since(start).Seconds())
	}
	slices.Sort(times)
	m.StepMin, m.StepMedian, m.StepMax = times[0], times[1], times[2]
	m.PixelsPerSecond = float64(len(x)) / m.StepMedian
	return m, nil
}

// speedups fills the GPU rows' speed-up over the matching CPU rows.
func speedups(ms []Measurement) {
	type key struct {
		kind, surrogate, mode string
		pixels, k             int
	}
	cpu := map[key]float64{}
	for _, m := range ms {
		if m.Backend == "cpu" {
			cpu[key{m.Kind, m.Surrogate, m.Mode, m.Pixels, m.K}] = m.StepMedian
		}
	}
	for i := range ms {
		if t, ok := cpu[key{ms[i].Kind, ms[i].Surrogate, ms[i].Mode, ms[i].Pixels, ms[i].K}]; ok && ms[i].Backend == "gpu" {
			ms[i].Speedup = t / ms[i].StepMedian
		}
	}
}
