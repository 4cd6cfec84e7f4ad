package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"sitelog/metrics"
)

// update rewrites the golden answers in testdata/ from what the handler
// answers now: go test ./report -run TestStores/sqlite/stats-golden -update, then review the diff.
var update = flag.Bool("update", false, "rewrite testdata/*.json golden answers")

// quietLogger keeps the expected 5xx log lines of the failure tests out of
// the test output.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// get serves one GET request through h and returns the recorded answer.
func get(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// checkJSONHeaders fails t unless rec carries the headers every answer of
// the report must carry.
func checkJSONHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// The seed's call answers exactly the seed's bytes.
func testSeedAnswer(t *testing.T, h *Handler) {
	rec := get(h, "/stats?site_id=site-123&date=2025-11-14")
	const want = `{"site_id":"site-123","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}`
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Fatalf("got %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
	checkJSONHeaders(t, rec)
}

func testGolden(t *testing.T, h *Handler) {
	tests := []struct {
		name, target string
	}{
		{"stats_day", "/stats?site_id=site-123&date=2025-11-15"},
		{"stats_all_time", "/stats?site_id=site-123"},
		{"stats_default_limit", "/stats?site_id=site.b:2&date=2025-11-14"},
		{"stats_limit_3", "/stats?site_id=site.b:2&date=2025-11-14&limit=3"},
		{"stats_limit_100", "/stats?site_id=site.b:2&date=2025-11-14&limit=100"},
		{"stats_all_time_limit_1", "/stats?site_id=site-123&limit=1"},
		{"stats_ties", "/stats?site_id=ties&date=2025-11-14"},
		{"stats_unknown_site", "/stats?site_id=nobody&date=2025-11-14"},
		{"stats_unknown_site_all_time", "/stats?site_id=nobody"},
		{"stats_day_without_data", "/stats?site_id=site-123&date=2024-02-29"},
		{"stats_unknown_params_ignored", "/stats?_=1731578400&site_id=site-123&date=2025-11-14&utm_source=x"},
		{"events_day", "/stats/events?site_id=site-123&date=2025-11-15"},
		{"events_all_time", "/stats/events?site_id=site-123"},
		{"events_limit_1", "/stats/events?site_id=site-123&date=2025-11-15&limit=1"},
		{"events_unknown_site", "/stats/events?site_id=nobody&date=2025-11-14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, tt.target)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			checkJSONHeaders(t, rec)
			golden := filepath.Join("testdata", tt.name+".json")
			if *update && h.store == SQLite {
				if err := os.WriteFile(golden, append(rec.Body.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			// The golden file ends in a newline for the sake of editors;
			// the answer has none.
			if got := rec.Body.Bytes(); !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("GET %s\ngot  %s\nwant %s", tt.target, got, want)
			}
		})
	}
}

// Every golden answer is also checked for the invariants a reader relies on,
// so a careless -update cannot bless a wrong order or a null list.
func TestGoldenInvariants(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "stats_*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden stats answers: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var st Stats
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.TopPaths == nil {
			t.Errorf("%s: top_paths is null or missing", f)
		}
		if len(st.TopPaths) > MaxLimit {
			t.Errorf("%s: %d top paths, more than %d", f, len(st.TopPaths), MaxLimit)
		}
		var sum int64
		for i, p := range st.TopPaths {
			sum += p.Views
			if i > 0 {
				prev := st.TopPaths[i-1]
				if prev.Views < p.Views || prev.Views == p.Views && prev.Path >= p.Path {
					t.Errorf("%s: %v before %v: want views descending, then path ascending", f, prev, p)
				}
			}
		}
		if sum > st.TotalViews {
			t.Errorf("%s: top paths sum to %d views, more than total_views %d", f, sum, st.TotalViews)
		}
	}
}

func testBadRequests(t *testing.T, h *Handler) {
	const (
		badSite  = "must be 1-100 characters of letters, digits and ._:-"
		badLimit = "limit: must be an integer from 1 to 100"
		badDate  = "date: must be YYYY-MM-DD"
	)
	tests := []struct {
		method, target string
		status         int
		err            string
	}{
		{"GET", "/stats", 400, "site_id: required"},
		{"GET", "/stats?site_id=", 400, "site_id: required"},
		{"GET", "/stats?date=2025-11-14", 400, "site_id: required"},
		{"GET", "/stats?site_id=a%20b", 400, "site_id: " + badSite},
		{"GET", "/stats?site_id=site/123", 400, "site_id: " + badSite},
		{"GET", "/stats?site_id=caf%C3%A9", 400, "site_id: " + badSite},
		{"GET", "/stats?site_id=" + strings.Repeat("s", 101), 400, "site_id: " + badSite},
		{"GET", "/stats?site_id=a&site_id=a", 400, "site_id: given more than once"},
		{"GET", "/stats?site_id=a&date=", 400, badDate},
		{"GET", "/stats?site_id=a&date=2025-11-1", 400, badDate},
		{"GET", "/stats?site_id=a&date=2025/11/14", 400, badDate},
		{"GET", "/stats?site_id=a&date=20251114", 400, badDate},
		{"GET", "/stats?site_id=a&date=2025-11-14T00:00:00Z", 400, badDate},
		{"GET", "/stats?site_id=a&date=%2B025-11-14", 400, badDate},
		{"GET", "/stats?site_id=a&date=2025-02-30", 400, "date: 2025-02-30 is not a calendar date"},
		{"GET", "/stats?site_id=a&date=2023-02-29", 400, "date: 2023-02-29 is not a calendar date"},
		{"GET", "/stats?site_id=a&date=2025-13-01", 400, "date: 2025-13-01 is not a calendar date"},
		{"GET", "/stats?site_id=a&date=2025-11-14&date=2025-11-15", 400, "date: given more than once"},
		{"GET", "/stats?site_id=a&limit=", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=0", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=101", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=-1", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=%2B5", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=1.5", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=ten", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=0010", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=99999999999999999999", 400, badLimit},
		{"GET", "/stats?site_id=a&limit=1&limit=2", 400, "limit: given more than once"},
		{"GET", "/stats?site_id=a&%zz", 400, `query string: invalid URL escape "%zz"`},
		{"GET", "/stats?site_id=a;date=2025-11-14", 400, "query string: invalid semicolon separator in query"},
		{"GET", "/stats/events", 400, "site_id: required"},
		{"GET", "/stats/events?site_id=a&date=2025-02-30", 400, "date: 2025-02-30 is not a calendar date"},
		{"GET", "/stats/events?site_id=a&limit=0", 400, badLimit},
		{"GET", "/", 404, "no such route: /"},
		{"GET", "/nope", 404, "no such route: /nope"},
		{"GET", "/stats/nope", 404, "no such route: /stats/nope"},
		{"POST", "/stats?site_id=a", 405, "method not allowed: POST /stats (allowed: GET, OPTIONS)"},
		{"DELETE", "/stats/events", 405, "method not allowed: DELETE /stats/events (allowed: GET, OPTIONS)"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
		want, _ := json.Marshal(map[string]string{"error": tt.err})
		if rec.Code != tt.status || rec.Body.String() != string(want) {
			t.Errorf("%s %s\ngot  %d %s\nwant %d %s", tt.method, tt.target, rec.Code, rec.Body, tt.status, want)
			continue
		}
		checkJSONHeaders(t, rec)
	}
}

// Main mounts /metrics, /healthz and /readyz on the same router; the
// report's routes and JSON errors live beside them.
func TestRegister(t *testing.T) {
	_, path := newDB(t, "wal", fixture)
	h := New(openRO(t, path, "5000"), Config{})
	r := httprouter.New()
	h.Register(r)
	r.HandlerFunc(http.MethodGet, "/healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})

	f := func(target string, wantStatus int, wantBody string) {
		t.Helper()
		rec := get(r, target)
		if rec.Code != wantStatus || rec.Body.String() != wantBody {
			t.Errorf("GET %s = %d %s, want %d %s", target, rec.Code, rec.Body, wantStatus, wantBody)
		}
	}
	f("/healthz", 200, "ok")
	f("/stats?site_id=site-123&date=2025-11-14",
		200, `{"site_id":"site-123","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}`)
	f("/stats/events?site_id=site-123&date=2025-11-14",
		200, `{"site_id":"site-123","date":"2025-11-14","events":[{"event_type":"page_view","events":1}]}`)
	f("/metrics", 404, `{"error":"no such route: /metrics"}`)
}

// Wrap lets main time each route under its own name with the metrics
// package.
func TestWrapInstrumentsEachRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.NewHTTP(reg)
	h := newFixture(t, Config{Wrap: m.Wrap})
	get(h, "/stats?site_id=site-123")
	get(h, "/stats?site_id=site-123&limit=0")
	get(h, "/stats/events?site_id=site-123")

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fam := range families {
		if fam.GetName() != "sitelog_http_request_duration_seconds" {
			continue
		}
		for _, s := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got = append(got, fmt.Sprintf("%s %s %d", labels["handler"], labels["code"], s.GetHistogram().GetSampleCount()))
		}
	}
	slices.Sort(got)
	want := []string{"stats 200 1", "stats 400 1", "stats_events 200 1"}
	if !slices.Equal(got, want) {
		t.Errorf("instrumented (handler code count) = %q, want %q", got, want)
	}
}

// The report reads rollups only: with the raw events and the per-user sets
// gone, every answer is still served.
func TestReadsOnlyRollups(t *testing.T) {
	_, path := newDB(t, "wal", fixture+`
		DROP TABLE events;
		DROP TABLE logs;
		DROP TABLE daily_users;
		DROP TABLE site_users;
	`)
	h := New(openRO(t, path, "5000"), Config{})
	for _, target := range []string{
		"/stats?site_id=site-123&date=2025-11-14",
		"/stats?site_id=site-123",
		"/stats/events?site_id=site-123&date=2025-11-15",
		"/stats/events?site_id=site-123",
	} {
		if rec := get(h, target); rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d %s", target, rec.Code, rec.Body)
		}
	}
}

// In WAL mode, as the worker runs the database, a report is not held up by
// the worker's open transaction, and sees only what was committed.
func TestWorkerTransactionDoesNotBlock(t *testing.T) {
	rw, path := newDB(t, "wal", fixture)
	h := New(openRO(t, path, "0"), Config{Logger: quietLogger()})

	ctx := context.Background()
	tx, err := rw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE daily SET views = views + 1 WHERE site_id = 'site-123' AND day = '2025-11-14';
		UPDATE daily_paths SET views = views + 1 WHERE site_id = 'site-123' AND day = '2025-11-14' AND path = '/home'`); err != nil {
		t.Fatal(err)
	}

	const before = `{"site_id":"site-123","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}`
	if rec := get(h, "/stats?site_id=site-123&date=2025-11-14"); rec.Code != 200 || rec.Body.String() != before {
		t.Fatalf("during the write: %d %s, want 200 %s", rec.Code, rec.Body, before)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	const after = `{"site_id":"site-123","date":"2025-11-14","total_views":2,"unique_users":1,"top_paths":[{"path":"/home","views":2}]}`
	if rec := get(h, "/stats?site_id=site-123&date=2025-11-14"); rec.Code != 200 || rec.Body.String() != after {
		t.Fatalf("after the commit: %d %s, want 200 %s", rec.Code, rec.Body, after)
	}
}

// A database that cannot be read in time is answered 503 with Retry-After,
// never left hanging, and the report recovers once it is free again.
//
// The lock is real: a rollback-journal database (WAL readers are not
// blocked by a writer) on which another connection holds an EXCLUSIVE lock.
func TestLockedDatabase(t *testing.T) {
	rw, path := newDB(t, "delete", fixture)
	// Fails at once: SQLite answers SQLITE_BUSY without waiting.
	noWait := New(openRO(t, path, "0"), Config{Logger: quietLogger()})
	// Would wait an hour for the lock: only the query timeout ends the
	// wait, so this test hangs (and fails) if the timeout is not honoured.
	timesOut := New(openRO(t, path, "3600000"), Config{QueryTimeout: 50 * time.Millisecond, Logger: quietLogger()})

	ctx := context.Background()
	holder, err := rw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}

	const want = `{"error":"database busy, retry later"}`
	f := func(name string, h http.Handler, req *http.Request) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != want {
			t.Errorf("%s: got %d %s, want 503 %s", name, rec.Code, rec.Body, want)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("%s: Retry-After = %q, want 1", name, got)
		}
		checkJSONHeaders(t, rec)
	}
	for _, target := range []string{
		"/stats?site_id=site-123&date=2025-11-14",
		"/stats?site_id=site-123",
		"/stats/events?site_id=site-123",
	} {
		f("busy "+target, noWait, httptest.NewRequest(http.MethodGet, target, nil))
		f("timeout "+target, timesOut, httptest.NewRequest(http.MethodGet, target, nil))
	}

	// A request whose own deadline has passed is not even started.
	expired, cancel := context.WithDeadline(ctx, time.Unix(0, 0))
	defer cancel()
	f("expired request", noWait, httptest.NewRequestWithContext(expired, http.MethodGet, "/stats?site_id=site-123", nil))

	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Handler{"busy": noWait, "timeout": timesOut} {
		if rec := get(h, "/stats?site_id=site-123&date=2025-11-14"); rec.Code != http.StatusOK {
			t.Errorf("%s, after the lock is released: %d %s", name, rec.Code, rec.Body)
		}
	}
}

// A failure that is not the client's nor a busy database is a 500 whose
// body says nothing of the internals.
func TestInternalError(t *testing.T) {
	_, path := newDB(t, "wal", fixture+"DROP INDEX daily_paths_top;")
	h := New(openRO(t, path, "5000"), Config{Logger: quietLogger()})
	rec := get(h, "/stats?site_id=site-123&date=2025-11-14")
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != `{"error":"internal error"}` {
		t.Errorf("got %d %s, want 500 internal error", rec.Code, rec.Body)
	}
	checkJSONHeaders(t, rec)
}
