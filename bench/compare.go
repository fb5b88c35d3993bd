package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Peer is one measurement of a peer script (bench/peers).
type Peer struct {
	Peer       string  `json:"peer"`
	Device     string  `json:"device"`
	Surrogate  string  `json:"surrogate"`
	Pixels     int     `json:"pixels"`
	StepMedian float64 `json:"step_seconds_median"`
}

// WriteData writes Data(n, n), as Run measures it: n original bytes, then n
// target bytes, for the peer scripts.
func WriteData(w io.Writer, n int) error {
	x, t, err := Data(n, uint64(n))
	if err != nil {
		return err
	}
	if _, err := w.Write(x); err != nil {
		return err
	}
	_, err = w.Write(t)
	return err
}

func readJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("bench: %s: %v", path, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// Compare prints, for every peer measurement, quantfit's matching step
// (per-pixel, K = 1, same surrogate and size) on each backend and the
// ratio of the peer's time to quantfit's.
func Compare(w io.Writer, quantfitPath, peersPath string) error {
	qs, err := readJSONL[Measurement](quantfitPath)
	if err != nil {
		return err
	}
	ps, err := readJSONL[Peer](peersPath)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "| peer | device | surrogate | pixels | peer step | quantfit backend | quantfit step | peer / quantfit |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | --- | --- | --- | ---: |")
	for _, p := range ps {
		for _, q := range qs {
			if q.Kind != "step" || q.Mode != "pixel" || q.K != 1 || q.Pixels != p.Pixels || q.Surrogate != p.Surrogate {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.1f× |\n", p.Peer, p.Device, p.Surrogate, si(float64(p.Pixels), ""),
				dur(p.StepMedian), q.Backend, dur(q.StepMedian), p.StepMedian/q.StepMedian)
		}
	}
	return nil
}
