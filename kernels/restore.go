package kernels

import (
	"errors"
	"fmt"
	"math"
)

// Restoration by energy minimization: the per-pixel math of quantfit
// restore, and the specification of shaders/restore.comp. An image u (one
// float32 plane per channel) descends a smoothness energy, every sample
// kept within its bounds [Lo, Hi]: the quantization cell of its stored
// value when dequantizing, the value itself (Lo = Hi) for a known pixel
// and [0, 1] for a missing one when inpainting. Channels are independent.
//
// A step is fused, as on the GPU: at every sample the energy's gradient at
// the current u, the update rule's step with it, the projection onto the
// bounds; all samples from the same u (Jacobi), into a second plane.

// Smoothness names the smoothness term of an Energy.
type Smoothness int

const (
	// Tikhonov is Σ (u_right − u)² + (u_below − u)², over neighbour pairs.
	Tikhonov Smoothness = iota
	// TV is the total variation Σ √(dx² + dy² + ε²) − ε, forward
	// differences, smoothed by ε.
	TV
	// EdgeAware is Tikhonov with each pair weighted: Σ wx·(u_right − u)²
	// + wy·(u_below − u)², the weights given with the problem (host/restore
	// derives them from the stored image).
	EdgeAware
)

var smoothnessNames = [...]string{"tikhonov", "tv", "edge"}

func (s Smoothness) String() string {
	if int(s) < len(smoothnessNames) {
		return smoothnessNames[s]
	}
	return fmt.Sprintf("Smoothness(%d)", int(s))
}

// ParseSmoothness reads a Smoothness by name.
func ParseSmoothness(name string) (Smoothness, error) {
	for i, n := range smoothnessNames {
		if n == name {
			return Smoothness(i), nil
		}
	}
	return 0, fmt.Errorf("kernels: unknown energy %q (want tikhonov, tv or edge)", name)
}

// Energy is a restoration's energy per channel: a smoothness term plus
// Fidelity·Σ d·(u − q)², q the stored image and d the problem's data
// weight of each sample (1 where the problem has none).
type Energy struct {
	Kind Smoothness
	// Eps is TV's ε. Required positive for TV.
	Eps float64
	// Fidelity weighs the data term; 0 leaves u to the bounds alone.
	Fidelity float64
}

// RuleKind names a per-sample update rule: the formulas of host/optim's
// methods, element by element.
type RuleKind int

const (
	RuleSGD RuleKind = iota
	RuleMomentum
	RuleNesterov
	RuleAdagrad
	RuleRMSprop
	RuleAdam
)

// Rule is an update rule with its constants, defaults resolved: Mu for
// momentum and Nesterov, Rho for RMSprop, Beta1 and Beta2 for Adam, Eps
// for Adagrad, RMSprop and Adam.
type Rule struct {
	Kind                       RuleKind
	Mu, Rho, Beta1, Beta2, Eps float64
}

// state reports how many state planes the rule keeps per channel.
func (r Rule) state() int {
	switch r.Kind {
	case RuleSGD:
		return 0
	case RuleAdam:
		return 2
	}
	return 1
}

// StepConsts are a step's host-side constants: the rate, and Adam's bias
// corrections 1 − β₁ᵗ and 1 − β₂ᵗ (computed in double on the host, as
// host/optim does).
type StepConsts struct {
	LR, C1, C2 float32
}

// Consts returns step t's constants (t from 1) at rate lr.
func (r Rule) Consts(lr float64, t int) StepConsts {
	c := StepConsts{LR: float32(lr), C1: 1, C2: 1}
	if r.Kind == RuleAdam {
		c.C1 = float32(1 - math.Pow(r.Beta1, float64(t)))
		c.C2 = float32(1 - math.Pow(r.Beta2, float64(t)))
	}
	return c
}

func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// Project is a step's projection of the value v onto its bounds [lo, hi],
// with values within Tiny of 0 taken as 0 first. A sample pulled to a
// bound of 0 otherwise comes ever closer in geometric steps and ends
// subnormal, and subnormal arithmetic is some 100 times slower on x86:
// 10,375 subnormal samples slowed a 4 MP restore's steps from 39 to 67
// ms. GPUs flush them as a rule; restore.comp flushes them too.
func Project(v, lo, hi float32) float32 {
	if v > -Tiny && v < Tiny {
		v = 0
	}
	return min(max(v, lo), hi)
}

// Tiny is far below any sample's resolution (2⁻¹⁶ at 16 bits) and far
// above float32's subnormals (under 2⁻¹²⁶).
const Tiny = 0x1p-100

// Restoration is a problem: the stored image Q and the bounds, planes of
// W·H samples per channel, EdgeAware's weights of the pairs to the right
// (Wx) and below (Wy) of each sample, the data weights D (optional, for
// any energy: nil weighs every sample's data term 1), the energy and the
// update rule.
type Restoration struct {
	W, H      int
	Q, Lo, Hi [][]float32
	Wx, Wy    [][]float32
	D         [][]float32
	Energy    Energy
	Rule      Rule
	// Requantize, for a dequantization, makes the same problem for other
	// planes (w×h) stored by a quantizer of the same kind whose cells
	// are ratio times as wide, and its cell width; nil problem where that
	// quantizer would have fewer than two cells. The in-cell regression
	// (host/restore's refine) learns from it. Nil for other problems.
	Requantize func(planes [][]float32, w, h int, ratio float64) (*Restoration, float64, error)
}

// Initial is channel c's starting image: Q projected onto the bounds.
// Every Restorer starts from it (a coarser level's answer replaces it
// through Leveled.StartFrom).
func (p *Restoration) Initial(c int) []float32 {
	u := make([]float32, len(p.Q[c]))
	lo, hi := p.Lo[c], p.Hi[c]
	for i, v := range p.Q[c] {
		u[i] = min(max(v, lo[i]), hi[i])
	}
	return u
}

// Check reports a malformed problem.
func (p *Restoration) Check() error {
	n := p.W * p.H
	if n <= 0 || len(p.Q) == 0 || len(p.Lo) != len(p.Q) || len(p.Hi) != len(p.Q) {
		return errors.New("kernels: a restoration needs an image and bounds for every channel")
	}
	for c := range p.Q {
		if len(p.Q[c]) != n || len(p.Lo[c]) != n || len(p.Hi[c]) != n {
			return fmt.Errorf("kernels: channel %d of the restoration holds other than %d×%d samples", c, p.W, p.H)
		}
	}
	if p.Energy.Kind == TV && !(p.Energy.Eps > 0) {
		return errors.New("kernels: total variation needs ε > 0")
	}
	if p.Energy.Fidelity < 0 {
		return errors.New("kernels: negative fidelity")
	}
	if p.Energy.Kind == EdgeAware {
		if len(p.Wx) != len(p.Q) || len(p.Wy) != len(p.Q) {
			return errors.New("kernels: the edge-aware energy needs pair weights for every channel")
		}
		for c := range p.Q {
			if len(p.Wx[c]) != n || len(p.Wy[c]) != n {
				return fmt.Errorf("kernels: channel %d's pair weights hold other than %d×%d samples", c, p.W, p.H)
			}
		}
	}
	if p.D != nil {
		if len(p.D) != len(p.Q) {
			return errors.New("kernels: data weights given for some channels only")
		}
		for c := range p.Q {
			if len(p.D[c]) != n {
				return fmt.Errorf("kernels: channel %d's data weights hold other than %d×%d samples", c, p.W, p.H)
			}
		}
	}
	return nil
}

// Restorer runs a restoration's steps where its state lives.
type Restorer interface {
	// Step takes one fused step with the constants of StepConsts.
	Step(c StepConsts)
	// Energy is the mean energy per sample at the current image.
	Energy() float64
	// Image returns a copy of the current image's planes.
	Image() [][]float32
	// Err reports the first failure of the device, if any.
	Err() error
	Close()
}

// Leveled is a Restorer that makes its own coarser levels, its planes
// staying where they live (the GPU's resident buffers): Coarse and
// Prolong done in place. The CPU's and the GPU's restorers are Leveled.
type Leveled interface {
	Restorer
	// Coarser returns the restorer of the problem at half the size
	// (Restoration.Coarse), starting from its stored image.
	Coarser() (Restorer, error)
	// StartFrom sets the image to that of coarse, a restorer of the same
	// kind from Coarser, prolonged (Prolong) and projected onto the
	// bounds (Restoration.Initial), and starts the rule's state again.
	StartFrom(coarse Restorer) error
}

// CPURestorer is the CPU's Restorer, all cores over spans of rows.
type CPURestorer struct {
	p       *Restoration
	u, next [][]float32
	m, v    [][]float32
	eps     float32
	fid     float32
}

// NewRestorer starts p from its stored image, projected onto the bounds.
func NewRestorer(p *Restoration) (*CPURestorer, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	r := &CPURestorer{p: p, eps: float32(p.Energy.Eps), fid: float32(p.Energy.Fidelity)}
	n := p.W * p.H
	for c := range p.Q {
		r.u = append(r.u, p.Initial(c))
		r.next = append(r.next, make([]float32, n))
		if p.Rule.state() > 0 {
			r.m = append(r.m, make([]float32, n))
		}
		if p.Rule.state() > 1 {
			r.v = append(r.v, make([]float32, n))
		}
	}
	return r, nil
}

// Gradient is the energy's gradient at sample (x, y) of channel c: the
// loop the shader's restoreGrad must equal.
func (r *CPURestorer) Gradient(c, x, y int) float32 {
	return gradAt(r.p, c, r.u[c], x, y, r.eps, r.fid)
}

func gradAt(p *Restoration, c int, u []float32, x, y int, eps, fid float32) float32 {
	q := p.Q[c]
	w, h := p.W, p.H
	i := y*w + x
	ui := u[i]
	var g float32
	switch p.Energy.Kind {
	case TV:
		// −(dx + dy)/φ here, + dx/φ of the left and dy/φ of the upper
		// neighbour, whose forward differences reach this sample
		dx, dy := fwd(u, w, h, x, y)
		g = -(dx + dy) / phi(dx, dy, eps)
		if x > 0 {
			lx, ly := fwd(u, w, h, x-1, y)
			g += lx / phi(lx, ly, eps)
		}
		if y > 0 {
			ux, uy := fwd(u, w, h, x, y-1)
			g += uy / phi(ux, uy, eps)
		}
	default:
		// the weights of the pairs right, left, below and above
		wr, wl, wb, wa := float32(1), float32(1), float32(1), float32(1)
		if p.Energy.Kind == EdgeAware {
			wx, wy := p.Wx[c], p.Wy[c]
			wr, wb = wx[i], wy[i]
			if x > 0 {
				wl = wx[i-1]
			}
			if y > 0 {
				wa = wy[i-w]
			}
		}
		if x+1 < w {
			g += 2 * wr * (ui - u[i+1])
		}
		if x > 0 {
			g += 2 * wl * (ui - u[i-1])
		}
		if y+1 < h {
			g += 2 * wb * (ui - u[i+w])
		}
		if y > 0 {
			g += 2 * wa * (ui - u[i-w])
		}
	}
	if p.D != nil {
		fid *= p.D[c][i]
	}
	return g + 2*fid*(ui-q[i])
}

// fwd is the forward differences at (x, y), zero across the far borders.
func fwd(u []float32, w, h, x, y int) (dx, dy float32) {
	i := y*w + x
	if x+1 < w {
		dx = u[i+1] - u[i]
	}
	if y+1 < h {
		dy = u[i+w] - u[i]
	}
	return dx, dy
}

func phi(dx, dy, eps float32) float32 { return sqrt32(dx*dx + dy*dy + eps*eps) }

// Step implements Restorer: a row at a time, the gradient of its samples
// (gradRow), then the rule over the row (Rule.row). Both equal the plain
// loop, gradAt and the per-sample rule of restore_test.go's update, bit
// for bit (TestStepIsReference): the
// same float32 operations in the same order, with the branches on the
// energy, the rule and the borders taken once a row instead of once a
// sample.
func (r *CPURestorer) Step(c StepConsts) {
	p := r.p
	w := p.W
	for ch := range r.u {
		u, next := r.u[ch], r.next[ch]
		var m, v []float32
		if len(r.m) > 0 {
			m = r.m[ch]
		}
		if len(r.v) > 0 {
			v = r.v[ch]
		}
		Parallel(p.H, func(y0, y1 int) {
			g := make([]float32, w)
			for y := y0; y < y1; y++ {
				gradRow(p, ch, u, y, r.eps, r.fid, g)
				row := func(pl []float32) []float32 {
					if pl == nil {
						return nil
					}
					return pl[y*w : (y+1)*w]
				}
				p.Rule.row(row(u), g, row(m), row(v), row(p.Lo[ch]), row(p.Hi[ch]), row(next), c)
			}
		})
		r.u[ch], r.next[ch] = next, u
	}
}

// gradRow writes into g the energy's gradient at every sample of row y:
// gradAt at the image's border, loops specialized to the energy inside.
func gradRow(p *Restoration, c int, u []float32, y int, eps, fid float32, g []float32) {
	w, h := p.W, p.H
	if y == 0 || y == h-1 || w < 3 {
		for x := range w {
			g[x] = gradAt(p, c, u, x, y, eps, fid)
		}
		return
	}
	g[0] = gradAt(p, c, u, 0, y, eps, fid)
	g[w-1] = gradAt(p, c, u, w-1, y, eps, fid)
	o := y * w
	up, row, dn := u[o-w:o], u[o:o+w], u[o+w:o+2*w]
	q := p.Q[c][o : o+w]
	var d []float32
	if p.D != nil {
		d = p.D[c][o : o+w]
	}
	switch p.Energy.Kind {
	case TV:
		for x := 1; x < w-1; x++ {
			ui := row[x]
			dx, dy := row[x+1]-ui, dn[x]-ui
			gx := -(dx + dy) / phi(dx, dy, eps)
			lx, ly := ui-row[x-1], dn[x-1]-row[x-1]
			gx += lx / phi(lx, ly, eps)
			ax, ay := up[x+1]-up[x], ui-up[x]
			gx += ay / phi(ax, ay, eps)
			g[x] = gx + 2*dataWeight(fid, d, x)*(ui-q[x])
		}
	case EdgeAware:
		wx, wy := p.Wx[c][o:o+w], p.Wy[c][o:o+w]
		wa := p.Wy[c][o-w : o]
		for x := 1; x < w-1; x++ {
			ui := row[x]
			var gx float32
			gx += 2 * wx[x] * (ui - row[x+1])
			gx += 2 * wx[x-1] * (ui - row[x-1])
			gx += 2 * wy[x] * (ui - dn[x])
			gx += 2 * wa[x] * (ui - up[x])
			g[x] = gx + 2*dataWeight(fid, d, x)*(ui-q[x])
		}
	default: // gradAt's weights are 1 here, and 2·1 is exact
		for x := 1; x < w-1; x++ {
			ui := row[x]
			var gx float32
			gx += 2 * (ui - row[x+1])
			gx += 2 * (ui - row[x-1])
			gx += 2 * (ui - dn[x])
			gx += 2 * (ui - up[x])
			g[x] = gx + 2*dataWeight(fid, d, x)*(ui-q[x])
		}
	}
}

// dataWeight is gradAt's fid·D at x of a row's data weights d (nil: 1).
func dataWeight(fid float32, d []float32, x int) float32 {
	if d != nil {
		return fid * d[x]
	}
	return fid
}

// row is the rule over a row: x the values, g their gradients, m and v the
// rule's state (nil where it keeps none), the projection onto [lo, hi]
// into out. One loop a rule; the specification, sample by sample, is
// update in restore_test.go.
func (r Rule) row(x, g, m, v, lo, hi, out []float32, c StepConsts) {
	n := len(x)
	g, lo, hi, out = g[:n], lo[:n], hi[:n], out[:n]
	proj := func(i int, nx float32) { out[i] = Project(nx, lo[i], hi[i]) }
	switch r.Kind {
	case RuleMomentum:
		mu := float32(r.Mu)
		for i, xi := range x {
			m[i] = mu*m[i] + g[i]
			proj(i, xi-c.LR*m[i])
		}
	case RuleNesterov:
		mu := float32(r.Mu)
		for i, xi := range x {
			m[i] = mu*m[i] + g[i]
			proj(i, xi-c.LR*(g[i]+mu*m[i]))
		}
	case RuleAdagrad:
		eps := float32(r.Eps)
		for i, xi := range x {
			m[i] += g[i] * g[i]
			proj(i, xi-c.LR*g[i]/(sqrt32(m[i])+eps))
		}
	case RuleRMSprop:
		rho, eps := float32(r.Rho), float32(r.Eps)
		for i, xi := range x {
			m[i] = rho*m[i] + (1-rho)*g[i]*g[i]
			proj(i, xi-c.LR*g[i]/(sqrt32(m[i])+eps))
		}
	case RuleAdam:
		b1, b2, eps := float32(r.Beta1), float32(r.Beta2), float32(r.Eps)
		for i, xi := range x {
			m[i] = b1*m[i] + (1-b1)*g[i]
			v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
			proj(i, xi-c.LR*(m[i]/c.C1)/(sqrt32(v[i]/c.C2)+eps))
		}
	default:
		for i, xi := range x {
			proj(i, xi-c.LR*g[i])
		}
	}
}

// Energy implements Restorer: each sample's forward terms and its data
// term, summed in double per row.
func (r *CPURestorer) Energy() float64 {
	p := r.p
	rows := make([]float64, p.H*len(r.u))
	for ch := range r.u {
		u := r.u[ch]
		Parallel(p.H, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				s := 0.0
				for x := range p.W {
					s += float64(energyAt(p, ch, u, x, y, r.eps, r.fid))
				}
				rows[ch*p.H+y] = s
			}
		})
	}
	sum := 0.0
	for _, s := range rows {
		sum += s
	}
	return sum / float64(len(rows)*p.W)
}

// energyAt is sample (x, y)'s share of the energy: the pairs to its right
// and below (TV's φ − ε) and its data term.
func energyAt(p *Restoration, c int, u []float32, x, y int, eps, fid float32) float32 {
	w, h := p.W, p.H
	q := p.Q[c]
	i := y*w + x
	dx, dy := fwd(u, w, h, x, y)
	var e float32
	switch p.Energy.Kind {
	case TV:
		e = phi(dx, dy, eps) - eps
	case EdgeAware:
		e = p.Wx[c][i]*dx*dx + p.Wy[c][i]*dy*dy
	default:
		e = dx*dx + dy*dy
	}
	if p.D != nil {
		fid *= p.D[c][i]
	}
	d := u[i] - q[i]
	return e + fid*d*d
}

// Image implements Restorer.
func (r *CPURestorer) Image() [][]float32 {
	out := make([][]float32, len(r.u))
	for c, u := range r.u {
		out[c] = append([]float32(nil), u...)
	}
	return out
}

// Coarser implements Leveled.
func (r *CPURestorer) Coarser() (Restorer, error) { return NewRestorer(r.p.Coarse()) }

// StartFrom implements Leveled.
func (r *CPURestorer) StartFrom(coarse Restorer) error {
	c, ok := coarse.(*CPURestorer)
	if !ok || len(c.u) != len(r.u) {
		return fmt.Errorf("kernels: a restorer starts from a coarser one of its own kind and channels, not %T", coarse)
	}
	p := r.p
	up := Prolong(c.u, c.p.W, c.p.H, p.W, p.H)
	for ch := range r.u {
		lo, hi, u := p.Lo[ch], p.Hi[ch], r.u[ch]
		for i, v := range up[ch] {
			u[i] = min(max(v, lo[i]), hi[i])
		}
	}
	for _, st := range [][][]float32{r.m, r.v} {
		for _, pl := range st {
			clear(pl)
		}
	}
	return nil
}

// Err implements Restorer: the CPU does not fail.
func (r *CPURestorer) Err() error { return nil }

// Close implements Restorer.
func (r *CPURestorer) Close() {}

// Bounds is the interval of values the cell of stored value t holds, the
// cell Residual measures from, within [0, 1].
func (c Cells) Bounds(t float64) (lo, hi float64) {
	k := c.level(t)
	lo, hi = (k-c.C)/c.S, (k+1-c.C)/c.S
	if k <= c.Kb {
		lo = 0
	}
	if k >= c.Kt {
		hi = 1
	}
	return max(0, lo), min(1, hi)
}
