//go:build linux && cgo

package gpu

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// Device is an OpenGL 4.3 compute context and the thread that owns it.
type Device struct {
	t        *thread
	dpy, ctx unsafe.Pointer
	win      any    // the GLFW window holding the context, if GLFW made it
	release  func() // frees the context
	info     Info
	check    checker

	// mu makes callers take turns on the thread and guards closed: a
	// call never races Close into a stopped thread.
	mu     sync.Mutex
	closed bool

	// kernels are the compiled programs by source, with their uniforms;
	// on the device's thread.
	kernels map[string]*kernel
	reducer *kernel
	// pending is the function of the call in progress (under mu), callFn
	// d.call bound once: a call allocates nothing.
	pending func() error
	callFn  func() error

	// buffers of released evaluators, kept for the next ones: a batch or
	// a service makes an evaluator per job, each of the same sizes.
	spare    []buffer
	capacity map[buffer]int
	// dynamic are the dynamic buffers made by dyn, freed when released.
	dynamic map[buffer]bool

	// stage is the staging buffer of uploads and readbacks, grown to the
	// largest transfer up to maxStage.
	stage staging
}

// maxStage bounds the staging buffer; larger transfers go in pieces.
const maxStage = 64 << 20

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
				d.upload(b, 0, size, data)
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
		d.upload(b, 0, size, data)
	}
	if d.capacity == nil {
		d.capacity = map[buffer]int{}
	}
	d.capacity[b] = c
	return b
}

// staged returns the staging buffer, grown to hold size bytes (at most
// maxStage). On the device's thread.
func (d *Device) staged(size int) staging {
	size = min(max(size, 256), maxStage)
	if d.stage.size < size {
		d.stage.delete()
		c := 256
		for c < size {
			c *= 2
		}
		d.stage = newStaging(c)
	}
	return d.stage
}

// upload writes size bytes of data at offset of b: through the staging
// buffer and a copy on the GPU, in pieces of at most maxStage bytes. On
// the device's thread.
func (d *Device) upload(b buffer, offset, size int, data unsafe.Pointer) {
	st := d.staged(size)
	for done := 0; done < size; done += st.size {
		k := min(st.size, size-done)
		st.put(0, k, unsafe.Add(data, done))
		st.b.copyTo(b, 0, offset+done, k)
		// the next piece, or the next transfer, reuses the staging buffer
		wait()
	}
}

// read copies size bytes at offset of b into data: a copy on the GPU into
// the staging buffer, a fence, then from its mapping. This is the one
// synchronisation of a step. On the device's thread.
func (d *Device) read(b buffer, offset, size int, data unsafe.Pointer) {
	st := d.staged(size)
	for done := 0; done < size; done += st.size {
		k := min(st.size, size-done)
		b.copyTo(st.b, offset+done, 0, k)
		wait()
		st.get(0, k, unsafe.Add(data, done))
	}
}

// dyn returns a new dynamic buffer of size bytes, for values a step
// writes. On the device's thread.
func (d *Device) dyn(size int) buffer {
	b := newDynamic(size)
	if d.dynamic == nil {
		d.dynamic = map[buffer]bool{}
	}
	d.dynamic[b] = true
	return b
}

// free keeps b for reuse, deleting the oldest spares beyond spareLimit;
// a dynamic buffer is deleted. On the device's thread.
func (d *Device) free(b buffer) {
	if b == 0 {
		return
	}
	if d.dynamic[b] {
		delete(d.dynamic, b)
		b.delete()
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
	d := &Device{kernels: map[string]*kernel{}}
	d.callFn = d.call
	var start, end func()
	if o.Debug {
		var stop func()
		start = func() { stop = watch(&d.check) }
		end = func() { stop() }
	}
	d.t = newThread(start, end)
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
		if err == nil && o.MutableBuffers {
			haveStorage = false
		}
		if err == nil && o.Debug {
			enableDebugOutput(o.DebugLog, o.Strict, o.Notifications)
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
	major, minor := version()
	switch {
	case major < 4 || major == 4 && minor < 3:
		return fmt.Errorf("OpenGL %d.%d, compute shaders need 4.3", major, minor)
	case info.Software && !o.AllowSoftware:
		return fmt.Errorf("software renderer %q, not asked for", info.Renderer)
	}
	return nil
}

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
		if err := loadGL(eglProcAddress); err != nil {
			eglDestroy(c.dpy, ctx)
			tried = append(tried, fmt.Sprintf("%s: loading GL: %v", c.name, err))
			continue
		}
		info := contextInfo("egl")
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

// Info describes the context.
func (d *Device) Info() Info { return d.info }

// Close frees every resource of the device and ends its thread; calls
// after it fail.
func (d *Device) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	d.t.call(func() {
		for _, k := range d.kernels {
			k.p.delete()
		}
		for _, b := range d.spare {
			b.delete()
		}
		d.stage.delete()
		d.release()
	})
	d.t.stop()
}

var errClosed = errors.New("gpu: device closed")

// do runs f on the device's thread and returns its error, or the first GL
// error it left. f should be made once (a method value kept by its
// evaluator): then a call allocates nothing.
func (d *Device) do(f func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	d.pending = f
	err := d.t.run(d.callFn)
	d.pending = nil
	return err
}

// call runs the pending function and collects what it left, in one round
// trip to the thread. On the device's thread.
func (d *Device) call() error {
	err := d.pending()
	if ferr := d.finish(); err == nil {
		err = ferr
	}
	return err
}

// finish collects what a call left: the debug checker's first error, else
// any pending GL error. On the device's thread.
func (d *Device) finish() error {
	err := glErr("dispatch")
	if d.check.err != nil {
		err = d.check.err
	}
	d.check.err = nil
	return err
}

// kernel is a compiled program with the locations of its uniforms,
// resolved once: a step sets them without looking up names. A uniform the
// program lacks is -1, and setting it does nothing.
type kernel struct {
	p                                        program
	n, k, fn, delta, gnorm, olv, rows, width uniform
}

// kernel returns the program of src, compiling it once per device. On the
// device's thread.
func (d *Device) kernel(src string) (*kernel, error) {
	if k, ok := d.kernels[src]; ok {
		return k, nil
	}
	p, err := compile(src)
	if err != nil {
		return nil, err
	}
	k := &kernel{p: p, n: p.uniform("n"), k: p.uniform("k"), fn: p.uniform("fn"), delta: p.uniform("delta"),
		gnorm: p.uniform("gnorm"), olv: p.uniform("olv"), rows: p.uniform("rows"), width: p.uniform("width")}
	d.kernels[src] = k
	return k, nil
}

// program returns the compiled program of shader name specialized by
// defines. On the device's thread.
func (d *Device) program(name string, defines ...string) (*kernel, error) {
	src, err := source(name, defines...)
	if err != nil {
		return nil, err
	}
	return d.kernel(src)
}

// reduce is the second stage of every reduction: the column sums of the
// partial sums bound at bindPartial, partial[rows][width], into result
// (bound at bindResult), read back into out. On the device's thread.
func (d *Device) reduce(result buffer, rows, width int, out []float64) error {
	if d.reducer == nil {
		src, err := source("reduce.comp")
		if err != nil {
			return err
		}
		if d.reducer, err = d.kernel(src); err != nil {
			return err
		}
	}
	r := d.reducer
	r.p.use()
	r.rows.setUint(uint32(rows))
	r.width.setUint(uint32(width))
	dispatch(uint32(width), 1)
	d.read(result, 0, 8*width, unsafe.Pointer(&out[0]))
	return nil
}
