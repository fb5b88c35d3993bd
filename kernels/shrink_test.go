package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// shrinkPlain is ShrinkDCT's plain form, in float64 with the full 8×8
// transform matrix: the specification ShrinkDCT must equal.
func shrinkPlain(src []float32, w, h int, tau float64, stride int) []float64 {
	num, den := make([]float64, w*h), make([]float64, w*h)
	for _, oy := range ShrinkOrigins(h, stride) {
		for _, ox := range ShrinkOrigins(w, stride) {
			var b, c [8][8]float64
			for i := range 8 {
				for j := range 8 {
					b[i][j] = float64(src[min(h-1, max(0, oy+i))*w+min(w-1, max(0, ox+j))])
				}
			}
			for k := range 8 {
				for l := range 8 {
					for i := range 8 {
						for j := range 8 {
							c[k][l] += float64(dct8[k][i]) * float64(dct8[l][j]) * b[i][j]
						}
					}
				}
			}
			kept := 0
			for k := range 8 {
				for l := range 8 {
					if k|l != 0 && math.Abs(c[k][l]) < tau {
						c[k][l] = 0
					} else {
						kept++
					}
				}
			}
			for i := range 8 {
				for j := range 8 {
					y, x := oy+i, ox+j
					if y < 0 || y >= h || x < 0 || x >= w {
						continue
					}
					v := 0.0
					for k := range 8 {
						for l := range 8 {
							v += float64(dct8[k][i]) * float64(dct8[l][j]) * c[k][l]
						}
					}
					num[y*w+x] += v / float64(kept)
					den[y*w+x] += 1 / float64(kept)
				}
			}
		}
	}
	for i := range num {
		num[i] /= den[i]
	}
	return num
}

// TestShrinkDCTIsPlain: the fast form equals the plain one on sides that
// are not multiples of the block or the stride, at strides 1, 2 and 4.
func TestShrinkDCTIsPlain(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const w, h = 37, 21
	src := make([]float32, w*h)
	for i := range src {
		x, y := float64(i%w), float64(i/w)
		src[i] = float32(0.5 + 0.3*math.Sin(x/5)*math.Cos(y/7) + 0.05*rng.NormFloat64())
	}
	for _, stride := range []int{1, 2, 4} {
		got := make([]float32, w*h)
		ShrinkDCT(got, src, w, h, 0.08, stride)
		want := shrinkPlain(src, w, h, 0.08, stride)
		worst := 0.0
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i])-want[i]))
		}
		if worst > 2e-5 {
			t.Errorf("stride %d: fast and plain forms differ by up to %.3g", stride, worst)
		}
	}
}

// TestShrinkDCTRemovesSmallNoise: noise well under the threshold on a
// smooth field is taken away, and a constant stays exactly constant.
func TestShrinkDCTRemovesSmallNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const w, h = 64, 48
	clean, noisy, flat := make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
	for i := range clean {
		x, y := float64(i%w), float64(i/w)
		clean[i] = float32(0.3 + 0.4*x/w + 0.1*y/h)
		noisy[i] = clean[i] + float32(0.01*rng.NormFloat64())
		flat[i] = 0.25
	}
	rms := func(a []float32) float64 {
		s := 0.0
		for i := range a {
			d := float64(a[i] - clean[i])
			s += d * d
		}
		return math.Sqrt(s / float64(len(a)))
	}
	out := make([]float32, w*h)
	ShrinkDCT(out, noisy, w, h, 0.04, 2)
	if before, after := rms(noisy), rms(out); after > before/3 {
		t.Errorf("noise rms %.4f → %.4f; want a third or less", before, after)
	}
	ShrinkDCT(out, flat, w, h, 0.04, 2)
	for i, v := range out {
		if math.Abs(float64(v)-0.25) > 1e-6 {
			t.Fatalf("constant 0.25 became %g at %d", v, i)
		}
	}
}

// TestOpponentInverts: the opponent transform and its transpose (the way
// back ShrinkPass takes) undo each other.
func TestOpponentInverts(t *testing.T) {
	src := [][]float32{{0.1, 0.9, 0.5}, {0.2, 0.3, 0.5}, {0.7, 0.0, 0.5}}
	work := [][]float32{make([]float32, 3), make([]float32, 3), make([]float32, 3)}
	ToOpponent(work, src)
	if math.Abs(float64(work[1][2])) > 1e-7 || math.Abs(float64(work[2][2])) > 1e-7 {
		t.Errorf("a grey pixel has chroma %g, %g", work[1][2], work[2][2])
	}
	for i := range work[0] {
		a, b, c := work[0][i], work[1][i], work[2][i]
		for r := range 3 {
			work[r][i] = Opponent[0][r]*a + Opponent[1][r]*b + Opponent[2][r]*c
		}
	}
	for c := range src {
		for i := range src[c] {
			if math.Abs(float64(work[c][i]-src[c][i])) > 1e-6 {
				t.Errorf("channel %d sample %d: %g back as %g", c, i, src[c][i], work[c][i])
			}
		}
	}
}

func BenchmarkShrinkDCT(b *testing.B) {
	const w, h = 2048, 2048
	src, dst := make([]float32, w*h), make([]float32, w*h)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = float32(i%w)/w + float32(0.02*rng.NormFloat64())
	}
	b.SetBytes(4 * w * h)
	for b.Loop() {
		ShrinkDCT(dst, src, w, h, 0.03, 4)
	}
}
