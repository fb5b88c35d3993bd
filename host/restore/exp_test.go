package restore

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

func TestExp(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	kinds := strings.Split(os.Getenv("EXP"), ",")
	for _, n := range photos.Names() {
		im, err := photos.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []float64{5.7, 12.3, 23.9} {
			q := im.Filter(func(x float64) float64 { return kernels.Midrise.Apply(x, b) })
			var qpl [][]float32
			for c := range q.Channels {
				pl := make([]float32, q.W*q.H)
				for i := range pl {
					pl[i] = q.Value(c, i)
				}
				qpl = append(qpl, pl)
			}
			base := PSNR(qpl, im)
			line := fmt.Sprintf("%-22s b %5.1f %dx%d base %.2f", n, b, im.W, im.H, base)
			for _, k := range kinds {
				var e kernels.Energy
				var m optim.Method = &optim.Nesterov{}
				parts := strings.Split(k, ":")
				e.Kind, _ = kernels.ParseSmoothness(parts[0])
				if len(parts) > 1 {
					fmt.Sscan(parts[1], &e.Fidelity)
				}
				p, cell, err := Dequantization(q, kernels.Midrise, b, e)
				if err != nil {
					t.Fatal(err)
				}
				res, err := Run(p, cell, Settings{Method: m})
				if err != nil {
					t.Fatal(err)
				}
				out, _ := Image(res.Planes, im.W, im.H, 8, "x")
				var opl [][]float32
				for c := range out.Channels {
					pl := make([]float32, q.W*q.H)
					for i := range pl {
						pl[i] = out.Value(c, i)
					}
					opl = append(opl, pl)
				}
				line += fmt.Sprintf(" | %s %+.2f (%.1fs)", k, PSNR(opl, im)-base, res.Seconds)
			}
			t.Log(line)
		}
	}
}
