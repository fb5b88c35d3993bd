//go:build linux && cgo

package gpu

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"github.com/go-gl/gl/v4.3-core/gl"
)

// This file is the GL boundary: every call into GL goes through the
// functions here, with typed handles, and in debug mode each is followed by
// a glGetError check. They run on the device's thread only.

type program uint32

type buffer uint32

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

// checker runs glErr after each operation in debug mode and keeps the
// first error; outside debug mode it checks only where asked.
type checker struct {
	debug bool
	err   error
}

func (c *checker) after(op string) {
	if c.debug && c.err == nil {
		c.err = glErr(op)
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
		return 0, fmt.Errorf("gpu: compute program does not link: %s", strings.TrimRight(string(buf), "\x00"))
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
		return 0, fmt.Errorf("gpu: shader does not compile: %s%s", log, quoteLines(src, log))
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

// logLine finds line numbers in a driver's log: Mesa writes "0:LINE(COL)",
// NVIDIA "0(LINE)".
var logLine = regexp.MustCompile(`\b\d+:(\d+)\(\d+\)|\b\d+\((\d+)\)`)

// quoteLines appends the source lines the log names. Line numbers count
// from the shader file's first line (the source sets #line 1 after the
// defines).
func quoteLines(src, log string) string {
	body := src
	if i := strings.Index(src, "#line 1\n"); i >= 0 {
		body = src[i+len("#line 1\n"):]
	}
	lines := strings.Split(body, "\n")
	var out strings.Builder
	seen := map[int]bool{}
	for _, m := range logLine.FindAllStringSubmatch(log, -1) {
		n, err := strconv.Atoi(m[1] + m[2])
		if err != nil || n < 1 || n > len(lines) || seen[n] {
			continue
		}
		seen[n] = true
		fmt.Fprintf(&out, "\n\tline %d: %s", n, strings.TrimSpace(lines[n-1]))
	}
	return out.String()
}

func newBuffer(size int, data unsafe.Pointer) buffer {
	var b uint32
	gl.GenBuffers(1, &b)
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, b)
	gl.BufferData(gl.SHADER_STORAGE_BUFFER, max(size, 16), data, gl.DYNAMIC_DRAW)
	return buffer(b)
}

func (b buffer) write(offset, size int, data unsafe.Pointer) {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, uint32(b))
	gl.BufferSubData(gl.SHADER_STORAGE_BUFFER, offset, size, data)
}

func (b buffer) read(offset, size int, data unsafe.Pointer) {
	gl.BindBuffer(gl.SHADER_STORAGE_BUFFER, uint32(b))
	gl.GetBufferSubData(gl.SHADER_STORAGE_BUFFER, offset, size, data)
}

func (b buffer) bind(index uint32) { gl.BindBufferBase(gl.SHADER_STORAGE_BUFFER, index, uint32(b)) }

func (b buffer) delete() {
	u := uint32(b)
	if u != 0 {
		gl.DeleteBuffers(1, &u)
	}
}

func (p program) use() { gl.UseProgram(uint32(p)) }

func (p program) delete() { gl.DeleteProgram(uint32(p)) }

func (p program) uniformUint(name string, v uint32) {
	if loc := gl.GetUniformLocation(uint32(p), gl.Str(name+"\x00")); loc >= 0 {
		gl.Uniform1ui(loc, v)
	}
}

func (p program) uniformDouble(name string, v float64) {
	if loc := gl.GetUniformLocation(uint32(p), gl.Str(name+"\x00")); loc >= 0 {
		gl.Uniform1d(loc, v)
	}
}

func dispatch(x, y uint32) {
	gl.DispatchCompute(x, y, 1)
	gl.MemoryBarrier(gl.SHADER_STORAGE_BARRIER_BIT | gl.BUFFER_UPDATE_BARRIER_BIT)
}

func glString(name uint32) string {
	p := gl.GetString(name)
	if p == nil {
		return ""
	}
	return gl.GoStr(p)
}
