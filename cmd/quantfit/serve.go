package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quantfit/quantfit/gpu/backend"
	"github.com/quantfit/quantfit/host/options"
	"github.com/quantfit/quantfit/host/serve"
)

func init() {
	commands = append(commands, &command{
		name:      "serve",
		images:    true,
		usageLine: "serve [-addr 127.0.0.1:8080] [flags]",
		short:     "run the HTTP JSON estimation service",
		long: `
Serve answers estimations over HTTP:

	POST /v1/estimate   multipart parts original and quantized (repeatable,
	                    paired in order; quantized alone: a blind estimate);
	                    options as form fields named like the flags below,
	                    or a JSON object in a part "options".
	                    Answers the JSON report of quantfit estimate.
	POST /v1/jobs       the same, answered at once with 202 and a job id
	GET  /v1/jobs/{id}  the job's status and, when done, its report
	GET  /healthz       liveness
	GET  /readyz        readiness, with the backend and GL renderer
	GET  /metrics       Prometheus metrics

Estimations wait in a bounded queue (-queue); when it is full, requests get
429 with Retry-After. Bodies over -max-body get 413, images over -max-pixels
413, bad input 400 with a JSON error. SIGTERM or SIGINT stops taking
requests, finishes those in flight and the queued jobs, and exits. Logs are
JSON lines on stderr. The flags below set the defaults of every request.`,
		flags: func(fs *flag.FlagSet) any { f := &serveFlags{}; f.declare(fs); return f },
		run:   runServe,
	})
}

type serveFlags struct {
	options.Options
	addr    string
	queue   int
	maxBody int64
	timeout time.Duration
	workers int
}

func (f *serveFlags) declare(fs *flag.FlagSet) {
	f.Options.Declare(fs)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen `address`")
	fs.IntVar(&f.queue, "queue", 64, "estimations that may wait; beyond, 429 (`n`)")
	fs.Int64Var(&f.maxBody, "max-body", 64<<20, "largest request body, in `bytes`")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "`limit` of a synchronous request")
	fs.IntVar(&f.workers, "workers", 0, "estimations at once (`n`; default: 1 on a GPU, else one per core)")
}

func runServe(c *cli, fs *flag.FlagSet, args []string) error {
	f := &serveFlags{}
	f.declare(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return options.Usagef("", "serve takes no arguments")
	}
	if _, err := f.Settings(); err != nil {
		return err
	}
	switch {
	case f.queue < 1:
		return options.Usagef("queue", "-queue %d must be positive", f.queue)
	case f.maxBody < 1:
		return options.Usagef("max-body", "-max-body %d must be positive", f.maxBody)
	case f.timeout <= 0:
		return options.Usagef("timeout", "-timeout %v must be positive", f.timeout)
	case f.workers < 0:
		return options.Usagef("workers", "-workers %d must not be negative", f.workers)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return options.Usagef("addr", "-addr: %v", err)
	}
	be, release, err := openBackend(&f.Options, c.stderr, true)
	if err != nil {
		ln.Close()
		return err
	}
	defer release()
	log := slog.New(slog.NewJSONHandler(c.stderr, nil))
	s := serve.New(serve.Config{Base: &f.Options, Backend: be, Restore: backend.Restore(be), Workers: f.workers, Queue: f.queue,
		MaxBodyBytes: f.maxBody, MaxPixels: f.MaxPixels, Timeout: f.timeout, Logger: log})
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: f.timeout + 10*time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "backend", be.Name(), "renderer", be.Renderer())
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %v", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), f.timeout+10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	s.Drain()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %v", err)
	}
	log.Info("stopped")
	return nil
}
