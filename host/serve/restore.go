package serve

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

// restored is a restore task's outcome: the PNG and what was undone.
type restored struct {
	png []byte
	qz  restore.Quantizer
}

// handleRestore restores a quantized image as quantfit restore does by
// default: a multipart body with a file part "quantized", optionally an
// "original" (b and the model from the pair; else blindly) and fields "b"
// and "model". The answer is the restored PNG at the image's depth; the
// headers X-Quantfit-Model, X-Quantfit-B and X-Quantfit-B-From say what was
// undone, X-Quantfit-Dither the kind of dither found ("ordered", "error
// diffusion"), X-Quantfit-Dither-Period an ordered one's period,
// X-Quantfit-Palette the number of colours of a colour palette found and
// X-Quantfit-Note a caveat on b (restore.Quantizer). It runs on the
// estimation workers: a full queue is 429.
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request) {
	t, ok := s.runSync(w, r, s.restoreTask, "restoration")
	if !ok {
		return
	}
	out := t.report.(*restored)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("X-Quantfit-Model", out.qz.ModelName())
	w.Header().Set("X-Quantfit-B", strconv.FormatFloat(out.qz.B, 'g', -1, 64))
	w.Header().Set("X-Quantfit-B-From", out.qz.BFrom)
	if d := out.qz.Dither; d != nil {
		w.Header().Set("X-Quantfit-Dither", d.Kind())
		if d.P > 0 {
			w.Header().Set("X-Quantfit-Dither-Period", strconv.Itoa(d.P))
		}
	}
	if out.qz.Palette > 0 {
		w.Header().Set("X-Quantfit-Palette", strconv.Itoa(out.qz.Palette))
	}
	if out.qz.Note != "" {
		w.Header().Set("X-Quantfit-Note", out.qz.Note)
	}
	w.Write(out.png)
}

// restoreTask decodes a restore request into a task for the workers.
func (s *Server) restoreTask(r *http.Request) (*task, error) {
	select {
	case s.decode <- struct{}{}:
		defer func() { <-s.decode }()
	case <-r.Context().Done():
		return nil, errorf(http.StatusServiceUnavailable, "timed out waiting to decode")
	}
	boundary, err := multipartBoundary(r, s.cfg.MaxBodyBytes, "quantized (and original)")
	if err != nil {
		return nil, err
	}
	var q, orig *imageset.Image
	b := math.NaN()
	var models []kernels.Model
	err = readParts(r, boundary, s.cfg.MaxBodyBytes, func(name, fn string, data []byte) error {
		switch name {
		case "quantized", "original":
			if fn == "" {
				fn = name
			}
			im, err := imageset.Decode(bytes.NewReader(data), fmt.Sprintf("%s %q", name, fn), s.cfg.MaxPixels)
			if err != nil {
				return asAPIError(err)
			}
			if (name == "quantized" && q != nil) || (name == "original" && orig != nil) {
				return errorf(http.StatusBadRequest, "two %s parts: restore one image a request", name)
			}
			if name == "quantized" {
				q = im
			} else {
				orig = im
			}
		case "b":
			v, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
			if err != nil || !(v > 1) || v > 1<<16 {
				return errorf(http.StatusBadRequest, "b %q is not a quantizer's", data)
			}
			b = v
		case "model":
			if m := strings.TrimSpace(string(data)); m != "auto" {
				mod, err := kernels.ParseModel(m)
				if err != nil {
					return errorf(http.StatusBadRequest, "model %q: want auto or one of %s", m, strings.Join(kernels.Models(), ", "))
				}
				models = []kernels.Model{mod}
			}
		default:
			return errorf(http.StatusBadRequest, "unknown part %q (want quantized, original, b, model)", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case q == nil:
		return nil, errorf(http.StatusBadRequest, "want a part quantized")
	case orig != nil && !math.IsNaN(b):
		return nil, errorf(http.StatusBadRequest, "give b or an original, not both")
	case orig != nil && (orig.W != q.W || orig.H != q.H):
		return nil, errorf(http.StatusBadRequest, "original is %dx%d, quantized %dx%d", orig.W, orig.H, q.W, q.H)
	}
	rb := s.cfg.Restore
	if rb == nil {
		rb = restore.CPU{}
	}
	t := &task{id: newID(), done: make(chan struct{}), status: "queued"}
	t.work = func() (any, error) {
		out, qz, _, err := restore.Dequantize(q, orig, b, models, restore.Settings{Backend: rb}, q.Depth())
		var bad *restore.BackendError
		switch {
		case errors.As(err, &bad):
			return nil, err
		case err != nil:
			// the image is no quantization the blind or pair estimate finds
			return nil, options.UsageError{Err: err}
		}
		var buf bytes.Buffer
		if err := out.EncodePNG(&buf); err != nil {
			return nil, err
		}
		return &restored{buf.Bytes(), qz}, nil
	}
	return t, nil
}
