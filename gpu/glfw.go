//go:build linux && cgo && glfw

package gpu

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"
)

// GLFW is process-global: Init and Terminate are counted, window creation
// and destruction serialized.
var (
	glfwMu    sync.Mutex
	glfwUsers int
)

func glfwAcquire() error {
	glfwMu.Lock()
	defer glfwMu.Unlock()
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		// Without a display GLFW logs and the next call panics: never try.
		return errors.New("gpu: no display for GLFW (DISPLAY and WAYLAND_DISPLAY are unset)")
	}
	if glfwUsers == 0 {
		if err := glfw.Init(); err != nil {
			return fmt.Errorf("gpu: GLFW: %v", err)
		}
	}
	glfwUsers++
	return nil
}

func glfwRelease() {
	glfwMu.Lock()
	defer glfwMu.Unlock()
	glfwUsers--
	if glfwUsers == 0 {
		glfw.Terminate()
	}
}

// glfwWindow makes a 4.3 core context in a window, visible or hidden, and
// makes it current on the calling (locked) thread.
func glfwWindow(title string, w, h int, visible, debug bool) (*glfw.Window, error) {
	if err := glfwAcquire(); err != nil {
		return nil, err
	}
	glfwMu.Lock()
	glfw.DefaultWindowHints()
	glfw.WindowHint(glfw.ContextVersionMajor, 4)
	glfw.WindowHint(glfw.ContextVersionMinor, 3)
	glfw.WindowHint(glfw.OpenGLProfile, glfw.OpenGLCoreProfile)
	glfw.WindowHint(glfw.OpenGLForwardCompatible, glfw.True)
	if debug {
		glfw.WindowHint(glfw.OpenGLDebugContext, glfw.True)
	}
	if !visible {
		glfw.WindowHint(glfw.Visible, glfw.False)
	}
	win, err := glfw.CreateWindow(w, h, title, nil, nil)
	glfwMu.Unlock()
	if err != nil {
		glfwRelease()
		return nil, fmt.Errorf("gpu: GLFW window: %v", err)
	}
	win.MakeContextCurrent()
	err = loadGL(func(name string) unsafe.Pointer { return glfw.GetProcAddress(name) })
	if err != nil {
		destroyWindow(win)
		return nil, fmt.Errorf("gpu: loading GL through GLFW: %v", err)
	}
	return win, nil
}

func destroyWindow(win *glfw.Window) {
	glfw.DetachCurrentContext()
	glfwMu.Lock()
	win.Destroy()
	glfwMu.Unlock()
	glfwRelease()
}

// openGLFW makes the device's context in a hidden GLFW window.
func (d *Device) openGLFW(o Options) error {
	win, err := glfwWindow("quantfit", 16, 16, false, o.Debug)
	if err != nil {
		return err
	}
	info := contextInfo("glfw")
	if err := checkInfo(info, o); err != nil {
		destroyWindow(win)
		return fmt.Errorf("GLFW: %w", err)
	}
	d.info, d.win = info, win
	d.release = func() { destroyWindow(win) }
	return nil
}

const haveGLFW = true
