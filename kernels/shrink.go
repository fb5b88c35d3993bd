package kernels

import "math"

// Transform-domain shrinkage: the sparsity prior of quantfit restore's
// last stage (host/restore.Consistent). An image restored inside its
// quantization cells still carries the cells' noise, which is white in
// 8×8 blocks where natural images are sparse; zeroing a block's small DCT
// coefficients and putting the sample back in its cell, a few times over,
// leaves the image that is both (projection onto the constraint sets, as
// in the classical deblocking of JPEG). Colour images are shrunk in an
// orthonormal opponent space (Opponent), where the chroma planes' signal
// is small and the same noise falls below the threshold.

// ShrinkBlock is the side of the blocks.
const ShrinkBlock = 8

// dct8 is the orthonormal 8-point DCT-II: X_k = Σ_n dct8[k][n]·x_n.
var dct8 = func() (m [8][8]float32) {
	for k := range 8 {
		s := math.Sqrt(2.0 / 8)
		if k == 0 {
			s = math.Sqrt(1.0 / 8)
		}
		for n := range 8 {
			m[k][n] = float32(s * math.Cos(math.Pi*(float64(n)+0.5)*float64(k)/8))
		}
	}
	return m
}()

// The DCT's constants, c_k = cos(kπ/16)/2 (the AC basis' scale) and dc
// = 1/√8, as constants so that they stay in registers; the parity test
// holds them to dct8.
const (
	dc = 0.35355339059327373
	c1 = 0.49039264020161522
	c2 = 0.46193976625564337
	c3 = 0.41573480615127262
	c4 = 0.35355339059327379
	c5 = 0.27778511650980114
	c6 = 0.19134171618254492
	c7 = 0.097545161008064166
)

// fdct8 transforms x in place. It equals X_k = Σ_n dct8[k][n]·x_n, split
// into even and odd halves by the basis' symmetry about n = 3.5.
func fdct8(x *[8]float32) {
	s0, s1, s2, s3 := x[0]+x[7], x[1]+x[6], x[2]+x[5], x[3]+x[4]
	d0, d1, d2, d3 := x[0]-x[7], x[1]-x[6], x[2]-x[5], x[3]-x[4]
	x[0] = dc * (s0 + s1 + s2 + s3)
	x[4] = c4 * (s0 - s1 - s2 + s3)
	x[2] = c2*(s0-s3) + c6*(s1-s2)
	x[6] = c6*(s0-s3) - c2*(s1-s2)
	x[1] = c1*d0 + c3*d1 + c5*d2 + c7*d3
	x[3] = c3*d0 - c7*d1 - c1*d2 - c5*d3
	x[5] = c5*d0 - c1*d1 + c7*d2 + c3*d3
	x[7] = c7*d0 - c5*d1 + c3*d2 - c1*d3
}

// idct8 inverts fdct8 in place: x_n = Σ_k dct8[k][n]·X_k.
func idct8(x *[8]float32) {
	a, b4 := dc*x[0], c4*x[4]
	e0 := a + b4 + c2*x[2] + c6*x[6]
	e1 := a - b4 + c6*x[2] - c2*x[6]
	e2 := a - b4 - c6*x[2] + c2*x[6]
	e3 := a + b4 - c2*x[2] - c6*x[6]
	o0 := c1*x[1] + c3*x[3] + c5*x[5] + c7*x[7]
	o1 := c3*x[1] - c7*x[3] - c1*x[5] - c5*x[7]
	o2 := c5*x[1] - c1*x[3] + c7*x[5] + c3*x[7]
	o3 := c7*x[1] - c5*x[3] + c3*x[5] - c1*x[7]
	x[0], x[7] = e0+o0, e0-o0
	x[1], x[6] = e1+o1, e1-o1
	x[2], x[5] = e2+o2, e2-o2
	x[3], x[4] = e3+o3, e3-o3
}

// shrinkBlock transforms b (rows b[i]), zeroes its AC coefficients below
// tau in magnitude, transforms back and returns how many coefficients it
// kept, the DC among them. Each 2-D transform is a pass over the rows, a
// transposition and another pass over the rows.
func shrinkBlock(b *[8][8]float32, tau float32) int {
	// By Parseval no AC coefficient exceeds the block's deviation from
	// its mean: where that is under tau, the block is its mean.
	var sum, sq float32
	for i := range b {
		for _, v := range b[i] {
			sum += v
			sq += v * v
		}
	}
	if m := sum / 64; sq-64*m*m < tau*tau {
		for i := range b {
			b[i] = [8]float32{m, m, m, m, m, m, m, m}
		}
		return 1
	}
	for i := range b {
		fdct8(&b[i])
	}
	transpose8(b)
	kept := 0
	for i := range b {
		r := &b[i]
		fdct8(r)
		live := false
		for j, v := range r {
			if (i|j == 0) || v >= tau || v <= -tau {
				kept++
				live = true
			} else {
				r[j] = 0
			}
		}
		if live {
			idct8(r)
		}
	}
	transpose8(b)
	for i := range b {
		idct8(&b[i])
	}
	return kept
}

func transpose8(b *[8][8]float32) {
	for i := 1; i < 8; i++ {
		for j := range i {
			b[i][j], b[j][i] = b[j][i], b[i][j]
		}
	}
}

// ShrinkOrigins are the block origins along a side of n samples at the
// given stride (which divides ShrinkBlock): from stride−ShrinkBlock on,
// so that every sample lies in ShrinkBlock/stride blocks, the blocks that
// reach past the edge reading its samples again (clamped).
func ShrinkOrigins(n, stride int) []int {
	var o []int
	for v := stride - ShrinkBlock; v < n; v += stride {
		o = append(o, v)
	}
	return o
}

// ShrinkDCT writes into dst (len w·h, not src) src's hard-thresholded
// sliding-block DCT: every 8×8 block on the grid of ShrinkOrigins at
// stride, its AC coefficients below tau in magnitude zeroed, and each
// sample the mean of its blocks' inverse transforms, a block weighing
// 1/(coefficients kept), so that blocks of smooth content count most.
// The plain form it equals (up to float32 rounding) is, per sample:
//
//	for each origin (ox, oy) with ox ≤ x < ox+8, oy ≤ y < oy+8:
//		B = block of src at (ox, oy), coordinates clamped to the image
//		k = shrinkBlock(&B, tau)
//		num += B[y-oy][x-ox] / k; den += 1 / k
//	dst[y·w+x] = num / den
//
// Rows of blocks ShrinkBlock/stride apart do not overlap, so each phase's
// rows run in parallel, writing disjoint rows.
func ShrinkDCT(dst, src []float32, w, h int, tau float32, stride int) {
	xs, ys := ShrinkOrigins(w, stride), ShrinkOrigins(h, stride)
	wts := make([]float32, len(xs)*len(ys)) // each block's weight
	clear(dst)
	phases := ShrinkBlock / stride
	for ph := range phases {
		rows := (len(ys) - ph + phases - 1) / phases
		Parallel(rows, func(r0, r1 int) {
			var b [8][8]float32
			for r := r0; r < r1; r++ {
				oy := ys[ph+r*phases]
				for bx, ox := range xs {
					if ox >= 0 && oy >= 0 && ox+8 <= w && oy+8 <= h {
						for i := range 8 {
							copy(b[i][:], src[(oy+i)*w+ox:])
						}
					} else {
						for i := range 8 {
							row := min(h-1, max(0, oy+i)) * w
							for j := range 8 {
								b[i][j] = src[row+min(w-1, max(0, ox+j))]
							}
						}
					}
					wt := 1 / float32(shrinkBlock(&b, tau))
					wts[(ph+r*phases)*len(xs)+bx] = wt
					j0, j1 := max(0, -ox), min(8, w-ox)
					for i := max(0, -oy); i < min(8, h-oy); i++ {
						at := (oy+i)*w + ox
						d, bi := dst[at+j0:at+j1], b[i][j0:j1]
						for j := range d {
							d[j] += wt * bi[j]
						}
					}
				}
			}
		})
	}
	// the weights of a sample's blocks, summed from the blocks' own: the
	// blocks k with origin stride−8+k·stride in [x−7, x]
	covers := func(x int) (int, int) { return (x+stride)/stride - 1, (x+8)/stride - 1 }
	Parallel(h, func(y0, y1 int) {
		sums := make([]float32, len(xs))
		for y := y0; y < y1; y++ {
			k0, k1 := covers(y)
			clear(sums)
			for k := k0; k <= min(k1, len(ys)-1); k++ {
				row := wts[k*len(xs) : (k+1)*len(xs)]
				for bx, v := range row {
					sums[bx] += v
				}
			}
			d := dst[y*w : (y+1)*w]
			for x := range d {
				j0, j1 := covers(x)
				den := float32(0)
				for k := j0; k <= min(j1, len(xs)-1); k++ {
					den += sums[k]
				}
				d[x] /= den
			}
		}
	})
}

// Opponent is the orthonormal opponent colour transform: rows are the
// luma (R+G+B)/√3 and two chroma axes; its inverse is its transpose.
var Opponent = func() [3][3]float32 {
	r3, r2, r6 := float32(1/math.Sqrt(3)), float32(1/math.Sqrt(2)), float32(1/math.Sqrt(6))
	return [3][3]float32{{r3, r3, r3}, {r2, 0, -r2}, {r6, -2 * r6, r6}}
}()

// ToOpponent writes src's three planes, in opponent space, into dst's.
// The way back, Opponent's transpose, is fused into ShrinkPass's clamp.
func ToOpponent(dst, src [][]float32) {
	m := Opponent
	Parallel(len(src[0]), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			a, b, c := src[0][i], src[1][i], src[2][i]
			for r := range 3 {
				dst[r][i] = m[r][0]*a + m[r][1]*b + m[r][2]*c
			}
		}
	})
}

// Shrinker is a Restorer that runs the block-sparsity prior on its own
// image, where it lives (the GPU's resident buffers): passes of
// ShrinkPass within the bounds ShrinkBounds makes from its problem's
// cells, its current image and reach.
type Shrinker interface {
	Shrink(tau []float32, reach float32, stride, passes int) error
}

// endCell says whether sample i lies in the first or the last cell (lo ≤
// 0 or hi ≥ 1), where originals pile at the bound rather than spread over
// the cell: the prior and the in-cell regression leave such samples as
// the solve put them.
func endCell(lo, hi []float32, i int) bool { return lo[i] <= 0 || hi[i] >= 1 }

// ShrinkBounds returns the bounds of the prior's passes over u: its cell
// [lo, hi] cut to reach about u, and u itself in the first or the last
// cell (lo ≤ 0 or hi ≥ 1), where originals pile at the bound.
func ShrinkBounds(u, lo, hi []float32, reach float32) (a, b []float32) {
	a, b = make([]float32, len(u)), make([]float32, len(u))
	Parallel(len(u), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			a[i], b[i] = max(lo[i], u[i]-reach), min(hi[i], u[i]+reach)
			if endCell(lo, hi, i) {
				a[i], b[i] = u[i], u[i]
			}
		}
	})
	return a, b
}

// ShrinkPass is one pass of the prior over planes, in place: three planes
// are taken to opponent space (ToOpponent) and back (Opponent's
// transpose), others shrunk as they
// are; plane c is shrunk at tau[c] (ShrinkDCT at stride) and every sample
// then clamped to [lo, hi]. scratch holds 2·len(planes) planes of w·h.
func ShrinkPass(planes, lo, hi [][]float32, w, h int, tau []float32, stride int, scratch [][]float32) {
	n := w * h
	shrunk, opp := scratch[:len(planes)], planes
	colour := len(planes) == 3
	if colour {
		opp = scratch[3:6]
		ToOpponent(opp, planes)
	}
	for c := range opp {
		ShrinkDCT(shrunk[c], opp[c], w, h, tau[c], stride)
	}
	back := Opponent // its transpose undoes it
	Parallel(n, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			if !colour {
				for c := range planes {
					planes[c][i] = min(hi[c][i], max(lo[c][i], shrunk[c][i]))
				}
				continue
			}
			a, b, d := shrunk[0][i], shrunk[1][i], shrunk[2][i]
			for c := range 3 {
				v := back[0][c]*a + back[1][c]*b + back[2][c]*d
				planes[c][i] = min(hi[c][i], max(lo[c][i], v))
			}
		}
	})
}
