// Package metrics builds the Prometheus registry that every other package
// registers its collectors on, serves it, and instruments HTTP handlers.
// It knows none of the other packages: they take a prometheus.Registerer
// (or the *HTTP built here) from main.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors. main builds one per process and passes it down.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves the registry in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// HTTP holds the request-duration histogram shared by every handler of the
// process, labelled by handler name and status code.
type HTTP struct {
	duration *prometheus.HistogramVec
}

// NewHTTP registers sitelog_http_request_duration_seconds on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	m := &HTTP{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sitelog_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by handler and status code.",
			// From 100 µs: an acknowledged event with group commit takes
			// well under a millisecond, a report a few milliseconds.
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}, []string{"handler", "code"}),
	}
	reg.MustRegister(m.duration)
	return m
}

// Wrap instruments h under the given handler name.
func (m *HTTP) Wrap(name string, h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(prometheus.Labels{"handler": name}), h)
}
