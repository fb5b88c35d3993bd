package kernels

// Groups16 gathers 16-bit (x, t) pairs into the groups of Weighted in one
// pass over the pixels, without sorting samples: the 16-bit counterpart of
// Histogram, whose 2^32 cells would not fit in memory. 8-bit values join
// as level 257·k, whose float32 value (Level16) is exactly Level8(k).
//
// Under MSE it keeps, per original level, the count, mean and sum of
// squared deviations of the targets (Welford's update, stable however many
// pixels share a level): at most 65536 groups. Under other losses it keeps
// the (x, t) keys and counts the distinct pairs at the end by a radix sort:
// O(n).
type Groups16 struct {
	mse  bool
	n    []uint64
	mean []float64
	m2   []float64
	keys []uint32
}

// NewGroups16 returns empty groups for the given loss.
func NewGroups16(loss LossKind) *Groups16 {
	g := &Groups16{mse: loss == MSE}
	if g.mse {
		g.n, g.mean, g.m2 = make([]uint64, 1<<16), make([]float64, 1<<16), make([]float64, 1<<16)
	}
	return g
}

// Level16 is the value of 16-bit level k, as every mode reads it.
func Level16(k int) float32 { return float32(k) / 65535 }

// Add16 adds the pairs (x[i], t[i]).
func (g *Groups16) Add16(x, t []uint16) {
	t = t[:len(x)]
	if !g.mse {
		for i, xv := range x {
			g.keys = append(g.keys, uint32(xv)<<16|uint32(t[i]))
		}
		return
	}
	for i, xv := range x {
		g.add(int(xv), float64(Level16(int(t[i]))))
	}
}

// Add8 adds 8-bit pairs, as levels 257·x and 257·t.
func (g *Groups16) Add8(x, t []uint8) {
	t = t[:len(x)]
	if !g.mse {
		for i, xv := range x {
			g.keys = append(g.keys, 257*(uint32(xv)<<16|uint32(t[i])))
		}
		return
	}
	for i, xv := range x {
		g.add(257*int(xv), float64(Level8(int(t[i]))))
	}
}

func (g *Groups16) add(x int, t float64) {
	g.n[x]++
	d := t - g.mean[x]
	g.mean[x] += d / float64(g.n[x])
	g.m2[x] += d * (t - g.mean[x])
}

// Len is the number of pairs added.
func (g *Groups16) Len() int {
	if !g.mse {
		return len(g.keys)
	}
	n := 0
	for _, c := range g.n {
		n += int(c)
	}
	return n
}

// Weighted returns the groups in increasing x (then t): what Group returns
// for the same pairs as samples, to rounding.
func (g *Groups16) Weighted() Weighted {
	var w Weighted
	if g.mse {
		w.MSEOnly = true
		for x, c := range g.n {
			if c == 0 {
				continue
			}
			w.X = append(w.X, float64(Level16(x)))
			w.T = append(w.T, g.mean[x])
			w.W = append(w.W, float64(c))
			w.Offset += g.m2[x]
		}
		return w
	}
	keys := radixSort(g.keys)
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		w.X = append(w.X, float64(Level16(int(keys[i]>>16))))
		w.T = append(w.T, float64(Level16(int(keys[i]&0xffff))))
		w.W = append(w.W, float64(j-i))
		i = j
	}
	return w
}

// radixSort sorts keys by two stable counting passes of 16 bits, in a new
// slice.
func radixSort(keys []uint32) []uint32 {
	a, b := append([]uint32(nil), keys...), make([]uint32, len(keys))
	for shift := 0; shift < 32; shift += 16 {
		var count [1<<16 + 1]int
		for _, k := range a {
			count[(k>>shift)&0xffff+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, k := range a {
			d := (k >> shift) & 0xffff
			b[count[d]] = k
			count[d]++
		}
		a, b = b, a
	}
	return a
}
