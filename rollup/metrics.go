package rollup

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus collectors. A nil *Metrics records
// nothing.
type Metrics struct {
	batchEvents  prometheus.Histogram
	applySeconds prometheus.Histogram
	skipped      prometheus.Counter
	prunedRaw    prometheus.Counter
	prunedVisits prometheus.Counter
}

// NewMetrics registers the worker's collectors on reg:
// sitelog_worker_batch_events, sitelog_worker_apply_seconds,
// sitelog_worker_skipped_records_total, sitelog_raw_events_pruned_total
// and sitelog_visits_pruned_total.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sitelog_worker_batch_events",
			Help: "Log entries applied per database transaction.",
			// 1 to 65536: a lone event when idle up to twice the default
			// largest batch.
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sitelog_worker_apply_seconds",
			Help: "Time to apply one batch: its transaction from begin to commit, fsync included.",
			// From 500 µs (a small batch) to about 7 s (a batch that waited
			// on a lock up to the busy timeout).
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 11),
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_worker_skipped_records_total",
			Help: "Log records that did not decode as an event and were skipped.",
		}),
		prunedRaw: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_raw_events_pruned_total",
			Help: "Raw events deleted for being older than the retention (--retain-raw); rollups keep them counted.",
		}),
		prunedVisits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_visits_pruned_total",
			Help: "Visits deleted for having ended before the retention (--retain-raw), with their raw events; rollups keep them counted.",
		}),
	}
	reg.MustRegister(m.batchEvents, m.applySeconds, m.skipped, m.prunedRaw, m.prunedVisits)
	return m
}

// ObserveBatch records a batch of entries applied in d, by the Store or by
// another Target of the worker.
func (m *Metrics) ObserveBatch(entries int, d time.Duration) {
	if m == nil {
		return
	}
	m.batchEvents.Observe(float64(entries))
	m.applySeconds.Observe(d.Seconds())
}

func (m *Metrics) skippedRecord() {
	if m == nil {
		return
	}
	m.skipped.Inc()
}

// pruned counts n rows deleted by retention: visits, or raw events.
func (m *Metrics) pruned(visits bool, n int64) {
	if m == nil {
		return
	}
	if visits {
		m.prunedVisits.Add(float64(n))
	} else {
		m.prunedRaw.Add(float64(n))
	}
}
