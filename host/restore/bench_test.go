package restore_test

import (
	"testing"

	"github.com/quantfit/quantfit/bench"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

// BenchmarkDequantization builds a 4-megapixel RGB problem (the bench's
// quantized photograph): the cells' bounds, the pair weights and the data
// weights, the host's work before the first step.
func BenchmarkDequantization(b *testing.B) {
	q, err := bench.RestoreImage(2048)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, err := restore.Dequantization(q, kernels.Midrise, 9.64, kernels.Energy{Kind: kernels.EdgeAware, Fidelity: restore.DefaultFidelity}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
