package kernels

import "math"

// EDT is the squared Euclidean distance of every sample to the nearest set
// sample of mask (+Inf with none), by Felzenszwalb and Huttenlocher's two
// passes of lower envelopes of parabolas. The lines of a pass are
// independent: they run in parallel, each with its own envelope.
func EDT(mask []bool, w, h int) []float64 {
	inf := math.Inf(1)
	d := make([]float64, w*h)
	for i, m := range mask {
		if m {
			d[i] = 0
		} else {
			d[i] = inf
		}
	}
	line := func(get func(int) float64, set func(int, float64), n int) {
		f := make([]float64, n)
		for i := range n {
			f[i] = get(i)
		}
		v := make([]int, n)
		z := make([]float64, n+1)
		k := -1
		for q := range n {
			if math.IsInf(f[q], 1) {
				continue
			}
			for k >= 0 {
				s := ((f[q] + float64(q*q)) - (f[v[k]] + float64(v[k]*v[k]))) / float64(2*q-2*v[k])
				if s <= z[k] {
					k--
					continue
				}
				k++
				v[k], z[k], z[k+1] = q, s, inf
				break
			}
			if k < 0 {
				k = 0
				v[0], z[0], z[1] = q, -inf, inf
			}
		}
		if k < 0 {
			for q := range n {
				set(q, inf)
			}
			return
		}
		j := 0
		for q := range n {
			for z[j+1] < float64(q) {
				j++
			}
			dq := float64(q - v[j])
			set(q, dq*dq+f[v[j]])
		}
	}
	Parallel(w, func(x0, x1 int) {
		for x := x0; x < x1; x++ {
			line(func(y int) float64 { return d[y*w+x] }, func(y int, v float64) { d[y*w+x] = v }, h)
		}
	})
	Parallel(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			line(func(x int) float64 { return d[y*w+x] }, func(x int, v float64) { d[y*w+x] = v }, w)
		}
	})
	return d
}
