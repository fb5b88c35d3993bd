package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDeb writes a Debian package of the given files (path → content; a
// content "->target" is a symbolic link) with a gzip data member.
func fakeDeb(t *testing.T, dir, name string, files map[string]string) string {
	t.Helper()
	var data bytes.Buffer
	gz := gzip.NewWriter(&data)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./usr/", Mode: 0o755})
	for p, c := range files {
		if target, ok := strings.CutPrefix(c, "->"); ok {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./" + p, Linkname: target, Mode: 0o777})
			continue
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + p, Mode: 0o644, Size: int64(len(c))})
		tw.Write([]byte(c))
	}
	tw.Close()
	gz.Close()
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(b))
		ar.Write(b)
		if len(b)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", []byte("x")) // odd length: padded
	member("data.tar.gz", data.Bytes())
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, ar.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadDeb(t *testing.T) {
	dir := t.TempDir()
	deb := fakeDeb(t, dir, "libfoo_1.0_amd64.deb", map[string]string{
		"lib/x86_64-linux-gnu/libfoo.so.1.0": "elf",
		"lib/x86_64-linux-gnu/libfoo.so.1":   "->libfoo.so.1.0",
		"usr/share/doc/libfoo/copyright":     "text",
	})
	files, err := readDeb(deb)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]entry{}
	for _, f := range files {
		got[f.path] = f
	}
	if len(got) != 2 {
		t.Errorf("files %v; want the library and its link, no documentation", got)
	}
	// merged /usr: lib/ lands in usr/lib/
	if f := got["usr/lib/x86_64-linux-gnu/libfoo.so.1.0"]; string(f.data) != "elf" || f.kind != tar.TypeReg {
		t.Errorf("library: %+v", f)
	}
	if f := got["usr/lib/x86_64-linux-gnu/libfoo.so.1"]; f.link != "libfoo.so.1.0" || f.kind != tar.TypeSymlink {
		t.Errorf("link: %+v", f)
	}
}

// TestBadInput: each bad input gets one error naming it, and no tarball.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notDeb := filepath.Join(dir, "notes.deb")
	os.WriteFile(notDeb, []byte("hello"), 0o644)
	bin, _ := os.Executable() // any Go binary has build information
	out := filepath.Join(dir, "out.tar")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{notDeb}, 2, "usage"},
		{[]string{"-binary", bin, "-o", out}, 2, "usage"},
		{[]string{"-binary", bin, "-o", out, notDeb}, 1, "notes.deb is not a Debian package"},
		{[]string{"-binary", bin, "-o", out, fakeDeb(t, dir, "libegl1_1_amd64.deb", map[string]string{"usr/lib/x": "x"})}, 1, "no .deb of libc6"},
		{[]string{"-binary", filepath.Join(dir, "missing"), "-o", out, notDeb}, 1, "missing"},
		{[]string{"-binary", bin, "-tag", "Bad Tag", notDeb}, 2, "-tag"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, %q; want %d naming %q", c.args, code, stderr.String(), c.code, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%q: a tarball was written", c.args)
		}
	}
}
