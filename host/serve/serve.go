// Package serve is quantfit as an HTTP JSON service: synchronous and
// asynchronous estimation, health, readiness and Prometheus metrics, with a
// bounded queue in front of the estimation workers.
package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quantfit/quantfit/host/estimate"
	"github.com/quantfit/quantfit/host/imageset"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/restore"
	"github.com/quantfit/quantfit/kernels"
)

// Config configures a Server. Zero values mean the defaults per field.
type Config struct {
	// Base holds the options requests start from. Default: options.Default.
	Base *options.Options
	// Backend runs the estimations. Default: the CPU.
	Backend estimate.Backend
	// Workers is the number of estimations at once. Default: 1 on a GPU
	// backend (one context, used in turn), else GOMAXPROCS.
	Workers int
	// Decoders bounds the requests decoding images at once. Default
	// 2·GOMAXPROCS.
	Decoders int
	// Queue is the number of estimations that may wait; beyond it requests
	// get 429. Default 64.
	Queue int
	// MaxBodyBytes bounds a request body; beyond it, 413. Default 64 MiB.
	MaxBodyBytes int64
	// MaxPixels bounds each image; beyond it, 413. Default 16M.
	MaxPixels int
	// Timeout bounds a synchronous request. Default 60 s.
	Timeout time.Duration
	// MaxJobs bounds the asynchronous jobs kept; the oldest finished go
	// first. Default 1000.
	MaxJobs int
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// Registry receives the metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Restore runs restorations' steps. Default: the CPU.
	Restore restore.Backend
}

// Server serves the API.
type Server struct {
	cfg     Config
	queue   chan *task
	decode  chan struct{}
	wg      sync.WaitGroup
	mux     *http.ServeMux
	metrics metrics

	mu       sync.Mutex
	jobs     map[string]*task
	order    []string // job ids, oldest first
	draining bool
}

type task struct {
	id     string
	set    *imageset.Set
	opt    *options.Options
	done   chan struct{}
	status string // queued, running, done, failed
	// progress is where a long fit stands while it runs (a stack on whole
	// images or tiles); nil for the others.
	progress *estimate.Progress
	report   any // *estimate.Report, or *estimate.StackReport for a stack
	err      error
	// work, if set, is the task instead of an estimation (a restore)
	work func() (any, error)
}

// New starts the workers of a server.
func New(cfg Config) *Server {
	if cfg.Base == nil {
		cfg.Base = options.Default()
	}
	if cfg.Backend == nil {
		cfg.Backend = estimate.CPU{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
		if cfg.Backend.Name() == "gpu" {
			cfg.Workers = 1
		}
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = 16 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:    cfg,
		queue:  make(chan *task, cfg.Queue),
		decode: make(chan struct{}, cfg.Decoders),
		jobs:   map[string]*task{},
	}
	s.metrics = newMetrics(cfg.Registry, cfg.Backend)
	s.metrics.queue.Set(0)
	for range cfg.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/estimate", s.handleEstimate)
	mux.HandleFunc("POST /v1/jobs", s.handleSubmit)
	mux.HandleFunc("GET /v1/jobs/{id}", s.handleJob)
	mux.HandleFunc("POST /v1/look/apply", s.handleLookApply)
	mux.HandleFunc("POST /v1/restore", s.handleRestore)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.mux = mux
	return s
}

// Handler returns the API with request logging and metrics.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w, code: 200}
		s.mux.ServeHTTP(rw, r)
		route := routeOf(r)
		s.metrics.requests.WithLabelValues(route, fmt.Sprint(rw.code)).Inc()
		if rw.code >= 400 {
			s.metrics.errors.WithLabelValues(route).Inc()
		}
		s.cfg.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.code,
			"seconds", time.Since(start).Seconds(), "remote", r.RemoteAddr)
	})
}

func routeOf(r *http.Request) string {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v1/jobs/"):
		return "/v1/jobs/{id}"
	case p == "/v1/estimate", p == "/v1/jobs", p == "/v1/look/apply", p == "/v1/restore", p == "/healthz", p == "/readyz", p == "/metrics":
		return p
	}
	return "other"
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Drain stops taking work (readyz turns 503, new requests 503) and waits
// for the queued and running estimations to finish.
func (s *Server) Drain() {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return
	}
	s.draining = true
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) worker() {
	defer s.wg.Done()
	for t := range s.queue {
		s.metrics.queue.Set(float64(len(s.queue)))
		s.setStatus(t, "running")
		start := time.Now()
		rep, err := s.run(t)
		s.metrics.seconds.Observe(time.Since(start).Seconds())
		s.mu.Lock()
		t.report, t.err = rep, err
		if err != nil {
			t.status = "failed"
		} else {
			t.status = "done"
		}
		t.set = nil // the images are no longer needed
		s.mu.Unlock()
		close(t.done)
	}
}

func (s *Server) run(t *task) (any, error) {
	if t.work != nil {
		return t.work()
	}
	out, err := t.opt.Estimate(t.set, s.cfg.Backend, options.Hooks{Progress: func(p estimate.Progress) { s.setProgress(t, p) }})
	if err != nil {
		return nil, err // not a nil report in a non-nil any
	}
	return out.JSON(), nil
}

func (s *Server) setProgress(t *task, p estimate.Progress) {
	s.mu.Lock()
	t.progress = &p
	s.mu.Unlock()
}

func (s *Server) setStatus(t *task, status string) {
	s.mu.Lock()
	t.status = status
	s.mu.Unlock()
}

// apiError is an error with its HTTP status.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code, fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{http.StatusInternalServerError, err.Error()}
	}
	if ae.code == http.StatusTooManyRequests || ae.code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, ae.code, map[string]string{"error": ae.msg})
}

// enqueue puts a task on the queue, or fails with 429 when it is full.
func (s *Server) enqueue(t *task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return errorf(http.StatusServiceUnavailable, "shutting down")
	}
	select {
	case s.queue <- t:
		s.metrics.queue.Set(float64(len(s.queue)))
		return nil
	default:
		return errorf(http.StatusTooManyRequests, "the queue is full (%d estimations waiting); retry later", cap(s.queue))
	}
}

func (s *Server) newTask(r *http.Request) (*task, error) {
	select {
	case s.decode <- struct{}{}:
		defer func() { <-s.decode }()
	case <-r.Context().Done():
		return nil, errorf(http.StatusServiceUnavailable, "timed out waiting to decode")
	}
	set, opt, err := ParseRequest(r, s.cfg.Base, s.cfg.MaxBodyBytes, s.cfg.MaxPixels)
	if err != nil {
		return nil, err
	}
	return &task{id: newID(), set: set, opt: opt, done: make(chan struct{}), status: "queued"}, nil
}

func (s *Server) handleEstimate(w http.ResponseWriter, r *http.Request) {
	if t, ok := s.runSync(w, r, s.newTask, "estimation"); ok {
		writeJSON(w, http.StatusOK, t.report)
	}
}

// runSync makes a task of the request (within the timeout), queues it and
// waits for it; on any failure it writes the error and reports false.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request, build func(*http.Request) (*task, error), what string) (*task, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	t, err := build(r.WithContext(ctx))
	if err == nil {
		err = s.enqueue(t)
	}
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		writeError(w, errorf(http.StatusServiceUnavailable, "the %s did not finish within %v", what, s.cfg.Timeout))
		return nil, false
	}
	if t.err != nil {
		writeError(w, asAPIError(t.err))
		return nil, false
	}
	return t, true
}

// asAPIError maps an estimation failure by its type: bad options or data
// (an options.UsageError, a settings error, an image that cannot be used)
// are the client's (400), an image over the limit 413, anything else,
// such as a failed GPU, the server's (500).
func asAPIError(err error) error {
	var (
		ue options.UsageError
		fe *kernels.FieldError
		ie *imageset.InputError
	)
	switch {
	case errors.Is(err, imageset.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "%v", err)
	case errors.As(err, &ue), errors.As(err, &fe), errors.As(err, &ie):
		return errorf(http.StatusBadRequest, "%v", options.Flagged(err))
	}
	return errorf(http.StatusInternalServerError, "estimation failed: %v", err)
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	t, err := s.newTask(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	if err := s.admitJob(t); err != nil {
		s.mu.Unlock()
		writeError(w, err)
		return
	}
	s.mu.Unlock()
	if err := s.enqueue(t); err != nil {
		s.mu.Lock()
		s.forget(t.id)
		s.mu.Unlock()
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/v1/jobs/"+t.id)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": t.id, "status": "queued"})
}

// admitJob records t, evicting the oldest finished job when full.
func (s *Server) admitJob(t *task) error {
	if len(s.jobs) >= s.cfg.MaxJobs {
		for _, id := range s.order {
			if st := s.jobs[id].status; st == "done" || st == "failed" {
				s.forget(id)
				break
			}
		}
	}
	if len(s.jobs) >= s.cfg.MaxJobs {
		return errorf(http.StatusTooManyRequests, "%d jobs are unfinished; retry later", len(s.jobs))
	}
	s.jobs[t.id] = t
	s.order = append(s.order, t.id)
	return nil
}

func (s *Server) forget(id string) {
	delete(s.jobs, id)
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

type jobView struct {
	ID       string             `json:"id"`
	Status   string             `json:"status"`
	Progress *estimate.Progress `json:"progress,omitempty"`
	Result   any                `json:"result,omitempty"`
	Error    string             `json:"error,omitempty"`
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	t, ok := s.jobs[id]
	var v jobView
	if ok {
		v = jobView{ID: id, Status: t.status, Progress: t.progress, Result: t.report}
		if t.err != nil {
			v.Error = asAPIError(t.err).Error()
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "no job %q", id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	v := map[string]any{
		"backend":  s.cfg.Backend.Name(),
		"renderer": s.cfg.Backend.Renderer(),
		"queue":    len(s.queue),
		"capacity": cap(s.queue),
		"workers":  s.cfg.Workers,
	}
	if draining {
		v["status"] = "draining"
		writeJSON(w, http.StatusServiceUnavailable, v)
		return
	}
	v["status"] = "ready"
	writeJSON(w, http.StatusOK, v)
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ParseRequest reads a multipart request: file parts "original" and
// "quantized" (repeatable, paired in order; quantized parts alone ask for
// a blind estimate), options as form fields named
// like the command-line flags or as a JSON object in a part named
// "options". Every failure is an *apiError with a 4xx status.
func ParseRequest(r *http.Request, base *options.Options, maxBody int64, maxPixels int) (*imageset.Set, *options.Options, error) {
	boundary, err := multipartBoundary(r, maxBody, "original and quantized")
	if err != nil {
		return nil, nil, err
	}
	var origs, quants []*imageset.Image
	values := map[string]string{}
	err = readParts(r, boundary, maxBody, func(name, fn string, data []byte) error {
		switch name {
		case "original", "quantized":
			if fn == "" {
				fn = name
			}
			im, err := imageset.Decode(bytes.NewReader(data), fmt.Sprintf("%s %q", name, fn), maxPixels)
			if err != nil {
				return asAPIError(err)
			}
			if name == "original" {
				origs = append(origs, im)
			} else {
				quants = append(quants, im)
			}
		case "options":
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				return errorf(http.StatusBadRequest, "part options: not a JSON object: %v", err)
			}
			for k, v := range obj {
				switch v := v.(type) {
				case string:
					values[k] = v
				case json.Number:
					values[k] = v.String()
				case bool:
					values[k] = fmt.Sprint(v)
				default:
					return errorf(http.StatusBadRequest, "option %q must be a string, number or boolean", k)
				}
			}
		default:
			if fn != "" {
				return errorf(http.StatusBadRequest, "unknown file part %q (want original and quantized)", name)
			}
			values[name] = string(data)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(quants) == 0 || (len(origs) > 0 && len(origs) != len(quants)) {
		return nil, nil, errorf(http.StatusBadRequest, "want as many quantized parts as original parts, at least one quantized (none original for a blind estimate); got %d and %d", len(quants), len(origs))
	}
	opt := base.Clone()
	if err := opt.Apply(values); err != nil {
		return nil, nil, asAPIError(err)
	}
	if err := opt.Check(); err != nil {
		return nil, nil, asAPIError(err)
	}
	set := &imageset.Set{}
	if len(origs) == 0 {
		set.Filtered = quants
	}
	for i := range origs {
		p, err := imageset.NewPair(origs[i], quants[i])
		if err != nil {
			return nil, nil, errorf(http.StatusBadRequest, "pair %d: %v", i+1, err)
		}
		set.Pairs = append(set.Pairs, p)
	}
	return set, opt, nil
}

// readParts reads a multipart body of at most maxBody bytes and gives each
// part's form name, file name and data to part. Every failure is an
// *apiError with a 4xx status.
func readParts(r *http.Request, boundary string, maxBody int64, part func(name, file string, data []byte) error) error {
	mr := multipart.NewReader(io.LimitReader(r.Body, maxBody+1), boundary)
	read := int64(0)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if read > maxBody {
				return errorf(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", maxBody)
			}
			return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
		}
		name := p.FormName()
		data, err := io.ReadAll(p)
		read += int64(len(data))
		if read > maxBody {
			return errorf(http.StatusRequestEntityTooLarge, "the body is over the limit of %d bytes", maxBody)
		}
		if err != nil {
			return errorf(http.StatusBadRequest, "reading part %q: %v", name, err)
		}
		if name == "" {
			return errorf(http.StatusBadRequest, "a part has no form name")
		}
		if err := part(name, p.FileName(), data); err != nil {
			return err
		}
	}
}

// multipartBoundary checks that r is multipart within maxBody and returns
// its boundary.
func multipartBoundary(r *http.Request, maxBody int64, want string) (string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return "", errorf(http.StatusBadRequest, "the body must be multipart/form-data with parts %s", want)
	}
	if r.ContentLength > maxBody {
		return "", errorf(http.StatusRequestEntityTooLarge, "the body of %d bytes is over the limit of %d", r.ContentLength, maxBody)
	}
	return params["boundary"], nil
}
