package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGroups16MatchesGroup: the one-pass groups of 16-bit and 8-bit pairs
// are the sorted samples' groups, under every loss.
func TestGroups16MatchesGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	n := 50000
	x16, t16 := make([]uint16, n), make([]uint16, n)
	x8, t8 := make([]uint8, n/5), make([]uint8, n/5)
	var s Samples
	for i := range x16 {
		x16[i] = uint16(r.IntN(3000) * 21) // repeating levels
		b := 5 + 25*r.Float64()
		t16[i] = uint16(math.Round(Midrise.Apply(float64(Level16(int(x16[i]))), b) * 65535))
		s.X, s.T = append(s.X, Level16(int(x16[i]))), append(s.T, Level16(int(t16[i])))
	}
	for i := range x8 {
		x8[i], t8[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
		s.X, s.T = append(s.X, Level8(int(x8[i]))), append(s.T, Level8(int(t8[i])))
	}
	for _, loss := range []LossKind{MSE, L1, Huber} {
		g := NewGroups16(loss)
		g.Add16(x16, t16)
		g.Add8(x8, t8)
		if g.Len() != s.Len() {
			t.Fatalf("%v: %d pairs, want %d", loss, g.Len(), s.Len())
		}
		got, want := g.Weighted(), Group(s, loss)
		if got.Len() != want.Len() || got.MSEOnly != want.MSEOnly {
			t.Fatalf("%v: %d groups (mse only %v), want %d (%v)", loss, got.Len(), got.MSEOnly, want.Len(), want.MSEOnly)
		}
		for i := range want.X {
			if got.X[i] != want.X[i] || math.Abs(got.T[i]-want.T[i]) > 1e-12 || got.W[i] != want.W[i] {
				t.Fatalf("%v group %d: (%v, %v, %v), want (%v, %v, %v)", loss, i, got.X[i], got.T[i], got.W[i], want.X[i], want.T[i], want.W[i])
			}
		}
		if math.Abs(got.Offset-want.Offset) > 1e-9*math.Max(1, want.Offset) {
			t.Errorf("%v: offset %v, want %v", loss, got.Offset, want.Offset)
		}
	}
}

func TestLevel16OfAn8BitLevel(t *testing.T) {
	for k := range 256 {
		if Level16(257*k) != Level8(k) {
			t.Fatalf("level %d: %v against %v", k, Level16(257*k), Level8(k))
		}
	}
}
