package report

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// realtimeNow is the clock of the realtime tests.
var realtimeNow = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)

func testRealtime(t *testing.T, d testStore) {
	now := realtimeNow
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	d.apply(t,
		ev("s", "", "/a", 1, ago(4*time.Minute)),
		ev("s", "", "/a", 2, ago(3*time.Minute)),
		ev("s", "", "/a", 2, ago(2*time.Minute)), // a second view by visitor 2
		ev("s", "", "/b", 3, ago(time.Minute)),
		ev("s", "", "/b", 1, ago(time.Minute)),
		ev("s", "", "/c", 0, ago(time.Minute)),     // an unknown visitor: a view, no visitor
		ev("s", "signup", "", 4, ago(time.Minute)), // a visitor of a custom event only
		ev("s", "", "/b", 1, now),                  // the window's end is in it
		ev("s", "", "/a", 5, ago(5*time.Minute)),   // and so is its start
		bot(ev("s", "", "/a", 6, ago(time.Minute))),
		ev("s", "", "/old", 7, ago(5*time.Minute+time.Microsecond)),
		ev("s", "", "/future", 8, now.Add(time.Microsecond)), // sent with a clock ahead
		ev("other", "", "/a", 9, ago(time.Minute)),
	)
	d.addSite(t, "quiet", "Europe/Berlin")
	h := d.handler(t, Config{Now: func() time.Time { return now }})

	f := func(target string, want string) {
		t.Helper()
		rec := get(h, target)
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s\ngot  %d %s\nwant 200 %s", target, rec.Code, rec.Body, want)
		}
		checkJSONHeaders(t, rec)
	}
	// Visitors 1, 2, 3, 4 and 5; /a has three views by 5, 1 and 2.
	f("/api/v1/realtime?site_id=s",
		`{"site_id":"s","visitors":5,"pageviews":8,"top_pages":[{"page":"/a","visitors":3,"pageviews":4},{"page":"/b","visitors":2,"pageviews":3},{"page":"/c","visitors":0,"pageviews":1}]}`)
	f("/api/v1/realtime?site_id=s&limit=1",
		`{"site_id":"s","visitors":5,"pageviews":8,"top_pages":[{"page":"/a","visitors":3,"pageviews":4}]}`)
	// A registered site without events, and a site with events long ago.
	f("/api/v1/realtime?site_id=quiet", `{"site_id":"quiet","visitors":0,"pageviews":0,"top_pages":[]}`)
	now = now.Add(time.Hour)
	f("/api/v1/realtime?site_id=s", `{"site_id":"s","visitors":0,"pageviews":0,"top_pages":[]}`)
}

// Ties in visitors are broken by views, then by path, so the order never
// depends on the plan SQLite picks.
func testRealtimeOrder(t *testing.T, d testStore) {
	at := realtimeNow.Add(-time.Minute)
	d.apply(t,
		ev("s", "", "/z", 1, at), ev("s", "", "/z", 1, at),
		ev("s", "", "/y", 2, at),
		ev("s", "", "/x", 3, at),
		ev("s", "", "/w", 4, at), ev("s", "", "/w", 5, at),
	)
	h := d.handler(t, Config{Now: func() time.Time { return realtimeNow }})
	rec := get(h, "/api/v1/realtime?site_id=s")
	var rt Realtime
	if err := json.Unmarshal(rec.Body.Bytes(), &rt); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	var got []string
	for _, p := range rt.TopPages {
		got = append(got, p.Page)
	}
	if want := []string{"/w", "/z", "/x", "/y"}; !slices.Equal(got, want) {
		t.Errorf("pages %q, want %q", got, want)
	}
}

func testRealtimeCSV(t *testing.T, d testStore) {
	at := realtimeNow.Add(-time.Minute)
	d.apply(t,
		ev("s", "", "/a", 1, at),
		ev("s", "", "/=x", 2, at),
	)
	h := d.handler(t, Config{Now: func() time.Time { return realtimeNow }})
	rec := serve(h, "/api/v1/realtime?site_id=s", "Accept: text/csv")
	const want = "page,visitors,pageviews\r\n(total),2,2\r\n/=x,1,1\r\n/a,1,1\r\n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("got %d %q\nwant 200 %q", rec.Code, rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func testRealtimeErrors(t *testing.T, d testStore) {
	d.apply(t, ev("s", "", "/a", 1, realtimeNow))
	h := d.handler(t, Config{Now: func() time.Time { return realtimeNow }})
	f := func(target string, code int, want string) {
		t.Helper()
		rec := serve(h, target, "Accept: text/csv") // errors stay JSON
		if rec.Code != code || errorOf(t, rec) != want {
			t.Errorf("GET %s = %d %s, want %d %q", target, rec.Code, rec.Body, code, want)
		}
		checkJSONHeaders(t, rec)
	}
	f("/api/v1/realtime", 400, "site_id: required")
	f("/api/v1/realtime?site_id=a%20b", 400, "site_id: must be 1-100 characters of letters, digits and ._:-")
	f("/api/v1/realtime?site_id=s&site_id=t", 400, "site_id: given more than once")
	f("/api/v1/realtime?site_id=s&limit=0", 400, "limit: must be an integer from 1 to 100")
	f("/api/v1/realtime?site_id=s&limit=101", 400, "limit: must be an integer from 1 to 100")
	f("/api/v1/realtime?site_id=s&limit=1&limit=2", 400, "limit: given more than once")
	f("/api/v1/realtime?site_id=s&%zz", 400, `query string: invalid URL escape "%zz"`)
	// Neither registered nor with any event: most likely a typo.
	f("/api/v1/realtime?site_id=nobody", 404, `unknown site "nobody"`)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/realtime?site_id=s", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d %s", rec.Code, rec.Body)
	}
}

// Realtime is a report like the others: a key of another site may not
// read it.
func TestRealtimeKeys(t *testing.T) {
	d := newRawDB(t)
	d.apply(t, ev("s", "", "/a", 1, realtimeNow), ev("t", "", "/a", 1, realtimeNow))
	ctx := context.Background()
	_, tokenS, err := d.sites.CreateSiteKey(ctx, "s", "")
	if err != nil {
		t.Fatal(err)
	}
	h := d.handler(t, Config{Now: func() time.Time { return realtimeNow }, Keys: d.registry(t)})
	f := func(target, header string, code int) {
		t.Helper()
		var headers []string
		if header != "" {
			headers = append(headers, header)
		}
		if rec := serve(h, target, headers...); rec.Code != code {
			t.Errorf("GET %s with %.20q: %d %s, want %d", target, header, rec.Code, rec.Body, code)
		}
	}
	f("/api/v1/realtime?site_id=s", "", 401)
	f("/api/v1/realtime?site_id=s", bearer("sl_nope"), 401)
	f("/api/v1/realtime?site_id=s", bearer(tokenS), 200)
	f("/api/v1/realtime?site_id=t", bearer(tokenS), 403)
	// The site is checked against the key before the database is asked
	// whether the site exists, so a key tells nothing of other sites.
	f("/api/v1/realtime?site_id=nobody", bearer(tokenS), 403)
}

func TestRealtimeBusy(t *testing.T) {
	d := newRawDB(t)
	d.apply(t, ev("s", "", "/a", 1, realtimeNow))
	h, _ := lockedRawDB(t, d)
	rec := get(h, "/api/v1/realtime?site_id=s")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
		rec.Body.String() != `{"error":"database busy, retry later"}` {
		t.Errorf("locked database: %d %s, Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
}
