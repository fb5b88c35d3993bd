package estimate

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/kernels"
)

// exposure is an operator that another program adds to a stack: y = x·2^e,
// e in stops. Its GLSL twin computes 2^e in float, as GLSL has no double
// exp2.
type exposure struct{}

func (exposure) Name() string { return "exposure" }
func (exposure) Params() []kernels.Param {
	return []kernels.Param{{Name: "stops", Lo: -1, Hi: 1, Init: 0, Smooth: true}}
}
func (exposure) Apply(x float64, p, dp []float64) (float64, float64) {
	k := math.Exp2(p[0])
	dp[0] = x * k * math.Ln2
	return x * k, k
}
func (exposure) GLSL() string {
	return `
	double k = double(exp2(float(p[0])));
	dx = k;
	dp[0] = x * k * 0.6931471805599453LF;
	return x * k;
`
}

// exposureStack is exposure then the midrise quantizer, stored as 8-bit.
func exposureStack() *kernels.Stack {
	return &kernels.Stack{
		Ops:          []kernels.Op{exposure{}, kernels.Quantize{Config: kernels.Config{}.WithDefaults()}},
		OutputLevels: 255,
	}
}

// rampData is every 8-bit grey level through the stack at p.
func rampData(st *kernels.Stack, p []float64) *Data {
	xs, ts := make([]uint8, 256), make([]uint8, 256)
	for v := range xs {
		xs[v] = uint8(v)
		ts[v] = uint8(math.Round(255 * st.Forward(float64(v)/255, p)))
	}
	var h kernels.Histogram
	h.Add8(xs, ts)
	d, err := FromHistogram(&h)
	if err != nil {
		panic(err)
	}
	return d
}

// A stack with an operator of the caller's own, fitted jointly with the
// quantizer's b.
func ExampleEstimateStack() {
	st := exposureStack()
	d := rampData(st, []float64{-0.4, 12.3})
	res, err := EstimateStack(d, st, st.Params(), Settings{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stops %.2f, b %.1f\n", res.Value("stops"), res.Value("b"))
	// Output: stops -0.40, b 12.3
}

// TestStackRangeOfB: b's range must lie where the quantizer is defined.
func TestStackRangeOfB(t *testing.T) {
	st := exposureStack()
	d := rampData(st, []float64{0, 10})
	for _, r := range [][2]float64{{0, 30}, {-3, 30}, {5, 1e9}} {
		ps := st.Params()
		ps[1].Lo, ps[1].Hi, ps[1].Init = r[0], r[1], 10
		_, err := EstimateStack(d, st, ps, Settings{})
		if fe := (*kernels.FieldError)(nil); !errors.As(err, &fe) || fe.Field != "Params" || fe.Value != "b" {
			t.Errorf("b in %v: error %v, want a field error naming b", r, err)
		}
	}
}

// TestStackMiniBatch: with a batch size the joint descent steps through
// mini-batches of pixels, with noise, and the recorder sees every step of
// every start once, numbered in order.
func TestStackMiniBatch(t *testing.T) {
	ims := loadPhotos(t)
	st, err := kernels.ParseStack("gain,quantize", kernels.Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	d := stackPair(t, ims[0], st, []float64{0.9, 11})
	var steps []optim.Step
	rec := optim.RecorderFunc(func(s optim.Step) error { steps = append(steps, s); return nil })
	res, err := EstimateStack(d, st, st.Params(), Settings{Strategy: Multistart{Starts: 3}, Optim: Optim{Steps: 40, BatchSize: 512, Noise: 0.01}, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	for i, s := range steps {
		if s.Step != i {
			t.Fatalf("step %d recorded as %d", i, s.Step)
		}
		if s.Batch > 0 {
			batches++
		}
	}
	if len(steps) < 3*40 || batches == 0 {
		t.Errorf("%d steps recorded, %d on batches past the first", len(steps), batches)
	}
	if res.Strategy != "stack-multistart" {
		t.Errorf("strategy %s", res.Strategy)
	}
}
