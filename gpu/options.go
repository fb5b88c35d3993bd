package gpu

import (
	"errors"
	"io"
)

// MaxCandidates is the most candidates of one Losses dispatch; more are
// split.
const MaxCandidates = 4096

// Options choose the context.
type Options struct {
	// AllowSoftware accepts a software renderer such as llvmpipe: for
	// tests, and for users who ask for the GPU path explicitly.
	AllowSoftware bool
	// Debug turns on GL debug output (to DebugLog) and a glGetError check
	// after every GL operation.
	Debug    bool
	DebugLog io.Writer
	// Strict, with Debug, fails a call during which the driver reports a
	// performance problem (a buffer moved to host memory, a
	// shader recompiled): the GPU tests run so.
	Strict bool
	// Notifications, with Debug, logs the driver's notifications too:
	// NVIDIA's say where each buffer lives.
	Notifications bool
	// MutableBuffers makes buffers by glBufferData even where
	// glBufferStorage exists: to compare the two on a driver.
	MutableBuffers bool
	// Context picks how the context is made: "egl" (headless), "glfw" (a
	// hidden window; needs a display and a build with -tags glfw), or ""
	// for EGL, then GLFW where EGL fails.
	Context string
}

// Info describes a context.
type Info struct {
	Vendor, Renderer, Version string
	// Software is set for a software renderer (llvmpipe and the like).
	Software bool
	// Context is how it was made: "egl" or "glfw".
	Context string
}

// ErrUnavailable is returned where this build has no GPU support.
var ErrUnavailable = errors.New("gpu: this build of quantfit has no GPU support (it needs linux and cgo)")
