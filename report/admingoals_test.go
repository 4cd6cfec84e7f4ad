package report

import (
	"net/http"
	"strings"
	"testing"
)

// The goals of the admin API are routed through the report's router: a
// goal's name is the rest of the path, slashes and all, and only admin
// keys reach them.
func TestAdminGoalsRoutes(t *testing.T) {
	a := newAccess(t, Config{})
	site := bearer(a.key(t, "site-123"))
	adm := bearer(a.key(t, ""))
	f := func(method, target, body, header string, code int, want string) {
		t.Helper()
		rec := a.do(method, target, body, header)
		if got := strings.TrimSpace(rec.Body.String()); rec.Code != code || !strings.Contains(got, want) {
			t.Errorf("%s %s: %d %s\nwant %d containing %s", method, target, rec.Code, got, code, want)
		}
	}
	const name = "/api/sites/site-123/goals/Visit%20%2Fblog%2F%2A"
	f("PUT", name, `{"page_path":"/blog/*"}`, site, http.StatusForbidden, "the admin API needs an admin key")
	f("PUT", name, `{"page_path":"/blog/*"}`, adm, http.StatusCreated, `"name":"Visit /blog/*","page_path":"/blog/*"`)
	f("PUT", "/api/sites/site-123/goals/signup", `{"event_name":"signup"}`, adm, http.StatusCreated, `"name":"signup","event_name":"signup"`)
	f("GET", "/api/sites/site-123/goals", "", adm, http.StatusOK, `"name":"Visit /blog/*","page_path":"/blog/*"`)
	f("GET", "/api/sites/site-123/goals", "", site, http.StatusForbidden, "the admin API needs an admin key")
	f("DELETE", name, "", adm, http.StatusNoContent, "")
	f("DELETE", name, "", adm, http.StatusNotFound, `no goal \"Visit /blog/*\" of site site-123`)
	f("POST", "/api/sites/site-123/goals", "", adm, http.StatusMethodNotAllowed, "method not allowed")
}
