package backend

import (
	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/look"
	"github.com/quantfit/quantfit/kernels"
)

var (
	_ kernels.LookPasses = (*gpu.Look)(nil)
	_ look.Backend       = (*GPU)(nil)
	_ look.Backend       = (*Auto)(nil)
)

// Look implements look.Backend.
func (g *GPU) Look(d *kernels.LookData) (kernels.LookPasses, string, error) {
	if d.N*d.Channels < g.MinSamples {
		return look.CPU{}.Look(d)
	}
	l, err := g.Device.NewLook(d)
	if err != nil {
		return fallback(g, err, func() (kernels.LookPasses, string, error) { return look.CPU{}.Look(d) })
	}
	return l, "gpu", nil
}

// Look implements look.Backend.
func (a *Auto) Look(d *kernels.LookData) (kernels.LookPasses, string, error) {
	if d.N*d.Channels >= MinSamples {
		if g := a.device(); g != nil {
			return g.Look(d)
		}
	}
	return look.CPU{}.Look(d)
}

// Looks is be's backend for looks: be itself where it has one (the GPU's
// and auto's), else the CPU's.
func Looks(be estimate.Backend) look.Backend {
	if l, ok := be.(look.Backend); ok {
		return l
	}
	return look.CPU{}
}
