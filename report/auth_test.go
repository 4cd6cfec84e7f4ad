package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"sitelog/rollup"
	"sitelog/sites"
)

// access is a report handler over the fixture with a real sites registry
// in a database of its own, as main wires them.
type access struct {
	h        *Handler
	store    *sites.Store
	reg      *sites.Registry
	api      *sites.API
	logs     *bytes.Buffer
	dbPath   string
	adminDBs int // times the admin API opened its database
}

// newAccess returns the handler with cfg and the registry; keys and sites
// are added by the tests through store.
func newAccess(t *testing.T, cfg Config) *access {
	t.Helper()
	a := &access{logs: &bytes.Buffer{}, dbPath: filepath.Join(t.TempDir(), "sitelog.db")}
	db, err := rollup.OpenAdmin(a.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a.store = sites.NewStore(db, sites.StoreOptions{})
	ro, err := rollup.OpenReadOnly(a.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	if a.reg, err = sites.Load(context.Background(), ro, sites.Options{}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(a.logs, nil))
	a.api = sites.NewAPI(a.reg, func() (*sql.DB, error) {
		a.adminDBs++
		return rollup.OpenAdmin(a.dbPath)
	}, logger)
	t.Cleanup(func() { a.api.Close() })
	cfg.Keys, cfg.Admin, cfg.Logger = a.reg, a.api, logger
	_, path := newDB(t, "wal", fixture)
	a.h = New(openRO(t, path, "5000"), cfg)
	return a
}

// key creates a key (for site, or an admin key for "") and returns its
// token, with the registry reloaded so the handler knows it.
func (a *access) key(t *testing.T, site string) string {
	t.Helper()
	ctx := context.Background()
	var token string
	var err error
	if site == "" {
		_, token, err = a.store.CreateAdminKey(ctx, "")
	} else {
		_, token, err = a.store.CreateSiteKey(ctx, site, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	a.reload(t)
	return token
}

func (a *access) reload(t *testing.T) {
	t.Helper()
	if err := a.reg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// do serves one request with the given headers ("Name: value").
func (a *access) do(method, target, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

func bearer(token string) string { return "Authorization: Bearer " + token }

// errorOf is the "error" of a JSON error answer.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", rec.Code, rec.Body, err)
	}
	return body.Error
}

func TestReportKeys(t *testing.T) {
	const challenge = `Bearer realm="sitelog"`
	const invalid = `Bearer realm="sitelog", error="invalid_token"`
	type request struct {
		target, header string
		code           int
		challenge, err string
	}
	check := func(t *testing.T, a *access, reqs []request) {
		t.Helper()
		for _, r := range reqs {
			var headers []string
			if r.header != "" {
				headers = append(headers, r.header)
			}
			rec := a.do(http.MethodGet, r.target, "", headers...)
			if rec.Code != r.code || rec.Header().Get("WWW-Authenticate") != r.challenge {
				t.Errorf("GET %s with %.30q: %d, WWW-Authenticate %q; want %d, %q (%s)",
					r.target, r.header, rec.Code, rec.Header().Get("WWW-Authenticate"), r.code, r.challenge, rec.Body)
			}
			if r.code != http.StatusOK {
				checkJSONHeaders(t, rec)
				if got := errorOf(t, rec); got != r.err {
					t.Errorf("GET %s with %.30q: error %q, want %q", r.target, r.header, got, r.err)
				}
			}
		}
	}

	t.Run("auto without keys: open", func(t *testing.T) {
		a := newAccess(t, Config{})
		check(t, a, []request{
			{"/stats?site_id=site-123", "", 200, "", ""},
			{"/stats/events?site_id=site.b:2", "", 200, "", ""},
			// A header with no key behind it is ignored while reports are open.
			{"/stats?site_id=site-123", bearer("sl_whatever"), 200, "", ""},
		})
	})

	t.Run("auto with keys", func(t *testing.T) {
		a := newAccess(t, Config{})
		site := a.key(t, "site-123")
		other := a.key(t, "site.b:2")
		admin := a.key(t, "")
		const missing = "a report key is required: send Authorization: Bearer <key>"
		const unknown = "unknown or revoked report key"
		check(t, a, []request{
			{"/stats?site_id=site-123", "", 401, challenge, missing},
			{"/stats/events?site_id=site-123", "", 401, challenge, missing},
			{"/stats?site_id=site-123", "Authorization: Basic dXNlcjpwdw==", 401, challenge, missing},
			{"/stats?site_id=site-123", "Authorization: Bearer", 401, challenge, missing},
			{"/stats?site_id=site-123", "Authorization: Bearer ", 401, challenge, missing},
			{"/stats?site_id=site-123", bearer("sl_wrong"), 401, invalid, unknown},
			{"/stats?site_id=site-123", bearer(site + "x"), 401, invalid, unknown},
			{"/stats?site_id=site-123", bearer(strings.ToUpper(site)), 401, invalid, unknown},
			// 401 comes before the parameters are looked at: no hint to
			// whoever has no key.
			{"/stats?site_id=bad%20id", "", 401, challenge, missing},
			{"/stats?site_id=site-123", bearer(other), 403, "", `forbidden: this key reads site "site.b:2" only`},
			{"/stats/events?site_id=site-123", bearer(other), 403, "", `forbidden: this key reads site "site.b:2" only`},
			{"/stats?site_id=nobody", bearer(site), 403, "", `forbidden: this key reads site "site-123" only`},
			{"/stats?site_id=site-123", bearer(site), 200, "", ""},
			{"/stats?site_id=site-123", "authorization: bearer " + site, 200, "", ""},
			{"/stats/events?site_id=site-123&date=2025-11-15", bearer(site), 200, "", ""},
			{"/stats?site_id=site.b:2", bearer(other), 200, "", ""},
			{"/stats?site_id=site-123", bearer(admin), 200, "", ""},
			{"/stats?site_id=site.b:2", bearer(admin), 200, "", ""},
			{"/stats/events?site_id=nobody", bearer(admin), 200, "", ""},
			// An authorised request with bad parameters is still a 400.
			{"/stats?site_id=site-123&limit=0", bearer(site), 400, "", "limit: must be an integer from 1 to 100"},
		})
		// The answer with a key is the answer without keys.
		if rec := a.do("GET", "/stats?site_id=site-123&date=2025-11-14", "", bearer(site)); rec.Body.String() !=
			`{"site_id":"site-123","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}` {
			t.Errorf("seed answer with a key: %s", rec.Body)
		}

		// A revoked key is refused once the registry is re-read.
		keys := a.reg.Snapshot().Keys()
		if err := a.store.RevokeKey(context.Background(), keys[0].ID); err != nil {
			t.Fatal(err)
		}
		a.reload(t)
		check(t, a, []request{
			{"/stats?site_id=site-123", bearer(site), 401, invalid, unknown},
			{"/stats?site_id=site-123", bearer(admin), 200, "", ""},
		})
		// Once the last key is revoked, reports are open again (auto).
		for _, k := range a.reg.Snapshot().Keys() {
			if err := a.store.RevokeKey(context.Background(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
		a.reload(t)
		check(t, a, []request{{"/stats?site_id=site-123", "", 200, "", ""}})

		// No token ever reaches the log.
		for _, tok := range []string{site, other, admin} {
			if strings.Contains(a.logs.String(), tok) {
				t.Errorf("a token is in the log:\n%s", a.logs)
			}
		}
	})

	t.Run("required without keys", func(t *testing.T) {
		a := newAccess(t, Config{RequireKeys: true})
		check(t, a, []request{
			{"/stats?site_id=site-123", "", 401, challenge, "a report key is required: send Authorization: Bearer <key>"},
			{"/stats?site_id=site-123", bearer("sl_any"), 401, invalid, "unknown or revoked report key"},
		})
		site := a.key(t, "site-123")
		check(t, a, []request{{"/stats?site_id=site-123", bearer(site), 200, "", ""}})
	})

	t.Run("required with no registry at all", func(t *testing.T) {
		_, path := newDB(t, "wal", fixture)
		h := New(openRO(t, path, "5000"), Config{RequireKeys: true})
		for _, header := range []string{"", bearer("sl_any")} {
			req := httptest.NewRequest(http.MethodGet, "/stats?site_id=site-123", nil)
			if header != "" {
				req.Header.Set("Authorization", strings.TrimPrefix(header, "Authorization: "))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("with %q: %d %s", header, rec.Code, rec.Body)
			}
		}
	})
}

// TestNoCORS: reports are for their owners, not for the scripts of other
// origins running in their browsers. No answer carries a CORS header, so a
// browser lets no other origin read one, and a preflight is not granted.
func TestNoCORS(t *testing.T) {
	a := newAccess(t, Config{})
	site := a.key(t, "site-123")
	origin := "Origin: https://evil.example"
	for _, rec := range []*httptest.ResponseRecorder{
		a.do(http.MethodGet, "/stats?site_id=site-123", "", origin, bearer(site)),
		a.do(http.MethodGet, "/stats?site_id=site-123", "", origin),
		a.do(http.MethodGet, "/stats/events?site_id=site-123", "", origin, bearer(site)),
		a.do(http.MethodGet, "/api/sites", "", origin),
		a.do(http.MethodOptions, "/stats", "", origin, "Access-Control-Request-Method: GET", "Access-Control-Request-Headers: authorization"),
		a.do(http.MethodOptions, "/api/sites/x", "", origin, "Access-Control-Request-Method: PUT"),
	} {
		for name := range rec.Header() {
			if strings.HasPrefix(strings.ToLower(name), "access-control-") {
				t.Errorf("answer %d carries %s: %q", rec.Code, name, rec.Header().Get(name))
			}
		}
	}
}

func TestAdminAPI(t *testing.T) {
	a := newAccess(t, Config{})
	f := func(method, target, body, header string, code int, want string) {
		t.Helper()
		var headers []string
		if header != "" {
			headers = append(headers, header)
		}
		rec := a.do(method, target, body, headers...)
		got := strings.TrimSpace(rec.Body.String())
		if rec.Code != code || got != want {
			t.Errorf("%s %s %s: %d %s\nwant %d %s", method, target, body, rec.Code, got, code, want)
		}
		if want != "" {
			checkJSONHeaders(t, rec)
		}
	}
	// Without any key, the admin API is closed even though reports are open.
	f("GET", "/api/sites", "", "", 401, `{"error":"a report key is required: send Authorization: Bearer <key>"}`)
	f("PUT", "/api/sites/a", `{}`, bearer("sl_x"), 401, `{"error":"unknown or revoked report key"}`)
	site := a.key(t, "site-123")
	admin := a.key(t, "")
	adm := bearer(admin)
	forbidden := `{"error":"forbidden: the admin API needs an admin key (sitelog keys create --admin)"}`
	f("GET", "/api/sites", "", bearer(site), 403, forbidden)
	f("PUT", "/api/sites/site-123", `{}`, bearer(site), 403, forbidden)
	f("DELETE", "/api/sites/site-123", "", bearer(site), 403, forbidden)
	if a.adminDBs != 0 {
		t.Errorf("the admin API opened its database %d times before any write", a.adminDBs)
	}

	f("GET", "/api/sites", "", adm, 200, `{"sites":[]}`)
	f("PUT", "/api/sites/site-123", `{"hostnames":["Example.com","www.example.com"],"time_zone":"Europe/Berlin"}`, adm, 201,
		`{"id":"site-123","hostnames":["example.com","www.example.com"],"time_zone":"Europe/Berlin"}`)
	f("PUT", "/api/sites/blog", `{}`, adm, 201, `{"id":"blog","hostnames":[],"time_zone":"UTC"}`)
	f("PUT", "/api/sites/blog", `{"hostnames":["blog.example"]}`, adm, 200, `{"id":"blog","hostnames":["blog.example"],"time_zone":"UTC"}`)
	// Seen by this process at once, without waiting for the poll.
	if err := a.reg.Check("blog", "https://blog.example"); err != nil {
		t.Errorf("after PUT: %v", err)
	}
	f("GET", "/api/sites", "", adm, 200,
		`{"sites":[{"id":"blog","hostnames":["blog.example"],"time_zone":"UTC"},{"id":"site-123","hostnames":["example.com","www.example.com"],"time_zone":"Europe/Berlin"}]}`)

	f("PUT", "/api/sites/bad%20id", `{}`, adm, 400, `{"error":"site_id: must be 1-100 characters of letters, digits and ._:-"}`)
	f("PUT", "/api/sites/x", `{"time_zone":"Mars/Base"}`, adm, 400, `{"error":"time_zone: \"Mars/Base\" is not an IANA time zone name such as Europe/Berlin or UTC"}`)
	f("PUT", "/api/sites/x", `{"hostnames":["https://x.example/"]}`, adm, 400,
		`{"error":"hostnames: \"https://x.example/\" is not a host name: give one like example.com, without scheme or path"}`)
	f("PUT", "/api/sites/x", `{"timezone":"UTC"}`, adm, 400,
		`{"error":"body: must be a JSON object {\"hostnames\":[...],\"time_zone\":\"...\"}: unknown field \"timezone\""}`)
	f("PUT", "/api/sites/x", `{"hostnames":"x.example"}`, adm, 400,
		`{"error":"body: must be a JSON object {\"hostnames\":[...],\"time_zone\":\"...\"}: cannot unmarshal string into Go struct field siteBody.hostnames of type []string"}`)
	f("PUT", "/api/sites/x", ``, adm, 400, `{"error":"body: must be a JSON object {\"hostnames\":[...],\"time_zone\":\"...\"}: EOF"}`)

	f("DELETE", "/api/sites/blog", "", adm, 204, "")
	f("DELETE", "/api/sites/blog", "", adm, 404, `{"error":"no site \"blog\""}`)
	f("GET", "/api/sites", "", adm, 200, `{"sites":[{"id":"site-123","hostnames":["example.com","www.example.com"],"time_zone":"Europe/Berlin"}]}`)
	f("POST", "/api/sites", "", adm, 405, `{"error":"method not allowed: POST /api/sites (allowed: GET, OPTIONS)"}`)
	if a.adminDBs != 1 {
		t.Errorf("the admin API opened its database %d times, want once", a.adminDBs)
	}

	// The writes are in the database, for every other process to read.
	snap, err := a.store.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Sites(); len(got) != 1 || got[0].ID != "site-123" || got[0].TimeZone != "Europe/Berlin" {
		t.Errorf("stored sites: %+v", got)
	}
	if strings.Contains(a.logs.String(), admin) {
		t.Errorf("the admin token is in the log:\n%s", a.logs)
	}
}
