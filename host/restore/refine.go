package restore

import (
	"image"

	"gonum.org/v1/gonum/mat"

	"github.com/quantfit/quantfit/host/tiles"
	"github.com/quantfit/quantfit/kernels"
)

const (
	// refineRatio is how much wider the teacher's cells are than the
	// image's: on the 15 midrise cases of the false-contour trial the
	// regression added +4.20 dB at 1.3 and +2.90 at 1.6 (bench/RESULTS.md).
	// The nearer the teacher's cells, the more alike the two problems.
	refineRatio = 1.3
	// refineBudget caps the teacher's samples: an image larger than this
	// teaches from a mosaic of refineTile tiles of it (tiles.Choose).
	refineBudget = 1 << 18
	refineTile   = 128
	// refineSeam is how far from a seam between tiles the teacher's
	// samples are left out of the fit: its solve sees an edge there that
	// the image does not have.
	refineSeam = 8
	// refineMin is how many samples a class needs for its weights to be
	// fitted; fewer keep their value.
	refineMin = 50 * kernels.RefineTaps
)

// refine runs the in-cell regression on res.Planes, the result of a
// dequantization p with cells cell wide. It teaches itself: the planes,
// quantized again with cells refineRatio times as wide, are restored as p
// was (Run with s, less its recorder and the regression), and the weights
// that bring that restore nearest to the planes, per class of texture
// (kernels.RefineNormal), are applied to the planes (kernels.RefineApply;
// on r's device where r is a kernels.Refiner). A quantizer too coarse to
// teach from leaves the planes as they are. It runs once: a second round,
// taught by the first's result, loses what the first gained (chelsea ×2
// at b 11.7: 38.52 dB solved, 38.64, 38.55 and 38.28 after one, two and
// three rounds).
func refine(r kernels.Restorer, p *kernels.Restoration, res *Result, cell float64, s Settings) error {
	inv := float32(1 / cell)
	wt, err := refineWeights(res.Planes, p, cell, s)
	if err != nil || wt == nil {
		return err
	}
	if rf, ok := r.(kernels.Refiner); ok {
		if err := rf.Refine(wt, inv); err != nil {
			return err
		}
		res.Planes = r.Image()
		return r.Err()
	}
	for c, u := range res.Planes {
		dst := make([]float32, len(u))
		kernels.RefineApply(dst, u, p.Lo[c], p.Hi[c], p.W, p.H, inv, wt)
		res.Planes[c] = dst
	}
	return nil
}

// refineWeights fits the regression's weights on the teacher made from
// planes; nil where p's quantizer is too coarse to make one.
func refineWeights(planes [][]float32, p *kernels.Restoration, cell float64, s Settings) (*kernels.RefineWeights, error) {
	truth, w, h, use := refineMosaic(planes, p.W, p.H, float32(1/cell))
	tp, tcell, err := p.Requantize(truth, w, h, refineRatio)
	if err != nil || tp == nil {
		return nil, err
	}
	ts := s
	ts.Recorder, ts.WantImage, ts.Refine = nil, false, 0
	taught, err := Run(tp, tcell, ts)
	if err != nil {
		return nil, err
	}
	var sys kernels.RefineSystem
	for c, u := range taught.Planes {
		kernels.RefineNormal(&sys, u, tp.Lo[c], tp.Hi[c], truth[c], w, h, float32(1/tcell), use)
	}
	return solveRefine(&sys), nil
}

// refineMosaic returns the teacher's planes: planes themselves where
// they fit refineBudget, else a row of refineTile tiles of them that
// tiles.Choose picks for what they show (refineFeatures), with use
// leaving out the samples near the seams.
func refineMosaic(planes [][]float32, w, h int, inv float32) (out [][]float32, mw, mh int, use func(x, y int) bool) {
	const t = refineTile
	if w*h <= refineBudget || w < t || h < t {
		return planes, w, h, func(int, int) bool { return true }
	}
	plan := tiles.Choose([]image.Point{{w, h}}, tiles.Settings{Size: t, Budget: refineBudget}, refineFeatures(planes, w, inv))
	var picked []tiles.Tile
	for _, tl := range plan.Train {
		if tl.Dx() == t && tl.Dy() == t {
			picked = append(picked, tl)
		}
	}
	if len(picked) == 0 {
		return planes, w, h, func(int, int) bool { return true }
	}
	mw, mh = len(picked)*t, t
	for _, pl := range planes {
		m := make([]float32, mw*mh)
		for k, tl := range picked {
			for y := range t {
				copy(m[y*mw+k*t:][:t], pl[(tl.Min.Y+y)*w+tl.Min.X:][:t])
			}
		}
		out = append(out, m)
	}
	return out, mw, mh, func(x, y int) bool {
		r := x % t
		return (r >= refineSeam || x < t) && (r < t-refineSeam || x >= mw-t)
	}
}

// refineFeatures are what a tile shows, for tiles.Choose's coverage, read
// on every other sample: per channel, the tone (16 bins) with the local
// steps in cells (4 bins), so that the teacher sees dark and bright,
// flat and textured alike.
func refineFeatures(planes [][]float32, w int, inv float32) func(tiles.Tile) []int32 {
	return func(tl tiles.Tile) []int32 {
		seen := map[int32]bool{}
		for c, pl := range planes {
			for y := tl.Min.Y; y < tl.Max.Y-1; y += 2 {
				for x := tl.Min.X; x < tl.Max.X-1; x += 2 {
					i := y*w + x
					v := pl[i]
					g := (abs(pl[i+1]-v) + abs(pl[i+w]-v)) * inv
					step := int32(0)
					switch {
					case g >= 1.5:
						step = 3
					case g >= 0.75:
						step = 2
					case g >= 0.25:
						step = 1
					}
					tone := int32(min(15, max(0, int(v*16))))
					seen[int32(c)*64+tone*4+step] = true
				}
			}
		}
		out := make([]int32, 0, len(seen))
		for f := range seen {
			out = append(out, f)
		}
		return out
	}
}

// solveRefine solves each class's normal equations (Cholesky); a class
// with too few samples, or whose system is singular, keeps its samples'
// values.
func solveRefine(sys *kernels.RefineSystem) *kernels.RefineWeights {
	const n = kernels.RefineTaps
	wt := kernels.RefineIdentity()
	for k := kernels.RefineFrom; k < kernels.RefineClasses; k++ {
		if sys.N[k] < refineMin {
			continue
		}
		a := mat.NewSymDense(n, nil)
		for r := range n {
			for c := r; c < n; c++ {
				a.SetSym(r, c, sys.A[k][r*n+c])
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(a) {
			continue
		}
		var x mat.VecDense
		if err := ch.SolveVecTo(&x, mat.NewVecDense(n, append([]float64(nil), sys.B[k][:]...))); err != nil {
			continue
		}
		for t := range n {
			wt[k][t] = float32(x.AtVec(t))
		}
	}
	return wt
}
