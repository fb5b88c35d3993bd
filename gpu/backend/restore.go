package backend

import (
	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

var (
	_ kernels.Restorer = (*gpu.Restorer)(nil)
	_ restore.Backend  = (*GPU)(nil)
	_ restore.Backend  = (*Auto)(nil)
)

// Restorer implements restore.Backend.
func (g *GPU) Restorer(p *kernels.Restoration) (kernels.Restorer, string, error) {
	if p.W*p.H*len(p.Q) < g.MinSamples {
		return restore.CPU{}.Restorer(p)
	}
	r, err := g.Device.NewRestorer(p)
	if err != nil {
		return fallback(g, err, func() (kernels.Restorer, string, error) { return restore.CPU{}.Restorer(p) })
	}
	return r, "gpu", nil
}

// Restorer implements restore.Backend.
func (a *Auto) Restorer(p *kernels.Restoration) (kernels.Restorer, string, error) {
	if p.W*p.H*len(p.Q) >= MinSamples {
		if g := a.device(); g != nil {
			return g.Restorer(p)
		}
	}
	return restore.CPU{}.Restorer(p)
}

// Restore is be's restoration backend: be itself where it has one (the
// GPU's and auto's), else the CPU's.
func Restore(be estimate.Backend) restore.Backend {
	if r, ok := be.(restore.Backend); ok {
		return r
	}
	return restore.CPU{}
}

// Contours implements restore.Backend: the device's (gpu.Device.Contours)
// for planes of MinSamples or more.
func (g *GPU) Contours(level, band []int32, w, h int) (kernels.Contours, error) {
	if w*h < g.MinSamples {
		return restore.CPU{}.Contours(level, band, w, h)
	}
	ct, err := g.Device.Contours(level, band, w, h)
	if err != nil {
		ct, _, err = fallback(g, err, func() (kernels.Contours, string, error) {
			ct, err := restore.CPU{}.Contours(level, band, w, h)
			return ct, "cpu", err
		})
	}
	return ct, err
}

// Contours implements restore.Backend.
func (a *Auto) Contours(level, band []int32, w, h int) (kernels.Contours, error) {
	if w*h >= MinSamples {
		if g := a.device(); g != nil {
			return g.Contours(level, band, w, h)
		}
	}
	return restore.CPU{}.Contours(level, band, w, h)
}
