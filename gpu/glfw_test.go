//go:build linux && cgo && glfw

package gpu

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// needDisplay skips without a display, unless QUANTFIT_REQUIRE_GLFW is set
// (CI runs these under Xvfb): then it fails.
func needDisplay(t *testing.T) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		if os.Getenv("QUANTFIT_REQUIRE_GLFW") != "" {
			t.Fatal("QUANTFIT_REQUIRE_GLFW is set but there is no display")
		}
		t.Skip("no display")
	}
}

func TestGLFWContext(t *testing.T) {
	needDisplay(t)
	d, err := Open(Options{Context: "glfw", AllowSoftware: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Info().Context != "glfw" {
		t.Errorf("context %q", d.Info().Context)
	}
	s, xs, ts := randomPairs(rand.New(rand.NewPCG(8, 8)), 5000)
	cfg := kernels.Config{Surrogate: kernels.Surrogate{Kind: kernels.Atan}, OutputLevels: 255}.WithDefaults()
	cpu, _ := kernels.NewEvaluator(s, cfg)
	g, err := d.NewEvaluator8(xs, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	compare(t, "glfw", cpu, g, cfg)
}

func TestWindowDraws(t *testing.T) {
	needDisplay(t)
	w, err := OpenWindow("quantfit test", 320, 200)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var bs, ls []float64
	for i := 0; i <= 400; i++ {
		b := 5 + 25*float64(i)/400
		bs, ls = append(bs, b), append(ls, 1+math.Sin(b))
	}
	w.SetLandscape(bs, ls)
	for i := 0; i < 50; i++ {
		b := 10 + 0.1*float64(i)
		w.Add(b, 1+math.Sin(b))
	}
	w.Mark(12.3)
	px, width, height := w.Pixels()
	if width == 0 || height == 0 {
		t.Fatal("no framebuffer")
	}
	var green, blue, orange int
	for i := 0; i < len(px); i += 4 {
		r, g, b := px[i], px[i+1], px[i+2]
		switch {
		case g > 120 && r < 90 && b < 90:
			green++
		case b > 140 && r < 80:
			blue++
		case r > 200 && g > 90 && g < 170 && b < 60:
			orange++
		}
	}
	t.Logf("%dx%d: %d landscape, %d trajectory, %d answer pixels", width, height, green, blue, orange)
	if green < 200 || blue < 20 || orange < 50 {
		t.Errorf("the window does not show the landscape (%d), the trajectory (%d) and the answer (%d)", green, blue, orange)
	}
}
