package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/kernels"
)

// Blocks decides whether an estimate ranks its candidates by block means.
type Blocks int

const (
	// BlocksAuto ranks by block means when a filtered image was decoded
	// from a lossy codec (JPEG, lossy WebP).
	BlocksAuto Blocks = iota
	// BlocksOn always ranks by block means (images only).
	BlocksOn
	// BlocksOff never does.
	BlocksOff
)

var blocksNames = []string{"auto", "on", "off"}

func (b Blocks) String() string {
	if b < 0 || int(b) >= len(blocksNames) {
		return fmt.Sprintf("Blocks(%d)", int(b))
	}
	return blocksNames[b]
}

// ParseBlocks parses auto, on or off.
func ParseBlocks(s string) (Blocks, error) {
	for i, n := range blocksNames {
		if strings.EqualFold(s, n) {
			return Blocks(i), nil
		}
	}
	return 0, fieldErr("Blocks", s, "unknown choice; want auto, on or off")
}

// The block loss: why it exists.
//
// A JPEG keeps each 8×8 block's mean luma almost exactly (its DC
// coefficient, quantized to a fraction of a level at usual qualities) and
// each 16×16 block's mean chroma under 4:2:0 subsampling, while it blurs
// edges, rings and mixes the colours of neighbouring pixels. On a busy
// quantized photo those errors put most target values a level or more off
// (measured: 84% of channel values beyond 1/255 at q75 4:2:0), and the
// per-pixel loss then prefers a finer staircase, often near 2b, that fits
// the blurred edges. The block means see none of that: at the true b their
// error is about 1e-6, at 2b ten times more. They are too coarse to place b
// finely and cost a pass over the pixels per b, so they rank the per-pixel
// loss's basins and the per-pixel loss polishes the winner.

// component is a weighted sum of the data's channels compared by block
// means of side×side pixels: luma 8 (a JPEG block), chroma 16 (a 4:2:0
// JPEG block); one channel of a colour image, which holds chroma, 16.
type component struct {
	w    [3]float64
	side int
}

// tileSide is the tile the block loss reads: one 4:2:0 JPEG macroblock.
const tileSide = 16

// maxTiles bounds the tiles read per evaluation: evenly spaced over the
// images beyond it (1024 tiles, 262144 pixels, hold 4096 luma blocks:
// enough to rank basins whose block losses differ by a factor).
const maxTiles = 1024

// sampleTiles is the sample on which every basin is ranked first.
const sampleTiles = 128

// blockLoss is the mean squared difference of block means of the
// components between the predicted and the filtered images, over the
// blocks of a set of tiles.
type blockLoss struct {
	cfg   kernels.Config
	comps []component
	nch   int
	// x holds the tiles' original levels, 16-bit (8-bit level k as 257k),
	// tile by tile, channel by channel, row-major within the tile
	x []uint16
	// means holds the filtered images' block means, tile by tile, then
	// component by component, then block by block
	means []float64
	// tab maps a 16-bit level to its stored output at the b evaluated;
	// with only 8-bit originals only its entries 257k are filled
	tab   []float64
	only8 bool
	y     []float64
}

// newBlockLoss returns the block loss of the channels of set, or nil when
// the images hold no whole tile.
func newBlockLoss(set *imageset.Set, channels []int, cfg kernels.Config) *blockLoss {
	bl := &blockLoss{cfg: cfg, nch: len(channels), only8: true, tab: make([]float64, 1<<16),
		y: make([]float64, len(channels)*tileSide*tileSide)}
	colour := set.Channels() == 3
	switch {
	case colour && len(channels) == 3:
		// JPEG's YCbCr (JFIF, full range)
		bl.comps = []component{
			{[3]float64{0.299, 0.587, 0.114}, 8},
			{[3]float64{-0.168736, -0.331264, 0.5}, 16},
			{[3]float64{0.5, -0.418688, -0.081312}, 16},
		}
	case colour:
		for i := range channels {
			var w [3]float64
			w[i] = 1 / float64(len(channels))
			bl.comps = append(bl.comps, component{w, 16})
		}
	default:
		bl.comps = []component{{[3]float64{1}, 8}}
	}
	each := func(f func(p imageset.Pair, tx, ty int)) {
		for _, p := range set.Pairs {
			for ty := 0; ty < p.Orig.H/tileSide; ty++ {
				for tx := 0; tx < p.Orig.W/tileSide; tx++ {
					f(p, tx, ty)
				}
			}
		}
	}
	total := 0
	each(func(imageset.Pair, int, int) { total++ })
	for _, p := range set.Pairs {
		bl.only8 = bl.only8 && p.Orig.Pix16 == nil
	}
	if total == 0 {
		return nil
	}
	stride := (total + maxTiles - 1) / maxTiles
	k := 0
	t := make([]float64, len(bl.y))
	each(func(p imageset.Pair, tx, ty int) {
		if k++; (k-1)%stride != 0 {
			return
		}
		o, q := p.Orig, p.Quant
		for ch, c := range channels {
			c = min(c, o.Channels-1)
			for y := range tileSide {
				i := (ty*tileSide+y)*o.W + tx*tileSide
				for x := range tileSide {
					var v uint16
					if o.Pix16 != nil {
						v = o.Pix16[c][i+x]
					} else {
						v = 257 * uint16(o.Pix8[c][i+x])
					}
					bl.x = append(bl.x, v)
					t[(ch*tileSide+y)*tileSide+x] = float64(q.Value(channels[ch], i+x))
				}
			}
		}
		bl.means = bl.tileMeans(bl.means, t)
	})
	bl.shuffle()
	return bl
}

// shuffle puts the tiles in a random order (fixed seed), so that the
// first n of them are a sample of the images for any n.
func (bl *blockLoss) shuffle() {
	per, pm := len(bl.y), len(bl.means)/(len(bl.x)/len(bl.y))
	n := len(bl.x) / per
	x, means := make([]uint16, len(bl.x)), make([]float64, len(bl.means))
	for i, j := range rand.New(rand.NewPCG(0xb10c, 0x5)).Perm(n) {
		copy(x[i*per:(i+1)*per], bl.x[j*per:])
		copy(means[i*pm:(i+1)*pm], bl.means[j*pm:])
	}
	bl.x, bl.means = x, means
}

// tiles is the number of tiles held.
func (bl *blockLoss) tiles() int { return len(bl.x) / len(bl.y) }

// tileMeans appends the block means of the components of one tile whose
// channel planes are v (nch planes of tileSide² values).
func (bl *blockLoss) tileMeans(out, v []float64) []float64 {
	const n = tileSide * tileSide
	for _, c := range bl.comps {
		per := tileSide / c.side
		inv := 1 / float64(c.side*c.side)
		for by := range per {
			for bx := range per {
				s := 0.0
				for ch := range bl.nch {
					if c.w[ch] == 0 {
						continue
					}
					pl := v[ch*n:]
					cs := 0.0
					for y := by * c.side; y < (by+1)*c.side; y++ {
						for _, p := range pl[y*tileSide+bx*c.side:][:c.side] {
							cs += p
						}
					}
					s += c.w[ch] * cs
				}
				out = append(out, s*inv)
			}
		}
	}
	return out
}

// eval returns the block loss at b over the first n tiles.
func (bl *blockLoss) eval(b float64, n int) float64 {
	if bl.only8 {
		for k := 0; k < 1<<16; k += 257 {
			bl.tab[k] = bl.cfg.Exact(float64(kernels.Level16(k)), b)
		}
	} else {
		for k := range bl.tab {
			bl.tab[k] = bl.cfg.Exact(float64(kernels.Level16(k)), b)
		}
	}
	per := len(bl.y)
	var m []float64
	sum := 0.0
	nm := 0
	n = min(n, bl.tiles())
	for t := range n {
		for i, v := range bl.x[t*per : (t+1)*per] {
			bl.y[i] = bl.tab[v]
		}
		m = bl.tileMeans(m[:0], bl.y)
		for j, v := range m {
			d := v - bl.means[nm+j]
			sum += d * d
		}
		nm += len(m)
	}
	return sum / float64(nm)
}

// BlockClear is the factor by which a basin's block loss must exceed the
// answer's for the answer to be clear of it; another basin replaces the
// exact loss's answer only when this much better. Nearby basins differ by
// a few percent (measured on q75 JPEG: 1.03), a multiple of b by 2 to 100
// times.
const BlockClear = 1.4

// rankByBlocks chooses among the basins of the exact loss (and the
// multiples and fractions of b that a lossy target makes plausible) the
// one whose block loss is least, polishes it with the exact loss, and
// returns it with its block loss and the best rival's (another basin).
func (o *objective) rankByBlocks(bl *blockLoss, b float64) (best, loss float64, rival candidate) {
	bs, ls := o.scanGrid(o.coarsePoints())
	h := bs[1] - bs[0]
	cands := []float64{b}
	for p := 1; p <= 6; p++ {
		for q := 1; q <= 6; q++ {
			if c := b * float64(p) / float64(q); p != q && c >= o.s.Range.Min && c <= o.s.Range.Max {
				cands = append(cands, c)
			}
		}
	}
	bas := basins(ls)
	for _, i := range bas {
		cands = append(cands, bs[i])
	}
	// every candidate on a sample of tiles, the best few on all of them
	var ranked []candidate
	for _, c := range cands {
		ranked = append(ranked, candidate{c, bl.eval(c, sampleTiles)})
	}
	sort.SliceStable(ranked[1:], func(i, j int) bool { return ranked[1+i].loss < ranked[1+j].loss })
	sampled := ranked
	ranked = append([]candidate(nil), ranked[:min(len(ranked), 16)]...)
	for i := range ranked {
		ranked[i].loss = bl.eval(ranked[i].b, maxTiles)
	}
	win := ranked[0]
	for _, c := range ranked[1:] {
		if c.loss < win.loss {
			win = c
		}
	}
	best, loss = b, ranked[0].loss
	// the block means place b coarsely: another basin wins only by a
	// clear factor
	if math.Abs(win.b-b) > 2*h && BlockClear*win.loss < loss {
		// the exact loss places b finely near the winner, unless the
		// block means clearly refuse its choice
		w := math.Max(h, 0.02*win.b)
		p := o.polishAround(win.b, win.b-w, win.b+w)
		if l := bl.eval(p.b, maxTiles); l <= BlockClear*win.loss {
			best, loss = p.b, l
		} else {
			best, loss = win.b, win.loss
		}
	}
	// a rival is another answer, not a neighbour of this one that the
	// coarse block means cannot tell from it: the best of the sample
	for _, c := range sampled {
		if math.Abs(c.b-best) > math.Max(2*h, 0.01*best) {
			rival = candidate{c.b, bl.eval(c.b, maxTiles)}
			break
		}
	}
	return best, loss, rival
}

// blockLoss is the block loss of the data when the settings ask for one:
// images whose filtered side is lossy, or Blocks on.
func (o *objective) blockLoss() *blockLoss {
	d := o.data
	if d.set == nil || o.s.Blocks == BlocksOff || (o.s.Blocks == BlocksAuto && !d.set.Lossy()) {
		return nil
	}
	return newBlockLoss(d.set, d.channels, o.s.config(o.levels))
}
