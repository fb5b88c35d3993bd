package kernels

import (
	"image"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestInteriors: with interiors, the loss is the mean over those samples
// of the whole images' forward pass, and bad rectangles are refused.
func TestInteriors(t *testing.T) {
	st, err := ParseStack("blur,quantize", Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	x, y := NewPlanes(40, 30, 2), NewPlanes(40, 30, 2)
	for c := range x.C {
		for i := range x.C[c] {
			x.C[c][i] = r.Float64()
			y.C[c][i] = math.Round(r.Float64()*255) / 255
		}
	}
	e, err := NewImageEvaluator(st, []Planes{x}, []Planes{y})
	if err != nil {
		t.Fatal(err)
	}
	p := []float64{1.3, 9.7}
	in := image.Rect(5, 4, 33, 21)
	if err := e.SetInteriors([]image.Rectangle{in}); err != nil {
		t.Fatal(err)
	}
	out, _ := e.Forward(0, len(st.Ops), p, false)
	want, n := 0.0, 0
	for c := range out.C {
		for yy := in.Min.Y; yy < in.Max.Y; yy++ {
			for xx := in.Min.X; xx < in.Max.X; xx++ {
				l, _ := st.Loss.Eval(st.store(out.C[c][yy*40+xx]) - y.C[c][yy*40+xx])
				want += l
				n++
			}
		}
	}
	if got := e.Loss(p); math.Abs(got-want/float64(n)) > 1e-12 {
		t.Errorf("interior loss %v, want %v", got, want/float64(n))
	}
	for _, bad := range [][]image.Rectangle{{image.Rect(0, 0, 41, 30)}, {image.Rect(3, 3, 3, 9)}, {in, in}} {
		if err := e.SetInteriors(bad); err == nil {
			t.Errorf("interiors %v accepted", bad)
		}
	}
}

// TestStepsReusePlanes: in the steady state a step of a spatial stack
// allocates no planes (the evaluator's Workspace lends the same ones each
// pass), and reusing them changes no result. What a step still allocates
// is the bookkeeping of the parallel loops, whose count does not grow with
// the image.
func TestStepsReusePlanes(t *testing.T) {
	st, err := ParseStack("saturation,colormatrix,blur,sharpen,gamma,quantize", Config{OutputLevels: 255})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var p []float64
	for _, op := range st.Ops {
		for _, q := range op.Params() {
			p = append(p, q.Init+0.05*(q.Hi-q.Lo)*(r.Float64()-0.5))
		}
	}
	p[len(p)-1] = 9.3
	measure := func(w, h int) (allocs, bytes float64) {
		x, y := NewPlanes(w, h, 3), NewPlanes(w, h, 3)
		for c := range x.C {
			for i := range x.C[c] {
				x.C[c][i] = r.Float64()
				y.C[c][i] = math.Round(r.Float64()*255) / 255
			}
		}
		e, err := NewImageEvaluator(st, []Planes{x, x}, []Planes{y, y})
		if err != nil {
			t.Fatal(err)
		}
		grad, again := make([]float64, len(p)), make([]float64, len(p))
		l0 := e.LossGrad(p, grad)
		if l := e.Loss(p); l != l0 {
			t.Errorf("%dx%d: loss %v after a gradient pass, %v with it", w, h, l, l0)
		}
		step := func() { e.LossGrad(p, again) }
		allocs = testing.AllocsPerRun(3, step)
		for j := range grad {
			if grad[j] != again[j] {
				t.Fatalf("%dx%d: gradient %d is %v on reused planes, %v on fresh ones", w, h, j, again[j], grad[j])
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		step()
		runtime.ReadMemStats(&after)
		return allocs, float64(after.TotalAlloc - before.TotalAlloc)
	}
	sa, sb := measure(64, 48)
	la, lb := measure(256, 192)
	t.Logf("a step allocates %.0f times, %.0f bytes at 64×48; %.0f times, %.0f bytes at 256×192", sa, sb, la, lb)
	if la > sa {
		t.Errorf("a step allocates %.0f times at 256×192, %.0f at 64×48: something grows with the image", la, sa)
	}
	// one plane of 256×192 is 393 KB; a step allocated about 80 of them
	// before the Workspace
	if plane := 256 * 192 * 8.0; lb > plane/4 {
		t.Errorf("a step allocates %.0f bytes at 256×192, against %.0f for one plane", lb, plane)
	}
}
