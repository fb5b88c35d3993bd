package kernels

import (
	"fmt"
	"math"
	"sync"
)

// Planes is an image as one plane of float64 samples per channel, each
// W·H long in row order.
type Planes struct {
	W, H int
	C    [][]float64
}

// NewPlanes returns zeroed planes.
func NewPlanes(w, h, channels int) Planes {
	p := Planes{W: w, H: h, C: make([][]float64, channels)}
	for c := range p.C {
		p.C[c] = make([]float64, w*h)
	}
	return p
}

// ImageOp is an operator whose output pixel reads other channels
// (saturation, colour matrices) or neighbouring pixels (blur, sharpen), so
// it acts on whole images: a stack holding one is evaluated per pixel, not
// on grouped samples. It is an Op for its name, parameters and GLSL part;
// its per-sample Apply is its action on one grey pixel with no neighbours
// and serves no evaluation.
//
// ApplyImage returns y = f(x; p) and its tangents by forward mode: for
// each tangent tx[j] = ∂x/∂θ_j of the input with respect to an earlier
// parameter, ty[j] = (∂y/∂x)·tx[j]; then one ∂y/∂p_k per own parameter.
// With tx nil and tangents false it returns y alone. The operators here
// are affine in x, so ∂y/∂x is the operator's own linear part.
//
// Every plane it returns comes from ws (ws.Planes, ws.Zeros; a nil ws
// allocates), never aliases x or tx, and x and tx are left unwritten: the
// evaluator lends the same planes to every step.
type ImageOp interface {
	Op
	ApplyImage(ws *Workspace, x Planes, p []float64, tx []Planes, tangents bool) (y Planes, ty []Planes)
}

// ColorOp is an image operator that maps each pixel's channels together,
// affinely (saturation, colour matrices): on the GPU it runs inside the
// per-pixel passes from its GLSL part, which ColorGLSL returns as the
// bodies of two functions in double precision, NC (1 or 3) the number of
// channels and MAXP a bound on the parameters, both defines:
//
//	void apply(inout double v[NC], double p[MAXP], bool lin)
//	void deriv(double x[NC], double p[MAXP], out double dp[MAXP * NC])
//
// apply maps v to y = f(v; p), or with lin to its linear part alone (what
// the tangents of earlier parameters go through); deriv writes ∂y_c/∂p_k
// at x into dp[k·NC + c]. ApplyImage is their specification.
type ColorOp interface {
	ImageOp
	ColorGLSL() (apply, deriv string)
}

// Mixture is y = U·x + V·(K_σ * x), K_σ Blur's Gaussian, at some
// parameters: DU and DV are the derivatives of U and V in each of the
// operator's parameters, SigmaAt the index of σ among them.
type Mixture struct {
	Sigma   float64
	SigmaAt int
	U, V    float64
	DU, DV  []float64
}

// GaussianMix is an image operator of the form of Mixture (blur, unsharp
// masks, a blend of an image with its blur): on the GPU it runs as the
// shared two-pass separable convolution over shared-memory tiles, with
// Mix's coefficients computed on the host each step, so it needs no GLSL
// of its own. Its ApplyImage should be ApplyMix(Mix(p), ...).
type GaussianMix interface {
	ImageOp
	Mix(p []float64) Mixture
}

// ApplyMix is ApplyImage of a GaussianMix: y = U·x + V·(K_σ * x), each
// earlier tangent through the same linear map, then one tangent per own
// parameter, ∂y/∂p_j = DU_j·x + DV_j·K_σx (+ V·∂(K_σx)/∂σ for σ).
func ApplyMix(ws *Workspace, m Mixture, x Planes, tx []Planes, tangents bool) (Planes, []Planes) {
	w, dw := GaussTaps(m.Sigma)
	// mix writes u·x + v·kx into kx's planes, or into new ones when kx is
	// still needed.
	mix := func(x, kx Planes, u, v float64, into bool) Planes {
		y := kx
		if !into {
			y = ws.Planes(x.W, x.H, len(x.C))
		}
		for c, pl := range x.C {
			out, k := y.C[c], kx.C[c]
			Parallel(len(pl), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					out[i] = u*pl[i] + v*k[i]
				}
			})
		}
		return y
	}
	kx := blurPlanes(ws, x, w)
	y := mix(x, kx, m.U, m.V, !tangents)
	if !tangents {
		return y, nil
	}
	var ty []Planes
	for _, t := range tx {
		ty = append(ty, mix(t, blurPlanes(ws, t, w), m.U, m.V, true))
	}
	for j := range m.DU {
		if j == m.SigmaAt {
			// DU·x + DV·kx + V·∂(K_σx)/∂σ, built in the derivative's planes
			d := blurDeriv(ws, x, w, dw)
			u, v, s := m.DU[j], m.DV[j], m.V
			for c, pl := range d.C {
				xc, kc := x.C[c], kx.C[c]
				Parallel(len(pl), func(lo, hi int) {
					for i := lo; i < hi; i++ {
						pl[i] = u*xc[i] + v*kc[i] + s*pl[i]
					}
				})
			}
			ty = append(ty, d)
			continue
		}
		ty = append(ty, mix(x, kx, m.DU[j], m.DV[j], false))
	}
	return y, ty
}

// Saturation is y = L + s·(x − L) per pixel, L = 0.2126R + 0.7152G +
// 0.0722B (Rec. 709 luma of the values as they are); on a grey image it is
// the identity.
type Saturation struct{}

func (Saturation) Name() string { return "saturation" }
func (Saturation) Params() []Param {
	return []Param{{Name: "saturation", Lo: 0, Hi: 2, Init: 1, Smooth: true}}
}
func (Saturation) Apply(x float64, _, dp []float64) (float64, float64) {
	dp[0] = 0
	return x, 1
}
func (Saturation) GLSL() string { return "dp[0] = 0.0LF; dx = 1.0LF; return x;" }

// luma weights of Saturation
var lumaW = [3]float64{0.2126, 0.7152, 0.0722}

func (Saturation) ColorGLSL() (apply, deriv string) {
	const luma = "double l = 0.2126LF * v[0] + 0.7152LF * v[1] + 0.0722LF * v[2];"
	apply = `
#if NC == 3
	` + luma + `
	for (int c = 0; c < 3; c++) v[c] = l + p[0] * (v[c] - l);
#endif
`
	deriv = `
#if NC == 3
	double v[NC] = x;
	` + luma + `
	for (int c = 0; c < 3; c++) dp[c] = v[c] - l;
#else
	dp[0] = 0.0LF;
#endif
`
	return apply, deriv
}

func (Saturation) ApplyImage(ws *Workspace, x Planes, p []float64, tx []Planes, tangents bool) (Planes, []Planes) {
	s := p[0]
	sat := func(x Planes, y Planes, dy *Planes) {
		if len(x.C) != 3 {
			copy(y.C[0], x.C[0])
			if dy != nil {
				clear(dy.C[0])
			}
			return
		}
		r, g, b := x.C[0], x.C[1], x.C[2]
		Parallel(len(r), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				l := lumaW[0]*r[i] + lumaW[1]*g[i] + lumaW[2]*b[i]
				for c := range 3 {
					v := x.C[c][i]
					y.C[c][i] = l + s*(v-l)
					if dy != nil {
						dy.C[c][i] = v - l
					}
				}
			}
		})
	}
	y := ws.Planes(x.W, x.H, len(x.C))
	var ty []Planes
	if tangents {
		for _, t := range tx {
			yt := ws.Planes(x.W, x.H, len(x.C))
			sat(t, yt, nil)
			ty = append(ty, yt)
		}
		ds := ws.Planes(x.W, x.H, len(x.C))
		sat(x, y, &ds)
		return y, append(ty, ds)
	}
	sat(x, y, nil)
	return y, nil
}

// ColorMatrix is y = M·x + o per pixel: M 3×3 by rows, then o; a colour
// image only.
type ColorMatrix struct{}

func (ColorMatrix) Name() string { return "colormatrix" }
func (ColorMatrix) Params() []Param {
	var ps []Param
	for r := range 3 {
		for c := range 3 {
			p := Param{Name: fmt.Sprintf("m%d%d", r, c), Lo: -0.5, Hi: 0.5, Smooth: true}
			if r == c {
				p.Lo, p.Hi, p.Init = 0.5, 1.5, 1
			}
			ps = append(ps, p)
		}
	}
	for c := range 3 {
		ps = append(ps, Param{Name: fmt.Sprintf("o%d", c), Lo: -0.25, Hi: 0.25, Smooth: true})
	}
	return ps
}

// Apply is the matrix on a grey pixel taken as R = G = B: the first
// row's.
func (ColorMatrix) Apply(x float64, p, dp []float64) (float64, float64) {
	clear(dp)
	dp[0], dp[1], dp[2], dp[9] = x, x, x, 1
	return (p[0]+p[1]+p[2])*x + p[9], p[0] + p[1] + p[2]
}
func (ColorMatrix) GLSL() string {
	return "for (int k = 0; k < 12; k++) dp[k] = 0.0LF; dp[0] = x; dp[1] = x; dp[2] = x; dp[9] = 1.0LF; dx = p[0] + p[1] + p[2]; return dx * x + p[9];"
}

func (ColorMatrix) ColorGLSL() (apply, deriv string) {
	apply = `
	double x[3] = v;
	for (int r = 0; r < 3; r++) {
		v[r] = p[3 * r] * x[0] + p[3 * r + 1] * x[1] + p[3 * r + 2] * x[2] + (lin ? 0.0LF : p[9 + r]);
	}
`
	deriv = `
	for (int k = 0; k < MAXP * NC; k++) dp[k] = 0.0LF;
	for (int r = 0; r < 3; r++) {
		for (int c = 0; c < 3; c++) dp[(3 * r + c) * 3 + r] = x[c];
		dp[(9 + r) * 3 + r] = 1.0LF;
	}
`
	return apply, deriv
}

func (ColorMatrix) ApplyImage(ws *Workspace, x Planes, p []float64, tx []Planes, tangents bool) (Planes, []Planes) {
	mul := func(x Planes, off bool) Planes {
		y := ws.Planes(x.W, x.H, 3)
		Parallel(len(x.C[0]), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				r, g, b := x.C[0][i], x.C[1][i], x.C[2][i]
				for c := range 3 {
					v := p[3*c]*r + p[3*c+1]*g + p[3*c+2]*b
					if off {
						v += p[9+c]
					}
					y.C[c][i] = v
				}
			}
		})
		return y
	}
	y := mul(x, true)
	if !tangents {
		return y, nil
	}
	var ty []Planes
	for _, t := range tx {
		ty = append(ty, mul(t, false))
	}
	for r := range 3 {
		for c := range 3 {
			d := ws.Zeros(x.W, x.H, 3)
			copy(d.C[r], x.C[c])
			ty = append(ty, d)
		}
	}
	for r := range 3 {
		d := ws.Zeros(x.W, x.H, 3)
		for i := range d.C[r] {
			d.C[r][i] = 1
		}
		ty = append(ty, d)
	}
	return y, ty
}

// Blur is a separable Gaussian of standard deviation σ pixels, its kernel
// cut at radius ⌈3σ⌉ and normalized, the edge pixels replicated.
type Blur struct{}

func (Blur) Name() string { return "blur" }
func (Blur) Params() []Param {
	return []Param{{Name: "sigma", Lo: 0.3, Hi: 4, Init: 1, Smooth: true}}
}
func (Blur) Apply(x float64, _, dp []float64) (float64, float64) {
	dp[0] = 0
	return x, 1
}
func (Blur) GLSL() string { return "dp[0] = 0.0LF; dx = 1.0LF; return x;" }

// GaussTaps returns the normalized taps w[0..r] of the Gaussian of σ, r = ⌈3σ⌉
// (w[i] weighs offsets ±i) and their derivatives in σ.
func GaussTaps(sigma float64) (w, dw []float64) {
	r := int(math.Ceil(3 * sigma))
	w, dw = make([]float64, r+1), make([]float64, r+1)
	sum, sumd := 0.0, 0.0
	for i := 0; i <= r; i++ {
		fi := float64(i)
		v := math.Exp(-fi * fi / (2 * sigma * sigma))
		w[i], dw[i] = v, v*fi*fi/(sigma*sigma*sigma)
		k := 2.0
		if i == 0 {
			k = 1
		}
		sum += k * v
		sumd += k * dw[i]
	}
	// d(v/Σ)/dσ = v'/Σ − v·Σ'/Σ²
	for i := range w {
		dw[i] = dw[i]/sum - w[i]*sumd/(sum*sum)
		w[i] /= sum
	}
	return w, dw
}

// convolve1 filters each row (horizontal) or column of src with the
// symmetric taps w into dst, replicating the edge pixels.
func convolve1(dst, src []float64, width, height int, w []float64, horizontal bool) {
	r := len(w) - 1
	if horizontal {
		// Tap by tap over the row, as the vertical pass goes: each output
		// sums its taps in the same order as the per-pixel loop
		//
		//	v := w[0]*row[x]; for i := 1..r { v += w[i]*(row[max(x-i,0)] + row[min(x+i,width-1)]) }
		//
		// so the result is that loop's to the bit, but the interior runs
		// without clamps on slices the compiler can check once.
		Parallel(height, func(lo, hi int) {
			for y := lo; y < hi; y++ {
				row := src[y*width : (y+1)*width]
				out := dst[y*width : (y+1)*width]
				for x := range out {
					out[x] = w[0] * row[x]
				}
				for i := 1; i <= r; i++ {
					wi := w[i]
					a, b := min(i, width), max(width-i, 0) // x in [a, b) reads no edge
					for x := 0; x < min(a, width); x++ {
						out[x] += wi * (row[max(x-i, 0)] + row[min(x+i, width-1)])
					}
					if a < b {
						left, right, o := row[:b-i], row[a+i:], out[a:b]
						for x := range o {
							o[x] += wi * (left[x] + right[x])
						}
					}
					for x := max(b, a); x < width; x++ {
						out[x] += wi * (row[max(x-i, 0)] + row[min(x+i, width-1)])
					}
				}
			}
		})
		return
	}
	Parallel(height, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			out := dst[y*width : (y+1)*width]
			for x := range out {
				out[x] = w[0] * src[y*width+x]
			}
			for i := 1; i <= r; i++ {
				up := src[max(y-i, 0)*width:][:len(out)]
				dn := src[min(y+i, height-1)*width:][:len(out)]
				for x := range out {
					out[x] += w[i] * (up[x] + dn[x])
				}
			}
		}
	})
}

// gauss2 writes the separable blur K_v·K_h of one plane with taps a
// across and b down into out, through tmp.
func gauss2(out, tmp, src []float64, width, height int, a, b []float64) {
	convolve1(tmp, src, width, height, a, true)
	convolve1(out, tmp, width, height, b, false)
}

// blurPlanes blurs every plane with taps w.
func blurPlanes(ws *Workspace, x Planes, w []float64) Planes {
	y := ws.Planes(x.W, x.H, len(x.C))
	tmp := ws.Planes(x.W, x.H, 1).C[0]
	for c, pl := range x.C {
		gauss2(y.C[c], tmp, pl, x.W, x.H, w, w)
	}
	return y
}

// blurDeriv is ∂(K_σ·x)/∂σ = K'·K + K·K' of every plane.
func blurDeriv(ws *Workspace, x Planes, w, dw []float64) Planes {
	y := ws.Planes(x.W, x.H, len(x.C))
	scratch := ws.Planes(x.W, x.H, 2)
	tmp, b := scratch.C[0], scratch.C[1]
	for c, pl := range x.C {
		a := y.C[c]
		gauss2(a, tmp, pl, x.W, x.H, dw, w)
		gauss2(b, tmp, pl, x.W, x.H, w, dw)
		for i := range a {
			a[i] += b[i]
		}
	}
	return y
}

func (Blur) Mix(p []float64) Mixture {
	return Mixture{Sigma: p[0], V: 1, DU: []float64{0}, DV: []float64{0}}
}

func (b Blur) ApplyImage(ws *Workspace, x Planes, p []float64, tx []Planes, tangents bool) (Planes, []Planes) {
	return ApplyMix(ws, b.Mix(p), x, tx, tangents)
}

// Sharpen is the unsharp mask y = x + a·(x − K_σ·x).
type Sharpen struct{}

func (Sharpen) Name() string { return "sharpen" }
func (Sharpen) Params() []Param {
	return []Param{
		{Name: "amount", Lo: 0, Hi: 3, Init: 0.5, Smooth: true},
		{Name: "sharpen_sigma", Lo: 0.3, Hi: 4, Init: 1, Smooth: true},
	}
}
func (Sharpen) Apply(x float64, _, dp []float64) (float64, float64) {
	dp[0], dp[1] = 0, 0
	return x, 1
}
func (Sharpen) GLSL() string { return "dp[0] = 0.0LF; dp[1] = 0.0LF; dx = 1.0LF; return x;" }

// Mix: y = (1+a)·x − a·K_σx.
func (Sharpen) Mix(p []float64) Mixture {
	return Mixture{Sigma: p[1], SigmaAt: 1, U: 1 + p[0], V: -p[0], DU: []float64{1, 0}, DV: []float64{-1, 0}}
}

func (s Sharpen) ApplyImage(ws *Workspace, x Planes, p []float64, tx []Planes, tangents bool) (Planes, []Planes) {
	return ApplyMix(ws, s.Mix(p), x, tx, tangents)
}

// Parallel runs f over [0, n) in contiguous spans of 64 or more on the
// shared pool, one a worker; n counts rows or columns of an image (short)
// or samples (long). Exported for the host's per-pixel preparations. Its
// own bookkeeping comes from a pool, so that a call allocates at most f's
// closure: a spatial step calls it thousands of times.
func Parallel(n int, f func(lo, hi int)) {
	k := min(workers(), max(1, n/64))
	if k == 1 {
		f(0, n)
		return
	}
	s := spanPool.Get().(*spans)
	s.n, s.k, s.f = n, k, f
	runChunks(s, k, &s.wg)
	s.f = nil
	spanPool.Put(s)
}

// spans is [0, n) cut in k chunks for the pool.
type spans struct {
	n, k int
	f    func(lo, hi int)
	wg   sync.WaitGroup
}

var spanPool = sync.Pool{New: func() any { return new(spans) }}

func (s *spans) runChunk(c int) { s.f(c*s.n/s.k, (c+1)*s.n/s.k) }
