package shaders

import (
	"strconv"
	"strings"
	"testing"
)

// TestQuoteFindsEveryPart: a place in the log of either driver names the
// line of the file, of an included file or of spliced code, through the
// #line directives Source and Splice write.
func TestQuoteFindsEveryPart(t *testing.T) {
	src, err := Source("image.comp", "PASS_FINAL")
	if err != nil {
		t.Fatal(err)
	}
	src = Splice(src, "void gen0() {}\nvoid gen1() { broken; }")
	file, _ := files.ReadFile("image.comp")
	loss, _ := files.ReadFile("loss.glsl")
	lines := strings.Split(string(file), "\n")
	lossLines := strings.Split(string(loss), "\n")
	// the last line of image.comp, whose number the splice must keep
	last := len(lines) - 1
	for strings.TrimSpace(lines[last-1]) == "" {
		last--
	}
	for _, c := range []struct{ log, want string }{
		{"0(" + strconv.Itoa(last) + ") : error C0000: x", strings.TrimSpace(lines[last-1])},
		{"0:" + strconv.Itoa(last) + "(3): error: x", strings.TrimSpace(lines[last-1])},
		{"1(2) : error", strings.TrimSpace(lossLines[1])},
		{"99(2) : error C5025: x", "void gen1() { broken; }"},
	} {
		if got := Quote(src, c.log); !strings.Contains(got, c.want) || c.want == "" {
			t.Errorf("Quote(%q) = %q, want the line %q", c.log, got, c.want)
		}
	}
	if got := Quote(src, "no place here"); got != "" {
		t.Errorf("a log without places quoted %q", got)
	}
}
