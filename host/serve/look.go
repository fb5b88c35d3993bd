package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/look"
)

// handleLookApply applies an edit to an image: a multipart body with a
// part "look" (LOOK.json, or an estimate's report) and a file part
// "image"; the answer is the edited image as PNG at the image's depth.
// It runs on a decoding slot, within the request's timeout.
func (s *Server) handleLookApply(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	if s.isDraining() {
		writeError(w, errorf(http.StatusServiceUnavailable, "shutting down"))
		return
	}
	select {
	case s.decode <- struct{}{}:
		defer func() { <-s.decode }()
	case <-ctx.Done():
		writeError(w, errorf(http.StatusServiceUnavailable, "timed out waiting for a worker"))
		return
	}
	out, err := s.applyLook(r)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(out)
}

func (s *Server) applyLook(r *http.Request) ([]byte, error) {
	boundary, err := multipartBoundary(r, s.cfg.MaxBodyBytes, "look and image")
	if err != nil {
		return nil, err
	}
	var e *look.Edit
	var im *imageset.Image
	err = readParts(r, boundary, s.cfg.MaxBodyBytes, func(name, fn string, data []byte) error {
		switch name {
		case "look":
			if e != nil {
				return errorf(http.StatusBadRequest, "two look parts")
			}
			var err error
			if e, err = look.ReadEdit(data); err != nil {
				return errorf(http.StatusBadRequest, "part look: %v", err)
			}
		case "image":
			if im != nil {
				return errorf(http.StatusBadRequest, "two image parts: apply one image a request")
			}
			if fn == "" {
				fn = name
			}
			var err error
			if im, err = imageset.Decode(bytes.NewReader(data), fmt.Sprintf("image %q", fn), s.cfg.MaxPixels); err != nil {
				return asAPIError(err)
			}
		default:
			return errorf(http.StatusBadRequest, "unknown part %q (want look and image)", name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e == nil || im == nil {
		return nil, errorf(http.StatusBadRequest, "want a part look and a part image")
	}
	res, err := e.Apply(im)
	if err != nil {
		var ie *imageset.InputError
		if errors.As(err, &ie) {
			return nil, asAPIError(err)
		}
		return nil, errorf(http.StatusInternalServerError, "applying the look: %v", err)
	}
	var buf bytes.Buffer
	if err := res.EncodePNG(&buf); err != nil {
		return nil, errorf(http.StatusInternalServerError, "encoding the image: %v", err)
	}
	return buf.Bytes(), nil
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}
