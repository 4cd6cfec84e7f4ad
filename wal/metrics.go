package wal

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the log's Prometheus collectors.
type Metrics struct {
	lastIndex    prometheus.Gauge
	appliedIndex prometheus.Gauge
	lagEvents    prometheus.Gauge
	lagSeconds   prometheus.Gauge
	fsync        prometheus.Histogram
	groupSize    prometheus.Histogram
	groupWaits   prometheus.Counter
	repairs      prometheus.Counter
	damaged      prometheus.Counter
}

// NewMetrics registers the log's collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lastIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitelog_wal_last_index",
			Help: "Index of the last entry appended to the log.",
		}),
		appliedIndex: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitelog_wal_applied_index",
			Help: "Index of the last log entry committed to the database.",
		}),
		lagEvents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitelog_queue_lag_events",
			Help: "Entries appended to the log and not yet committed to the database.",
		}),
		lagSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sitelog_queue_lag_seconds",
			Help: "Age of the oldest log entry not yet committed to the database.",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitelog_wal_fsync_seconds",
			Help:    "Time taken by one fsync of the log.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 14),
		}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sitelog_wal_group_entries",
			Help:    "Entries written by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		groupWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_wal_group_waits_total",
			Help: "Group commits that waited a moment for more appends before their fsync (--fsync always, concurrent appenders).",
		}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_wal_repairs_total",
			Help: "Damaged log tails cut back to their last whole record at open.",
		}),
		damaged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sitelog_wal_damaged_records_total",
			Help: "Records whose checksum failed on read; they are skipped.",
		}),
	}
	reg.MustRegister(m.lastIndex, m.appliedIndex, m.lagEvents, m.lagSeconds, m.fsync, m.groupSize, m.groupWaits, m.repairs, m.damaged)
	return m
}
