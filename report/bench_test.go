package report

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// fillPaths inserts n path rows for one day, spread over ten sites
// (site-0 … site-9), into both daily_paths and site_paths, with views
// scattered so the top of each site is not the insertion order, and the
// matching totals rows.
func fillPaths(b *testing.B, n int) *Handler {
	b.Helper()
	rw, path := newDB(b, "wal", "")
	_, err := rw.Exec(`
		WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?1)
		INSERT INTO daily_paths (site_id, day, path, views)
		SELECT 'site-' || (n % 10), '2025-11-14', '/page/' || n, (n * 7919) % 100003 + 1 FROM i;

		INSERT INTO site_paths (site_id, path, views)
		SELECT site_id, path, views FROM daily_paths;

		INSERT INTO daily (site_id, day, views, events, users, paths)
		SELECT site_id, day, sum(views), sum(views), count(*) / 3, count(*) FROM daily_paths GROUP BY site_id, day;

		INSERT INTO sites (site_id, views, events, users)
		SELECT site_id, views, events, users FROM daily;`, n)
	if err != nil {
		b.Fatal(err)
	}
	return New(openRO(b, path, "5000"), Config{})
}

// serveLoop measures GET target through h.
func serveLoop(b *testing.B, h http.Handler, target string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkStats measures /stats through the handler over 100 000 path rows
// of one day across ten sites: one day with the default top 10, the same at
// the maximum limit, and all time.
func BenchmarkStats(b *testing.B) {
	h := fillPaths(b, 100_000)
	b.Run("day", func(b *testing.B) {
		serveLoop(b, h, "/stats?site_id=site-3&date=2025-11-14")
	})
	b.Run("day/limit=100", func(b *testing.B) {
		serveLoop(b, h, "/stats?site_id=site-3&date=2025-11-14&limit=100")
	})
	b.Run("all-time", func(b *testing.B) {
		serveLoop(b, h, "/stats?site_id=site-3")
	})
}
