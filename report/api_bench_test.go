package report

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"sitelog/rollup"
)

// Benchmarks of POST /api/v1/query. The databases are filled with SQL
// rather than through the worker, which would take minutes for a million
// events: the rollup benchmark writes stats rows and sketches as the worker
// shapes them, the raw benchmark raw events and their visits. The site's
// zone is UTC.

const benchSite = "bench"

// openBenchDB returns a writer on a new database with the full schema.
func openBenchDB(b *testing.B) (*sql.DB, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "sitelog.db")
	store, err := rollup.Open(path, rollup.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	store.Close()
	db, err := rollup.OpenAdmin(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES (?, 'UTC', 0, 0)`, benchSite); err != nil {
		b.Fatal(err)
	}
	return db, path
}

// fillStats writes 30 days (2026-03-02 to 2026-03-31) of rollups: the
// site's totals with visitorsPerDay visitors a day, and pages distinct
// pages a day sharing them, each row with its sketch.
func fillStats(b *testing.B, visitorsPerDay, pages int) *Handler {
	b.Helper()
	db, path := openBenchDB(b)
	rng := rand.New(rand.NewPCG(1, 2))
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stats, err := tx.Prepare(`INSERT INTO stats (site_id, dim, day, value, pageviews, visitors, visits, bounces, duration, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	sketches, err := tx.Prepare(`INSERT INTO stats_sketches (site_id, dim, day, value, sketch) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	row := func(dim, day, value string, visitors []uint64) {
		sk := hyperloglog.New14()
		for _, v := range visitors {
			sk.InsertHash(v)
		}
		data, err := sk.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		n := int64(len(visitors))
		if _, err := stats.Exec(benchSite, dim, day, value, 3*n, n, n, n/3, 60*n, 4*n); err != nil {
			b.Fatal(err)
		}
		if _, err := sketches.Exec(benchSite, dim, day, value, data); err != nil {
			b.Fatal(err)
		}
	}
	pool := make([]uint64, 3*visitorsPerDay) // visitors come back on other days
	for i := range pool {
		pool[i] = rng.Uint64() | 1
	}
	for d := range 30 {
		day := addDays("2026-03-02", d)
		visitors := make([]uint64, visitorsPerDay)
		byPage := make([][]uint64, pages)
		for i := range visitors {
			visitors[i] = pool[rng.IntN(len(pool))]
			p := int(rng.ExpFloat64()*float64(pages)/8) % pages // a long tail of pages
			byPage[p] = append(byPage[p], visitors[i])
		}
		row("", day, "", visitors)
		for p, vs := range byPage {
			if len(vs) > 0 {
				row("event:page", day, fmt.Sprintf("/page/%d", p), vs)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return benchHandler(b, path)
}

func benchHandler(b *testing.B, path string) *Handler {
	b.Helper()
	ro, err := rollup.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ro.Close() })
	return New(ro, Config{QueryTimeout: time.Minute})
}

// fillRawEvents writes n page views spread evenly over 30 days
// (2026-03-02 to 2026-03-31), four to a visit, with their visits.
func fillRawEvents(b *testing.B, n int) *Handler {
	b.Helper()
	db, path := openBenchDB(b)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMicro()
	step := 30 * 24 * time.Hour.Microseconds() / int64(n)
	_, err := db.ExecContext(context.Background(), `
		WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?1)
		INSERT INTO sessions (id, site_id, visitor, start_ts, last_ts, exit_ts, day, hour, pageviews, events,
			entry_page, exit_page, source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
			browser, os, device, country)
		SELECT n + 1, ?2, (n * 7919) % 100003 + 1, ?3 + 4 * n * ?4, ?3 + (4 * n + 3) * ?4, ?3 + (4 * n + 3) * ?4,
			strftime('%Y-%m-%d', (?3 + 4 * n * ?4) / 1000000, 'unixepoch'),
			strftime('%H', (?3 + 4 * n * ?4) / 1000000, 'unixepoch'), 4, 4,
			'/page/' || (n % 50), '/page/' || ((n + 1) % 50),
			CASE n % 4 WHEN 0 THEN 'Google' WHEN 1 THEN 'Direct / None' WHEN 2 THEN 'Twitter' ELSE 'example.org' END,
			'', '', '', '', '', '',
			CASE n % 3 WHEN 0 THEN 'Chrome' WHEN 1 THEN 'Firefox' ELSE 'Safari' END, 'Windows',
			CASE n % 2 WHEN 0 THEN 'Desktop' ELSE 'Mobile' END,
			CASE n % 5 WHEN 0 THEN 'DE' WHEN 1 THEN 'US' WHEN 2 THEN 'FR' WHEN 3 THEN 'GB' ELSE 'NL' END
		FROM i;

		WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < 4 * ?1)
		INSERT INTO events (log_id, log_index, site_id, event_type, path, query, fragment, user_id, ts, bot,
			visitor, session, hostname)
		SELECT 1, n + 1, ?2, 'page_view', '/page/' || (n % 200), '', '', '', ?3 + n * ?4, 0,
			(n / 4 * 7919) % 100003 + 1, n / 4 + 1, 'example.com'
		FROM i;`, n/4, benchSite, start, step)
	if err != nil {
		b.Fatal(err)
	}
	db.Close() // checkpoints the WAL into the database file, as a long-running worker would have
	return benchHandler(b, path)
}

// postLoop measures POST body to /api/v1/query through h.
func postLoop(b *testing.B, h http.Handler, body string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/query", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkQueryRollups measures unfiltered 30-day queries, which read
// only rollups, at two traffics a hundred times apart: a cost that does
// not grow with the events behind the rows shows as a ratio near 1
// (dense sketches, of over about 3000 visitors, merge in about the same
// time whatever they count).
func BenchmarkQueryRollups(b *testing.B) {
	for _, visitors := range []int{1_000, 100_000} {
		h := fillStats(b, visitors, 500)
		run := func(name, body string) {
			b.Run(fmt.Sprintf("visitors=%d/%s", visitors, name), func(b *testing.B) {
				postLoop(b, h, `{"site_id":"bench","date":"2026-03-31","date_range":"30d",`+body+`}`)
			})
		}
		run("totals", `"metrics":["visitors","visits","pageviews","bounce_rate","visit_duration"]`)
		run("time:day", `"metrics":["visitors","visits","pageviews"],"dimensions":["time:day"]`)
		run("top-pages", `"metrics":["visitors","pageviews"],"dimensions":["event:page"],"pagination":{"limit":10}`)
		run("top-pages-by-pageviews", `"metrics":["pageviews"],"dimensions":["event:page"],"pagination":{"limit":10}`)
	}
}

// BenchmarkQueryRawEvents measures a 30-day query whose filter reaches
// beyond the broken-down dimension, so it counts raw events: its cost
// grows with the events of the range.
func BenchmarkQueryRawEvents(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		h := fillRawEvents(b, n)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			postLoop(b, h, `{"site_id":"bench","date":"2026-03-31","date_range":"30d","metrics":["visitors","pageviews","visits","bounce_rate"],"dimensions":["visit:source"],"filters":[["is","visit:country",["DE","FR"]]]}`)
		})
	}
}
