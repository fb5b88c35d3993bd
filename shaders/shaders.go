// Package shaders holds quantfit's GLSL compute shaders, embedded. Each
// program is specialized at compile time by #defines put after the version
// line, so no shader branches per pixel on an enum. The CPU twin of every
// kernel is in package kernels: reference.go is the specification, and the
// parity tests of package gpu hold the two together.
package shaders

import (
	"embed"
	"fmt"
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
	// #include "name" line is replaced by that file (GLSL has none).
	sb.WriteString("#line 1\n")
	for i, line := range strings.SplitAfter(string(b), "\n") {
		inc, ok := strings.CutPrefix(strings.TrimSpace(line), "#include ")
		if !ok {
			sb.WriteString(line)
			continue
		}
		body, err := files.ReadFile(strings.Trim(inc, `"`))
		if err != nil {
			return "", fmt.Errorf("shaders: %s:%d: %w", name, i+1, err)
		}
		sb.Write(body)
		fmt.Fprintf(&sb, "\n#line %d\n", i+2)
	}
	return sb.String(), nil
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
