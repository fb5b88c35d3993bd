// Package imageset loads pairs of original and filtered images (PNG, JPEG,
// GIF; 8 or 16 bits; gray, RGB, RGBA, paletted; alpha ignored), checks them,
// and turns them into the samples and histograms that package kernels
// evaluates.
package imageset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registered decoders
	_ "image/jpeg"
	"image/png"
	"io"
	"os"

	"github.com/quantfit/quantfit/kernels"
	_ "golang.org/x/image/bmp"  // Windows tools' and ffmpeg's image2 .bmp
	_ "golang.org/x/image/tiff" // photographers' 16-bit files are mostly TIFF
	_ "golang.org/x/image/webp"
)

// DefaultMaxPixels is the largest image accepted unless the caller raises
// it: 64 megapixels, about 1.5 GiB of working memory for an RGB pair.
const DefaultMaxPixels = 64 << 20

// Image holds the channel planes of one decoded image. Exactly one of Pix8
// and Pix16 is set, with Channels planes of W·H values each.
type Image struct {
	Name     string
	W, H     int
	Channels int // 1 (gray) or 3 (RGB)
	Pix8     [][]uint8
	Pix16    [][]uint16
	// Lossy is set for an image decoded from a lossy codec (JPEG, lossy
	// WebP): its values carry the codec's errors, largest at edges and in
	// colour (chroma subsampling), smallest in block means.
	Lossy bool
}

// Depth is 8 or 16 bits.
func (im *Image) Depth() int {
	if im.Pix16 != nil {
		return 16
	}
	return 8
}

// Max is the largest value of a sample: 255 or 65535.
func (im *Image) Max() float64 { return float64(int(1)<<im.Depth() - 1) }

// Value returns channel ch of pixel i in [0,1] as float32, the same value for
// equal levels whichever mode reads it. A gray image serves every channel.
func (im *Image) Value(ch, i int) float32 {
	if im.Channels == 1 {
		ch = 0
	}
	if im.Pix16 != nil {
		return kernels.Level16(int(im.Pix16[ch][i]))
	}
	return kernels.Level8(int(im.Pix8[ch][i]))
}

// Load reads and decodes an image file, refusing one of more than maxPixels
// pixels (0 means DefaultMaxPixels) before decoding it.
func Load(path string, maxPixels int) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &InputError{path, err}
	}
	return Decode(bytes.NewReader(data), path, maxPixels)
}

// Decode decodes an image read from r; name appears in errors.
func Decode(r io.ReadSeeker, name string, maxPixels int) (*Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, &InputError{name, ErrNotImage}
		}
		return nil, &InputError{name, fmt.Errorf("%w: %v", ErrCorrupt, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, &InputError{name, fmt.Errorf("%w (%dx%d)", ErrNoPixels, cfg.Width, cfg.Height)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, &InputError{name, fmt.Errorf("%w: %dx%d is %d pixels, over the limit of %d",
			ErrTooLarge, cfg.Width, cfg.Height, int64(cfg.Width)*int64(cfg.Height), maxPixels)}
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, &InputError{name, err}
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, &InputError{name, fmt.Errorf("%w %s: %v", ErrCorrupt, format, err)}
	}
	im := fromImage(img, name)
	switch img.(type) {
	case *image.YCbCr, *image.NYCbCrA:
		// JPEG and lossy WebP decode to these; lossless WebP does not
		im.Lossy = true
	}
	im.Lossy = im.Lossy || format == "jpeg"
	return im, nil
}

func fromImage(img image.Image, name string) *Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	im := &Image{Name: name, W: w, H: h}
	n := w * h
	planes8 := func(c int) {
		im.Channels = c
		im.Pix8 = make([][]uint8, c)
		for i := range im.Pix8 {
			im.Pix8[i] = make([]uint8, n)
		}
	}
	planes16 := func(c int) {
		im.Channels = c
		im.Pix16 = make([][]uint16, c)
		for i := range im.Pix16 {
			im.Pix16[i] = make([]uint16, n)
		}
	}
	// interleaved copies rows of 4 bytes (or 8 for 16-bit) per pixel.
	switch m := img.(type) {
	case *image.Gray:
		planes8(1)
		for y := 0; y < h; y++ {
			copy(im.Pix8[0][y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
	case *image.Gray16:
		planes16(1)
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				im.Pix16[0][y*w+x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
			}
		}
	case *image.NRGBA:
		planes8(3)
		rgba8(im, m.Pix, m.Stride)
	case *image.RGBA:
		planes8(3)
		rgba8(im, m.Pix, m.Stride)
	case *image.NRGBA64:
		planes16(3)
		rgba16(im, m.Pix, m.Stride)
	case *image.RGBA64:
		planes16(3)
		rgba16(im, m.Pix, m.Stride)
	case *image.YCbCr:
		planes8(3)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(x+b.Min.X, y+b.Min.Y), m.COffset(x+b.Min.X, y+b.Min.Y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				i := y*w + x
				im.Pix8[0][i], im.Pix8[1][i], im.Pix8[2][i] = r, g, bl
			}
		}
	case *image.Paletted:
		// a grey palette (a grey image's GIF or BMP) is a grey image
		pal := make([]color.NRGBA, 256)
		grey := true
		for k, c := range m.Palette {
			pal[k] = color.NRGBAModel.Convert(c).(color.NRGBA)
			grey = grey && pal[k].R == pal[k].G && pal[k].G == pal[k].B
		}
		if grey {
			planes8(1)
		} else {
			planes8(3)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < w; x++ {
				i, c := y*w+x, pal[row[x]]
				im.Pix8[0][i] = c.R
				if !grey {
					im.Pix8[1][i], im.Pix8[2][i] = c.G, c.B
				}
			}
		}
	default: // CMYK and the rest, through 8-bit NRGBA
		planes8(3)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(x+b.Min.X, y+b.Min.Y)).(color.NRGBA)
				i := y*w + x
				im.Pix8[0][i], im.Pix8[1][i], im.Pix8[2][i] = c.R, c.G, c.B
			}
		}
	}
	return im
}

func rgba8(im *Image, pix []uint8, stride int) {
	for y := 0; y < im.H; y++ {
		row := pix[y*stride:]
		for x := 0; x < im.W; x++ {
			i := y*im.W + x
			im.Pix8[0][i], im.Pix8[1][i], im.Pix8[2][i] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

func rgba16(im *Image, pix []uint8, stride int) {
	for y := 0; y < im.H; y++ {
		row := pix[y*stride:]
		for x := 0; x < im.W; x++ {
			i := y*im.W + x
			for c := 0; c < 3; c++ {
				im.Pix16[c][i] = uint16(row[8*x+2*c])<<8 | uint16(row[8*x+2*c+1])
			}
		}
	}
}

// Filter returns a copy of im with f applied to every sample value in
// [0,1], at im's depth.
func (im *Image) Filter(f func(float64) float64) *Image {
	out := &Image{Name: im.Name, W: im.W, H: im.H, Channels: im.Channels}
	if im.Pix16 != nil {
		lut := make([]uint16, 65536)
		for v := range lut {
			lut[v] = uint16(roundClamp(f(float64(v)/65535) * 65535))
		}
		for _, p := range im.Pix16 {
			q := make([]uint16, len(p))
			for i, v := range p {
				q[i] = lut[v]
			}
			out.Pix16 = append(out.Pix16, q)
		}
		return out
	}
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(roundClamp(f(float64(kernels.Level8(v))) * 255))
	}
	for _, p := range im.Pix8 {
		q := make([]uint8, len(p))
		for i, v := range p {
			q[i] = lut[v]
		}
		out.Pix8 = append(out.Pix8, q)
	}
	return out
}

func roundClamp(v float64) float64 {
	if !(v > 0) {
		return 0
	}
	if v > 1<<16-1 {
		return 1<<16 - 1
	}
	return float64(int64(v + 0.5))
}

// Image returns im as a standard image: Gray, Gray16, NRGBA or NRGBA64.
func (im *Image) Image() image.Image {
	r := image.Rect(0, 0, im.W, im.H)
	n := im.W * im.H
	switch {
	case im.Channels == 1 && im.Pix16 == nil:
		return &image.Gray{Pix: append([]uint8(nil), im.Pix8[0]...), Stride: im.W, Rect: r}
	case im.Channels == 1:
		g := image.NewGray16(r)
		for i, v := range im.Pix16[0] {
			g.Pix[2*i], g.Pix[2*i+1] = uint8(v>>8), uint8(v)
		}
		return g
	case im.Pix16 == nil:
		m := image.NewNRGBA(r)
		for i := 0; i < n; i++ {
			m.Pix[4*i], m.Pix[4*i+1], m.Pix[4*i+2], m.Pix[4*i+3] = im.Pix8[0][i], im.Pix8[1][i], im.Pix8[2][i], 255
		}
		return m
	default:
		m := image.NewNRGBA64(r)
		for i := 0; i < n; i++ {
			for c := 0; c < 3; c++ {
				m.Pix[8*i+2*c], m.Pix[8*i+2*c+1] = uint8(im.Pix16[c][i]>>8), uint8(im.Pix16[c][i])
			}
			m.Pix[8*i+6], m.Pix[8*i+7] = 255, 255
		}
		return m
	}
}

// EncodePNG writes im as PNG at its own depth, compressed for speed: a
// 4 MP restored photograph encodes in 0.23 s instead of 1.05 s at the
// default level, its file 18 % larger (3.2 MB against 2.7), and encoding
// runs on one core after the work that used them all.
func (im *Image) EncodePNG(w io.Writer) error {
	return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, im.Image())
}
