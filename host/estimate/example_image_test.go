package estimate

import (
	"fmt"
	"math"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// whiteBalance is an image operator that another program adds: gains on
// red and blue, green kept, y = (g_r·R, G, g_b·B). It mixes nothing, but
// a per-channel parameter is what a pixel-wise operator cannot have. Its
// GPU part is the two functions of kernels.ColorOp; ApplyImage is their
// specification, and gpu's parity test holds them together.
type whiteBalance struct{}

func (whiteBalance) Name() string { return "whitebalance" }
func (whiteBalance) Params() []kernels.Param {
	return []kernels.Param{
		{Name: "red", Lo: 0.5, Hi: 1.5, Init: 1, Smooth: true},
		{Name: "blue", Lo: 0.5, Hi: 1.5, Init: 1, Smooth: true},
	}
}

// Apply is the operator on a grey pixel: no colour to balance.
func (whiteBalance) Apply(x float64, _, dp []float64) (float64, float64) {
	dp[0], dp[1] = 0, 0
	return x, 1
}
func (whiteBalance) GLSL() string { return "dp[0] = 0.0LF; dp[1] = 0.0LF; dx = 1.0LF; return x;" }

func (whiteBalance) ColorGLSL() (apply, deriv string) {
	apply = `
#if NC == 3
	v[0] *= p[0];
	v[2] *= p[1];
#endif
`
	deriv = `
	for (int k = 0; k < MAXP * NC; k++) dp[k] = 0.0LF;
#if NC == 3
	dp[0 * NC + 0] = x[0];
	dp[1 * NC + 2] = x[2];
#endif
`
	return apply, deriv
}

func (whiteBalance) ApplyImage(ws *kernels.Workspace, x kernels.Planes, p []float64, tx []kernels.Planes, tangents bool) (kernels.Planes, []kernels.Planes) {
	gains := func(x kernels.Planes) kernels.Planes {
		y := ws.Planes(x.W, x.H, len(x.C))
		for c, pl := range x.C {
			g := 1.0
			if len(x.C) == 3 && c != 1 {
				g = p[c/2]
			}
			for i, v := range pl {
				y.C[c][i] = g * v
			}
		}
		return y
	}
	y := gains(x)
	if !tangents {
		return y, nil
	}
	var ty []kernels.Planes
	for _, t := range tx {
		ty = append(ty, gains(t))
	}
	for k := range 2 {
		d := ws.Zeros(x.W, x.H, len(x.C))
		if len(x.C) == 3 {
			copy(d.C[2*k], x.C[2*k])
		}
		ty = append(ty, d)
	}
	return y, ty
}

// whiteBalanceStack is whitebalance then the midrise quantizer, stored as
// 8-bit.
func whiteBalanceStack() *kernels.Stack {
	return &kernels.Stack{
		Ops:          []kernels.Op{whiteBalance{}, kernels.Quantize{Config: kernels.Config{}.WithDefaults()}},
		OutputLevels: 255,
	}
}

// swatches is a 96×64 colour image of smooth ramps in every channel.
func swatches() *imageset.Image {
	im := &imageset.Image{Name: "swatches", W: 96, H: 64, Channels: 3}
	for c := range 3 {
		pl := make([]uint8, im.W*im.H)
		for y := range im.H {
			for x := range im.W {
				v := 0.5 + 0.45*math.Sin(0.07*float64(x*(c+1))+0.11*float64(y*(3-c)))
				pl[y*im.W+x] = uint8(math.Round(255 * v))
			}
		}
		im.Pix8 = append(im.Pix8, pl)
	}
	return im
}

// An image-level operator of the caller's own, fitted with the quantizer.
func ExampleEstimateStackSet() {
	st := whiteBalanceStack()
	orig := swatches()
	quant, err := ApplyStack(orig, st, []float64{1.1, 0.85, 9.4})
	if err != nil {
		fmt.Println(err)
		return
	}
	set := &imageset.Set{Pairs: []imageset.Pair{{Orig: orig, Quant: quant}}}
	_, rs, err := EstimateStackSet(set, false, st, st.Params(), Settings{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("red %.2f, blue %.2f, b %.1f\n", rs[0].Value("red"), rs[0].Value("blue"), rs[0].Value("b"))
	// Output: red 1.10, blue 0.85, b 9.4
}
