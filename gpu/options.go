package gpu

import (
	"errors"
	"io"
)

// Options choose the context.
type Options struct {
	// AllowSoftware accepts a software renderer such as llvmpipe: for
	// tests, and for users who ask for the GPU path explicitly.
	AllowSoftware bool
	// Debug turns on GL debug output (to DebugLog) and a glGetError check
	// after every GL operation.
	Debug    bool
	DebugLog io.Writer
}

// Info describes a context.
type Info struct {
	Vendor, Renderer, Version string
	// Software is set for a software renderer (llvmpipe and the like).
	Software bool
}

// ErrUnavailable is returned where this build has no GPU support.
var ErrUnavailable = errors.New("gpu: this build of quantfit has no GPU support (it needs linux and cgo)")
