package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"

	"sitelog/rollup"
	"sitelog/sites"
)

// jsBudget is the most JavaScript the page may load, gzipped (issue 6).
const jsBudget = 100 << 10

func newRouter(h *Handler) *httprouter.Router {
	r := httprouter.New()
	h.Register(r)
	return r
}

func get(t *testing.T, h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestFilesCarryTheirTypeAndSecurityHeaders(t *testing.T) {
	r := newRouter(New(Config{}))
	f := func(target, wantType string) {
		t.Helper()
		rec := get(t, r, target)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		hdr := rec.Header()
		want := map[string]string{
			"Content-Type":               wantType,
			"Content-Security-Policy":    contentSecurityPolicy,
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Referrer-Policy":            "no-referrer",
			"Cache-Control":              "no-cache",
			"Cross-Origin-Opener-Policy": "same-origin",
		}
		for k, v := range want {
			if got := hdr.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", target, k, got, v)
			}
		}
	}
	f("/", "text/html; charset=utf-8")
	f("/assets/js/app.js", "text/javascript; charset=utf-8")
	f("/assets/vendor/preact.js", "text/javascript; charset=utf-8")
	f("/assets/style.css", "text/css; charset=utf-8")
	f("/assets/favicon.svg", "image/svg+xml")
	f("/assets/vendor/LICENSE.uplot", "text/plain; charset=utf-8")

	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(contentSecurityPolicy, directive) {
			t.Errorf("policy lacks %q", directive)
		}
	}
	if strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Errorf("policy allows something unsafe: %s", contentSecurityPolicy)
	}
}

func TestPageHasNoInlineScriptOrStyle(t *testing.T) {
	body := get(t, newRouter(New(Config{})), "/").Body.String()
	for _, bad := range []string{"<style", " style=", "onload=", "onclick=", "javascript:"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	if strings.Count(body, "<script") != 1 || !strings.Contains(body, `<script type="module" src="/assets/js/app.js"></script>`) {
		t.Errorf("index.html should load exactly one script, the app module, by src:\n%s", body)
	}
}

// TestEveryModuleIsPreloaded keeps index.html's list of modules whole, so
// the browser fetches them all at once rather than import by import.
func TestEveryModuleIsPreloaded(t *testing.T) {
	h := New(Config{})
	page := string(h.files["index.html"].body)
	for name := range h.files {
		if path.Ext(name) != ".js" || name == "js/app.js" {
			continue
		}
		if !strings.Contains(page, `<link rel="modulepreload" href="/assets/`+name+`">`) {
			t.Errorf("index.html does not preload %s", name)
		}
	}
}

func TestFilesAreGzippedAndRevalidated(t *testing.T) {
	r := newRouter(New(Config{}))
	plain := get(t, r, "/assets/vendor/uplot.js")
	zipped := get(t, r, "/assets/vendor/uplot.js", "Accept-Encoding", "br, gzip;q=0.8")
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", zipped.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain.Body.Bytes()) {
		t.Error("the gzipped file differs from the plain one")
	}
	for header, want := range map[string]string{
		"gzip;q=0": "", "gzip; q=0.000": "", "br": "", "": "",
		"GZIP": "gzip", "deflate, gzip;q=0.5": "gzip", "gzip;q=1": "gzip",
	} {
		if got := get(t, r, "/assets/vendor/uplot.js", "Accept-Encoding", header).Header().Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding = %q, want %q", header, got, want)
		}
	}

	etag := plain.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(t, r, "/assets/vendor/uplot.js", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match with the ETag: %d, %d bytes; want 304, none", rec.Code, rec.Body.Len())
	}
	if rec := get(t, r, "/assets/vendor/uplot.js", "If-None-Match", `"stale"`); rec.Code != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: %d, want 200", rec.Code)
	}
}

func TestUnknownFilesAreJSON404s(t *testing.T) {
	r := newRouter(New(Config{}))
	for _, target := range []string{
		"/assets/nope.js",
		"/assets/index.html", // the page has one address, /
		"/assets/js/../js/app.js",
		"/assets/./style.css",
		"/assets/",
		"/assets/js",
	} {
		rec := get(t, r, target)
		var body struct{ Error string }
		if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Errorf("GET %s: %d %s; want 404 with a JSON error", target, rec.Code, rec.Body)
		}
	}
}

// TestJavaScriptBudget sums what the browser downloads of every script the
// dashboard embeds, gzipped as the server sends it.
func TestJavaScriptBudget(t *testing.T) {
	h := New(Config{})
	total, raw := 0, 0
	for name, f := range h.files {
		if path.Ext(name) != ".js" {
			continue
		}
		n := len(f.body)
		if f.gzipped != nil {
			n = len(f.gzipped)
		}
		total += n
		raw += len(f.body)
	}
	t.Logf("JavaScript: %d bytes, %d bytes (%.1f KiB) gzipped; budget %d KiB", raw, total, float64(total)/1024, jsBudget>>10)
	if total >= jsBudget {
		t.Errorf("JavaScript is %d bytes gzipped, over the budget of %d", total, jsBudget)
	}
}

// TestVendoredFilesHaveLicences checks that each vendored library ships
// with its licence and is named in VERSIONS.
func TestVendoredFilesHaveLicences(t *testing.T) {
	versions, err := fs.ReadFile(static, "static/vendor/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range []string{"preact", "htm", "uplot"} {
		if _, err := fs.Stat(static, "static/vendor/LICENSE."+lib); err != nil {
			t.Errorf("%s: %v", lib, err)
		}
		if !strings.Contains(string(versions), lib+" ") {
			t.Errorf("VERSIONS does not name %s", lib)
		}
	}
}

// registry is a real sites registry in a database of its own, as main
// wires it.
type registry struct {
	store *sites.Store
	reg   *sites.Registry
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sitelog.db")
	db, err := rollup.OpenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ro, err := rollup.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	reg, err := sites.Load(context.Background(), ro, sites.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &registry{store: sites.NewStore(db, sites.StoreOptions{}), reg: reg}
}

func (r *registry) reload(t *testing.T) {
	t.Helper()
	if err := r.reg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (r *registry) config(require bool) Config {
	return Config{Keys: r.reg, RequireKeys: require, Sites: func() []sites.Site { return r.reg.Snapshot().Sites() }}
}

func TestSessionSaysWhatTheKeyReads(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	for _, s := range [][2]string{{"blog", "Europe/Berlin"}, {"shop", ""}} {
		if _, _, err := reg.store.PutSite(ctx, s[0], nil, s[1]); err != nil {
			t.Fatal(err)
		}
	}
	reg.reload(t)

	f := func(r http.Handler, auth string, wantCode int, want string) {
		t.Helper()
		var hdr []string
		if auth != "" {
			hdr = []string{"Authorization", auth}
		}
		rec := get(t, r, "/dashboard/session", hdr...)
		if rec.Code != wantCode || rec.Body.String() != want {
			t.Errorf("Authorization %q: %d %s\nwant %d %s", auth, rec.Code, rec.Body, wantCode, want)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
		}
		if wantCode == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("401 without a Bearer challenge: %q", rec.Header().Get("WWW-Authenticate"))
		}
	}
	all := `"sites":[{"id":"blog","time_zone":"Europe/Berlin"},{"id":"shop","time_zone":"UTC"}]`

	// No key exists: everyone reads everything, whatever they send.
	open := newRouter(New(reg.config(false)))
	f(open, "", 200, `{"keys_required":false,"admin":true,`+all+`}`)
	f(open, "Bearer whatever", 200, `{"keys_required":false,"admin":true,`+all+`}`)
	// Keys required before any exists: nobody gets in.
	f(newRouter(New(reg.config(true))), "", 401, `{"error":"a report key is required: send Authorization: Bearer \u003ckey\u003e"}`)

	_, admin, err := reg.store.CreateAdminKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	_, blog, err := reg.store.CreateSiteKey(ctx, "blog", "")
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := reg.store.CreateSiteKey(ctx, "unregistered", "")
	if err != nil {
		t.Fatal(err)
	}
	reg.reload(t)
	// Now that keys exist, one is needed.
	f(open, "", 401, `{"error":"a report key is required: send Authorization: Bearer \u003ckey\u003e"}`)
	f(open, "Basic "+admin, 401, `{"error":"a report key is required: send Authorization: Bearer \u003ckey\u003e"}`)
	f(open, "Bearer nope", 401, `{"error":"unknown or revoked report key"}`)
	f(open, "Bearer "+admin, 200, `{"keys_required":true,"admin":true,`+all+`}`)
	f(open, "bearer  "+blog, 200, `{"keys_required":true,"admin":false,"site":"blog","sites":[{"id":"blog","time_zone":"Europe/Berlin"}]}`)
	f(open, "Bearer "+other, 200, `{"keys_required":true,"admin":false,"site":"unregistered","sites":[{"id":"unregistered","time_zone":"UTC"}]}`)
}
