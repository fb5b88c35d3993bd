package tiles

import (
	"image"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestChoose(t *testing.T) {
	sizes := []image.Point{{1000, 700}, {333, 1000}}
	// features: one common feature everywhere, a rare one in the second
	// image's last row of tiles
	features := func(tl Tile) []int32 {
		if tl.Image == 1 && tl.Max.Y == 1000 {
			return []int32{0, 1}
		}
		return []int32{0}
	}
	p := Choose(sizes, Settings{Budget: 100_000, Seed: 3}, features)
	if p.Total != 1000*700+333*1000 {
		t.Errorf("total %d", p.Total)
	}
	if n := Pixels(p.Train); n > 100_000 || n < 90_000 {
		t.Errorf("training tiles hold %d pixels; want at most the budget, 100000, and near it", n)
	}
	if n := Pixels(p.Valid); n == 0 || n > 20_000+64*64 {
		t.Errorf("held-out tiles hold %d pixels; want some, about a fifth of the budget", n)
	}
	seen := map[Tile]bool{}
	rare := false
	for _, tl := range append(append([]Tile(nil), p.Train...), p.Valid...) {
		if seen[tl] {
			t.Fatalf("tile %v twice", tl)
		}
		seen[tl] = true
		if tl.Max.X > sizes[tl.Image].X || tl.Max.Y > sizes[tl.Image].Y || tl.Empty() {
			t.Fatalf("tile %v outside image %d", tl, tl.Image)
		}
	}
	for _, tl := range p.Train {
		rare = rare || len(features(tl)) == 2
	}
	if !rare {
		t.Error("no training tile shows the rare feature")
	}
	// small images are read whole
	p = Choose([]image.Point{{100, 100}}, Settings{}, features)
	if Pixels(p.Train)+Pixels(p.Valid) != 100*100 || len(p.Valid) == 0 {
		t.Errorf("a small image: %d training and %d held-out pixels; want all 10000, some held out", Pixels(p.Train), Pixels(p.Valid))
	}
}

// TestChooseIgnoresFeatureOrder: the plan does not hang on the order in
// which features come (callers collect them from maps), so a fit on tiles
// gives the same answer on every run.
func TestChooseIgnoresFeatureOrder(t *testing.T) {
	sizes := []image.Point{{1200, 900}}
	r := rand.New(rand.NewPCG(5, 6))
	features := func(shuffle bool) func(Tile) []int32 {
		return func(tl Tile) []int32 {
			// many features with weights that sum unevenly, in either order
			f := []int32{int32(tl.Min.X / 64 % 7), 10 + int32(tl.Min.Y/64%5), 20 + int32((tl.Min.X+tl.Min.Y)/64%11), 40, 41, 42}
			if shuffle {
				r.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
			}
			return f
		}
	}
	want := Choose(sizes, Settings{Budget: 200_000}, features(false))
	for range 5 {
		got := Choose(sizes, Settings{Budget: 200_000}, features(true))
		if !slices.Equal(got.Train, want.Train) {
			t.Fatalf("the training tiles change with the features' order:\n%v\n%v", got.Train, want.Train)
		}
	}
}
