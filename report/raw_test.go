package report

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// Site time zones load on any host, as in the binary.
	_ "time/tzdata"

	"sitelog/event"
	"sitelog/rollup"
	"sitelog/sites"
	"sitelog/wal"
)

// rawDB is a database with the real schema whose raw events are written
// by the worker's Store, as ingest's log would have them applied, and a
// sites Store beside it for the registry, goals and keys.
type rawDB struct {
	path  string
	store *rollup.Store
	admin *sql.DB // of sites
	sites *sites.Store
	next  uint64 // the next log index
}

func newRawDB(t *testing.T) *rawDB {
	t.Helper()
	d := &rawDB{path: filepath.Join(t.TempDir(), "sitelog.db"), next: 1}
	var err error
	d.store, err = rollup.Open(d.path, rollup.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.store.Close() })
	if d.admin, err = rollup.OpenAdmin(d.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.admin.Close() })
	d.sites = sites.NewStore(d.admin, sites.StoreOptions{})
	return d
}

// apply applies evs as the next entries of one log, in one batch.
func (d *rawDB) apply(t *testing.T, evs ...*event.Event) {
	t.Helper()
	entries := make([]wal.Entry, len(evs))
	for i, e := range evs {
		entries[i] = wal.Entry{Index: d.next, Data: e.AppendBinary(nil)}
		d.next++
	}
	if err := d.store.Apply(context.Background(), "test-log", entries); err != nil {
		t.Fatal(err)
	}
}

// handler returns a report over the database through the read-only pool
// main gives it.
func (d *rawDB) handler(t *testing.T, cfg Config) *Handler {
	t.Helper()
	ro, err := rollup.OpenReadOnly(d.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	return New(ro, cfg)
}

// registry returns the sites registry read from the database, for the
// report's keys.
func (d *rawDB) registry(t *testing.T) *sites.Registry {
	t.Helper()
	ro, err := rollup.OpenReadOnly(d.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	reg, err := sites.Load(context.Background(), ro, sites.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// addSite registers a site in a time zone.
func (d *rawDB) addSite(t *testing.T, id, zone string) {
	t.Helper()
	if _, _, err := d.sites.PutSite(context.Background(), id, nil, zone); err != nil {
		t.Fatal(err)
	}
}

// ev is a page view, or a custom event when typ is not "", of a visitor
// (0: unknown) at a time.
func ev(site, typ, path string, visitor uint64, at time.Time) *event.Event {
	if typ == "" {
		typ = event.PageView
	}
	return &event.Event{SiteID: site, Type: typ, Path: path, Visitor: visitor, Time: at.UTC()}
}

func bot(e *event.Event) *event.Event { e.Bot = true; return e }

// serve serves one GET with optional headers ("Name: value").
func serve(h http.Handler, target string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for _, hd := range headers {
		name, value, _ := strings.Cut(hd, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// lockedRawDB closes d's writers, turns its database to a rollback
// journal, where a writer's EXCLUSIVE lock (held by the returned
// connection) blocks readers, and returns a report over it, as
// TestLockedDatabase does for /stats.
func lockedRawDB(t *testing.T, d *rawDB) (*Handler, *sql.Conn) {
	t.Helper()
	if err := d.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.admin.Close(); err != nil {
		t.Fatal(err)
	}
	rw, err := sql.Open("sqlite", "file:"+d.path+"?_pragma=journal_mode(delete)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	ctx := context.Background()
	conn, err := rw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	h := New(openRO(t, d.path, "0"), Config{Logger: quietLogger()})
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	return h, conn
}
