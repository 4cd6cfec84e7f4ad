package ingest

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"sitelog/rollup"
	"sitelog/sites"
	"sitelog/wal"
)

// newStrictServer is newServer with the sites registry main wires in for
// --strict-sites: a real one, over a real database holding site-123
// (served from example.com and its www) and api-only (no host names).
func newStrictServer(t *testing.T) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sitelog.db")
	db, err := rollup.OpenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := sites.NewStore(db, sites.StoreOptions{})
	ctx := context.Background()
	if _, _, err := store.PutSite(ctx, "site-123", []string{"example.com", "www.example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.PutSite(ctx, "api-only", nil, ""); err != nil {
		t.Fatal(err)
	}
	reg, err := sites.Load(ctx, db, sites.Options{})
	if err != nil {
		t.Fatal(err)
	}

	return newServerConfig(t, wal.Options{}, Config{Now: testNow, Sites: reg})
}

func TestStrictSites(t *testing.T) {
	s := newStrictServer(t)
	refusedBefore := 0.0
	f := func(path, body string, wantCode int, wantErr string, wantAppended int, headers ...string) {
		t.Helper()
		r := s.post(t, path, body, headers...)
		if r.code != wantCode || (wantErr != "" && r.body["error"] != wantErr) {
			t.Errorf("%s %s %q: %d %v, want %d %q", path, body, headers, r.code, r.body, wantCode, wantErr)
		}
		// Refusals are still answered for browsers to read.
		if r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no Access-Control-Allow-Origin", path, body)
		}
		if got := s.appended(t); len(got) != wantAppended {
			t.Errorf("%s %s: appended %d events, want %d", path, body, len(got), wantAppended)
		}
		if wantCode == http.StatusForbidden {
			refused := s.received("refused")
			// Every event of a refused request counts.
			if refused-refusedBefore != float64(strings.Count(body, `"site_id"`)) {
				t.Errorf("%s %s: refused counter moved by %v", path, body, refused-refusedBefore)
			}
			refusedBefore = refused
		}
	}
	const (
		ok        = http.StatusAccepted
		forbidden = http.StatusForbidden
	)
	// A registered site, from its own pages or from a server.
	f("/event", `{"site_id":"site-123","path":"/"}`, ok, "", 1, "Origin: https://example.com")
	f("/event", `{"site_id":"site-123","path":"/"}`, ok, "", 1, "Origin: https://www.example.com:8443")
	f("/event", `{"site_id":"site-123","path":"/"}`, ok, "", 1, "Referer: https://example.com/pricing?plan=pro")
	f("/event", `{"site_id":"site-123","path":"/"}`, ok, "", 1)
	f("/event", `{"site_id":"api-only","path":"/"}`, ok, "", 1)
	// The Origin header decides when both are sent.
	f("/event", `{"site_id":"site-123","path":"/"}`, ok, "", 1, "Origin: https://example.com", "Referer: https://evil.example/")

	// Unknown sites, foreign origins.
	f("/event", `{"site_id":"x","path":"/"}`, forbidden, `site_id: unknown site "x"`, 0)
	f("/event", `{"site_id":"x","path":"/"}`, forbidden, `site_id: unknown site "x"`, 0, "Origin: https://example.com")
	f("/event", `{"site_id":"site-123","path":"/"}`, forbidden,
		`origin not allowed: "https://evil.example" is not a host name of site "site-123"`, 0, "Origin: https://evil.example")
	f("/event", `{"site_id":"site-123","path":"/"}`, forbidden,
		`origin not allowed: "https://evil.example" is not a host name of site "site-123"`, 0, "Referer: https://evil.example/page")
	f("/event", `{"site_id":"api-only","path":"/"}`, forbidden,
		`origin not allowed: "https://example.com" is not a host name of site "api-only", which lists none`, 0, "Origin: https://example.com")
	// Validation comes first: a malformed event is a 400, not a 403.
	f("/event", `{"site_id":"bad id","path":"/"}`, http.StatusBadRequest, "site_id: must be 1-100 characters of letters, digits and ._:-", 0)

	// Batches: taken whole, or refused whole naming the first bad event.
	f("/events", `[{"site_id":"site-123","path":"/a"},{"site_id":"api-only","path":"/b"}]`, ok, "", 2)
	f("/events", `[{"site_id":"site-123","path":"/a"},{"site_id":"site-123","path":"/b"}]`, ok, "", 2, "Origin: https://www.example.com")
	f("/events", `[{"site_id":"site-123","path":"/a"},{"site_id":"x","path":"/b"},{"site_id":"y","path":"/c"}]`, forbidden,
		`events[1]: site_id: unknown site "x"`, 0)
	f("/events", `[{"site_id":"site-123","path":"/a"},{"site_id":"api-only","path":"/b"}]`, forbidden,
		`events[1]: origin not allowed: "https://example.com" is not a host name of site "api-only", which lists none`, 0, "Origin: https://example.com")
	f("/events", "{\"site_id\":\"site-123\",\"path\":\"/a\"}\n{\"site_id\":\"site-123\",\"path\":\"/b\"}", forbidden,
		`events[0]: origin not allowed: "null" is not a host name of site "site-123"`, 0, "Origin: null")
}
