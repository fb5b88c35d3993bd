package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/quantfit/quantfit/host/batch"
)

// manifests are deploy/'s Kubernetes objects, decoded strictly.
type manifests struct {
	jobs        []*batchv1.Job
	deployments []*appsv1.Deployment
	services    []*corev1.Service
}

// kustomization is the part of kustomize's Kustomization that
// deploy/kustomization.yaml uses; decoded strictly, a field it does not
// know fails.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// readManifests decodes every object of deploy/*.yaml with the API types,
// rejecting unknown fields.
func readManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("../*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/: %v", err)
	}
	var m manifests
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch meta.Kind {
			case "Job":
				j := new(batchv1.Job)
				m.jobs, obj = append(m.jobs, j), j
			case "Deployment":
				d := new(appsv1.Deployment)
				m.deployments, obj = append(m.deployments, d), d
			case "Service":
				s := new(corev1.Service)
				m.services, obj = append(m.services, s), s
			default:
				t.Fatalf("%s document %d: kind %q is not one this test decodes", f, i, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s document %d (%s): %v", f, i, meta.Kind, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// flagValue returns the value after flag name in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// TestManifests: every manifest decodes strictly, names the image the
// build writes, and agrees with itself: shards with completions, probes
// and scrape annotations with the port, the grace period with the drain.
func TestManifests(t *testing.T) {
	m := readManifests(t)
	if len(m.jobs) != 1 || len(m.deployments) != 2 || len(m.services) != 2 {
		t.Fatalf("%d jobs, %d deployments, %d services; want the batch Job and the service's CPU and GPU variants",
			len(m.jobs), len(m.deployments), len(m.services))
	}
	data, err := os.ReadFile("../kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	repo, tag, _ := strings.Cut(DefaultTag, ":")
	if len(k.Images) != 1 || k.Images[0].Name != repo || k.Images[0].NewTag != tag {
		t.Errorf("kustomization.yaml maps images %+v; want %s with tag %s", k.Images, repo, tag)
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("..", r)); err != nil {
			t.Errorf("kustomization.yaml: resource %s: %v", r, err)
		}
	}
	containers := func(p corev1.PodSpec) []corev1.Container { return p.Containers }
	var all []corev1.Container
	j := m.jobs[0]
	all = append(all, containers(j.Spec.Template.Spec)...)
	for _, d := range m.deployments {
		all = append(all, containers(d.Spec.Template.Spec)...)
	}
	for _, c := range all {
		if c.Image != DefaultTag {
			t.Errorf("container %s runs image %q; the build writes %s", c.Name, c.Image, DefaultTag)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s: no memory request or limit", c.Name)
		}
		// Kubernetes expands $(NAME) only for variables the container defines.
		for _, a := range c.Args {
			for _, ref := range regexp.MustCompile(`\$\(([A-Z_][A-Z0-9_]*)\)`).FindAllStringSubmatch(a, -1) {
				if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == ref[1] }) {
					t.Errorf("container %s: argument %q names $(%s), which its env does not define", c.Name, a, ref[1])
				}
			}
		}
	}

	// The Job: one shard a completion index.
	jc := j.Spec.Template.Spec.Containers[0]
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Error("the Job is not Indexed")
	}
	shards, _ := flagValue(jc.Args, "-shards")
	if n, err := strconv.Atoi(shards); err != nil || j.Spec.Completions == nil || int32(n) != *j.Spec.Completions ||
		j.Spec.Parallelism == nil || *j.Spec.Parallelism != *j.Spec.Completions {
		t.Errorf("the Job runs -shards %q over %v completions, parallelism %v", shards, j.Spec.Completions, j.Spec.Parallelism)
	}
	if len(jc.Args) == 0 || jc.Args[0] != "batch" {
		t.Errorf("the Job's container runs %q, not quantfit batch", jc.Args)
	}
	if jc.Resources.Limits.Name("nvidia.com/gpu", "").IsZero() {
		t.Error("the batch Job asks for no GPU")
	}

	// The services: probes, scrape annotations, drain.
	gpus := 0
	for _, d := range m.deployments {
		spec := d.Spec.Template.Spec
		c := spec.Containers[0]
		if !c.Resources.Limits.Name("nvidia.com/gpu", "").IsZero() {
			gpus++
		}
		if c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: no CPU request", d.Name)
		}
		addr, _ := flagValue(c.Args, "-addr")
		_, port, err := net.SplitHostPort(addr)
		if err != nil || len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port {
			t.Errorf("%s: serves -addr %q, container ports %+v", d.Name, addr, c.Ports)
			continue
		}
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port != intstr.FromString(c.Ports[0].Name) {
				t.Errorf("%s: a probe %+v is not an HTTP GET on port %s", d.Name, p, c.Ports[0].Name)
			}
		}
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: scrape annotations %v; want port %s, path /metrics", d.Name, ann, port)
		}
		// Drain: the preStop pause, then at most -timeout and 10 s more.
		timeout, err := time.ParseDuration(func() string { v, _ := flagValue(c.Args, "-timeout"); return v }())
		if err != nil {
			timeout = time.Minute // the flag's default
		}
		var pause time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		need := pause + timeout + 10*time.Second
		if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < need {
			t.Errorf("%s: grace period %v s is shorter than the drain, %v", d.Name, g, need)
		}
		var svc *corev1.Service
		for _, s := range m.services {
			if s.Name == d.Name {
				svc = s
			}
		}
		if svc == nil || svc.Spec.Selector["app.kubernetes.io/name"] != d.Spec.Template.Labels["app.kubernetes.io/name"] ||
			len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != intstr.FromString(c.Ports[0].Name) {
			t.Errorf("%s: no Service that selects its pods and targets port %s", d.Name, c.Ports[0].Name)
		}
	}
	if gpus != 1 {
		t.Errorf("%d service Deployments ask for nvidia.com/gpu; want the GPU variant alone", gpus)
	}
}

// debs finds the packages fetch-debs.sh downloads: QUANTFIT_IMAGE_DEBS, or
// deploy/image/debs.
func debs(t *testing.T) []string {
	dir := os.Getenv("QUANTFIT_IMAGE_DEBS")
	if dir == "" {
		dir = "debs"
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(files) == 0 {
		msg := fmt.Sprintf("no Debian packages in %s: run bash deploy/image/fetch-debs.sh", dir)
		if os.Getenv("QUANTFIT_REQUIRE_IMAGE") != "" {
			t.Fatal("QUANTFIT_REQUIRE_IMAGE is set but " + msg)
		}
		t.Skip(msg)
	}
	return files
}

// TestImage builds the image as build.sh does, unpacks it, and runs the
// binary from its filesystem: version, an estimate of a bundled photo, the
// batch Job's command, the service with its Deployment's flags.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds quantfit and an image")
	}
	pkgs := debs(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "quantfit")
	build := exec.Command("go", "build", "-tags", "egl", "-trimpath", "-buildvcs=true", "-ldflags=-s -w", "-o", bin, "github.com/quantfit/quantfit/cmd/quantfit")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "quantfit-image.tar")
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"-binary", bin, "-o", out}, pkgs...), &stdout, &stderr); code != 0 {
		t.Fatalf("image: exit %d: %s", code, stderr.String())
	}
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s: %d files, %.1f MB compressed, quantfit %s", rep.Digest, rep.Files, float64(rep.Compressed)/1e6, rep.Build)
	if rep.Compressed > 50e6 {
		t.Errorf("the image is %.1f MB compressed; the bound is 50 MB", float64(rep.Compressed)/1e6)
	}

	// What docker load and crane push read back.
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	// digests, sizes and diff IDs agree with the bytes
	if err := validate.Image(img); err != nil {
		t.Errorf("the tarball's image does not validate: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || cf.Config.Labels["org.opencontainers.image.revision"] != rep.Build.Revision ||
		cf.Config.Labels["org.opencontainers.image.version"] == "" || cf.Config.Labels["org.opencontainers.image.source"] != Source {
		t.Errorf("config: user %q, labels %v", cf.Config.User, cf.Config.Labels)
	}
	if !slices.Contains(cf.Config.Env, "NVIDIA_DRIVER_CAPABILITIES=compute,graphics,utility") {
		t.Errorf("config env %v lacks NVIDIA_DRIVER_CAPABILITIES", cf.Config.Env)
	}
	root := filepath.Join(dir, "root")
	if err := unpack(mutate.Extract(img), root); err != nil {
		t.Fatal(err)
	}

	// The loaders the binary needs, and the vendor file the manifests and
	// the image's environment name, at those paths inside the image.
	for _, lib := range []string{"/lib64/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libEGL.so.1", "/usr/lib/x86_64-linux-gnu/libGLdispatch.so.0", "/usr/lib/x86_64-linux-gnu/libOpenGL.so.0"} {
		if _, err := resolve(root, lib); err != nil {
			t.Errorf("image: %v", err)
		}
	}
	if interp, err := interpreter(filepath.Join(root, binaryPath)); err != nil {
		t.Error(err)
	} else if _, err := resolve(root, interp); err != nil {
		t.Errorf("the binary's interpreter: %v", err)
	}
	vendors := map[string]bool{}
	for _, e := range cf.Config.Env {
		if v, ok := strings.CutPrefix(e, "__EGL_VENDOR_LIBRARY_FILENAMES="); ok {
			vendors[v] = true
		}
	}
	m := readManifests(t)
	var containers []corev1.Container
	containers = append(containers, m.jobs[0].Spec.Template.Spec.Containers...)
	for _, d := range m.deployments {
		containers = append(containers, d.Spec.Template.Spec.Containers...)
	}
	for _, c := range containers {
		for _, e := range c.Env {
			if e.Name == "__EGL_VENDOR_LIBRARY_FILENAMES" {
				vendors[e.Value] = true
			}
		}
	}
	for v := range vendors {
		p, err := resolve(root, v)
		if err != nil {
			t.Errorf("vendor file: %v", err)
			continue
		}
		var icd struct {
			ICD struct {
				LibraryPath string `json:"library_path"`
			} `json:"ICD"`
		}
		if b, err := os.ReadFile(p); err != nil || json.Unmarshal(b, &icd) != nil || icd.ICD.LibraryPath != "libEGL_nvidia.so.0" {
			t.Errorf("vendor file %s: %s", v, b)
		}
	}

	r := newRunner(t, root)
	t.Logf("running the image's binary %s", r.how)
	if got := r.output(t, nil, "version"); !strings.Contains(got, rep.Build.Revision) {
		t.Errorf("quantfit version in the image: %q, want revision %s", got, rep.Build.Revision)
	}

	// An estimate of a bundled photo, quantized by the image's own synth.
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(filepath.Join(data, "results"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o777)
	os.Chmod(filepath.Join(data, "results"), 0o777)
	photo, err := os.ReadFile("../../internal/photos/coins.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "coins.png"), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	r.output(t, nil, "synth", "-b", "9.3", "/data/coins.png", "/data/coins-q.png")
	var est struct {
		B float64 `json:"b"`
	}
	if err := json.Unmarshal([]byte(r.output(t, nil, "estimate", "-backend", "cpu", "/data/coins.png", "/data/coins-q.png")), &est); err != nil || math.Abs(est.B-9.3) > 0.05 {
		t.Errorf("estimate in the image: b = %v (%v), want 9.3", est.B, err)
	}

	// The batch Job's own command, as Kubernetes expands it for index 0.
	// one job, with an id that shard 0 owns
	shards, _ := flagValue(m.jobs[0].Spec.Template.Spec.Containers[0].Args, "-shards")
	n, _ := strconv.Atoi(shards)
	id := "coins"
	for k := 0; batch.ShardOf(id, n) != 0; k++ {
		id = fmt.Sprintf("coins-%d", k)
	}
	manifest := "id,original,quantized\n" + id + ",coins.png,coins-q.png\n"
	if err := os.WriteFile(filepath.Join(data, "manifest.csv"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	jc := m.jobs[0].Spec.Template.Spec.Containers[0]
	var args []string
	for _, a := range jc.Args {
		args = append(args, strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", "0"))
	}
	r.output(t, []string{"JOB_COMPLETION_INDEX=0"}, args...)
	outFile, _ := flagValue(args, "-o")
	lines, err := os.ReadFile(filepath.Join(root, outFile))
	if err != nil || !strings.Contains(string(lines), `"id":"`+id+`"`) || strings.Contains(string(lines), `"error"`) {
		t.Errorf("the Job's shard 0 wrote %q (%v)", lines, err)
	}

	// The service with each Deployment's flags on a free port: probes,
	// metrics, and a drain on SIGTERM within the grace period.
	for _, d := range m.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		r.serve(t, d, c)
	}
}

// runner runs the image's binary inside its filesystem: chrooted as the
// image's user where this process may (root), else through the image's
// own dynamic loader and libraries.
type runner struct {
	root string
	how  string
	cmd  func(env []string, args ...string) *exec.Cmd
}

func newRunner(t *testing.T, root string) *runner {
	r := &runner{root: root}
	r.cmd = func(env []string, args ...string) *exec.Cmd {
		c := exec.Command("/"+binaryPath, args...)
		c.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/" + home}, env...)
		c.Dir = "/"
		c.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		return c
	}
	r.how = "chrooted into the image as uid 65532"
	if err := r.cmd(nil, "version").Run(); err == nil {
		return r
	}
	// Not root: the image's loader with the image's libraries, paths
	// under /data taken inside the unpacked image.
	ld, err := resolve(root, "/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Fatal(err)
	}
	r.how = "through the image's dynamic loader and libraries"
	r.cmd = func(env []string, args ...string) *exec.Cmd {
		var in []string
		for _, a := range args {
			if strings.HasPrefix(a, "/data") {
				a = filepath.Join(root, a)
			}
			in = append(in, a)
		}
		c := exec.Command(ld, append([]string{"--library-path", filepath.Join(root, "usr/lib/x86_64-linux-gnu"), filepath.Join(root, binaryPath)}, in...)...)
		c.Env = append(os.Environ(), env...)
		return c
	}
	return r
}

func (r *runner) output(t *testing.T, env []string, args ...string) string {
	t.Helper()
	c := r.cmd(env, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("quantfit %s in the image: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func (r *runner) serve(t *testing.T, d *appsv1.Deployment, c corev1.Container) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := slices.Clone(c.Args)
	for i := range args {
		if i > 0 && args[i-1] == "-addr" {
			args[i] = addr
		}
	}
	cmd := r.cmd(nil, args...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	get := func(p string) (int, string) {
		for range 100 {
			resp, err := http.Get("http://" + addr + p)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		return 0, ""
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if code, body := get(p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("%s: probe %s answers %d %q\n%s", d.Name, p.HTTPGet.Path, code, body, logs.String())
		}
	}
	if code, body := get(d.Spec.Template.Annotations["prometheus.io/path"]); code != http.StatusOK || !strings.Contains(body, "quantfit_build_info{") {
		t.Errorf("%s: metrics answer %d without quantfit_build_info", d.Name, code)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: exit after SIGTERM: %v\n%s", d.Name, err, logs.String())
		}
	case <-time.After(grace):
		cmd.Process.Kill()
		t.Errorf("%s: still running %v after SIGTERM", d.Name, grace)
	}
}

// unpack writes a flattened image filesystem (mutate.Extract) under root.
func unpack(rc io.ReadCloser, root string) error {
	defer rc.Close()
	tr := tar.NewReader(bufio.NewReader(rc))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(root, filepath.FromSlash(path.Clean("/"+h.Name)))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			os.Chmod(p, os.FileMode(h.Mode)&os.ModePerm|modeBits(h.Mode))
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&os.ModePerm)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// resolve finds p inside root, following symbolic links as the image's
// processes see them (absolute targets from root), and returns the host
// path of the file.
func resolve(root, p string) (string, error) {
	cur := "/"
	parts := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	for hops := 0; len(parts) > 0; {
		next := path.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("%s: %s is missing", p, next)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return filepath.Join(root, cur), nil
}

// interpreter is the ELF interpreter a binary names.
func interpreter(file string) (string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return "", err
			}
			return strings.TrimRight(string(b), "\x00"), nil
		}
	}
	return "", fmt.Errorf("%s names no interpreter", file)
}
