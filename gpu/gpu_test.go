//go:build linux && cgo

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-gl/gl/v4.3-core/gl"
	"github.com/quantfit/quantfit/kernels"
)

var (
	devOnce sync.Once
	dev     *Device
	devErr  error
)

// device opens one context for the tests: software renderers allowed, as
// CI has only llvmpipe. Without a context the tests skip, unless
// QUANTFIT_REQUIRE_GPU is set (CI sets it): then they fail.
func device(t *testing.T) *Device {
	t.Helper()
	devOnce.Do(func() {
		dev, devErr = Open(Options{AllowSoftware: true, Debug: true, Strict: true, DebugLog: os.Stderr})
	})
	if devErr != nil {
		if os.Getenv("QUANTFIT_REQUIRE_GPU") != "" {
			t.Fatalf("QUANTFIT_REQUIRE_GPU is set but no GPU context: %v", devErr)
		}
		t.Skipf("no OpenGL 4.3 context: %v", devErr)
	}
	return dev
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dev != nil {
		dev.Close()
	}
	os.Exit(code)
}

func TestInfo(t *testing.T) {
	d := device(t)
	i := d.Info()
	t.Logf("renderer %q, version %q, vendor %q, software %v", i.Renderer, i.Version, i.Vendor, i.Software)
	if i.Renderer == "" || !strings.Contains(i.Version, "4.") {
		t.Errorf("info %+v", i)
	}
}

// TestCopyBandwidth: the ceiling the bench reports is a real copy's.
func TestCopyBandwidth(t *testing.T) {
	d := device(t)
	bw, err := d.CopyBandwidth(1<<20+8, 2)
	if err != nil || !(bw > 0) {
		t.Fatalf("copy bandwidth %v, %v", bw, err)
	}
	if _, err := d.CopyBandwidth(15, 1); err == nil {
		t.Error("a copy of 15 bytes measured")
	}
}

func randomPairs(r *rand.Rand, n int) (kernels.Samples, []uint8, []uint8) {
	xs, ts := make([]uint8, n), make([]uint8, n)
	s := kernels.Samples{X: make([]float32, n), T: make([]float32, n)}
	for i := range n {
		xs[i] = uint8(r.IntN(256))
		b := 5 + 25*r.Float64()
		ts[i] = uint8(math.Round(kernels.Midrise.Apply(float64(kernels.Level8(int(xs[i]))), b)*255)) ^ uint8(r.IntN(2))
		s.X[i], s.T[i] = kernels.Level8(int(xs[i])), kernels.Level8(int(ts[i]))
	}
	return s, xs, ts
}

func configs() []kernels.Config {
	var cs []kernels.Config
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate} {
		for _, s := range []kernels.Surrogate{{Kind: kernels.Identity}, {Kind: kernels.STE}, {Kind: kernels.Sine},
			{Kind: kernels.Atan}, {Kind: kernels.SoftRound, Alpha: 20}, {Kind: kernels.Gaussian, Samples: 3}} {
			for _, l := range []kernels.Loss{{Kind: kernels.MSE}, {Kind: kernels.L1}, {Kind: kernels.Huber, Delta: 0.01}} {
				cs = append(cs, kernels.Config{Model: m, Surrogate: s, Loss: l, OutputLevels: 255})
				if l.Kind == kernels.MSE {
					cs = append(cs, kernels.Config{Model: m, Surrogate: s, Loss: l})
					if s.Kind.Smooth() || s.Kind == kernels.Identity {
						cs = append(cs, kernels.Config{Model: m, Surrogate: s, Loss: l, SoftForward: true})
					}
				}
			}
		}
	}
	return cs
}

func relClose(a, b, rel, floor float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))+floor
}

type evaluator interface {
	LossGrad(p, grad []float64) float64
	Losses(bs, out []float64)
}

// compare holds a GPU evaluator to the CPU one: sums within 1e-5 relative.
func compare(t *testing.T, name string, cpu, gpu evaluator, cfg kernels.Config) {
	t.Helper()
	for _, b := range []float64{5.3, 12.71, 29.9} {
		var gc, gg [1]float64
		lc := cpu.LossGrad([]float64{b}, gc[:])
		lg := gpu.LossGrad([]float64{b}, gg[:])
		if !relClose(lc, lg, 1e-5, 0) || !relClose(gc[0], gg[0], 1e-5, 1e-7/(b*b)) {
			t.Errorf("%s b=%v: cpu (%v, %v), gpu (%v, %v)", name, b, lc, gc[0], lg, gg[0])
		}
	}
	bs := []float64{5, 7.77, 13.1, 21.5, 30}
	oc, og := make([]float64, len(bs)), make([]float64, len(bs))
	cpu.Losses(bs, oc)
	gpu.Losses(bs, og)
	for i := range bs {
		if !relClose(oc[i], og[i], 1e-5, 0) {
			t.Errorf("%s: Losses at %v: cpu %v, gpu %v", name, bs[i], oc[i], og[i])
		}
	}
}

func cfgName(c kernels.Config) string {
	return fmt.Sprintf("%v/%v/%v/soft=%v/levels=%v", c.Model, c.Surrogate, c.Loss.Kind, c.SoftForward, c.OutputLevels)
}

// TestParity: every model × surrogate × loss, per-pixel (float32 and packed
// 8-bit) and histogram mode, K = 1 and K > 1, on sizes that are not
// multiples of the workgroup.
func TestParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(1, 2))
	s, xs, ts := randomPairs(r, 20011)
	var h kernels.Histogram
	h.Add8(xs, ts)
	for i, cfg := range configs() {
		if testing.Short() && i%4 != 0 {
			continue // a quarter of them, every model, surrogate and loss among them
		}
		cfg = cfg.WithDefaults()
		cpu, err := kernels.NewEvaluator(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		g32, err := d.NewEvaluator(s, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cfgName(cfg), err)
		}
		compare(t, cfgName(cfg)+"/f32", cpu, g32, cfg)
		g32.Close()
		g8, err := d.NewEvaluator8(xs, ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, cfgName(cfg)+"/u8", cpu, g8, cfg)
		g8.Close()
		w := h.Weighted(cfg.Loss.Kind)
		cw, _ := kernels.NewWeightedEvaluator(&w, cfg)
		gw, err := d.NewWeightedEvaluator(&w, cfg)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, cfgName(cfg)+"/hist", cw, gw, cfg)
		gw.Close()
	}
}

// TestTiesFallAsOnCPU: an 8-bit x = k/255 and the b that puts x·s + c on
// an integer, with the doubles either side of it: the GPU takes the CPU's
// level there, packed and as a histogram. One pixel with target 0 per
// evaluator, so a level that falls the other way moves the loss by far
// more than the tolerance.
func TestTiesFallAsOnCPU(t *testing.T) {
	d := device(t)
	for _, m := range []kernels.Model{kernels.Midrise, kernels.Posterize, kernels.Truncate} {
		cfg := kernels.Config{Model: m, Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255}.WithDefaults()
		c, _ := m.Offsets()
		ties := 0
		for k := 1; k < 256; k++ {
			if testing.Short() && k%5 != 1 {
				continue
			}
			var bs []float64
			for j := 1; ; j++ {
				b := (float64(j)-c)*255/float64(k) + m.Shift()
				if b > 30 {
					break
				}
				if b >= 5 {
					bs = append(bs, math.Nextafter(b, 0), b, math.Nextafter(b, 100))
				}
			}
			if len(bs) == 0 {
				continue
			}
			ties += len(bs) / 3
			xs, ts := []uint8{uint8(k)}, []uint8{0}
			s := kernels.Samples{X: []float32{kernels.Level8(k)}, T: []float32{0}}
			var h kernels.Histogram
			h.Add8(xs, ts)
			w := h.Weighted(cfg.Loss.Kind)
			cpu, _ := kernels.NewEvaluator(s, cfg)
			g8, err := d.NewEvaluator8(xs, ts, cfg)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := d.NewWeightedEvaluator(&w, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, len(bs))
			cpu.Losses(bs, want)
			for _, g := range []struct {
				name string
				e    evaluator
			}{{"u8", g8}, {"hist", gw}} {
				got := make([]float64, len(bs))
				g.e.Losses(bs, got)
				for i, b := range bs {
					if !relClose(want[i], got[i], 1e-6, 1e-12) {
						t.Errorf("%v %s x=%d/255 b=%v: cpu loss %v, gpu %v", m, g.name, k, b, want[i], got[i])
					}
				}
			}
			g8.Close()
			gw.Close()
		}
		if want := 1000; ties < want && !(testing.Short() && ties >= want/5) {
			t.Fatalf("%v: only %d ties tried", m, ties)
		}
	}
}

func TestOddSizesAndManyCandidates(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(3, 4))
	cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.Atan}, OutputLevels: 255}.WithDefaults()
	for _, n := range []int{1, 2, 255, 257, 513} {
		s, xs, ts := randomPairs(r, n)
		cpu, _ := kernels.NewEvaluator(s, cfg)
		g, err := d.NewEvaluator8(xs, ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, fmt.Sprintf("n=%d", n), cpu, g, cfg)
		g.Close()
	}
	s, _, _ := randomPairs(r, 3001)
	cpu, _ := kernels.NewEvaluator(s, cfg)
	g, _ := d.NewEvaluator(s, cfg)
	defer g.Close()
	bs := make([]float64, 5000) // two dispatches: 4096 + 904
	for i := range bs {
		bs[i] = 5 + 25*float64(i)/float64(len(bs)-1)
	}
	oc, og := make([]float64, len(bs)), make([]float64, len(bs))
	cpu.Losses(bs, oc)
	g.Losses(bs, og)
	for i := range bs {
		if !relClose(oc[i], og[i], 1e-5, 0) {
			t.Fatalf("candidate %d (b=%v): cpu %v, gpu %v", i, bs[i], oc[i], og[i])
		}
	}
}

func TestHistogram(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(5, 6))
	// Random pairs overflow every workgroup's private table (the global
	// path); a quantized ramp and a constant image fill it with runs.
	ramp := func(n int) ([]uint8, []uint8) {
		x, y := make([]uint8, n), make([]uint8, n)
		for i := range x {
			x[i] = uint8(i / 97 % 256)
			y[i] = uint8(int(x[i]) / 21 * 21)
		}
		return x, y
	}
	cases := map[string]func() ([]uint8, []uint8){
		"one":      func() ([]uint8, []uint8) { _, x, y := randomPairs(r, 1); return x, y },
		"three":    func() ([]uint8, []uint8) { _, x, y := randomPairs(r, 3); return x, y },
		"random":   func() ([]uint8, []uint8) { _, x, y := randomPairs(r, 100001); return x, y },
		"ramp":     func() ([]uint8, []uint8) { return ramp(1<<20 + 5) },
		"constant": func() ([]uint8, []uint8) { x := make([]uint8, 300007); return x, x },
	}
	for name, gen := range cases {
		xs, ts := gen()
		var want kernels.Histogram
		want.Add8(xs, ts)
		got, err := d.Histogram(xs, ts)
		if err != nil {
			t.Fatal(err)
		}
		if got.Counts != want.Counts {
			t.Errorf("%s: GPU histogram differs from the CPU's", name)
		}
	}
}

func TestCompileErrorNamesTheLine(t *testing.T) {
	d := device(t)
	err := d.do(func() error {
		_, err := compile("#version 430 core\nlayout(local_size_x = 1) in;\n#line 1\nvoid main() {\n\tfloat x = undefined_thing;\n}\n")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "undefined_thing") {
		t.Errorf("compile error %v does not quote the line", err)
	}
}

// TestStackParity holds generated stack shaders to kernels.Stack: every
// operator, random stacks, three losses, histogram groups and packed
// 8-bit pixels.
func TestStackParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(41, 42))
	s, xs, ts := randomPairs(r, 6007)
	var h kernels.Histogram
	h.Add8(xs, ts)
	ops := []string{"gain", "bias", "gamma", "contrast", "clamp"}
	specs := []string{"gamma,gain,bias,quantize", "quantize", "contrast,clamp,quantize", "gain"}
	for range 4 {
		var parts []string
		for range 1 + r.IntN(4) {
			parts = append(parts, ops[r.IntN(len(ops))])
		}
		specs = append(specs, strings.Join(append(parts, "quantize"), ","))
	}
	for _, spec := range specs {
		for _, cfg := range []kernels.Config{
			{Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255},
			{Surrogate: kernels.Surrogate{Kind: kernels.Atan}, Loss: kernels.Loss{Kind: kernels.L1}, OutputLevels: 255},
			{Model: kernels.Posterize, Surrogate: kernels.Surrogate{Kind: kernels.SoftRound}, Loss: kernels.Loss{Kind: kernels.Huber}},
		} {
			st, err := kernels.ParseStack(spec, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ps := st.Params()
			p := make([]float64, len(ps))
			for i, pp := range ps {
				p[i] = pp.Init + 0.2*(r.Float64()-0.5)*(pp.Hi-pp.Lo)/4
				if pp.Name == "b" {
					p[i] = 5 + 25*r.Float64()
				}
			}
			w := h.Weighted(st.Loss.Kind)
			cpu, err := kernels.NewStackEvaluator(st, &w)
			if err != nil {
				t.Fatal(err)
			}
			gw, err := d.NewStackEvaluatorWeighted(st, &w)
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			g8, err := d.NewStackEvaluator8(st, xs, ts)
			if err != nil {
				t.Fatal(err)
			}
			gc := make([]float64, len(p))
			lc := cpu.LossGrad(p, gc)
			mag := make([]float64, len(p))
			gs, scratch := make([]float64, len(p)), make([]float64, 4*len(p)+4*len(st.Ops))
			for k := range w.X {
				st.SampleLossGrad(w.X[k], w.T[k], p, gs, scratch)
				for i, g := range gs {
					mag[i] += w.W[k] * math.Abs(g) / w.Total()
				}
			}
			ec := cpu.Loss(p)
			for gi, g := range []*StackEvaluator{gw, g8} {
				gg := make([]float64, len(p))
				lg := g.LossGrad(p, gg)
				// gamma runs in float on the GPU: a stored output at a
				// rounding tie may fall the other way
				tol := 1e-5
				if strings.Contains(spec, "gamma") {
					tol = 1e-3
				}
				if !relClose(lc, lg, tol, 0) || !relClose(ec, g.Loss(p), tol, 0) {
					t.Errorf("%s %v layout %d: loss cpu %v / %v, gpu %v / %v", spec, cfg.Surrogate, gi, lc, ec, lg, g.Loss(p))
				}
				for i := range gc {
					// The weighted layout runs the float chain (stack.comp):
					// each sample's terms carry float rounding, so its bound
					// is relative to the sum of the terms' magnitudes,
					// which cancel in the gradient.
					if !relClose(gc[i], gg[i], tol, 1e-9) && (gi != 0 || math.Abs(gc[i]-gg[i]) > tol*mag[i]) {
						t.Errorf("%s %v layout %d: d/d%s cpu %v, gpu %v (terms' magnitudes %v)", spec, cfg.Surrogate, gi, ps[i].Name, gc[i], gg[i], mag[i])
					}
				}
			}
			gw.Close()
			g8.Close()
		}
	}
	_ = s
}

// TestBuffersReused: a closed evaluator's buffers serve the next one of
// the same sizes, as a batch makes one evaluator per job.
func TestBuffersReused(t *testing.T) {
	d := device(t)
	_, xs, ts := randomPairs(rand.New(rand.NewPCG(51, 52)), 10000)
	cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}}
	spares := func() (n int) { d.do(func() error { n = len(d.spare); return nil }); return n }
	e, err := d.NewEvaluator8(xs, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var g [1]float64
	want := e.LossGrad([]float64{9.1}, g[:])
	e.Close()
	before := spares()
	e2, err := d.NewEvaluator8(xs, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if after := spares(); before == 0 || after >= before {
		t.Errorf("spares %d before, %d after a new evaluator: nothing reused", before, after)
	}
	if got := e2.LossGrad([]float64{9.1}, g[:]); got != want {
		t.Errorf("reused buffers give %v, fresh ones %v", got, want)
	}
}

// TestStorageFlags: every buffer of an evaluator is immutable device
// storage that is never mapped or written from the host, but for the few
// bytes of a step's scales, and the one staging buffer is host memory
// mapped for good (issue 28: no buffer left to the driver's guess).
func TestStorageFlags(t *testing.T) {
	d := device(t)
	if !haveStorage {
		t.Skip("no glBufferStorage in this context")
	}
	_, xs, ts := randomPairs(rand.New(rand.NewPCG(53, 54)), 5000)
	e, err := d.NewEvaluator8(xs, ts, kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.Atan}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var g [1]float64
	e.LossGrad([]float64{7.7}, g[:])
	const mapBits = gl.MAP_READ_BIT | gl.MAP_WRITE_BIT | gl.MAP_PERSISTENT_BIT | gl.MAP_COHERENT_BIT
	d.do(func() error {
		for i, b := range append([]buffer{e.table, e.partial, e.result}, e.data...) {
			if im, fl := storageOf(b); !im || fl != 0 {
				t.Errorf("buffer %d: immutable %v, flags %#x; want immutable device storage (flags 0)", i, im, fl)
			}
		}
		if im, fl := storageOf(e.scales); !im || fl != gl.DYNAMIC_STORAGE_BIT {
			t.Errorf("scales: immutable %v, flags %#x; want a dynamic buffer (%#x)", im, fl, gl.DYNAMIC_STORAGE_BIT)
		}
		im, fl := storageOf(d.stage.b)
		if want := uint32(mapBits | gl.CLIENT_STORAGE_BIT); !im || fl != want || d.stage.ptr == nil {
			t.Errorf("staging: immutable %v, flags %#x, mapped %v; want %#x, mapped", im, fl, d.stage.ptr != nil, want)
		}
		return nil
	})
}
