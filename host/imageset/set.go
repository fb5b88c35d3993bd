package imageset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/quantfit/quantfit/kernels"
)

// Pair is an original image and its filtered version, of equal size.
type Pair struct {
	Orig, Quant *Image
}

// LoadPair loads and checks one pair. The two files decode at once: PNG
// decoding is serial, and a 16-bit megapixel pair spends as long in it as
// in its estimate.
func LoadPair(orig, quant string, maxPixels int) (Pair, error) {
	var q *Image
	var qerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		q, qerr = Load(quant, maxPixels)
	}()
	o, err := Load(orig, maxPixels)
	<-done
	if err != nil {
		return Pair{}, err
	}
	if qerr != nil {
		return Pair{}, qerr
	}
	return NewPair(o, q)
}

// NewPair checks that o and q can be compared.
func NewPair(o, q *Image) (Pair, error) {
	if o.W != q.W || o.H != q.H {
		return Pair{}, &InputError{q.Name, fmt.Errorf("%w: %dx%d, but %s is %dx%d", ErrSizeMismatch, q.W, q.H, o.Name, o.W, o.H)}
	}
	return Pair{o, q}, nil
}

// MatchDirs pairs the files of dirOrig with the files of the same name in
// dirQuant. Every image file of dirOrig must have its match.
func MatchDirs(dirOrig, dirQuant string) ([][2]string, error) {
	es, err := os.ReadDir(dirOrig)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &InputError{dirOrig, err}
	}
	var out [][2]string
	var missing []string
	for _, e := range es {
		if e.IsDir() || !IsImageName(e.Name()) {
			continue
		}
		q := filepath.Join(dirQuant, e.Name())
		if _, err := os.Stat(q); err != nil {
			missing = append(missing, e.Name())
			continue
		}
		out = append(out, [2]string{filepath.Join(dirOrig, e.Name()), q})
	}
	if len(missing) > 0 {
		return nil, &InputError{dirQuant, fmt.Errorf("%w: %s", ErrUnmatched, strings.Join(missing, ", "))}
	}
	if len(out) == 0 {
		return nil, &InputError{dirOrig, ErrNoImages}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// IsImageName reports whether a file name has an image extension that
// Load decodes.
func IsImageName(n string) bool {
	switch strings.ToLower(filepath.Ext(n)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".webp", ".bmp":
		return true
	}
	return false
}

// Set is the images estimated together: pairs, or filtered images alone.
type Set struct {
	Pairs []Pair
	// Filtered are filtered images without their originals: a set of
	// them alone is estimated blind, from their values.
	Filtered []*Image
}

// Channels is 3 if any image has colour, else 1; gray images then serve as
// all three channels.
func (s *Set) Channels() int {
	for _, p := range s.Pairs {
		if p.Orig.Channels == 3 || p.Quant.Channels == 3 {
			return 3
		}
	}
	return 1
}

// Lossy reports whether any filtered image of the set was decoded from a
// lossy codec.
func (s *Set) Lossy() bool {
	for _, p := range s.Pairs {
		if p.Quant.Lossy {
			return true
		}
	}
	return false
}

// Is8Bit reports whether every image has 8-bit samples: histogram mode.
func (s *Set) Is8Bit() bool {
	for _, p := range s.Pairs {
		if p.Orig.Pix16 != nil || p.Quant.Pix16 != nil {
			return false
		}
	}
	return true
}

// TargetStep is the spacing of the filtered images' levels: 1/255 if all
// are 8-bit, else 1/65535. It sets the rounding noise of the data.
func (s *Set) TargetStep() float64 {
	for _, p := range s.Pairs {
		if p.Quant.Pix16 == nil {
			continue
		}
		return 1.0 / 65535
	}
	return 1.0 / 255
}

// Len returns the number of samples of the given channels.
func (s *Set) Len(channels []int) int {
	n := 0
	for _, p := range s.Pairs {
		n += p.Orig.W * p.Orig.H * len(channels)
	}
	return n
}

var errEmpty = &InputError{"the set", errors.New("no image pairs")}

// Samples returns the values of the given channels of every pair as
// per-pixel samples.
func (s *Set) Samples(channels []int) (kernels.Samples, error) {
	if len(s.Pairs) == 0 {
		return kernels.Samples{}, errEmpty
	}
	n := s.Len(channels)
	out := kernels.Samples{X: make([]float32, 0, n), T: make([]float32, 0, n)}
	for _, p := range s.Pairs {
		m := p.Orig.W * p.Orig.H
		for _, c := range channels {
			for i := 0; i < m; i++ {
				out.X = append(out.X, p.Orig.Value(c, i))
				out.T = append(out.T, p.Quant.Value(c, i))
			}
		}
	}
	return out, nil
}

// Histogram returns the joint 8-bit histogram of the given channels of
// every pair; all images must be 8-bit.
func (s *Set) Histogram(channels []int) (*kernels.Histogram, error) {
	if len(s.Pairs) == 0 {
		return nil, errEmpty
	}
	if !s.Is8Bit() {
		return nil, &InputError{"the set", errors.New("histogram mode needs 8-bit images")}
	}
	h := new(kernels.Histogram)
	for _, p := range s.Pairs {
		for _, c := range channels {
			h.Add8(p.Orig.Pix8[min(c, p.Orig.Channels-1)], p.Quant.Pix8[min(c, p.Quant.Channels-1)])
		}
	}
	return h, nil
}

// Groups returns the given channels of every pair as the groups of the
// loss, in one pass over the pixels whatever their depth (8-bit values join
// as 16-bit levels of the same value): the data of a 16-bit estimate in
// histogram mode.
func (s *Set) Groups(channels []int, loss kernels.LossKind) (*kernels.Weighted, error) {
	if len(s.Pairs) == 0 {
		return nil, errEmpty
	}
	g := kernels.NewGroups16(loss)
	for _, p := range s.Pairs {
		for _, c := range channels {
			co, cq := min(c, p.Orig.Channels-1), min(c, p.Quant.Channels-1)
			switch {
			case p.Orig.Pix16 != nil && p.Quant.Pix16 != nil:
				g.Add16(p.Orig.Pix16[co], p.Quant.Pix16[cq])
			case p.Orig.Pix16 == nil && p.Quant.Pix16 == nil:
				g.Add8(p.Orig.Pix8[co], p.Quant.Pix8[cq])
			default:
				g.Add16(wide(p.Orig, co), wide(p.Quant, cq))
			}
		}
	}
	w := g.Weighted()
	return &w, nil
}

// wide returns channel c of im as 16-bit levels.
func wide(im *Image, c int) []uint16 {
	if im.Pix16 != nil {
		return im.Pix16[c]
	}
	out := make([]uint16, len(im.Pix8[c]))
	for i, v := range im.Pix8[c] {
		out[i] = 257 * uint16(v)
	}
	return out
}
