package sites

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestNewGoal(t *testing.T) {
	f := func(site, name, ev, path string, want Goal, wantErr string) {
		t.Helper()
		got, err := NewGoal(site, name, ev, path)
		if wantErr != "" {
			if err == nil || err.Error() != wantErr {
				t.Errorf("NewGoal(%q, %q, %q, %q) = %+v, %v; want error %q", site, name, ev, path, got, err, wantErr)
			}
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Errorf("NewGoal(%q, %q, %q, %q): error %v is not an *InvalidError", site, name, ev, path, err)
			}
			return
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("NewGoal(%q, %q, %q, %q) = %+v, %v; want %+v", site, name, ev, path, got, err, want)
		}
	}
	const (
		either  = "goal: give either an event name or a page path pattern"
		badPath = "page_path: must start with / and be at most 1024 bytes of UTF-8 without spaces or control characters; * matches any run of characters"
		badName = "name: must be 1-1030 bytes of printable characters, without leading or trailing spaces"
		badEv   = "event_name: must be 1-64 bytes of printable characters"
	)
	f("s", "", "signup", "", Goal{Site: "s", Name: "signup", Event: "signup"}, "")
	f("s", "Sign-up", "signup", "", Goal{Site: "s", Name: "Sign-up", Event: "signup"}, "")
	f("s", "", "", "/pricing", Goal{Site: "s", Name: "Visit /pricing", Path: "/pricing"}, "")
	f("s", "", "", "/blog/*", Goal{Site: "s", Name: "Visit /blog/*", Path: "/blog/*"}, "")
	f("s", "Docs ☂", "", "/docs/*/intro", Goal{Site: "s", Name: "Docs ☂", Path: "/docs/*/intro"}, "")
	f("s", "", "", "/"+strings.Repeat("p", MaxGoalPath-1), Goal{Site: "s", Name: "Visit /" + strings.Repeat("p", MaxGoalPath-1), Path: "/" + strings.Repeat("p", MaxGoalPath-1)}, "")
	f("s", "", "Kauf abgeschlossen", "", Goal{Site: "s", Name: "Kauf abgeschlossen", Event: "Kauf abgeschlossen"}, "")

	f("bad id", "", "signup", "", Goal{}, "site_id: must be 1-100 characters of letters, digits and ._:-")
	f("", "", "signup", "", Goal{}, "site_id: must be 1-100 characters of letters, digits and ._:-")
	f("s", "", "", "", Goal{}, either)
	f("s", "", "signup", "/pricing", Goal{}, either)
	f("s", "", strings.Repeat("e", MaxGoalEvent+1), "", Goal{}, badEv)
	f("s", "", "a\nb", "", Goal{}, badEv)
	f("s", "", "\xff", "", Goal{}, badEv)
	f("s", "", "", "pricing", Goal{}, badPath)
	f("s", "", "", "https://example.com/pricing", Goal{}, badPath)
	f("s", "", "", "/"+strings.Repeat("p", MaxGoalPath), Goal{}, badPath)
	f("s", "", "", "/a b", Goal{}, badPath)
	f("s", "", "", "/a\x00", Goal{}, badPath)
	f("s", "", "", "/\xff", Goal{}, badPath)
	f("s", " padded", "signup", "", Goal{}, badName)
	f("s", "tab\there", "signup", "", Goal{}, badName)
	f("s", strings.Repeat("n", MaxGoalName+1), "signup", "", Goal{}, badName)
}

func TestStoreGoals(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		add := func(site, name, ev, pattern string, wantCreated bool) Goal {
			t.Helper()
			g, created, err := store.AddGoal(ctx, site, name, ev, pattern)
			if err != nil || created != wantCreated {
				t.Fatalf("AddGoal(%q, %q, %q, %q) = created %v, %v; want created %v", site, name, ev, pattern, created, err, wantCreated)
			}
			return g
		}
		created := testNow().UTC()
		signup := add("s", "", "signup", "", true)
		if want := (Goal{ID: 1, Site: "s", Name: "signup", Event: "signup", Created: created}); signup != want {
			t.Fatalf("added %+v, want %+v", signup, want)
		}
		add("s", "", "", "/pricing", true)
		add("other", "Blog", "", "/blog/*", true)
		// The same goal again is no change; another under its name is refused.
		if again := add("s", "", "signup", "", false); again != signup {
			t.Errorf("the same goal again = %+v, want %+v", again, signup)
		}
		_, _, err := store.AddGoal(ctx, "s", "signup", "", "/signup")
		if !errors.Is(err, ErrGoalExists) || !strings.Contains(err.Error(), `site s has a goal named "signup" already (event signup); remove it first`) {
			t.Errorf("AddGoal of a taken name: %v", err)
		}
		if _, _, err := store.AddGoal(ctx, "s", "", "", "pricing"); err == nil {
			t.Error("AddGoal of an invalid goal succeeded")
		}

		list := func(site string, want ...string) {
			t.Helper()
			// Through the read-only pool a serving process has.
			goals, err := ReadGoals(ctx, db.readers, db.dialect, site)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, g := range goals {
				got = append(got, g.Site+"|"+g.Name+"|"+g.Definition())
			}
			if want == nil {
				want = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("goals of %q = %q, want %q", site, got, want)
			}
		}
		list("", "other|Blog|page /blog/*", "s|Visit /pricing|page /pricing", "s|signup|event signup")
		list("s", "s|Visit /pricing|page /pricing", "s|signup|event signup")
		list("nobody")

		if err := store.RemoveGoal(ctx, "s", "signup"); err != nil {
			t.Fatal(err)
		}
		if err := store.RemoveGoal(ctx, "s", "signup"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second RemoveGoal: %v, want ErrNotFound", err)
		}
		if err := store.RemoveGoal(ctx, "other", "Visit /pricing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveGoal of another site's goal: %v, want ErrNotFound", err)
		}
		list("", "other|Blog|page /blog/*", "s|Visit /pricing|page /pricing")
		// Ids are never reused: a worker that saw goal 1 never mistakes a new
		// goal for it.
		if g := add("s", "", "signup", "", true); g.ID != 4 {
			t.Errorf("re-added goal has id %d, want 4", g.ID)
		}
	})
}

// Goal changes move the registry's change counter, which every serving
// process polls, so the worker learns of them within a second.
func TestGoalsMoveTheRegistryVersion(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		reg, err := Load(ctx, db.readers, Options{Dialect: db.dialect})
		if err != nil {
			t.Fatal(err)
		}
		v0 := reg.Snapshot().Version()
		for _, change := range []func() error{
			func() error { _, _, err := store.AddGoal(ctx, "s", "", "signup", ""); return err },
			func() error { return store.RemoveGoal(ctx, "s", "signup") },
		} {
			if err := change(); err != nil {
				t.Fatal(err)
			}
			if err := reg.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if v := reg.Snapshot().Version(); v <= v0 {
				t.Errorf("version %d after a goal change, was %d", v, v0)
			}
			v0 = reg.Snapshot().Version()
		}
	})
}

func TestGoalsAPI(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		reg, err := Load(context.Background(), db.readers, Options{Dialect: db.dialect})
		if err != nil {
			t.Fatal(err)
		}
		api := NewAPI(reg, db.openAdmin, nil)
		t.Cleanup(func() { api.Close() })
		// The API's own Store runs on the real clock: the goal whose created
		// time is compared is added through the test's Store.
		f := func(method, target, body string, wantCode int, want string) {
			t.Helper()
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != wantCode || got != want {
				t.Errorf("%s %s %s: %d %s\nwant %d %s", method, target, body, rec.Code, got, wantCode, want)
			}
		}
		f("GET", "/api/sites/s/goals", "", 200, `{"goals":[]}`)
		if _, _, err := store.AddGoal(context.Background(), "s", "", "", "/blog/*"); err != nil {
			t.Fatal(err)
		}
		f("GET", "/api/sites/s/goals", "", 200, `{"goals":[{"id":1,"site_id":"s","name":"Visit /blog/*","page_path":"/blog/*","created":"2025-11-14T12:00:00Z"}]}`)
		// The same goal again: 200 and the goal as it is.
		f("PUT", "/api/sites/s/goals/Visit%20%2Fblog%2F%2A", `{"page_path":"/blog/*"}`, 200,
			`{"id":1,"site_id":"s","name":"Visit /blog/*","page_path":"/blog/*","created":"2025-11-14T12:00:00Z"}`)

		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("PUT", "/api/sites/s/goals/Signed%20up", strings.NewReader(`{"event_name":"signup"}`)))
		if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"id":2,"site_id":"s","name":"Signed up","event_name":"signup","created":"`) {
			t.Errorf("PUT a new goal: %d %s", rec.Code, rec.Body)
		}
		f("PUT", "/api/sites/s/goals/Signed%20up", `{"page_path":"/welcome"}`, 409,
			`{"error":"goal \"Signed up\" of site s exists with another definition: delete it first"}`)
		f("PUT", "/api/sites/s/goals/x", `{"event_name":"a","page_path":"/a"}`, 400, `{"error":"goal: give either an event name or a page path pattern"}`)
		f("PUT", "/api/sites/s/goals/x", `{"path":"/a"}`, 400,
			`{"error":"body: must be a JSON object {\"event_name\":\"...\"} or {\"page_path\":\"...\"}: unknown field \"path\""}`)
		f("PUT", "/api/sites/s/goals/x", `{"page_path":"a"}`, 400,
			`{"error":"page_path: must start with / and be at most 1024 bytes of UTF-8 without spaces or control characters; * matches any run of characters"}`)
		f("PUT", "/api/sites/bad%20id/goals/x", `{"event_name":"a"}`, 400, `{"error":"site_id: must be 1-100 characters of letters, digits and ._:-"}`)
		f("GET", "/api/sites/bad%20id/goals", "", 400, `{"error":"site_id: must be 1-100 characters of letters, digits and ._:-"}`)

		f("DELETE", "/api/sites/s/goals/Signed%20up", "", 204, "")
		f("DELETE", "/api/sites/s/goals/Signed%20up", "", 404, `{"error":"no goal \"Signed up\" of site s"}`)
		f("GET", "/api/sites/s/goals", "", 200, `{"goals":[{"id":1,"site_id":"s","name":"Visit /blog/*","page_path":"/blog/*","created":"2025-11-14T12:00:00Z"}]}`)
		f("GET", "/api/sites/s/goals/Visit%20%2Fblog%2F%2A", "", 404, `{"error":"no such route: GET /api/sites/s/goals/Visit /blog/*"}`)
		f("PUT", "/api/sites/s/goals/", `{"event_name":"a"}`, 404, `{"error":"no such route: PUT /api/sites/s/goals/"}`)
		f("GET", "/api/sites/s/other", "", 404, `{"error":"no such route: GET /api/sites/s/other"}`)
	})
}
