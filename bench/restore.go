package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/quantfit/quantfit/gpu"
	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/optim"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/internal/photos"
	"github.com/quantfit/quantfit/kernels"
)

// RestoreMeasurement is one restoration configuration's speed: steps of
// the fused gradient, update and projection over an RGB image.
type RestoreMeasurement struct {
	Backend  string  `json:"backend"`
	Renderer string  `json:"renderer"`
	Pixels   int     `json:"pixels"`
	Energy   string  `json:"energy"`
	Rule     string  `json:"optimizer"`
	Step     float64 `json:"step_seconds"`
	// StepsPerSecond and SamplesPerSecond (pixels × 3 channels) over the
	// timed steps, the last one's completion included.
	StepsPerSecond   float64 `json:"steps_per_second"`
	SamplesPerSecond float64 `json:"samples_per_second"`
}

// RestoreImage is a side×side RGB photograph (retina.jpg tiled) stored by
// the midrise quantizer at b = 9.64.
func RestoreImage(side int) (*imageset.Image, error) {
	src, err := photos.Load("retina.jpg")
	if err != nil {
		return nil, err
	}
	im := &imageset.Image{Name: "bench", W: side, H: side, Channels: 3}
	var lut [256]uint8
	for v := range lut {
		lut[v] = uint8(math.Floor(kernels.Midrise.Apply(float64(kernels.Level8(v)), 9.64)*255 + 0.5))
	}
	for c := range 3 {
		pl := make([]uint8, side*side)
		for y := range side {
			for x := range side {
				pl[y*side+x] = lut[src.Pix8[c][(y%src.H)*src.W+x%src.W]]
			}
		}
		im.Pix8 = append(im.Pix8, pl)
	}
	return im, nil
}

// RunRestore times repeat steps (after two of warm-up) of the edge-aware
// and Tikhonov energies with Nesterov's rule, on images of about each
// pixel count, per backend ("cpu", or "gpu" on dev).
func RunRestore(ctx context.Context, backends []string, pixels []int, repeat int, dev *gpu.Device) ([]RestoreMeasurement, error) {
	var out []RestoreMeasurement
	for _, n := range pixels {
		side := int(math.Round(math.Sqrt(float64(n))))
		im, err := RestoreImage(side)
		if err != nil {
			return nil, err
		}
		for _, kind := range []kernels.Smoothness{kernels.EdgeAware, kernels.Tikhonov} {
			p, _, err := restore.Dequantization(im, kernels.Midrise, 9.64, kernels.Energy{Kind: kind, Fidelity: restore.DefaultFidelity}, nil)
			if err != nil {
				return nil, err
			}
			if p.Rule, err = restore.Rule(&optim.Nesterov{}); err != nil {
				return nil, err
			}
			for _, be := range backends {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				var r kernels.Restorer
				m := RestoreMeasurement{Backend: be, Pixels: side * side, Energy: kind.String(), Rule: "nesterov"}
				if be == "gpu" {
					g, err := dev.NewRestorer(p)
					if err != nil {
						return nil, fmt.Errorf("bench: restore on the GPU at %d pixels: %w", side*side, err)
					}
					r, m.Renderer = g, dev.Info().Renderer
				} else if r, err = kernels.NewRestorer(p); err != nil {
					return nil, err
				}
				c := p.Rule.Consts(0.02, 1)
				// Warm-up: two steps, and on the GPU steps for a third of a
				// second, so that its clocks have risen from idle (the
				// first figure of a run was 5× the next on the H200).
				warm := time.Now()
				for i := 0; i < 2 || be == "gpu" && time.Since(warm) < time.Second/3; i++ {
					r.Step(c)
					if be == "gpu" && i%16 == 15 {
						r.Energy() // waits for the GPU
					}
				}
				r.Energy() // waits for the GPU
				start := time.Now()
				for range repeat {
					r.Step(c)
				}
				r.Energy()
				el := time.Since(start).Seconds()
				err := r.Err()
				r.Close()
				if err != nil {
					return nil, err
				}
				m.Step = el / float64(repeat)
				m.StepsPerSecond = 1 / m.Step
				m.SamplesPerSecond = float64(3*side*side) / m.Step
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// WriteRestoreMarkdown writes the restoration figures as a table.
func WriteRestoreMarkdown(w io.Writer, ms []RestoreMeasurement) {
	fmt.Fprintln(w, "| backend | pixels | energy | optimizer | step | steps/s | samples/s |")
	fmt.Fprintln(w, "| --- | ---: | --- | --- | ---: | ---: | ---: |")
	for _, m := range ms {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.1f | %s |\n", backendLabel(m.Backend, m.Renderer), si(float64(m.Pixels), ""), m.Energy, m.Rule,
			dur(m.Step), m.StepsPerSecond, si(m.SamplesPerSecond, ""))
	}
}

// DequantizeMeasurement is a default restore's time end to end, as
// quantfit restore runs it between decoding and encoding: b and the
// model found blindly, the solve, the prior's passes and the in-cell
// regression (restore.Dequantize).
type DequantizeMeasurement struct {
	Backend  string  `json:"backend"`
	Renderer string  `json:"renderer"`
	Pixels   int     `json:"pixels"`
	Seconds  float64 `json:"seconds"`
	// Solve is the part in restore.Run: the solve, the prior and the
	// regression, the cells and targets' preparation left out.
	Solve float64 `json:"solve_seconds"`
	Steps int     `json:"steps"`
}

// RunDequantize restores RestoreImage of about each pixel count with
// restore.Dequantize's defaults, per backend ("cpu", or "gpu" on dev),
// after one run of warm-up on the GPU (shader compilation).
func RunDequantize(ctx context.Context, backends []string, pixels []int, dev *gpu.Device) ([]DequantizeMeasurement, error) {
	var out []DequantizeMeasurement
	for _, n := range pixels {
		side := int(math.Round(math.Sqrt(float64(n))))
		im, err := RestoreImage(side)
		if err != nil {
			return nil, err
		}
		for _, be := range backends {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			m := DequantizeMeasurement{Backend: be, Pixels: side * side}
			s := restore.Settings{}
			if be == "gpu" {
				s.Backend, m.Renderer = &backend.GPU{Device: dev}, dev.Info().Renderer
				if _, _, _, err := restore.Dequantize(im, nil, math.NaN(), nil, s, 8); err != nil {
					return nil, err
				}
			}
			start := time.Now()
			_, _, res, err := restore.Dequantize(im, nil, math.NaN(), nil, s, 8)
			if err != nil {
				return nil, fmt.Errorf("bench: restore on the %s at %d pixels: %w", be, side*side, err)
			}
			m.Seconds, m.Solve, m.Steps = time.Since(start).Seconds(), res.Seconds, res.Steps
			out = append(out, m)
		}
	}
	return out, nil
}

// WriteDequantizeMarkdown writes the end-to-end figures as a table.
func WriteDequantizeMarkdown(w io.Writer, ms []DequantizeMeasurement) {
	fmt.Fprintln(w, "| backend | pixels | end to end | of which the solve, prior and regression | steps |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for _, m := range ms {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", backendLabel(m.Backend, m.Renderer), si(float64(m.Pixels), ""), dur(m.Seconds), dur(m.Solve), m.Steps)
	}
}

// backendLabel names a backend in a table, with its renderer where it has
// one.
func backendLabel(backend, renderer string) string {
	if renderer == "" {
		return backend
	}
	return backend + " (" + renderer + ")"
}
