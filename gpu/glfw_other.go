//go:build linux && cgo && !glfw

package gpu

import "errors"

func (d *Device) openGLFW(Options) error {
	return errors.New("GLFW: this build has no GLFW (build with -tags glfw)")
}

const haveGLFW = false
