package estimate

import "testing"

func TestTmpGD(t *testing.T) {
	for _, spec := range []string{"saturation,quantize", "blur,quantize", "colormatrix,quantize"} {
		t.Run(spec, func(t *testing.T) { spatialTrials(t, spec, 6, 160, Settings{Strategy: GD{}}) })
	}
}
