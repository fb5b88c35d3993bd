//go:build !(linux && cgo && glfw)

package gpu

import (
	"errors"
	"time"
)

// Window is unavailable in this build.
type Window struct{}

// OpenWindow reports that this build has no window support.
func OpenWindow(title string, w, h int) (*Window, error) {
	return nil, errors.New("gpu: this build has no window support (build with -tags glfw on Linux)")
}

func (w *Window) SetLandscape(bs, ls []float64)             {}
func (w *Window) Add(b, loss float64)                       {}
func (w *Window) Mark(b float64)                            {}
func (w *Window) ShowImage([]uint8, int, int)               {}
func (w *Window) Wait(time.Duration)                        {}
func (w *Window) Pixels() (rgba []uint8, width, height int) { return nil, 0, 0 }
func (w *Window) Close()                                    {}
