//go:build linux && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/quantfit/quantfit/kernels"
)

// lookData is n random samples, quantized by posterize at b = 7 (cells as
// intervals, open at the ends) or, without, plain targets.
func lookData(r *rand.Rand, n, channels int, quantized bool) *kernels.LookData {
	d := &kernels.LookData{N: n, Channels: channels}
	cells := kernels.NewCells(kernels.Posterize, 7, 255, false)
	for c := range 3 {
		d.X[c] = make([]float32, n)
		for i := range n {
			// 8-bit values, so that curves' knots are hit exactly, and
			// some beyond [0, 1] for the matrix's inputs
			d.X[c][i] = float32(r.IntN(256)) / 255
		}
	}
	for c := range channels {
		d.Lo[c], d.Hi[c] = make([]float32, n), make([]float32, n)
		for i := range n {
			y := math.Pow(float64(d.X[c][i]), 0.8)
			if !quantized {
				d.Lo[c][i], d.Hi[c][i] = float32(y), float32(y)
				continue
			}
			_, lo, hi := cells.Cell(kernels.Posterize.Apply(y, 7))
			d.Lo[c][i], d.Hi[c][i] = float32(lo), float32(hi)
		}
	}
	if quantized {
		d.Width = 1.0 / 6
	}
	return d
}

func randomCurves(r *rand.Rand, n, k int, lo, hi float64) []kernels.Curve {
	out := make([]kernels.Curve, n)
	for c := range out {
		out[c] = kernels.Curve{Lo: lo, Hi: hi, V: make([]float64, k)}
		for i := range out[c].V {
			out[c].V[i] = float64(i)/float64(k-1) + 0.05*r.NormFloat64()
		}
	}
	return out
}

func randomLattice(r *rand.Rand, n int) *kernels.Lattice {
	l := kernels.NewLattice(n)
	for i := range l.V {
		l.V[i] = 0.1 * r.NormFloat64()
	}
	return l
}

// near reports whether got is within tol·(1 + |want|) of want.
func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*(1+math.Abs(want)) }

// TestLookParity holds look.comp to kernels.CPULook: targets from every
// stack (and the first, the intervals' middles), the curve systems (plain,
// less a lattice, through a matrix) and the lattice's right sides (plain
// and less curves), on odd sample counts (a last workgroup cut short) and
// more samples than one flush of the shared counters.
func TestLookParity(t *testing.T) {
	d := device(t)
	r := rand.New(rand.NewPCG(3, 9))
	for _, tc := range []struct {
		n, channels int
		quantized   bool
	}{{1001, 1, false}, {9001, 3, true}, {70001, 3, false}} {
		data := lookData(r, tc.n, tc.channels, tc.quantized)
		cpu := kernels.NewCPULook(data)
		g, err := d.NewLook(data)
		if err != nil {
			t.Fatal(err)
		}
		curves := randomCurves(r, tc.channels, 256, 0, 1)
		stacks := map[string]*kernels.LookStack{"first": nil, "curves": {Curves: curves}}
		if tc.channels == 3 {
			stacks["lut"] = &kernels.LookStack{Curves: curves, Lattice: randomLattice(r, 5)}
			stacks["matrix"] = &kernels.LookStack{Matrix: [][4]float64{{0.9, 0.1, 0, 0.02}, {0.1, 0.8, 0.1, 0}, {0, -0.1, 1.1, 0.01}},
				Post: randomCurves(r, 3, 512, -0.2, 1.2)}
		}
		for name, st := range stacks {
			cpu.Targets(st)
			g.Targets(st)
			want, got := cpu.T(), g.T()
			for c := range tc.channels {
				for i := range tc.n {
					if !near(float64(got[c][i]), float64(want[c][i]), 1e-5) {
						t.Fatalf("n %d, %s targets: channel %d sample %d is %v; want %v", tc.n, name, c, i, got[c][i], want[c][i])
					}
				}
			}
		}
		// the systems, from the last targets
		type curveCase struct {
			name  string
			like  []kernels.Curve
			m     [][4]float64
			minus *kernels.Lattice
		}
		cases := []curveCase{{"curves", randomCurves(r, tc.channels, 256, 0, 1), nil, nil}}
		if tc.channels == 3 {
			cases = append(cases, curveCase{"less a lattice", randomCurves(r, 3, 256, 0, 1), nil, randomLattice(r, 17)},
				curveCase{"through a matrix", randomCurves(r, 3, 512, -0.3, 1.3), stacks["matrix"].Matrix, nil})
		}
		// a term differs by float's rounding of the knot's fraction (an
		// 8-bit value on a knot falls at the end of one interval in
		// double and the start of the next in float: up to 3e-5 of it),
		// and by the fixed point's rounding, 2⁻¹⁷
		tol := 5e-5
		for _, cc := range cases {
			tol := tol
			if cc.m != nil {
				// u = M·x + o in float: its knot fraction is off by up
				// to knots/range·2⁻²³·|u|, 4e-5 here
				tol = 2e-4
			}
			want, got := cpu.CurveSystems(cc.like, cc.m, cc.minus), g.CurveSystems(cc.like, cc.m, cc.minus)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			for c := range want {
				for _, v := range []struct {
					name      string
					got, want []float64
				}{{"Diag", got[c].Diag, want[c].Diag}, {"Off", got[c].Off, want[c].Off}, {"B", got[c].B, want[c].B}, {"Count", got[c].Count, want[c].Count}} {
					for k := range v.want {
						// each sample of the knot may differ by tol
						if math.Abs(v.got[k]-v.want[k]) > tol*(1+math.Abs(v.want[k])+want[c].Count[k]+want[c].Count[min(k+1, len(want[c].Count)-1)]) {
							t.Fatalf("n %d, %s: channel %d %s[%d] = %v; want %v", tc.n, cc.name, c, v.name, k, v.got[k], v.want[k])
						}
					}
				}
			}
		}
		if tc.channels == 3 {
			for _, size := range []int{17, 33} {
				for _, minus := range [][]kernels.Curve{nil, randomCurves(r, 3, 256, 0, 1)} {
					want, got := cpu.LatticeRHS(size, minus), g.LatticeRHS(size, minus)
					if err := g.Err(); err != nil {
						t.Fatal(err)
					}
					// each term is rounded to 2⁻¹⁷: count them
					terms := make([]float64, len(want))
					lat := &kernels.Lattice{N: size}
					var idx [8]int32
					var w [8]float64
					for i := range tc.n {
						lat.Corners(float64(data.X[0][i]), float64(data.X[1][i]), float64(data.X[2][i]), &idx, &w)
						for k := range 8 {
							for c := range 3 {
								terms[3*int(idx[k])+c]++
							}
						}
					}
					for j := range want {
						if math.Abs(got[j]-want[j]) > 1e-5*(1+math.Abs(want[j])+terms[j]) {
							t.Fatalf("n %d, %d³ lattice (less curves: %v): value %d = %v; want %v", tc.n, size, minus != nil, j, got[j], want[j])
						}
					}
				}
			}
		}
		g.Close()
	}
}
