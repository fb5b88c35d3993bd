package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// A Debian package is an ar archive holding debian-binary, control.tar.*
// and data.tar.*: the files it installs, under ./ (dpkg-deb(1), deb(5)).

// entry is one file of the image's filesystem.
type entry struct {
	path string // relative, no leading slash
	mode int64  // permission bits
	kind byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	link string // a symlink's target
	data []byte
	uid  int
	from string // the package or source that put it there
}

// skipped are the package paths an image needs none of: documentation,
// manuals, translations, the package tools' notes.
var skipped = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/locale/",
	"usr/share/lintian/", "usr/share/bug/"}

// mergedUsr maps a package path onto a merged-/usr tree: the image has lib,
// lib64, bin and sbin as links into /usr, as Debian 12 and later do.
func mergedUsr(p string) string {
	for _, top := range []string{"lib/", "lib64/", "bin/", "sbin/"} {
		if strings.HasPrefix(p, top) {
			return "usr/" + p
		}
	}
	return p
}

// readDeb returns the regular files and symbolic links that the package at
// file installs.
func readDeb(file string) ([]entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := path.Base(file)
	r := bufio.NewReader(f)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, fmt.Errorf("image: %s is not a Debian package (no ar header)", file)
	}
	for {
		// a member header is 60 bytes: name 16, mtime 12, uid 6, gid 6,
		// mode 8, size 10, magic 2; its data is padded to an even length
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, fmt.Errorf("image: %s has no data.tar member", file)
		}
		member := strings.TrimRight(strings.TrimSpace(string(hdr[:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("image: %s: member %q has a bad size", file, member)
		}
		if !strings.HasPrefix(member, "data.tar") {
			if _, err := r.Discard(int(size + size%2)); err != nil {
				return nil, fmt.Errorf("image: %s: truncated member %q", file, member)
			}
			continue
		}
		body := io.LimitReader(r, size)
		var dr io.Reader
		switch path.Ext(member) {
		case ".xz":
			if dr, err = xz.NewReader(body); err != nil {
				return nil, fmt.Errorf("image: %s: %v", file, err)
			}
		case ".gz":
			gz, err := gzip.NewReader(body)
			if err != nil {
				return nil, fmt.Errorf("image: %s: %v", file, err)
			}
			defer gz.Close()
			dr = gz
		case ".zst":
			zr, err := zstd.NewReader(body)
			if err != nil {
				return nil, fmt.Errorf("image: %s: %v", file, err)
			}
			defer zr.Close()
			dr = zr
		case ".tar":
			dr = body
		default:
			return nil, fmt.Errorf("image: %s: %s is compressed in a way this builder does not read", file, member)
		}
		return readData(tar.NewReader(dr), name)
	}
}

func readData(tr *tar.Reader, pkg string) ([]entry, error) {
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("image: %s: %v", pkg, err)
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if p == "" || skip(p) {
			continue
		}
		e := entry{path: mergedUsr(p), mode: h.Mode & 0o7777, from: pkg}
		switch h.Typeflag {
		case tar.TypeReg:
			var b bytes.Buffer
			if _, err := io.Copy(&b, tr); err != nil {
				return nil, fmt.Errorf("image: %s: %s: %v", pkg, h.Name, err)
			}
			e.kind, e.data = tar.TypeReg, b.Bytes()
		case tar.TypeSymlink:
			e.kind, e.link = tar.TypeSymlink, h.Linkname
		default:
			continue // directories are made as the files need them
		}
		out = append(out, e)
	}
}

func skip(p string) bool {
	for _, s := range skipped {
		if strings.HasPrefix(p+"/", s) {
			return true
		}
	}
	return false
}
