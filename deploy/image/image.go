package main

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	qbuild "github.com/quantfit/quantfit/host/buildinfo"
)

// The paths the manifests and the image agree on.
const (
	binaryPath = "usr/local/bin/quantfit"
	// vendorPath is libglvnd's EGL vendor file for NVIDIA's driver, whose
	// libEGL_nvidia.so.0 the NVIDIA container toolkit mounts into a pod
	// that asks for the graphics capability.
	vendorPath = "usr/share/glvnd/egl_vendor.d/10_nvidia.json"
	vendorJSON = `{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}` + "\n"
	uid        = 65532
	home       = "home/nonroot"
	// Source is the repository the labels name.
	Source = "https://github.com/quantfit/quantfit"
)

// Packages are the Debian packages the image takes its libraries from:
// the C library the binary links, and libglvnd's EGL and OpenGL loaders
// (libEGL.so.1 with libGLdispatch.so.0, libOpenGL.so.0).
var Packages = []string{"libc6", "libegl1", "libglvnd0", "libopengl0"}

// Config says what to build.
type Config struct {
	Binary string   // the quantfit binary, built with -tags egl (see build.sh)
	Debs   []string // the .deb files of Packages
}

// Report describes a built image.
type Report struct {
	Build      qbuild.Info `json:"build"`
	Packages   []string    `json:"packages"`
	Files      int         `json:"files"`
	Compressed int64       `json:"compressed_bytes"`
	Digest     string      `json:"digest"`
}

// Build makes the image: a filesystem of two layers (the system: the
// packages' libraries, the vendor file, the user; then the binary) and a
// configuration, every timestamp the binary's commit time, so that the
// same inputs give the same digest.
func Build(c Config) (v1.Image, Report, error) {
	var rep Report
	bi, err := buildinfo.ReadFile(c.Binary)
	if err != nil {
		return nil, rep, fmt.Errorf("image: reading the build information of %s: %v", c.Binary, err)
	}
	rep.Build = qbuild.FromBuildInfo(bi)
	epoch := time.Unix(0, 0).UTC()
	if t, err := time.Parse(time.RFC3339, rep.Build.Time); err == nil {
		epoch = t.UTC()
	}
	sys, err := systemFiles(c.Debs, &rep)
	if err != nil {
		return nil, rep, err
	}
	bin, err := os.ReadFile(c.Binary)
	if err != nil {
		return nil, rep, err
	}
	app := []entry{{path: binaryPath, mode: 0o755, kind: tar.TypeReg, data: bin, from: "quantfit"}}
	rep.Files = len(sys) + len(app)
	var layers []v1.Layer
	for _, files := range [][]entry{sys, app} {
		l, err := layer(files, epoch)
		if err != nil {
			return nil, rep, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, rep, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, rep, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: []string{"/" + binaryPath},
		Cmd:        []string{"serve", "-addr", "0.0.0.0:8080"},
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"NVIDIA_DRIVER_CAPABILITIES=compute,graphics,utility",
			"__EGL_VENDOR_LIBRARY_FILENAMES=/" + vendorPath,
		},
		User:         fmt.Sprintf("%d:%d", uid, uid),
		WorkingDir:   "/" + home,
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "quantfit",
			"org.opencontainers.image.description": "learns pixel-wise image edits from example pairs; estimation service and batch",
			"org.opencontainers.image.source":      Source,
			"org.opencontainers.image.version":     rep.Build.Version,
			"org.opencontainers.image.revision":    rep.Build.Revision,
			"org.opencontainers.image.created":     epoch.Format(time.RFC3339),
		},
	}
	cf.History = nil
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, rep, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return nil, rep, err
		}
		rep.Compressed += n
	}
	d, err := img.Digest()
	if err != nil {
		return nil, rep, err
	}
	rep.Digest = d.String()
	return img, rep, nil
}

// systemFiles are the packages' files, the merged-/usr links, the vendor
// file and the non-root user.
func systemFiles(debs []string, rep *Report) ([]entry, error) {
	byPath := map[string]entry{}
	add := func(e entry) error {
		if old, ok := byPath[e.path]; ok && old.from != e.from && (old.kind != e.kind || !bytes.Equal(old.data, e.data) || old.link != e.link) {
			return fmt.Errorf("image: %s is in both %s and %s, differently", e.path, old.from, e.from)
		}
		byPath[e.path] = e
		return nil
	}
	seen := map[string]bool{}
	for _, d := range debs {
		files, err := readDeb(d)
		if err != nil {
			return nil, err
		}
		pkg := strings.SplitN(path.Base(d), "_", 2)[0]
		seen[pkg] = true
		rep.Packages = append(rep.Packages, path.Base(d))
		for _, f := range files {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range Packages {
		if !seen[p] {
			return nil, fmt.Errorf("image: no .deb of %s among %d packages given (see deploy/image/build.sh)", p, len(debs))
		}
	}
	own := []entry{
		{path: "lib", kind: tar.TypeSymlink, link: "usr/lib"},
		{path: "lib64", kind: tar.TypeSymlink, link: "usr/lib64"},
		{path: "bin", kind: tar.TypeSymlink, link: "usr/bin"},
		{path: "sbin", kind: tar.TypeSymlink, link: "usr/sbin"},
		{path: vendorPath, mode: 0o644, kind: tar.TypeReg, data: []byte(vendorJSON)},
		{path: "etc/passwd", mode: 0o644, kind: tar.TypeReg, data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/%s:/sbin/nologin\n", uid, uid, home))},
		{path: "etc/group", mode: 0o644, kind: tar.TypeReg, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid))},
		{path: "tmp", mode: 0o1777, kind: tar.TypeDir},
		{path: home, mode: 0o755, kind: tar.TypeDir, uid: uid},
	}
	for _, e := range own {
		e.from = "quantfit image"
		if err := add(e); err != nil {
			return nil, err
		}
	}
	out := make([]entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	return out, nil
}

// layer writes files as a tar layer, sorted by path, with the parent
// directories each needs, every header stamped with epoch.
func layer(files []entry, epoch time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		if f.kind == tar.TypeDir {
			dirs[f.path] = true
		}
	}
	made := map[string]bool{}
	var mkdirs func(d string) error
	mkdirs = func(d string) error {
		if d == "." || d == "" || made[d] {
			return nil
		}
		if err := mkdirs(path.Dir(d)); err != nil {
			return err
		}
		made[d] = true
		if dirs[d] {
			return nil // written as its own entry
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
	}
	for _, f := range files {
		if err := mkdirs(path.Dir(f.path)); err != nil {
			return nil, err
		}
		h := &tar.Header{Typeflag: f.kind, Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: epoch, Format: tar.FormatPAX}
		switch f.kind {
		case tar.TypeReg:
			h.Size = int64(len(f.data))
		case tar.TypeSymlink:
			h.Linkname = f.link
			h.Mode = 0o777
		case tar.TypeDir:
			h.Name += "/"
			made[f.path] = true
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// reportJSON is the report as the builder prints it.
func reportJSON(r Report) []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}
