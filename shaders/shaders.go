// Package shaders holds quantfit's GLSL compute shaders, embedded. Each
// program is specialized at compile time by #defines put after the version
// line, so no shader branches per pixel on an enum. The CPU twin of every
// kernel is in package kernels: reference.go is the specification, and the
// parity tests of package gpu hold the two together.
package shaders

import (
	"embed"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed *.comp *.glsl
var files embed.FS

// Version is the GLSL version line of every program: OpenGL 4.3 core,
// the first with compute shaders.
const Version = "#version 430 core"

// Source returns the named shader with the defines (NAME or NAME=VALUE)
// inserted after the version line, in sorted order so that equal
// specializations give equal sources.
func Source(name string, defines ...string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("shaders: %w", err)
	}
	ds := append([]string(nil), defines...)
	sort.Strings(ds)
	var sb strings.Builder
	sb.WriteString(Version + "\n")
	for _, d := range ds {
		name, value, _ := strings.Cut(d, "=")
		fmt.Fprintf(&sb, "#define %s %s\n", name, value)
	}
	// Keep the source's own line numbers in compiler messages; an
	// #include "name" line is replaced by that file (GLSL has none), which
	// gets its own source-string number (1, 2, … in order), so that Quote
	// can tell its lines from the file's.
	sb.WriteString("#line 1 0\n")
	inc := 0
	for i, line := range strings.SplitAfter(string(b), "\n") {
		file, ok := strings.CutPrefix(strings.TrimSpace(line), "#include ")
		if !ok {
			sb.WriteString(line)
			continue
		}
		body, err := files.ReadFile(strings.Trim(file, `"`))
		if err != nil {
			return "", fmt.Errorf("shaders: %s:%d: %w", name, i+1, err)
		}
		inc++
		fmt.Fprintf(&sb, "#line 1 %d\n", inc)
		sb.Write(body)
		fmt.Fprintf(&sb, "\n#line %d 0\n", i+2)
	}
	return sb.String(), nil
}

// Generated is the source-string number of code spliced in by Splice.
const Generated = 99

// Splice replaces the line "//@OPS" of src, a program from Source, by
// generated code, numbered as source string Generated so that the file's
// own line numbers hold after it.
func Splice(src, code string) string {
	i := strings.Index(src, "//@OPS\n")
	if i < 0 {
		return src
	}
	after := locate(src[:i+len("//@OPS\n")])
	return fmt.Sprintf("%s#line 1 %d\n%s\n#line %d %d\n%s", src[:i], Generated, code,
		after.line, after.str, src[i+len("//@OPS\n"):])
}

// loc is a line's place as a compiler names it: source string and line.
type loc struct{ str, line int }

// locate returns the place of the line that would follow src, obeying
// its #line directives.
func locate(src string) loc {
	at := loc{0, 1}
	for _, l := range strings.SplitAfter(src, "\n") {
		if !strings.HasSuffix(l, "\n") {
			break
		}
		at = next(at, l)
	}
	return at
}

// next is the place of the line after line l, found at at.
func next(at loc, l string) loc {
	if d, ok := strings.CutPrefix(strings.TrimSpace(l), "#line "); ok {
		var n loc
		if k, _ := fmt.Sscan(d, &n.line, &n.str); k >= 1 {
			if k == 1 {
				n.str = at.str
			}
			return n
		}
	}
	return loc{at.str, at.line + 1}
}

// logLine finds places in a driver's log: Mesa writes "STRING:LINE(COL)",
// NVIDIA "STRING(LINE)".
var logLine = regexp.MustCompile(`\b(\d+):(\d+)\(\d+\)|\b(\d+)\((\d+)\)`)

// Quote returns the lines of src that a compiler's log names, one per
// line of text, each after its place ("0(12): …"), for error messages.
func Quote(src, log string) string {
	text := map[loc]string{}
	at := loc{0, 1}
	for _, l := range strings.Split(src, "\n") {
		text[at] = strings.TrimSpace(l)
		at = next(at, l+"\n")
	}
	var out strings.Builder
	seen := map[loc]bool{}
	for _, m := range logLine.FindAllStringSubmatch(log, -1) {
		var at loc
		fmt.Sscan(m[1]+m[3], &at.str)
		fmt.Sscan(m[2]+m[4], &at.line)
		t, ok := text[at]
		if !ok || seen[at] {
			continue
		}
		seen[at] = true
		fmt.Fprintf(&out, "\n\t%d(%d): %s", at.str, at.line, t)
	}
	return out.String()
}

// Names lists the embedded shaders.
func Names() []string {
	es, _ := files.ReadDir(".")
	var out []string
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".comp") {
			out = append(out, e.Name())
		}
	}
	return out
}
