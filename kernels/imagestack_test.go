package kernels

import (
	"image"
	"math"
	"math/rand/v2"
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
