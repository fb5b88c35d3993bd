//go:build linux && cgo

package gpu

import (
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// plainDevice opens a context without debug checks, as users run: the
// debug checks look threads up per GL call.
func plainDevice(t *testing.T) *Device {
	t.Helper()
	device(t) // skips, or fails under QUANTFIT_REQUIRE_GPU, where no context can be made
	d, err := Open(Options{AllowSoftware: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// TestStepAllocatesNothing: a loss+gradient step finds its program and
// uniforms resolved by SetConfig and hands the device a function bound
// once: no allocation in Go, no shader source built, no program compiled.
func TestStepAllocatesNothing(t *testing.T) {
	d := plainDevice(t)
	r := rand.New(rand.NewPCG(5, 6))
	_, x8, t8 := randomPairs(r, 4096)
	cfgs := []kernels.Config{
		{Surrogate: kernels.Surrogate{Kind: kernels.STE}, OutputLevels: 255},
		{Surrogate: kernels.Surrogate{Kind: kernels.Atan}},
	}
	for _, cfg := range cfgs {
		e, err := d.NewEvaluator8(x8, t8, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p, g := []float64{12.3}, []float64{0}
		e.LossGrad(p, g) // warm
		programs := len(d.kernels)
		if n := testing.AllocsPerRun(20, func() { e.LossGrad(p, g) }); n != 0 {
			t.Errorf("%v: %v allocations per step", cfg.Surrogate, n)
		}
		if len(d.kernels) != programs {
			t.Errorf("%v: steps compiled %d programs", cfg.Surrogate, len(d.kernels)-programs)
		}
		if e.Err() != nil {
			t.Fatal(e.Err())
		}
		e.Close()
	}
	st, err := kernels.ParseStack("gamma,gain,quantize", kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}})
	if err != nil {
		t.Fatal(err)
	}
	se, err := d.NewStackEvaluator8(st, x8, t8)
	if err != nil {
		t.Fatal(err)
	}
	defer se.Close()
	p, g := []float64{1.1, 0.9, 12.3}, make([]float64, 3)
	se.LossGrad(p, g)
	if n := testing.AllocsPerRun(20, func() { se.LossGrad(p, g) }); n != 0 {
		t.Errorf("stack: %v allocations per step", n)
	}
}

// TestDebugChecksEveryCall: with Debug, a GL error is caught by the call
// that made it, and named.
func TestDebugChecksEveryCall(t *testing.T) {
	device(t)
	d, err := Open(Options{AllowSoftware: true, Debug: true, Strict: true, DebugLog: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.do(func() error {
		buffer(1 << 30).bind(bindData0) // no such buffer
		dispatch(1, 1)                  // a later call must not hide which one failed
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "BindBufferBase") {
		t.Errorf("error %v, want one naming BindBufferBase", err)
	}
	if err := d.do(func() error { return nil }); err != nil {
		t.Errorf("the next call still sees the error: %v", err)
	}
}

// TestCloseWhileStepping: Close waits for a call in flight, and calls after
// it fail; none panics on a stopped thread.
func TestCloseWhileStepping(t *testing.T) {
	d := plainDevice(t)
	r := rand.New(rand.NewPCG(7, 8))
	_, x8, t8 := randomPairs(r, 1024)
	var es []*Evaluator // one per goroutine: an Evaluator is not for concurrent use
	for range 4 {
		e, err := d.NewEvaluator8(x8, t8, kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.STE}})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := []float64{0}
			for range 50 {
				e.LossGrad([]float64{10}, g)
			}
		}()
	}
	d.Close()
	wg.Wait()
	for _, e := range es {
		if err := e.Err(); err != nil && !errors.Is(err, errClosed) {
			t.Errorf("error %v", err)
		}
	}
}
