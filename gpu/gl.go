//go:build linux && cgo

package gpu

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
	"github.com/quantfit/quantfit/shaders"
)

// This file is the GL boundary: every call into GL goes through the
// functions here, with typed handles, and each is followed by after(op),
// which on a device opened with Debug checks glGetError. They run on a
// device's (or a window's) thread only.

type program uint32

type buffer uint32

// uniform is a uniform's location, looked up once per program.
type uniform int32

// glErr returns the first pending GL error, if any, naming the operation.
func glErr(op string) error {
	if e := gl.GetError(); e != gl.NO_ERROR {
		// drain the rest: GL queues one per kind
		for gl.GetError() != gl.NO_ERROR {
		}
		if e == gl.OUT_OF_MEMORY {
			return fmt.Errorf("%w (%s)", errOutOfMemory, op)
		}
		return fmt.Errorf("gpu: %s: GL error 0x%x", op, e)
	}
	return nil
}

// checker keeps the first GL error of a debug device's thread.
type checker struct{ err error }

// debugThreads maps the OS thread of each device opened with Debug to its
// checker; debugOpen counts them, so that without one after costs a load.
var (
	debugThreads sync.Map // int (thread id) → *checker
	debugOpen    atomic.Int32
)

// watch makes after check every GL call of the calling OS thread (a
// locked device thread) into c; the returned function stops it.
func watch(c *checker) func() {
	tid := syscall.Gettid()
	debugThreads.Store(tid, c)
	debugOpen.Add(1)
	return func() { debugThreads.Delete(tid); debugOpen.Add(-1) }
}

// after follows every GL call: on a debug device's thread it checks
// glGetError and keeps the first error, naming the call.
func after(op string) {
	if debugOpen.Load() == 0 {
		return
	}
	if c, ok := debugThreads.Load(syscall.Gettid()); ok {
		// Check every call, keeping the first error: a later call's would
		// otherwise wait in GL's queue for the next one.
		if err := glErr(op); err != nil && c.(*checker).err == nil {
			c.(*checker).err = err
		}
	}
}

// compile builds a compute program. A failure returns the info log with
// the offending source lines quoted.
func compile(src string) (program, error) {
	sh, err := compileShader(gl.COMPUTE_SHADER, src)
	if err != nil {
		return 0, err
	}
	defer gl.DeleteShader(sh)
	var ok int32
	p := gl.CreateProgram()
	gl.AttachShader(p, sh)
	gl.LinkProgram(p)
	gl.GetProgramiv(p, gl.LINK_STATUS, &ok)
	if ok == gl.FALSE {
		var n int32
		gl.GetProgramiv(p, gl.INFO_LOG_LENGTH, &n)
		buf := make([]byte, n+1)
		gl.GetProgramInfoLog(p, n, nil, &buf[0])
		gl.DeleteProgram(p)
		log := strings.TrimSpace(strings.TrimRight(string(buf), "\x00"))
		// NVIDIA compiles at link time: its log names source lines too
		return 0, fmt.Errorf("gpu: compute program does not link: %s%s", log, shaders.Quote(src, log))
	}
	return program(p), nil
}

// compileShader compiles one stage, returning the info log with the
// offending source lines quoted on failure.
func compileShader(kind uint32, src string) (uint32, error) {
	sh := gl.CreateShader(kind)
	cs, free := gl.Strs(src + "\x00")
	gl.ShaderSource(sh, 1, cs, nil)
	free()
	gl.CompileShader(sh)
	var ok int32
	gl.GetShaderiv(sh, gl.COMPILE_STATUS, &ok)
	if ok == gl.FALSE {
		log := shaderLog(sh)
		gl.DeleteShader(sh)
		return 0, fmt.Errorf("gpu: shader does not compile: %s%s", log, shaders.Quote(src, log))
	}
	return sh, nil
}

func shaderLog(sh uint32) string {
	var n int32
	gl.GetShaderiv(sh, gl.INFO_LOG_LENGTH, &n)
	if n == 0 {
		return "(no log)"
	}
	buf := make([]byte, n+1)
	gl.GetShaderInfoLog(sh, n, nil, &buf[0])
	return strings.TrimSpace(strings.TrimRight(string(buf), "\x00"))
}

// Every buffer is immutable storage (glBufferStorage) whose flags say how
// it is used, so that the driver never guesses: on the H200 the mutable
// buffers of earlier versions (usage hint DYNAMIC_DRAW) were moved to host
// memory by NVIDIA's driver after a readback ("is being copied/moved from
// VIDEO memory to HOST memory"). There are three kinds:
//
//   - resident buffers (data, partial sums, results, state): flags 0,
//     device memory, filled and read only by copies on the GPU (the
//     driver's notes on the H200: "will use VIDEO memory");
//   - dynamic buffers: DYNAMIC_STORAGE_BIT, for the few bytes a step
//     writes by glBufferSubData (its scales, parameters, taps);
//   - the device's staging buffer: host memory (CLIENT_STORAGE_BIT),
//     persistently and coherently mapped ("DMA CACHED memory"), the one
//     way data cross between host and device, by glCopyBufferSubData on
//     the GPU and a fence.
//
// A driver without glBufferStorage (GL 4.3 without ARB_buffer_storage)
// gets mutable buffers with the same roles; staging is then by
// glBufferSubData and glGetBufferSubData. On the H200 both kinds ran the
// 64M step in 0.165 ms once its clocks had risen (bench/RESULTS.md): the
// erratic steps of earlier figures were the GPU's clocks, at 345 MHz
// between bursts, as much as placement.

// haveStorage is set per process by loadGL where the context offers
// glBufferStorage.
var haveStorage bool

// newBuffer makes a resident buffer of size bytes, holding data if not
// nil (copied by the driver at creation).
func newBuffer(size int, data unsafe.Pointer) buffer { return makeBuffer(size, data, 0) }

// newDynamic makes a dynamic buffer of size bytes.
func newDynamic(size int) buffer { return makeBuffer(size, nil, gl.DYNAMIC_STORAGE_BIT) }

func makeBuffer(size int, data unsafe.Pointer, flags uint32) buffer {
	var b uint32
	gl.GenBuffers(1, &b)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, b)
	size = max(size, 16)
	if haveStorage {
		gl.BufferStorage(gl.SHADER_STORAGE_BUFFER, size, data, flags)
		after("BufferStorage")
	} else {
		gl.BufferData(gl.SHADER_STORAGE_BUFFER, size, data, gl.STATIC_COPY)
		after("BufferData")
	}
	return buffer(b)
}

// write sets size bytes at offset of the dynamic buffer b from host
// memory: the small values a step sends. Everything else goes through the
// device's staging buffer (Device.upload).
func (b buffer) write(offset, size int, data unsafe.Pointer) {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, uint32(b))
	gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, offset, size, data)
	after("BufferSubData")
}

// copyTo copies size bytes from b at from into dst at to, on the GPU.
func (b buffer) copyTo(dst buffer, from, to, size int) {
	gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(b))
	gl.BindBuffer(gl.COPY_WRITE_BUFFER, uint32(dst))
	gl.CopyBufferSubData(gl.COPY_READ_BUFFER, gl.COPY_WRITE_BUFFER, from, to, size)
	after("CopyBufferSubData")
}

// staging is a host-memory buffer mapped once for the device's lifetime
// (persistent, coherent) through which uploads and readbacks pass.
type staging struct {
	b    buffer
	size int
	ptr  unsafe.Pointer // the mapping; nil without glBufferStorage
}

func newStaging(size int) staging {
	var b uint32
	gl.GenBuffers(1, &b)
	gl.BindBuffer(gl.COPY_WRITE_BUFFER, b)
	if !haveStorage {
		gl.BufferData(gl.COPY_WRITE_BUFFER, size, nil, gl.STREAM_COPY)
		after("BufferData staging")
		return staging{b: buffer(b), size: size}
	}
	const flags = gl.MAP_READ_BIT | gl.MAP_WRITE_BIT | gl.MAP_PERSISTENT_BIT | gl.MAP_COHERENT_BIT
	gl.BufferStorage(gl.COPY_WRITE_BUFFER, size, nil, flags|gl.CLIENT_STORAGE_BIT)
	after("BufferStorage staging")
	p := gl.MapBufferRange(gl.COPY_WRITE_BUFFER, 0, size, flags)
	after("MapBufferRange staging")
	return staging{b: buffer(b), size: size, ptr: p}
}

func (s staging) delete() {
	if s.b == 0 {
		return
	}
	if s.ptr != nil {
		gl.BindBuffer(gl.COPY_WRITE_BUFFER, uint32(s.b))
		gl.UnmapBuffer(gl.COPY_WRITE_BUFFER)
		after("UnmapBuffer staging")
	}
	s.b.delete()
}

// put copies size bytes of data into the staging buffer at offset. The
// GPU must not be using it (wait after the last copy that did).
func (s staging) put(offset, size int, data unsafe.Pointer) {
	if s.ptr == nil {
		s.b.write(offset, size, data)
		return
	}
	copy(unsafe.Slice((*byte)(unsafe.Add(s.ptr, offset)), size), unsafe.Slice((*byte)(data), size))
}

// get copies size bytes at offset of the staging buffer into data, after
// wait.
func (s staging) get(offset, size int, data unsafe.Pointer) {
	if s.ptr == nil {
		gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(s.b))
		gl.GetBufferSubData(gl.COPY_READ_BUFFER, offset, size, data)
		after("GetBufferSubData staging")
		return
	}
	copy(unsafe.Slice((*byte)(data), size), unsafe.Slice((*byte)(unsafe.Add(s.ptr, offset)), size))
}

// wait blocks until every command sent so far has run: a fence, which
// also flushes them; with a coherent mapping their writes to the staging
// buffer are then visible here. It polls the fence for up to spinWait, as
// a step's sums come back within tens of microseconds and a blocking wait
// may sleep for longer than that; then it blocks.
func wait() {
	if !haveStorage {
		return // glGetBufferSubData waits itself
	}
	f := gl.FenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
	after("FenceSync")
	flags := uint32(gl.SYNC_FLUSH_COMMANDS_BIT)
	for start := time.Now(); ; {
		var timeout uint64
		if time.Since(start) > spinWait {
			timeout = uint64(time.Millisecond)
		}
		r := gl.ClientWaitSync(f, flags, timeout)
		if r == gl.ALREADY_SIGNALED || r == gl.CONDITION_SATISFIED || r == gl.WAIT_FAILED {
			break
		}
		flags = 0 // flushed once
	}
	after("ClientWaitSync")
	gl.DeleteSync(f)
}

// spinWait is how long wait polls before it blocks.
const spinWait = 2 * time.Millisecond

func (b buffer) bind(index uint32) {
	gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, index, uint32(b))
	after("BindBufferBase")
}

func (b buffer) delete() {
	u := uint32(b)
	if u != 0 {
		gl.DeleteBuffers(1, &u)
		after("DeleteBuffers")
	}
}

func (p program) use() {
	gl.UseProgram(uint32(p))
	after("UseProgram")
}

func (p program) delete() {
	gl.DeleteProgram(uint32(p))
	after("DeleteProgram")
}

// uniform looks a uniform up; -1 (a uniform the compiler removed) makes
// its setters do nothing.
func (p program) uniform(name string) uniform {
	loc := gl.GetUniformLocation(uint32(p), gl.Str(name+"\x00"))
	after("GetUniformLocation " + name)
	return uniform(loc)
}

// setUint, setFloat and setDouble set a uniform of the program in use.
func (u uniform) setUint(v uint32) {
	if u >= 0 {
		gl.Uniform1ui(int32(u), v)
		after("Uniform1ui")
	}
}

func (u uniform) setFloat(v float32) {
	if u >= 0 {
		gl.Uniform1f(int32(u), v)
		after("Uniform1f")
	}
}

func (u uniform) setDouble(v float64) {
	if u >= 0 {
		gl.Uniform1d(int32(u), v)
		after("Uniform1d")
	}
}

func (u uniform) setUvec4(v [4]uint32) {
	if u >= 0 {
		gl.Uniform4ui(int32(u), v[0], v[1], v[2], v[3])
		after("Uniform4ui")
	}
}

func (u uniform) setVec4(c [4]float32) {
	if u >= 0 {
		gl.Uniform4f(int32(u), c[0], c[1], c[2], c[3])
		after("Uniform4f")
	}
}

func dispatch(x, y uint32) {
	gl.DispatchCompute(x, y, 1)
	after("DispatchCompute")
	gl.MemoryBarrier(gl.SHADER_STORAGE_BARRIER_BIT | gl.BUFFER_UPDATE_BARRIER_BIT)
	after("MemoryBarrier")
}

// finish waits for every command sent.
func finish() {
	gl.Finish()
	after("Finish")
}

// maxStorageBlock is the most bytes one shader storage block may bind.
func maxStorageBlock() int {
	var v int64
	gl.GetInteger64v(gl.MAX_SHADER_STORAGE_BLOCK_SIZE, &v)
	after("GetInteger64v")
	return int(min(v, math.MaxInt32))
}

// version returns the context's OpenGL version.
func version() (major, minor int32) {
	gl.GetIntegerv(gl.MAJOR_VERSION, &major)
	gl.GetIntegerv(gl.MINOR_VERSION, &minor)
	after("GetIntegerv")
	return major, minor
}

// The drawing of the live window (window_glfw.go).

// primitive is how drawn vertices join.
type primitive uint32

const (
	lineStrip primitive = gl.LINE_STRIP
	points    primitive = gl.POINTS
	lines     primitive = gl.LINES
)

// linkGraphics builds a vertex+fragment program.
func linkGraphics(vsSrc, fsSrc string) (program, error) {
	vs, err := compileShader(gl.VERTEX_SHADER, vsSrc)
	if err != nil {
		return 0, err
	}
	defer gl.DeleteShader(vs)
	fs, err := compileShader(gl.FRAGMENT_SHADER, fsSrc)
	if err != nil {
		return 0, err
	}
	defer gl.DeleteShader(fs)
	p := gl.CreateProgram()
	gl.AttachShader(p, vs)
	gl.AttachShader(p, fs)
	gl.LinkProgram(p)
	var ok int32
	if gl.GetProgramiv(p, gl.LINK_STATUS, &ok); ok == gl.FALSE {
		gl.DeleteProgram(p)
		return 0, fmt.Errorf("gpu: the window's program does not link")
	}
	after("LinkProgram")
	return program(p), nil
}

// vertices is a vertex array of 2-D float points with its buffer.
type vertices struct{ vao, vbo uint32 }

func newVertices() vertices {
	var v vertices
	gl.GenVertexArrays(1, &v.vao)
	gl.GenBuffers(1, &v.vbo)
	gl.BindVertexArray(v.vao)
	gl.BindBuffer(gl.ARRAY_BUFFER, v.vbo)
	gl.EnableVertexAttribArray(0)
	gl.VertexAttribPointerWithOffset(0, 2, gl.FLOAT, false, 8, 0)
	gl.Enable(gl.PROGRAM_POINT_SIZE)
	after("vertex array")
	return v
}

// draw draws the points xy (x0, y0, x1, ...) with p, colour c set on u.
func (v vertices) draw(p program, u uniform, xy []float32, mode primitive, c [4]float32) {
	gl.UseProgram(uint32(p))
	gl.BindVertexArray(v.vao)
	gl.BindBuffer(gl.ARRAY_BUFFER, v.vbo)
	gl.BufferData(gl.ARRAY_BUFFER, 4*len(xy), unsafe.Pointer(&xy[0]), gl.STREAM_DRAW)
	u.setVec4(c)
	gl.DrawArrays(uint32(mode), 0, int32(len(xy)/2))
	after("DrawArrays")
}

func (v vertices) delete() {
	gl.DeleteBuffers(1, &v.vbo)
	gl.DeleteVertexArrays(1, &v.vao)
	after("delete vertices")
}

// clearView sets the viewport to w×h and clears it to white.
func clearView(w, h int) {
	gl.Viewport(0, 0, int32(w), int32(h))
	gl.ClearColor(1, 1, 1, 1)
	gl.Clear(gl.COLOR_BUFFER_BIT)
	after("Clear")
}

// picture is an RGBA image on the GPU, drawn by a blit from its
// framebuffer (no shaders: core profiles lack glDrawPixels).
type picture struct{ tex, fbo uint32 }

// draw uploads rgba (iw×ih, top row first) and scales it onto the
// default framebuffer's fw×fh, keeping its aspect.
func (p *picture) draw(rgba []uint8, iw, ih, fw, fh int) {
	if p.tex == 0 {
		gl.GenTextures(1, &p.tex)
		gl.GenFramebuffers(1, &p.fbo)
	}
	gl.BindTexture(gl.TEXTURE_2D, p.tex)
	gl.TexImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, int32(iw), int32(ih), 0, gl.RGBA, gl.UNSIGNED_BYTE, unsafe.Pointer(&rgba[0]))
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, p.fbo)
	gl.FramebufferTexture2D(gl.READ_FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, p.tex, 0)
	s := min(float64(fw)/float64(iw), float64(fh)/float64(ih))
	dw, dh := int32(s*float64(iw)), int32(s*float64(ih))
	x0, y0 := (int32(fw)-dw)/2, (int32(fh)-dh)/2
	gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, 0)
	// rows top first: flip onto GL's bottom-up framebuffer
	gl.BlitFramebuffer(0, 0, int32(iw), int32(ih), x0, y0+dh, x0+dw, y0, gl.COLOR_BUFFER_BIT, gl.LINEAR)
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, 0)
	after("picture")
}

func (p *picture) delete() {
	if p.tex != 0 {
		gl.DeleteTextures(1, &p.tex)
		gl.DeleteFramebuffers(1, &p.fbo)
	}
}

// readBack reads the back buffer as RGBA rows, bottom row first.
func readBack(w, h int) []uint8 {
	rgba := make([]uint8, 4*w*h)
	gl.ReadBuffer(gl.BACK)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, unsafe.Pointer(&rgba[0]))
	after("ReadPixels")
	return rgba
}

// glInit guards go-gl's function table, which is global to the process.
var glInit sync.Mutex

// loadGL loads the GL functions of the current context.
func loadGL(procAddr func(string) unsafe.Pointer) error {
	glInit.Lock()
	defer glInit.Unlock()
	if err := gl.InitWithProcAddrFunc(procAddr); err != nil {
		return err
	}
	major, minor := version()
	haveStorage = major > 4 || major == 4 && minor >= 4 || hasExtension("GL_ARB_buffer_storage")
	return nil
}

func hasExtension(name string) bool {
	var n int32
	gl.GetIntegerv(gl.NUM_EXTENSIONS, &n)
	for i := range uint32(n) {
		if p := gl.GetStringi(gl.EXTENSIONS, i); p != nil && gl.GoStr(p) == name {
			return true
		}
	}
	return false
}

// contextInfo describes the current context, made by kind ("egl", "glfw").
func contextInfo(kind string) Info {
	info := Info{Vendor: glString(gl.VENDOR), Renderer: glString(gl.RENDERER), Version: glString(gl.VERSION), Context: kind}
	info.Software = isSoftware(info.Renderer)
	return info
}

// enableDebugOutput sends the driver's debug messages to w. With strict,
// a message of type performance also fails the call during which
// the driver sent it (the callback is synchronous: it runs on the device's
// thread, inside the GL call).
func enableDebugOutput(w io.Writer, strict, notifications bool) {
	if w == nil {
		w = io.Discard
	}
	gl.Enable(gl.DEBUG_OUTPUT)
	gl.Enable(gl.DEBUG_OUTPUT_SYNCHRONOUS)
	gl.DebugMessageCallback(func(source, gltype, id, severity uint32, length int32, message string, _ unsafe.Pointer) {
		if notifications || severity != gl.DEBUG_SEVERITY_NOTIFICATION {
			fmt.Fprintf(w, "gpu: GL debug: %s\n", message)
		}
		// GL errors reach the checker through glGetError, named by call.
		if !strict || gltype != gl.DEBUG_TYPE_PERFORMANCE {
			return
		}
		if c, ok := debugThreads.Load(syscall.Gettid()); ok && c.(*checker).err == nil {
			c.(*checker).err = fmt.Errorf("gpu: driver performance message: %s", strings.TrimSpace(message))
		}
	}, nil)
	after("DebugMessageCallback")
}

func glString(name uint32) string {
	p := gl.GetString(name)
	if p == nil {
		return ""
	}
	return gl.GoStr(p)
}

// storageOf reports whether b is immutable storage, and its flags.
func storageOf(b buffer) (immutable bool, flags uint32) {
	var im, fl int32
	gl.BindBuffer(gl.COPY_READ_BUFFER, uint32(b))
	gl.GetBufferParameteriv(gl.COPY_READ_BUFFER, gl.BUFFER_IMMUTABLE_STORAGE, &im)
	gl.GetBufferParameteriv(gl.COPY_READ_BUFFER, gl.BUFFER_STORAGE_FLAGS, &fl)
	after("GetBufferParameteriv")
	return im != 0, uint32(fl)
}

// zero sets the first size bytes of b to 0, on the GPU.
func (b buffer) zero(size int) {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, uint32(b))
	gl.ClearBufferSubData(gl.SHADER_STORAGE_BUFFER, gl.R32UI, 0, size, gl.RED_INTEGER, gl.UNSIGNED_INT, nil)
	after("ClearBufferSubData")
}
