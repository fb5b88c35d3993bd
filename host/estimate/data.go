package estimate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// Mode chooses how gradient steps read the data.
type Mode int

const (
	// AutoMode is histogram mode for images (8- or 16-bit), per-pixel
	// mode for samples given as floats, which seldom repeat.
	AutoMode Mode = iota
	// PixelMode evaluates every sample.
	PixelMode
	// HistMode evaluates the groups of equal (x, t) pairs weighted by their
	// counts (under MSE, of equal x with the mean target): the cells of
	// the joint histogram of 8-bit data, at most 65536 groups a channel
	// for 16-bit images, which the set gathers in one pass.
	HistMode
)

var modeNames = []string{"auto", "pixel", "hist"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode returns the mode with the given name.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return Mode(i), nil
		}
	}
	return 0, fieldErr("Mode", s, "unknown mode; want auto, pixel or hist")
}

// Data is what one estimate fits: per-pixel samples, an 8-bit histogram, or
// both, and the level spacing of the targets.
type Data struct {
	samples kernels.Samples
	hist    *kernels.Histogram
	// set and channels make the samples on first use, so histogram mode
	// never materializes them.
	set      *imageset.Set
	channels []int
	// groups are the grouped data of each loss, made on first use.
	groups map[kernels.LossKind]*kernels.Weighted
	// Step is the spacing of the targets' levels (1/255 for 8-bit): the
	// rounding noise that sets the reported interval. 0 for exact data.
	Step float64
}

// FromSamples wraps per-pixel samples; step is their targets' level
// spacing, 0 if they are exact.
func FromSamples(s kernels.Samples, step float64) (*Data, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Data{samples: s, Step: step}, nil
}

// FromHistogram wraps a joint 8-bit histogram.
func FromHistogram(h *kernels.Histogram) (*Data, error) {
	if h.Total() == 0 {
		return nil, errors.New("estimate: empty histogram")
	}
	return &Data{hist: h, Step: 1.0 / 255}, nil
}

// FromSet takes the given channels of every pair of set, pooled.
func FromSet(set *imageset.Set, channels []int) (*Data, error) {
	if len(set.Pairs) == 0 {
		return nil, errors.New("estimate: no image pairs")
	}
	d := &Data{set: set, channels: channels, Step: set.TargetStep()}
	if set.Is8Bit() {
		h, err := set.Histogram(channels)
		if err != nil {
			return nil, err
		}
		d.hist = h
	}
	return d, nil
}

// Samples returns the per-pixel samples, making them on first use.
func (d *Data) Samples() (kernels.Samples, error) {
	if d.samples.Len() == 0 && d.set != nil {
		s, err := d.set.Samples(d.channels)
		if err != nil {
			return s, err
		}
		d.samples = s
	}
	if d.samples.Len() == 0 {
		return d.samples, errors.New("estimate: these data have no per-pixel samples (histogram only)")
	}
	return d.samples, nil
}

// bytes returns the 8-bit pairs of the data's channels, concatenated in
// the order of Samples, or nils when the data are not 8-bit images.
func (d *Data) bytes() (x, t []uint8) {
	if d.set == nil || !d.set.Is8Bit() {
		return nil, nil
	}
	for _, p := range d.set.Pairs {
		for _, c := range d.channels {
			x = append(x, p.Orig.Pix8[min(c, p.Orig.Channels-1)]...)
			t = append(t, p.Quant.Pix8[min(c, p.Quant.Channels-1)]...)
		}
	}
	return x, t
}

// Len is the number of samples the data stand for.
func (d *Data) Len() int {
	if d.hist != nil {
		return int(d.hist.Total())
	}
	if d.set != nil {
		return d.set.Len(d.channels)
	}
	return d.samples.Len()
}

// levels is the storage rounding detected in the data: 255 for 8-bit
// targets, else none (0).
func (d *Data) levels() float64 {
	if d.hist != nil || d.Step == 1.0/255 {
		return 255
	}
	return 0
}

// resolveLevels turns Settings.Levels into the kernels' rounding for d:
// 0 detects it from the data, a negative value means none.
func resolveLevels(levels float64, d *Data) float64 {
	switch {
	case levels == 0:
		return d.levels()
	case levels < 0:
		return 0
	}
	return levels
}

// grouped returns the data as weighted groups for the loss: the
// histogram's when there is one, the image set's (one pass), else the
// sorted samples'.
func (d *Data) grouped(l kernels.LossKind) (*kernels.Weighted, error) {
	if w, ok := d.groups[l]; ok {
		return w, nil
	}
	var w *kernels.Weighted
	switch {
	case d.hist != nil:
		hw := d.hist.Weighted(l)
		w = &hw
	case d.set != nil:
		var err error
		if w, err = d.set.Groups(d.channels, l); err != nil {
			return nil, err
		}
	default:
		s, err := d.Samples()
		if err != nil {
			return nil, err
		}
		sw := kernels.Group(s, l)
		w = &sw
	}
	if d.groups == nil {
		d.groups = map[kernels.LossKind]*kernels.Weighted{}
	}
	d.groups[l] = w
	return w, nil
}

// autoMode is the mode AutoMode means for d: grouped for images, whose
// pairs repeat, per pixel for float samples.
func (d *Data) autoMode() Mode {
	if d.hist != nil || d.set != nil {
		return HistMode
	}
	return PixelMode
}
