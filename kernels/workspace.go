package kernels

// Workspace lends planes to the passes of an image evaluation and takes
// them all back at once, so that a fit's steady state allocates no planes:
// without it a step of a spatial stack on a 4 MP photo allocated 2 GB
// (blurs, their tangents, the pixel-wise operators' outputs), and the
// collector's work grew with the photo. An ImageEvaluator resets its own
// at the start of each forward pass. The zero Workspace is ready; a nil
// one allocates, for callers that evaluate once. Not for concurrent use.
type Workspace struct {
	free, lent []Planes
}

// Planes returns planes of w×h samples in channels planes, their samples
// left as an earlier pass wrote them: the caller writes every sample.
func (ws *Workspace) Planes(w, h, channels int) Planes {
	if ws == nil {
		return NewPlanes(w, h, channels)
	}
	for i, p := range ws.free {
		if p.W == w && p.H == h && len(p.C) == channels {
			last := len(ws.free) - 1
			ws.free[i] = ws.free[last]
			ws.free = ws.free[:last]
			ws.lent = append(ws.lent, p)
			return p
		}
	}
	p := NewPlanes(w, h, channels)
	ws.lent = append(ws.lent, p)
	return p
}

// Zeros returns planes as Planes does, every sample 0.
func (ws *Workspace) Zeros(w, h, channels int) Planes {
	p := ws.Planes(w, h, channels)
	if ws != nil {
		for _, c := range p.C {
			clear(c)
		}
	}
	return p
}

// Reset takes back every plane lent since the last Reset: planes returned
// before it must no longer be used.
func (ws *Workspace) Reset() {
	ws.free = append(ws.free, ws.lent...)
	clear(ws.lent)
	ws.lent = ws.lent[:0]
}
