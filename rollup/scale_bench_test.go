package rollup

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sitelog/report"
	"sitelog/wal"
)

// BenchmarkReportsAtScale builds two databases through the Store from the
// same traffic, one of ten thousand events and one of ten million (116
// days at the traffic's one event a second), and times the same reports on
// both through report's handler on a read-only pool, as a server answers
// them. Each iteration asks the small database and then the large one, so
// that both see the same machine: the figures are each one's p50 and p99,
// and the ratio of the p99s. Reports that read only rollups should give
// about the same on both.
//
// Building the large database applies ten million events: about six
// minutes on two cores, and 3-4 GB of disk (a million events took 390
// MB). The benchmark lives beside the Store for the traffic generator,
// not in report.
func BenchmarkReportsAtScale(b *testing.B) {
	small, large := buildReportDB(b, 10_000), buildReportDB(b, 10_000_000)
	reports := []struct{ name, method, target, body string }{
		{"stats/day", http.MethodGet, "/stats?site_id=site-3&date=2025-11-14", ""},
		{"stats/all-time", http.MethodGet, "/stats?site_id=site-3", ""},
		{"stats-events/day", http.MethodGet, "/stats/events?site_id=site-3&date=2025-11-14", ""},
		{"query/30-days-by-page", http.MethodPost, "/api/v1/query",
			`{"site_id":"site-3","date":"2025-12-13","date_range":"30d","metrics":["visitors","pageviews"],"dimensions":["event:page"]}`},
	}
	for _, r := range reports {
		b.Run(r.name, func(b *testing.B) {
			var smallTook, largeTook []time.Duration
			serve := func(h http.Handler, took *[]time.Duration) string {
				req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				*took = append(*took, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s %s: status %d: %s", r.method, r.target, rec.Code, rec.Body)
				}
				return rec.Body.String()
			}
			// The large database holds more of every report's range (the
			// whole day, more days), so equal answers would mean that the
			// report read nothing of it.
			if serve(small, &smallTook) == serve(large, &largeTook) {
				b.Fatalf("%s %s: the same answer from both databases", r.method, r.target)
			}
			b.ReportAllocs() // of a pair of requests
			for b.Loop() {
				serve(small, &smallTook)
				serve(large, &largeTook)
			}
			smallP99 := quantile(smallTook, 0.99)
			b.ReportMetric(quantile(smallTook, 0.5), "10k-p50-µs")
			b.ReportMetric(smallP99, "10k-p99-µs")
			b.ReportMetric(quantile(largeTook, 0.5), "10M-p50-µs")
			b.ReportMetric(quantile(largeTook, 0.99), "10M-p99-µs")
			b.ReportMetric(quantile(largeTook, 0.99)/smallP99, "p99-ratio")
		})
	}
}

// quantile returns the q-quantile of took in microseconds, sorting it.
func quantile(took []time.Duration, q float64) float64 {
	slices.Sort(took)
	return float64(took[int(float64(len(took)-1)*q)].Nanoseconds()) / 1e3
}

// buildReportDB applies the first n events of the benchmarks' traffic to
// a new database, in batches of the worker's default size, and returns
// the report handler on it.
func buildReportDB(b *testing.B, n int) http.Handler {
	b.Helper()
	path := filepath.Join(b.TempDir(), "sitelog.db")
	s := openStore(b, path, Options{})
	g := newTraffic(1)
	batch := make([]wal.Entry, DefaultBatchSize)
	var buf []byte
	for done := 0; done < n; {
		size := min(len(batch), n-done)
		buf = g.fill(batch[:size], buf)
		if err := s.Apply(context.Background(), "log-a", batch[:size]); err != nil {
			b.Fatal(err)
		}
		done += size
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ro.Close() })
	return report.New(ro, report.Config{})
}
