package kernels

// A restoration's smoothing spreads a band's ramp by about a sample a
// step, so a band hundreds of samples wide, solved at its own size, needs
// some 10⁵ steps. Solved coarse to fine (a cascadic multigrid), each level
// starts from the coarser level's answer, prolonged, and needs only the
// steps that fix the detail its own scale adds: the ramps come from the
// coarse levels, where a 500-sample band is a few samples wide.

// Coarse returns p at half its size, ⌈W/2⌉×⌈H/2⌉: the stored image, the
// bounds and the data weights averaged over 2×2 blocks (the mean of
// samples within their bounds lies within the mean bounds), and each pair
// weight the mean of the fine pairs that cross between the two blocks.
// Energy and rule are p's.
func (p *Restoration) Coarse() *Restoration {
	cw, ch := (p.W+1)/2, (p.H+1)/2
	c := &Restoration{W: cw, H: ch, Energy: p.Energy, Rule: p.Rule}
	mean := func(pl []float32) []float32 {
		out := make([]float32, cw*ch)
		Parallel(ch, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				fy0, fy1 := 2*y, min(2*y+1, p.H-1)
				for x := range cw {
					fx0, fx1 := 2*x, min(2*x+1, p.W-1)
					out[y*cw+x] = (pl[fy0*p.W+fx0] + pl[fy0*p.W+fx1] + pl[fy1*p.W+fx0] + pl[fy1*p.W+fx1]) / 4
				}
			}
		})
		return out
	}
	// pairs averages the fine pair weights that cross from block (x, y)
	// to the next block along (ax, ay): (1, 0) right, (0, 1) below. They
	// sit on the block's far edge, at (2x + ax, 2y + ay) and the sample
	// beside it across the direction.
	pairs := func(pl []float32, ax, ay int) []float32 {
		out := make([]float32, cw*ch)
		Parallel(ch, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				for x := range cw {
					ex, ey := 2*x+ax, 2*y+ay
					if ex+ax >= p.W || ey+ay >= p.H {
						continue
					}
					var sum float32
					n := 0
					for t := range 2 {
						fx, fy := ex+(1-ax)*t, ey+(1-ay)*t
						if fx < p.W && fy < p.H {
							sum += pl[fy*p.W+fx]
							n++
						}
					}
					out[y*cw+x] = sum / float32(n)
				}
			}
		})
		return out
	}
	for k := range p.Q {
		c.Q = append(c.Q, mean(p.Q[k]))
		c.Lo = append(c.Lo, mean(p.Lo[k]))
		c.Hi = append(c.Hi, mean(p.Hi[k]))
		if p.D != nil {
			c.D = append(c.D, mean(p.D[k]))
		}
		if p.Wx != nil {
			c.Wx = append(c.Wx, pairs(p.Wx[k], 1, 0))
			c.Wy = append(c.Wy, pairs(p.Wy[k], 0, 1))
		}
	}
	return c
}

// Prolong returns planes of a cw×ch image at w×h, bilinearly, sample
// centres aligned (fine sample x sits at coarse (x + 0.5)·cw/w − 0.5), the
// edge samples replicated.
func Prolong(u [][]float32, cw, ch, w, h int) [][]float32 {
	out := make([][]float32, len(u))
	sx, sy := float32(cw)/float32(w), float32(ch)/float32(h)
	for k, pl := range u {
		o := make([]float32, w*h)
		Parallel(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				fy := max((float32(y)+0.5)*sy-0.5, 0)
				iy := min(int(fy), ch-1)
				ty := fy - float32(iy)
				iy1 := min(iy+1, ch-1)
				for x := range w {
					fx := max((float32(x)+0.5)*sx-0.5, 0)
					ix := min(int(fx), cw-1)
					tx := fx - float32(ix)
					ix1 := min(ix+1, cw-1)
					a := pl[iy*cw+ix] + tx*(pl[iy*cw+ix1]-pl[iy*cw+ix])
					b := pl[iy1*cw+ix] + tx*(pl[iy1*cw+ix1]-pl[iy1*cw+ix])
					o[y*w+x] = a + ty*(b-a)
				}
			}
		})
		out[k] = o
	}
	return out
}
