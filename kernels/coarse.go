package kernels

// Coarse returns w's groups merged on a grid of bins equal steps of x in
// [0,1]: a merged group sits at its members' weighted mean x; under MSE
// (MSEOnly) it holds their weighted mean target, the deviations joining
// Offset (Chan's pairwise update), otherwise one merged group per distinct
// target. w must be in increasing x, as every constructor here returns it;
// the merged groups are in increasing bin.
//
// The result is a summary, not the data: y and its surrogate derivative at
// the mean x differ from their means over the members only in the bins
// that straddle a level boundary, so a surrogate gradient on it guides a
// descent at a fraction of the cost while exact losses must still read w.
func (w *Weighted) Coarse(bins int) *Weighted {
	c := &Weighted{Offset: w.Offset, MSEOnly: w.MSEOnly}
	fb := float64(bins)
	bin := func(x float64) int { return min(int(x*fb), bins-1) }
	if w.MSEOnly {
		cur := -1
		for i, x := range w.X {
			n := len(c.X) - 1
			if b := bin(x); b != cur {
				cur = b
				c.X, c.T, c.W = append(c.X, x), append(c.T, w.T[i]), append(c.W, w.W[i])
				continue
			}
			// merge (x, t, wt) into group n, whose mean x stays in the bin
			wt, tot := w.W[i], c.W[n]+w.W[i]
			d := w.T[i] - c.T[n]
			c.Offset += d * d * c.W[n] * wt / tot
			c.T[n] += d * wt / tot
			c.X[n] += (x - c.X[n]) * wt / tot
			c.W[n] = tot
		}
		return c
	}
	at := map[float64]int{}
	cur := -1
	for i, x := range w.X {
		if b := bin(x); b != cur {
			cur = b
			clear(at)
		}
		j, ok := at[w.T[i]]
		if !ok {
			at[w.T[i]] = len(c.X)
			c.X, c.T, c.W = append(c.X, x), append(c.T, w.T[i]), append(c.W, w.W[i])
			continue
		}
		tot := c.W[j] + w.W[i]
		c.X[j] += (x - c.X[j]) * w.W[i] / tot
		c.W[j] = tot
	}
	return c
}
