package estimate

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// stackPair applies the stack at p to a photo, stored as 8-bit.
func stackPair(t testing.TB, im *imageset.Image, st *kernels.Stack, p []float64) *Data {
	q := im.Filter(func(x float64) float64 { return st.Forward(x, p) })
	pair, err := imageset.NewPair(im, q)
	if err != nil {
		t.Fatal(err)
	}
	set := &imageset.Set{Pairs: []imageset.Pair{pair}}
	d, err := FromSet(set, Groups(set, false)[0])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStackOnPhotos is the stack fit's acceptance trial on the CPU: random γ in
// [0.5, 2], gain in [0.7, 1.3], bias in [−0.1, 0.1] and b in [5, 30] before
// the midrise quantizer, stored as 8-bit; γ and gain within 0.02, bias
// within 0.01 and b within 0.05 in 95% of 40 trials. Measured: 39/40 (and
// 38/40 with seed 99); every miss is on data that a wider set of answers
// fits exactly (brick.png: any bias in [0.04, 0.116] in one trial), where
// the fit returns that set's mean.
//
// CI runs the first 20 trials (seed 61: deterministic; 19 of them within
// the tolerances, the miss on brick.png); the acceptance trial's 40 run
// with QUANTFIT_STACK_TRIALS=40 (bench/RESULTS.md).
func TestStackOnPhotos(t *testing.T) {
	accuracyTrial(t)
	trials := stackTrialCount(20)
	if testing.Short() {
		trials = 8
	}
	stackTrials(t, trials, 61, Settings{}, 0.95)
}

// stackTrialCount returns QUANTFIT_STACK_TRIALS if set, else n.
func stackTrialCount(n int) int {
	if v, err := strconv.Atoi(os.Getenv("QUANTFIT_STACK_TRIALS")); err == nil && v > 0 {
		return v
	}
	return n
}

// stackTrials fits gamma,gain,bias,quantize to shipped photos filtered at
// random parameters, and asserts that the share want lands within the
// tolerances.
func stackTrials(t *testing.T, trials int, seed uint64, s Settings, want float64) {
	ims := loadPhotos(t)
	r := rand.New(rand.NewPCG(seed, seed+1))
	backend := "cpu"
	if s.Backend != nil {
		backend = s.Backend.Name()
	}
	ok := 0
	for i := 0; i < trials; i++ {
		st, err := kernels.ParseStack("gamma,gain,bias,quantize", kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255})
		if err != nil {
			t.Fatal(err)
		}
		truth := []float64{0.5 + 1.5*r.Float64(), 0.7 + 0.6*r.Float64(), -0.1 + 0.2*r.Float64(), 5 + 25*r.Float64()}
		im := ims[i%len(ims)]
		res, err := EstimateStack(stackPair(t, im, st, truth), st, st.Params(), s)
		if err != nil {
			t.Fatal(err)
		}
		if res.Backend != backend {
			t.Fatalf("ran on %s, want %s", res.Backend, backend)
		}
		got := []float64{res.Value("gamma"), res.Value("gain"), res.Value("bias"), res.Value("b")}
		tol := []float64{0.02, 0.02, 0.01, 0.05}
		good := true
		for j := range got {
			good = good && math.Abs(got[j]-truth[j]) <= tol[j]
		}
		if good {
			ok++
		} else {
			t.Logf("%s truth %.4f: got %.4f (loss %.3g)", im.Name, truth, got, res.Loss)
		}
	}
	t.Logf("stack on %s: within tolerance in %d/%d trials", backend, ok, trials)
	if float64(ok) < want*float64(trials) {
		t.Errorf("within tolerance in %d/%d trials, want %.0f%%", ok, trials, 100*want)
	}
}

// TestEstimateStackLeavesCallersStack: the storage rounding comes from
// Settings.Levels, resolved on a copy; the caller's stack keeps its own
// (it used to be set to 0 on 16-bit data, overriding an explicit -levels
// 255). The report says how the fit was made: model, mode, backend.
func TestEstimateStackLeavesCallersStack(t *testing.T) {
	st := exposureStack()
	d := rampData(st, []float64{-0.4, 12.3})
	st.OutputLevels = 17 // the caller's own; Settings.Levels decides the fit
	res, err := EstimateStack(d, st, st.Params(), Settings{Strategy: GD{}, Optim: Optim{Steps: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if st.OutputLevels != 17 {
		t.Errorf("the caller's stack has OutputLevels %v, want 17", st.OutputLevels)
	}
	if res.Model != "midrise" || res.Mode != "hist" || res.Backend != "cpu" || res.Stack != "exposure,quantize" {
		t.Errorf("run %+v", res.StackRun)
	}
}
