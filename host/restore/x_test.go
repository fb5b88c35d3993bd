package restore_test

import (
	"math"
	"testing"

	"github.com/quantfit/quantfit/bench"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

type cached struct {
	restore.CPU
	got []kernels.Contours
	k   int
}

func (c *cached) Contours(level, band []int32, w, h int) (kernels.Contours, error) {
	if c.k < len(c.got) {
		c.k++
		return c.got[c.k-1], nil
	}
	ct, _ := restore.CPU{}.Contours(level, band, w, h)
	c.got = append(c.got, ct)
	c.k++
	return ct, nil
}

func BenchmarkXPrep(b *testing.B) {
	q, _ := bench.RestoreImage(2048)
	be := &cached{}
	e := kernels.Energy{Kind: kernels.EdgeAware, Fidelity: restore.DefaultFidelity}
	restore.Dequantization(q, kernels.Midrise, 9.64, e, be)
	b.ResetTimer()
	for range b.N {
		be.k = 0
		if _, _, err := restore.Dequantization(q, kernels.Midrise, 9.64, e, be); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkXFind(b *testing.B) {
	q, _ := bench.RestoreImage(2048)
	for range b.N {
		restore.FindQuantizer(q, nil, math.NaN(), nil)
	}
}

func BenchmarkXLabels(b *testing.B) {
	q, _ := bench.RestoreImage(2048)
	lv := make([]int32, q.W*q.H)
	for i, v := range q.Pix8[0] {
		lv[i] = int32(v)
	}
	b.ResetTimer()
	for range b.N {
		kernels.BandLabels(lv, q.W, q.H)
	}
}
