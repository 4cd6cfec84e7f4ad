package load

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	f := func(text string, want map[string]float64) {
		t.Helper()
		got, err := parseMetrics(strings.NewReader(text), LagMetric, LastIndexMetric)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("parseMetrics(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
	f("sitelog_queue_lag_events 1234\n", map[string]float64{LagMetric: 1234})
	f("# HELP sitelog_queue_lag_events Entries.\n# TYPE sitelog_queue_lag_events gauge\nsitelog_queue_lag_events 0\nsitelog_wal_last_index 17\n",
		map[string]float64{LagMetric: 0, LastIndexMetric: 17})
	f("sitelog_queue_lag_events 1.5e+06\n", map[string]float64{LagMetric: 1.5e6})
	f("sitelog_queue_lag_events 7 1700000000000\n", map[string]float64{LagMetric: 7}) // with a timestamp
	f(`sitelog_queue_lag_events{log="a b}"} 9`+"\n", map[string]float64{LagMetric: 9})
	f("sitelog_queue_lag_events 9\nsitelog_queue_lag_events 10\n", map[string]float64{LagMetric: 9})      // the first sample
	f("sitelog_queue_lag_events_total 5\nsitelog_queue_lag_events 3\n", map[string]float64{LagMetric: 3}) // a longer name is another metric
	f("sitelog_queue_lag_seconds 2\n", map[string]float64{})
	f("", map[string]float64{})

	for _, bad := range []string{"sitelog_queue_lag_events lots\n", "sitelog_queue_lag_events \n", "sitelog_queue_lag_events{x=\"1\" 2\n"} {
		if _, err := parseMetrics(strings.NewReader(bad), LagMetric); err == nil {
			t.Errorf("parseMetrics(%q): no error", bad)
		}
	}
}

// lagServer serves /metrics with the lag values in turn, the last one
// from then on.
func lagServer(t *testing.T, lags ...int) string {
	t.Helper()
	var reads atomic.Int64
	srv := testServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		i := min(int(reads.Add(1)-1), len(lags)-1)
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines 12\n# TYPE %s gauge\n%s %d\n", LagMetric, LagMetric, lags[i])
	})
	return srv.URL
}

func TestDrain(t *testing.T) {
	client := newClient(1, 10*time.Second)
	f := func(name, url string, timeout time.Duration, want Drain) {
		t.Helper()
		got := measureDrain(context.Background(), client, url, newFakeClock(), timeout)
		if *got != want {
			t.Errorf("%s: drain %+v, want %+v", name, *got, want)
		}
	}
	// Read at 0, 50, 100 and 150 ms: 300 events applied in 150 ms.
	f("drains", lagServer(t, 300, 200, 100, 0, 5), time.Minute,
		Drain{LagEvents: 300, Seconds: 0.15, Drained: true, EventsPerSecond: 2000})
	f("already 0", lagServer(t, 0), time.Minute,
		Drain{Drained: true})
	// Polls every 50 ms until the timeout, the last at exactly 1 s.
	f("drains in part", lagServer(t, 1000, 900, 800, 700), 200*time.Millisecond,
		Drain{LagEvents: 1000, Seconds: 0.2, RemainingEvents: 700, EventsPerSecond: 1500})
	f("never drains", lagServer(t, 5), time.Second,
		Drain{LagEvents: 5, Seconds: 1, RemainingEvents: 5})

	noMetric := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "go_goroutines 12")
	})
	f("no such metric", noMetric.URL, time.Minute,
		Drain{Skipped: "GET /metrics has no sitelog_queue_lag_events"})
	// Where the server exposes both indexes, the lag is their difference,
	// which they give the moment they move.
	indexes := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s 0\n%s 1000\n%s 400\n", LagMetric, LastIndexMetric, AppliedIndexMetric)
	})
	f("indexes", indexes.URL, 100*time.Millisecond,
		Drain{LagEvents: 600, Seconds: 0.1, RemainingEvents: 600})
	notFound := testServer(t, func(_ int, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	f("no /metrics", notFound.URL, time.Minute,
		Drain{Skipped: "GET /metrics answered 404 Not Found"})
}
