package batch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// output is the JSON Lines result file: appended one whole line per job
// and synced, so a kill loses at most the job in flight; a line cut short
// by a kill is cut off on the next open.
type output struct {
	f *os.File
}

// openOutput opens (or creates) path and returns the ids it already holds.
func openOutput(path string) (*output, map[string]bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("batch: %w", err)
	}
	done, keep, err := scanDone(f, path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Truncate(keep); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("batch: %w", err)
	}
	if _, err := f.Seek(keep, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("batch: %w", err)
	}
	return &output{f: f}, done, nil
}

// scanDone reads the ids of the complete lines and the length of the
// complete part: only a last line without its newline may be partial.
func scanDone(f *os.File, path string) (map[string]bool, int64, error) {
	done := map[string]bool{}
	r := bufio.NewReaderSize(f, 1<<16)
	var keep int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err == io.EOF {
			return done, keep, nil // b, if any, is a partial last line
		}
		if err != nil {
			return nil, 0, fmt.Errorf("batch: %s: %v", path, err)
		}
		var rec struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(b), &rec); err != nil || rec.ID == nil {
			return nil, 0, fmt.Errorf("batch: %s:%d is not a result line; is this the right output file?", path, line)
		}
		done[*rec.ID] = true
		keep += int64(len(b))
	}
}

// write appends one line in a single write and syncs it.
func (o *output) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := o.f.Write(b); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return o.f.Sync()
}

func (o *output) close() error { return o.f.Close() }
