// Command image builds quantfit's OCI image without a container daemon:
// the quantfit binary, the C library and libglvnd's EGL and OpenGL loaders
// from Debian packages, NVIDIA's EGL vendor file and a non-root user, as a
// tarball that `docker load`, `podman load`, `kind load image-archive` and
// `crane push` accept. deploy/image/build.sh fetches the packages, builds
// the binary and runs it:
//
//	go run ./deploy/image -binary quantfit -o quantfit-image.tar DEB...
//
// The Dockerfile beside it builds the same image with Docker.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultTag is the reference the tarball carries, and the image the
// manifests name (deploy/kustomization.yaml maps it to a registry).
const DefaultTag = "quantfit:dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("binary", "", "the quantfit `binary`, built with -tags egl (required)")
	out := fs.String("o", "quantfit-image.tar", "the image tarball to write (`file`)")
	tag := fs.String("tag", DefaultTag, "the `reference` the tarball carries")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: image -binary FILE [-o FILE] [-tag NAME:TAG] PACKAGE.deb...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bin == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		fmt.Fprintf(stderr, "image: -tag %q: %v\n", *tag, err)
		return 2
	}
	img, rep, err := Build(Config{Binary: *bin, Debs: fs.Args()})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Written beside, then renamed: a failed build leaves no half tarball.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".image-*.tar")
	if err != nil {
		fmt.Fprintln(stderr, "image:", err)
		return 1
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := tarball.WriteToFile(tmp.Name(), ref, img); err != nil {
		fmt.Fprintln(stderr, "image: writing the tarball:", err)
		return 1
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		fmt.Fprintln(stderr, "image:", err)
		return 1
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		fmt.Fprintln(stderr, "image:", err)
		return 1
	}
	stdout.Write(reportJSON(rep))
	return 0
}
