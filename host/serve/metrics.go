package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quantfit/quantfit/host/buildinfo"
	"github.com/quantfit/quantfit/host/estimate"
)

type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	queue    prometheus.Gauge
	seconds  prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, be estimate.Backend) metrics {
	m := metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantfit_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quantfit_errors_total", Help: "HTTP requests answered with a 4xx or 5xx status, by route.",
		}, []string{"route"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quantfit_queue_depth", Help: "Estimations waiting for a worker.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quantfit_estimation_seconds", Help: "Wall time of one estimation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	backend := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "quantfit_backend_info", Help: "The backend the estimations run on (value 1).",
		ConstLabels: prometheus.Labels{"backend": be.Name(), "renderer": be.Renderer()},
	})
	backend.Set(1)
	bi := buildinfo.Read()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "quantfit_build_info", Help: "The build serving (value 1): module version, VCS revision, Go version.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.Go},
	})
	build.Set(1)
	reg.MustRegister(m.requests, m.errors, m.queue, m.seconds, backend, build)
	return m
}
