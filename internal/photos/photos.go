// Package photos ships real photographs (scikit-image's samples; licences in
// README.md beside this file) for the demo, the tests and the benchmarks,
// so that none of them needs a network or a folder outside the binary.
package photos

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/quantfit/quantfit/host/imageset"
)

//go:embed *.png *.jpg
var files embed.FS

// Names lists the embedded photographs.
func Names() []string {
	es, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Bytes returns the encoded file.
func Bytes(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("photos: %w", err)
	}
	return b, nil
}

// Load decodes the named photograph.
func Load(name string) (*imageset.Image, error) {
	b, err := Bytes(name)
	if err != nil {
		return nil, err
	}
	return imageset.Decode(bytes.NewReader(b), name, 0)
}
