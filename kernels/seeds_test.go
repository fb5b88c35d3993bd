package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestJumpSeeds holds the flooding to the exact searches by brute force,
// on levels of blobs with noise: every seed is of the right kind, found
// wherever one exists, and the nearest for nearly every sample (jump
// flooding's known misses are rare and near).
func TestJumpSeeds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const w, h = 71, 53
	level := make([]int32, w*h)
	for y := range h {
		for x := range w {
			dx, dy := float64(x-20), float64(y-30)
			v := int32((dx*dx+2*dy*dy)/150) % 7
			if r.Float64() < 0.05 {
				v += int32(r.IntN(5)) - 2
			}
			level[y*w+x] = v
		}
	}
	// a corridor one sample wide winding down the right quarter, level 9
	// in 10 with an 8 at its far end: no jump stays inside it
	for y := range h {
		for x := 54; x < w; x++ {
			level[y*w+x] = 10
			if y%4 == 1 || y%8 == 3 && x == 54 || y%8 == 7 && x == w-1 {
				level[y*w+x] = 9
			}
		}
	}
	level[(h-3)*w+54] = 8
	band := BandLabels(level, w, h)
	// the bands' labels: equal exactly within 4-connected equal levels, and
	// each the least index of its band
	for i := range level {
		if band[i] > int32(i) || band[band[i]] != band[i] {
			t.Fatalf("sample %d labelled %d, which is labelled %d", i, band[i], band[band[i]])
		}
		x, y := i%w, i/w
		for _, j := range []int{i + 1, i + w} {
			if (j == i+1 && x+1 < w || j == i+w && y+1 < h) && (level[i] == level[j]) != (band[i] == band[j]) {
				t.Fatalf("samples %d and %d: levels %d and %d, labels %d and %d", i, j, level[i], level[j], band[i], band[j])
			}
		}
	}
	// touches[b][l]: the samples of level l that touch band b
	touches := map[int32][]int32{}
	for i := range level {
		x, y := i%w, i/w
		jumpNeighbours4(x, y, w, h, func(j int) {
			if band[j] != band[i] {
				touches[band[j]] = append(touches[band[j]], int32(i))
			}
		})
	}
	sd := JumpSeeds(level, band, w, h)
	check := func(name string, got []int32, ok func(i int, s int32) bool, cands func(i int) []int32) {
		missed := 0
		for i := range got {
			x, y := i%w, i/w
			best := int32(-1)
			for _, s := range cands(i) {
				if ok(i, s) && nearer(x, y, s, best, w) {
					best = s
				}
			}
			switch {
			case (got[i] < 0) != (best < 0):
				t.Fatalf("%s of sample %d: %d, the exact search %d", name, i, got[i], best)
			case got[i] >= 0 && !ok(i, got[i]):
				t.Fatalf("%s of sample %d: %d is no such seed", name, i, got[i])
			case got[i] != best:
				missed++
			}
		}
		if missed > len(got)/100 {
			t.Errorf("%s: %d of %d samples not the nearest", name, missed, len(got))
		}
		t.Logf("%s: %d of %d samples not the nearest", name, missed, len(got))
	}
	all := make([]int32, w*h)
	for i := range all {
		all[i] = int32(i)
	}
	for _, dir := range []int32{-1, 1} {
		check("band", map[int32][]int32{-1: sd.Lower, 1: sd.Upper}[dir],
			func(i int, s int32) bool { return level[s] == level[i]+dir }, func(i int) []int32 { return touches[band[i]] })
		check("beyond", map[int32][]int32{-1: sd.Below, 1: sd.Above}[dir],
			func(i int, s int32) bool { return (level[s]-level[i])*dir >= 1 }, func(int) []int32 { return all })
	}
}

// TestBandLabels holds the strips' labelling to a flood fill of each band
// from its least sample, on planes tall enough to be cut in strips
// (bands of 3 levels at random cross every seam, and a spiral band down
// the whole plane), on 1 to 7 workers (go test -cpu).
func TestBandLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const w, h = 61, 700
	for _, kind := range []string{"noise", "stripes"} {
		level := make([]int32, w*h)
		for i := range level {
			if kind == "noise" {
				level[i] = int32(r.IntN(3))
			} else if x, y := i%w, i/w; y%4 == 1 || y%8 == 3 && x == 0 || y%8 == 7 && x == w-1 {
				level[i] = 1
			}
		}
		got := BandLabels(level, w, h)
		want := make([]int32, w*h)
		for i := range want {
			want[i] = -1
		}
		for i := range want {
			if want[i] >= 0 {
				continue
			}
			stack := []int{i}
			want[i] = int32(i)
			for len(stack) > 0 {
				j := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				jumpNeighbours4(j%w, j/w, w, h, func(k int) {
					if want[k] < 0 && level[k] == level[j] {
						want[k] = int32(i)
						stack = append(stack, k)
					}
				})
			}
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: sample %d labelled %d, its band's least sample is %d", kind, i, got[i], want[i])
			}
		}
	}
}
