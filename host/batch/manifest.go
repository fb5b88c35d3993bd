// Package batch runs estimations over many image pairs: manifests, shards,
// resumable JSON Lines output, and a pipeline that overlaps decoding on CPU
// workers with estimation.
package batch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
)

// Job is one pair to estimate, or, without an original, one filtered
// image to estimate blind; of kind apply, an edit (Look: a LOOK.json or an
// estimate's report) to apply to Original, written to Output; of kind
// restore, Quantized restored (b from Original if given, else blindly),
// written to Output.
type Job struct {
	ID, Original, Quantized string
	// Kind is "" (estimate), "apply" or "restore".
	Kind, Look, Output string
	// Options are estimation options by flag name, over the batch's own.
	Options map[string]string
}

// The kinds of job beside estimation.
const (
	KindApply   = "apply"
	KindRestore = "restore"
)

// maxManifestLine bounds one manifest line: a manifest is data from
// elsewhere.
const maxManifestLine = 1 << 20

// ParseManifest reads a CSV manifest (a header row naming id, original,
// quantized and any option columns) or a JSON Lines one (objects with id,
// original, quantized, and options either as top-level keys or in an
// "options" object). A job with no original (an empty field, or none) is
// estimated blind from its filtered image. Relative paths are taken from dir. Every job's
// options are checked now, on top of base (the batch's own flags; nil:
// the defaults), so a bad manifest fails before any work. Errors are
// *ManifestError.
func ParseManifest(r io.Reader, name, dir string, base *options.Options) ([]Job, error) {
	if base == nil {
		base = options.Default()
	}
	data, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, &ManifestError{name, err}
	}
	var jobs []Job
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".json") ||
		(!strings.HasSuffix(name, ".csv") && len(trimmed) > 0 && trimmed[0] == '{') {
		jobs, err = parseJSONL(data, name)
	} else {
		jobs, err = parseCSV(data, name)
	}
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, &ManifestError{name, fmt.Errorf("no jobs")}
	}
	seen := map[string]bool{}
	for i := range jobs {
		j := &jobs[i]
		if seen[j.ID] {
			return nil, &ManifestError{name, fmt.Errorf("job id %q appears twice", j.ID)}
		}
		seen[j.ID] = true
		if dir != "" {
			for _, p := range []*string{&j.Original, &j.Quantized, &j.Look, &j.Output} {
				if *p != "" && !filepath.IsAbs(*p) {
					*p = filepath.Join(dir, *p)
				}
			}
		}
		if j.Kind == KindApply || j.Kind == KindRestore {
			continue
		}
		o := base.Clone()
		err := o.Apply(j.Options)
		if err == nil {
			// A bad stack fails its job, not the manifest.
			_, err = o.Settings()
		}
		if err != nil {
			return nil, &ManifestError{name, fmt.Errorf("job %q: %w", j.ID, err)}
		}
	}
	return jobs, nil
}

func checkJob(j Job, where string) error {
	switch {
	case strings.TrimSpace(j.ID) == "":
		return &ManifestError{where, fmt.Errorf("empty id")}
	case j.Kind != "" && j.Kind != KindApply && j.Kind != KindRestore:
		return &ManifestError{where, fmt.Errorf("job %q has kind %q; want estimate (or none), apply or restore", j.ID, j.Kind)}
	case j.Kind == KindRestore && (j.Quantized == "" || j.Look != "" || len(j.Options) > 0):
		return &ManifestError{where, fmt.Errorf("restore job %q needs quantized and output (original optional), and no look or options", j.ID)}
	case j.Kind == KindRestore:
		if !strings.HasSuffix(strings.ToLower(j.Output), ".png") {
			return &ManifestError{where, fmt.Errorf("restore job %q: output %q must end in .png", j.ID, j.Output)}
		}
		return nil
	case j.Kind == KindApply && (j.Look == "" || j.Original == "" || j.Output == ""):
		return &ManifestError{where, fmt.Errorf("apply job %q needs look, original (the image to edit) and output", j.ID)}
	case j.Kind == KindApply && !strings.HasSuffix(strings.ToLower(j.Output), ".png"):
		return &ManifestError{where, fmt.Errorf("apply job %q: output %q must end in .png", j.ID, j.Output)}
	case j.Kind == KindApply && (j.Quantized != "" || len(j.Options) > 0):
		return &ManifestError{where, fmt.Errorf("apply job %q: quantized and estimation options belong to estimate jobs", j.ID)}
	case j.Kind != KindApply && (j.Look != "" || j.Output != ""):
		return &ManifestError{where, fmt.Errorf("job %q names a look or an output: give it kind apply", j.ID)}
	case j.Kind == KindApply:
		return nil
	case j.Quantized == "":
		return &ManifestError{where, fmt.Errorf("job %q has no quantized", j.ID)}
	case strings.ContainsAny(j.ID, "\n\r"):
		return &ManifestError{where, fmt.Errorf("job id with a line break")}
	}
	return nil
}

// reserved are the manifest's columns that are not options.
var reserved = map[string]bool{"id": true, "original": true, "quantized": true, "kind": true, "look": true, "output": true}

func parseCSV(data []byte, name string) ([]Job, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, &ManifestError{name, fmt.Errorf("reading the header: %v", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup {
			return nil, &ManifestError{name, fmt.Errorf("column %q appears twice", h)}
		}
		col[h] = i
	}
	need := []string{"id", "quantized"}
	if _, ok := col["kind"]; ok {
		need = need[:1] // apply jobs have none
	}
	for _, need := range need {
		if _, ok := col[need]; !ok {
			return nil, &ManifestError{name, fmt.Errorf("no %q column (the header must name id, original, quantized; original may be left out for blind jobs)", need)}
		}
	}
	var jobs []Job
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &ManifestError{name, err}
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, &ManifestError{fmt.Sprintf("%s:%d", name, line), fmt.Errorf("%d fields, the header has %d", len(rec), len(header))}
		}
		j := Job{ID: strings.TrimSpace(rec[col["id"]])}
		for h, p := range map[string]*string{"original": &j.Original, "quantized": &j.Quantized, "kind": &j.Kind, "look": &j.Look, "output": &j.Output} {
			if i, ok := col[h]; ok {
				*p = rec[i]
			}
		}
		j.Kind = strings.TrimSpace(strings.ToLower(j.Kind))
		if j.Kind == "estimate" {
			j.Kind = ""
		}
		for h, i := range col {
			if reserved[h] || strings.TrimSpace(rec[i]) == "" {
				continue
			}
			if j.Options == nil {
				j.Options = map[string]string{}
			}
			j.Options[h] = strings.TrimSpace(rec[i])
		}
		if err := checkJob(j, fmt.Sprintf("%s:%d", name, line)); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func parseJSONL(data []byte, name string) ([]Job, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxManifestLine)
	var jobs []Job
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, &ManifestError{fmt.Sprintf("%s:%d", name, line), fmt.Errorf("not a JSON object: %v", err)}
		}
		where := fmt.Sprintf("%s:%d", name, line)
		var j Job
		for k, v := range obj {
			switch k {
			case "id", "original", "quantized", "kind", "look", "output":
				s, ok := v.(string)
				if !ok {
					if n, isNum := v.(json.Number); isNum && k == "id" {
						s = n.String()
					} else {
						return nil, &ManifestError{where, fmt.Errorf("%q must be a string", k)}
					}
				}
				switch k {
				case "id":
					j.ID = s
				case "original":
					j.Original = s
				case "kind":
					if j.Kind = strings.ToLower(s); j.Kind == "estimate" {
						j.Kind = ""
					}
				case "look":
					j.Look = s
				case "output":
					j.Output = s
				default:
					j.Quantized = s
				}
			case "options":
				m, ok := v.(map[string]any)
				if !ok {
					return nil, &ManifestError{where, fmt.Errorf("\"options\" must be an object")}
				}
				for ok, ov := range m {
					if err := setOption(&j, ok, ov); err != nil {
						return nil, &ManifestError{where, err}
					}
				}
			default:
				if err := setOption(&j, k, v); err != nil {
					return nil, &ManifestError{where, err}
				}
			}
		}
		if err := checkJob(j, where); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	if err := sc.Err(); err != nil {
		return nil, &ManifestError{name, err}
	}
	return jobs, nil
}

// setOption records a JSON option value as its flag text.
func setOption(j *Job, k string, v any) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case bool:
		s = fmt.Sprint(v)
	default:
		return fmt.Errorf("option %q must be a string, number or boolean", k)
	}
	if j.Options == nil {
		j.Options = map[string]string{}
	}
	j.Options[k] = s
	return nil
}

// FromDirs makes one job per image of dirOrig, id the file name, paired
// with the file of that name in dirQuant; a missing one fails that job
// only.
func FromDirs(dirOrig, dirQuant string) ([]Job, error) {
	es, err := os.ReadDir(dirOrig)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dirQuant); err != nil || !st.IsDir() {
		return nil, &ManifestError{dirQuant, errors.New("not a directory")}
	}
	var jobs []Job
	for _, e := range es {
		if e.IsDir() || !imageset.IsImageName(e.Name()) {
			continue
		}
		jobs = append(jobs, Job{ID: e.Name(), Original: filepath.Join(dirOrig, e.Name()), Quantized: filepath.Join(dirQuant, e.Name())})
	}
	if len(jobs) == 0 {
		return nil, &ManifestError{dirOrig, imageset.ErrNoImages}
	}
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].ID < jobs[b].ID })
	return jobs, nil
}

// ShardOf is the shard of n that owns id: FNV-1a of the id, so a job stays
// in its shard when the manifest is reordered or grows.
func ShardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Shard returns the jobs of shard i of n, in manifest order.
func Shard(jobs []Job, i, n int) ([]Job, error) {
	if n < 1 || i < 0 || i >= n {
		return nil, errors.New("batch: the shard must be i/n with 0 <= i < n")
	}
	var out []Job
	for _, j := range jobs {
		if ShardOf(j.ID, n) == i {
			out = append(out, j)
		}
	}
	return out, nil
}

// ManifestError is a manifest (or folder of jobs) that cannot be run:
// its name, with the line where there is one, and why.
type ManifestError struct {
	Name string
	Err  error
}

func (e *ManifestError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *ManifestError) Unwrap() error { return e.Err }
