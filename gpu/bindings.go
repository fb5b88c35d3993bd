//go:build linux && cgo

package gpu

import (
	"fmt"

	"github.com/quantfit/quantfit/shaders"
)

// The shader storage binding points of every program, named once here and
// passed to the GLSL as defines (BIND_DATA0, ...).
const (
	bindData0   = 0 // x, or packed 8-bit pairs, or a histogram's input
	bindData1   = 1 // t, or the levels table, or the histogram's counts
	bindData2   = 2 // w of grouped data
	bindScales  = 3 // lossgrad.comp: one Scale per candidate
	bindParams  = 3 // stack.comp: the parameters
	bindTable   = 4 // a smooth surrogate's table
	bindEps     = 5 // the gaussian surrogate's samples
	bindPartial = 6 // per-workgroup partial sums
	bindResult  = 7 // the second stage's sums, read back

	// image.comp's
	bindIn   = 0 // the pass's input state (the original in a first pass)
	bindOut  = 1 // its output state
	bindAux  = 2 // the blur's scratch, or the targets
	bindTaps = 5 // the Gaussian mixes' taps and coefficients

	// restore.comp's, beside bindIn (u), bindOut (the next u), bindAux (the
	// stored image) and bindPartial
	bindLo = 3
	bindHi = 4
	bindWx = 5
	bindWy = 8
	bindM  = 9
	bindV  = 10
	bindDw = 11

	// look.comp's tables, beside bindIn (x), bindAux (the targets),
	// bindLo, bindHi, bindPartial and bindResult
	bindTables = 12

	// seeds.comp's: the levels, the bands' labels, the seeds a pass reads
	// (one buffer a tier) and those it writes
	bindLevel = 0
	bindBand  = 1
	bindSeed0 = 2
	bindSeed1 = 3
	bindSeed2 = 4
	bindNext0 = 5
	bindNext1 = 6
	bindNext2 = 7
	// a flag, set where a pass changed a seed
	bindChanged = 8

	// edt.comp's, beside bindLevel: the distances within columns, the rows'
	// envelopes (sites and where each starts) and the squared distances
	bindColumn = 2
	bindSites  = 3
	bindStarts = 4
	bindDist   = 5
)

var bindingDefines = []string{
	fmt.Sprintf("BIND_DATA0=%d", bindData0), fmt.Sprintf("BIND_DATA1=%d", bindData1),
	fmt.Sprintf("BIND_DATA2=%d", bindData2), fmt.Sprintf("BIND_SCALES=%d", bindScales),
	fmt.Sprintf("BIND_PARAMS=%d", bindParams), fmt.Sprintf("BIND_TABLE=%d", bindTable),
	fmt.Sprintf("BIND_EPS=%d", bindEps), fmt.Sprintf("BIND_PARTIAL=%d", bindPartial),
	fmt.Sprintf("BIND_RESULT=%d", bindResult),
	fmt.Sprintf("BIND_IN=%d", bindIn), fmt.Sprintf("BIND_OUT=%d", bindOut),
	fmt.Sprintf("BIND_AUX=%d", bindAux), fmt.Sprintf("BIND_TAPS=%d", bindTaps),
	fmt.Sprintf("BIND_LO=%d", bindLo), fmt.Sprintf("BIND_HI=%d", bindHi),
	fmt.Sprintf("BIND_WX=%d", bindWx), fmt.Sprintf("BIND_WY=%d", bindWy),
	fmt.Sprintf("BIND_M=%d", bindM), fmt.Sprintf("BIND_V=%d", bindV),
	fmt.Sprintf("BIND_DW=%d", bindDw), fmt.Sprintf("BIND_TABLES=%d", bindTables),
	fmt.Sprintf("BIND_LEVEL=%d", bindLevel), fmt.Sprintf("BIND_BAND=%d", bindBand),
	fmt.Sprintf("BIND_SEED0=%d", bindSeed0), fmt.Sprintf("BIND_SEED1=%d", bindSeed1),
	fmt.Sprintf("BIND_SEED2=%d", bindSeed2), fmt.Sprintf("BIND_NEXT0=%d", bindNext0),
	fmt.Sprintf("BIND_NEXT1=%d", bindNext1), fmt.Sprintf("BIND_NEXT2=%d", bindNext2),
	fmt.Sprintf("BIND_CHANGED=%d", bindChanged), fmt.Sprintf("BIND_COLUMN=%d", bindColumn),
	fmt.Sprintf("BIND_SITES=%d", bindSites), fmt.Sprintf("BIND_STARTS=%d", bindStarts),
	fmt.Sprintf("BIND_DIST=%d", bindDist),
}

// source returns shader name specialized by defines and the bindings.
func source(name string, defines ...string) (string, error) {
	return shaders.Source(name, append(append([]string(nil), defines...), bindingDefines...)...)
}
