package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts events received, by outcome.
type Metrics struct {
	accepted, bot, invalid, tooLarge, unavailable, refused, rateLimited prometheus.Counter
}

// NewMetrics registers sitelog_events_received_total on reg; a nil reg
// leaves the counters unregistered.
//
// Its outcome label counts events where their number is known: accepted
// (appended), bot (appended, sent by a crawler or headless browser, never
// counted as a view), unavailable (refused with 503: the log did not
// take them) and refused (refused with 403 by --strict-sites: an unknown
// site or an origin the site does not list; a batch counts whole). A
// request refused as invalid, too_large or rate_limited (429) counts once,
// whatever the number of events in it: a body that cannot be decoded has
// no number of events.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sitelog_events_received_total",
		Help: "Events received by ingest, by outcome: accepted, bot, unavailable, refused (each an event); invalid, too_large, rate_limited (each a refused request).",
	}, []string{"outcome"})
	if reg != nil {
		reg.MustRegister(v)
	}
	// Resolved once here rather than by label on every request; this also
	// makes every outcome visible at 0 before it first happens.
	return &Metrics{
		accepted:    v.WithLabelValues("accepted"),
		bot:         v.WithLabelValues("bot"),
		invalid:     v.WithLabelValues("invalid"),
		tooLarge:    v.WithLabelValues("too_large"),
		unavailable: v.WithLabelValues("unavailable"),
		refused:     v.WithLabelValues("refused"),
		rateLimited: v.WithLabelValues("rate_limited"),
	}
}

// count counts n appended events.
func (m *Metrics) count(bot bool, n int) {
	if bot {
		m.bot.Add(float64(n))
	} else {
		m.accepted.Add(float64(n))
	}
}
