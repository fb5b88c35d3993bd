package look

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/quantfit/quantfit/kernels"
)

// DefaultCubeSize and DefaultHaldLevel are the exported tables' sizes
// unless asked: a 33³ .cube, a level-8 Hald CLUT (64³ colours, 512×512).
const (
	DefaultCubeSize  = 33
	DefaultHaldLevel = 8
)

// rgb evaluates the look at an RGB colour (a grey look on each channel).
func (l *Look) rgb(x [3]float64) [3]float64 {
	if l.Channels == 3 {
		return l.Eval(x)
	}
	var y [3]float64
	for c := range 3 {
		y[c] = l.Eval([3]float64{x[c]})[0]
	}
	return y
}

// Bake samples the look at the nodes of an n³ lattice: the LUT that
// stands for it in other tools. A quantizer's steps fall between nodes,
// so a baked quantizer is smeared (BakedPSNR says how much).
func (l *Look) Bake(n int) *kernels.Lattice {
	lt := &kernels.Lattice{N: n, V: make([]float64, 3*n*n*n)}
	kernels.Parallel(n*n*n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := [3]float64{float64(i%n) / float64(n-1), float64(i/n%n) / float64(n-1), float64(i/(n*n)) / float64(n-1)}
			y := l.rgb(x)
			copy(lt.V[3*i:3*i+3], y[:])
		}
	})
	return lt
}

// WriteCube writes the look baked at n³ as an Adobe/Resolve .cube file
// (red fastest), as ffmpeg's lut3d and most graders read it.
func (l *Look) WriteCube(w io.Writer, n int) error {
	lt := l.Bake(n)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "TITLE \"quantfit look %s\"\nLUT_3D_SIZE %d\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n", l.Stack, n)
	for i := 0; i < len(lt.V); i += 3 {
		fmt.Fprintf(bw, "%.6f %.6f %.6f\n", lt.V[i], lt.V[i+1], lt.V[i+2])
	}
	return bw.Flush()
}

// Hald returns the look as a Hald CLUT of the given level: an image of
// level³×level³ pixels holding the look of every colour of a level²-node
// cube (red fastest, then green, then blue, row by row), 16 bits a
// channel, as ImageMagick's -hald-clut reads it.
func (l *Look) Hald(level int) *image.NRGBA64 {
	n, side := level*level, level*level*level
	lt := l.Bake(n)
	img := image.NewNRGBA64(image.Rect(0, 0, side, side))
	for i := range n * n * n {
		p := img.Pix[8*i:]
		for c := range 3 {
			v := uint16(math.Round(clamp01(lt.V[3*i+c]) * 65535))
			p[2*c], p[2*c+1] = uint8(v>>8), uint8(v)
		}
		p[6], p[7] = 0xff, 0xff
	}
	return img
}

// WriteHald writes the Hald CLUT of the given level as a PNG.
func (l *Look) WriteHald(w io.Writer, level int) error {
	return png.Encode(w, l.Hald(level))
}

// bakedPSNR is the PSNR on s of the look baked at n³ and looked up
// trilinearly, outputs stored at top.
func (l *Look) bakedPSNR(s *samples, n int, top float64) float64 {
	lt := l.Bake(n)
	return psnr(meanSquared(s, l.Channels, top, func(x [3]float64) [3]float64 {
		if l.Channels == 1 {
			x[1], x[2] = x[0], x[0]
		}
		y := lt.At(x[0], x[1], x[2])
		for c := range y {
			y[c] = clamp01(y[c])
		}
		return y
	}))
}
