//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
)

// Device is an OpenGL 4.3 compute context and the thread that owns it.
type Device struct {
	t        *thread
	dpy, ctx unsafe.Pointer
	win      any    // the GLFW window holding the context, if GLFW made it
	release  func() // frees the context
	info     Info
	check    checker

	mu       sync.Mutex // guards programs
	programs map[string]program
	closed   bool

	// buffers of released evaluators, kept for the next ones: a batch or
	// a service makes an evaluator per job, each of the same sizes.
	spare    []buffer
	capacity map[buffer]int
}

// spareLimit bounds the bytes of spare buffers a device keeps.
const spareLimit = 1 << 30

// buf returns a buffer of at least size bytes holding data (if not nil):
// a spare one of the right size class if there is one, else a new one.
// On the device's thread.
func (d *Device) buf(size int, data unsafe.Pointer) buffer {
	size = max(size, 16)
	for i, b := range d.spare {
		if c := d.capacity[b]; c >= size && c <= 2*size {
			d.spare = append(d.spare[:i], d.spare[i+1:]...)
			if data != nil {
				b.write(0, size, data)
			}
			return b
		}
	}
	c := 1
	for c < size {
		c *= 2
	}
	b := newBuffer(c, nil)
	if data != nil {
		b.write(0, size, data)
	}
	if d.capacity == nil {
		d.capacity = map[buffer]int{}
	}
	d.capacity[b] = c
	return b
}

// free keeps b for reuse, deleting the oldest spares beyond spareLimit.
// On the device's thread.
func (d *Device) free(b buffer) {
	if b == 0 {
		return
	}
	d.spare = append(d.spare, b)
	total := 0
	for _, s := range d.spare {
		total += d.capacity[s]
	}
	for total > spareLimit && len(d.spare) > 0 {
		old := d.spare[0]
		d.spare = d.spare[1:]
		total -= d.capacity[old]
		delete(d.capacity, old)
		old.delete()
	}
}

// Open makes a context. By default, headless through EGL: a hardware
// device first (EGL_EXT_platform_device), then, only with AllowSoftware, a
// software one or Mesa's surfaceless platform (llvmpipe); where EGL fails
// and a display is present, a hidden GLFW window (builds with -tags glfw).
func Open(o Options) (*Device, error) {
	d := &Device{t: newThread(), programs: map[string]program{}, check: checker{debug: o.Debug}}
	var err error
	d.t.call(func() {
		switch o.Context {
		case "egl":
			err = d.open(o)
		case "glfw":
			err = d.openGLFW(o)
		case "":
			if err = d.open(o); err != nil && haveGLFW {
				if gerr := d.openGLFW(o); gerr == nil {
					err = nil
				} else {
					err = fmt.Errorf("%v; %v", err, gerr)
				}
			}
		default:
			err = fmt.Errorf("gpu: unknown context kind %q (want egl or glfw)", o.Context)
		}
		if err == nil && o.Debug {
			enableDebugOutput(o.DebugLog)
		}
	})
	if err != nil {
		d.t.stop()
		return nil, err
	}
	return d, nil
}

// checkInfo refuses a context too old for compute shaders, or a software
// renderer not asked for.
func checkInfo(info Info, o Options) error {
	var major, minor int32
	gl.GetIntegerv(gl.MAJOR_VERSION, &major)
	gl.GetIntegerv(gl.MINOR_VERSION, &minor)
	switch {
	case major < 4 || major == 4 && minor < 3:
		return fmt.Errorf("OpenGL %d.%d, compute shaders need 4.3", major, minor)
	case info.Software && !o.AllowSoftware:
		return fmt.Errorf("software renderer %q, not asked for", info.Renderer)
	}
	return nil
}

// glInit guards go-gl's function table, which is global to the process.
var glInit sync.Mutex

func (d *Device) open(o Options) error {
	var tried []string
	for _, c := range eglCandidates() {
		if c.software && !o.AllowSoftware && c.name != "EGL surfaceless" {
			tried = append(tried, c.name+": software device, not asked for")
			continue
		}
		ctx, err := eglContext(c, o.Debug)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		glInit.Lock()
		err = gl.InitWithProcAddrFunc(eglProcAddress)
		glInit.Unlock()
		if err != nil {
			eglDestroy(c.dpy, ctx)
			tried = append(tried, fmt.Sprintf("%s: loading GL: %v", c.name, err))
			continue
		}
		info := Info{Vendor: glString(gl.VENDOR), Renderer: glString(gl.RENDERER), Version: glString(gl.VERSION), Context: "egl"}
		info.Software = isSoftware(info.Renderer)
		if err := checkInfo(info, o); err != nil {
			eglDestroy(c.dpy, ctx)
			tried = append(tried, c.name+": "+err.Error())
			continue
		}
		dpy := c.dpy
		d.dpy, d.ctx, d.info = dpy, ctx, info
		d.release = func() { eglDestroy(dpy, ctx) }
		return nil
	}
	if len(tried) == 0 {
		return errors.New("gpu: no EGL display (is libEGL with a driver installed?)")
	}
	return fmt.Errorf("gpu: no usable OpenGL 4.3 context: %s", strings.Join(tried, "; "))
}

func isSoftware(renderer string) bool {
	r := strings.ToLower(renderer)
	return strings.Contains(r, "llvmpipe") || strings.Contains(r, "softpipe") || strings.Contains(r, "swiftshader") || strings.Contains(r, "software")
}

func enableDebugOutput(w io.Writer) {
	if w == nil {
		w = io.Discard
	}
	gl.Enable(gl.DEBUG_OUTPUT)
	gl.Enable(gl.DEBUG_OUTPUT_SYNCHRONOUS)
	gl.DebugMessageCallback(func(source, gltype, id, severity uint32, length int32, message string, _ unsafe.Pointer) {
		if severity != gl.DEBUG_SEVERITY_NOTIFICATION {
			fmt.Fprintf(w, "gpu: GL debug: %s\n", message)
		}
	}, nil)
}

// Info describes the context.
func (d *Device) Info() Info { return d.info }

// Close frees every resource of the device and ends its thread.
func (d *Device) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	d.t.call(func() {
		for _, p := range d.programs {
			p.delete()
		}
		for _, b := range d.spare {
			b.delete()
		}
		d.release()
	})
	d.t.stop()
}

// do runs f on the device's thread and returns its error, or the first GL
// error it left.
func (d *Device) do(f func() error) error {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errors.New("gpu: device closed")
	}
	var err error
	d.t.call(func() {
		err = f()
		if err == nil {
			err = d.check.err
		}
		if err == nil {
			err = glErr("dispatch")
		}
		d.check.err = nil
	})
	return err
}

// program returns the compiled program for the source, compiling it once.
func (d *Device) program(src string) (program, error) {
	if p, ok := d.programs[src]; ok {
		return p, nil
	}
	p, err := compile(src)
	if err != nil {
		return 0, err
	}
	d.programs[src] = p
	return p, nil
}
