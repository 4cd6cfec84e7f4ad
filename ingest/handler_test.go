package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"sitelog/event"
	"sitelog/wal"
)

// testNow is the clock of every test: the time of receipt of every event.
func testNow() time.Time { return time.Date(2025, 11, 14, 12, 0, 0, 123456789, time.UTC) }

// server is the real handler over a real log in a temporary directory,
// served by a real HTTP server.
type server struct {
	h      *Handler
	router *httprouter.Router
	log    *wal.Log
	reg    *prometheus.Registry
	srv    *httptest.Server
	read   uint64 // entries of the log already looked at by appended
}

func newServer(t testing.TB, opts wal.Options) *server {
	t.Helper()
	return newServerConfig(t, opts, Config{Now: testNow})
}

// newServerConfig is newServer with the handler's configuration given.
func newServerConfig(t testing.TB, opts wal.Options, cfg Config) *server {
	t.Helper()
	l, err := wal.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Prepare(0); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := New(cfg, l, NewMetrics(reg))
	// Serve through a router of the test's own, as main does.
	r := httprouter.New()
	h.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &server{h: h, router: r, log: l, reg: reg, srv: srv}
}

// response is what a request was answered, with the body decoded.
type response struct {
	code int
	hdr  http.Header
	body map[string]any
}

// send sends a request with the given headers ("Name: value") and returns
// the answer with its body read.
func (s *server) send(t *testing.T, method, path string, body io.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "") // not Go-http-client unless a test says so
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// do sends a request with the given headers and decodes the JSON answer.
func (s *server) do(t *testing.T, method, path string, body io.Reader, headers ...string) response {
	t.Helper()
	resp, data := s.send(t, method, path, body, headers...)
	r := response{code: resp.StatusCode, hdr: resp.Header}
	if len(data) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q, body %q", method, path, ct, data)
		}
		if err := json.Unmarshal(data, &r.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return r
}

func (s *server) post(t *testing.T, path, body string, headers ...string) response {
	t.Helper()
	return s.do(t, http.MethodPost, path, strings.NewReader(body), headers...)
}

// appended returns the events appended to the log since the last call.
func (s *server) appended(t *testing.T) []event.Event {
	t.Helper()
	var evs []event.Event
	for s.read < s.log.LastIndex() {
		entries, err := s.log.Read(context.Background(), s.read+1, 1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			var ev event.Event
			if err := event.Decode(e.Data, &ev); err != nil {
				t.Fatalf("entry %d: %v", e.Index, err)
			}
			evs = append(evs, ev)
			s.read = e.Index
		}
	}
	return evs
}

// received is the value of sitelog_events_received_total{outcome}.
func (s *server) received(outcome string) float64 {
	mfs, err := s.reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sitelog_events_received_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	panic("no sitelog_events_received_total{outcome=" + outcome + "}")
}

func TestEvent(t *testing.T) {
	s := newServer(t, wal.Options{})
	nowMicro := testNow().Truncate(time.Microsecond) // the time of receipt as the log keeps it
	long := func(n int, prefix string) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	view := func(path string) event.Event {
		return event.Event{SiteID: "s", Type: event.PageView, Path: path, Time: nowMicro}
	}
	with := func(ev event.Event, f func(*event.Event)) event.Event { f(&ev); return ev }

	// ok posts body and expects it accepted as want.
	ok := func(body string, want event.Event, headers ...string) {
		t.Helper()
		if want.UserID != "" {
			// A user_id names the visitor, the same on every day.
			want.Visitor = event.UserVisitor(want.SiteID, want.UserID)
		}
		r := s.post(t, "/event", body, headers...)
		if r.code != http.StatusAccepted || !reflect.DeepEqual(r.body, map[string]any{"status": "queued"}) {
			t.Errorf("%s: %d %v, want 202 queued", body, r.code, r.body)
		}
		if r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no Access-Control-Allow-Origin", body)
		}
		got := s.appended(t)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: appended\n%+v\nwant\n%+v", body, got, want)
		}
	}
	// bad posts body and expects it refused with status code and message.
	bad := func(body string, code int, msg string) {
		t.Helper()
		r := s.post(t, "/event", body)
		if r.code != code || r.body["error"] != msg {
			t.Errorf("%.80s: %d %v, want %d %q", body, r.code, r.body, code, msg)
		}
		if r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%.80s: no Access-Control-Allow-Origin on error", body)
		}
		if got := s.appended(t); len(got) != 0 {
			t.Errorf("%.80s: refused but appended %+v", body, got)
		}
	}

	// The README's example, as curl sends it.
	ok(`{"site_id":"site-123","event_type":"page_view","path":"/home","user_id":"u10","timestamp":"2025-11-14T10:00:00Z"}`,
		event.Event{SiteID: "site-123", Type: "page_view", Path: "/home", UserID: "u10", Time: at("2025-11-14T10:00:00Z")},
		"Content-Type: application/json", "User-Agent: curl/8.5.0")
	// Defaults: page_view, the time of receipt at microsecond precision.
	ok(`{"site_id":"s","path":"/"}`, view("/"))
	ok(` {"site_id":"s","path":"/"} `+"\n", view("/"))
	ok(`{"site_id":"s","path":"/","event_type":null,"user_id":null,"timestamp":null}`, view("/"))
	ok(`{"site_id":"s","path":"/","event_type":"","user_id":"","timestamp":""}`, view("/"))
	// sendBeacon posts text/plain; any content type is read as JSON.
	ok(`{"site_id":"s","path":"/beacon"}`, view("/beacon"), "Content-Type: text/plain;charset=UTF-8")
	ok(`{"site_id":"s","path":"/form"}`, view("/form"), "Content-Type: application/x-www-form-urlencoded")
	// Unknown fields are ignored, whatever their type.
	ok(`{"site_id":"s","path":"/","screen":{"w":1920,"h":1080},"tags":["a",1,null],"n":1.5,"b":true}`, view("/"))
	// Custom events need no path.
	ok(`{"site_id":"s","event_type":"signup"}`, event.Event{SiteID: "s", Type: "signup", Time: nowMicro})
	ok(`{"site_id":"s","event_type":"Kauf bestätigt €","path":"/checkout"}`,
		event.Event{SiteID: "s", Type: "Kauf bestätigt €", Path: "/checkout", Time: nowMicro})
	// Query and fragment are split off the path; slashes collapse.
	ok(`{"site_id":"s","path":"/a?x=1&y=2#top"}`, with(view("/a"), func(e *event.Event) { e.Query, e.Fragment = "x=1&y=2", "top" }))
	ok(`{"site_id":"s","path":"/a#f?x#y"}`, with(view("/a"), func(e *event.Event) { e.Fragment = "f?x#y" }))
	ok(`{"site_id":"s","path":"/a?"}`, view("/a"))
	ok(`{"site_id":"s","path":"//a//b///c/?q=//x"}`, with(view("/a/b/c/"), func(e *event.Event) { e.Query = "q=//x" }))
	ok(`{"site_id":"s","path":"//"}`, view("/"))
	ok(`{"site_id":"s","path":"/ünï/日本語/%20"}`, view("/ünï/日本語/%20"))
	// A full URL gives the host name and the path.
	ok(`{"site_id":"s","url":"https://example.com/blog/post?utm_source=x#c"}`,
		with(view("/blog/post"), func(e *event.Event) {
			e.Query, e.Fragment, e.Hostname, e.UTMSource = "utm_source=x", "c", "example.com", "x"
		}))
	ok(`{"site_id":"s","url":"https://user@Example.COM.:8443"}`, with(view("/"), func(e *event.Event) { e.Hostname = "example.com" }))
	ok(`{"site_id":"s","url":"http://example.com?q=1"}`, with(view("/"), func(e *event.Event) { e.Query, e.Hostname = "q=1", "example.com" }))
	ok(`{"site_id":"s","url":"app+x.y://host//deep//link"}`, with(view("/deep/link"), func(e *event.Event) { e.Hostname = "host" }))
	ok(`{"site_id":"s","url":"http://[2001:DB8::1]:8080/a"}`, with(view("/a"), func(e *event.Event) { e.Hostname = "2001:db8::1" }))
	// With both, path wins for path, query and fragment; the url still
	// names the host and carries the UTM parameters.
	ok(`{"site_id":"s","path":"/product/:id","url":"https://shop.example/product/42?utm_medium=mail#x"}`,
		with(view("/product/:id"), func(e *event.Event) { e.Hostname, e.UTMMedium = "shop.example", "mail" }))
	ok(`{"site_id":"s","path":"/a?b=1","url":"https://shop.example/z?utm_term=t"}`,
		with(view("/a"), func(e *event.Event) { e.Query, e.Hostname, e.UTMTerm = "b=1", "shop.example", "t" }))
	// Timestamps: offsets become UTC, nanoseconds are cut to microseconds,
	// up to 24h ahead and any time back.
	ok(`{"site_id":"s","path":"/","timestamp":"2025-11-14T12:00:00+02:00"}`, with(view("/"), func(e *event.Event) { e.Time = at("2025-11-14T10:00:00Z") }))
	ok(`{"site_id":"s","path":"/","timestamp":"2025-11-14T10:00:00.123456789Z"}`, with(view("/"), func(e *event.Event) { e.Time = at("2025-11-14T10:00:00.123456Z") }))
	ok(`{"site_id":"s","path":"/","timestamp":"2025-11-15T12:00:00.123456789Z"}`, with(view("/"), func(e *event.Event) { e.Time = at("2025-11-15T12:00:00.123456Z") }))
	ok(`{"site_id":"s","path":"/","timestamp":"1970-01-01T00:00:00Z"}`, with(view("/"), func(e *event.Event) { e.Time = time.Unix(0, 0).UTC() }))
	ok(`{"site_id":"s","path":"/","timestamp":"0001-01-01T00:00:00Z"}`, with(view("/"), func(e *event.Event) { e.Time = time.Time{} }))
	// Limits, at the limit.
	ok(`{"site_id":"`+long(100, "a.b_c:d-E9")+`","path":"/"}`, with(view("/"), func(e *event.Event) { e.SiteID = long(100, "a.b_c:d-E9") }))
	ok(`{"site_id":"s","event_type":"`+long(64, "t")+`"}`, event.Event{SiteID: "s", Type: long(64, "t"), Time: nowMicro})
	ok(`{"site_id":"s","path":"`+long(2048, "/")+`"}`, view(long(2048, "/")))
	ok(`{"site_id":"s","path":"`+long(2049, "//")+`"}`, view(long(2048, "/"))) // the limit applies after collapsing
	ok(`{"site_id":"s","path":"/?`+long(2048, "q")+`#`+long(2048, "f")+`"}`, with(view("/"), func(e *event.Event) { e.Query, e.Fragment = long(2048, "q"), long(2048, "f") }))
	ok(`{"site_id":"s","path":"/","user_id":"`+long(256, "ü")+`"}`, with(view("/"), func(e *event.Event) { e.UserID = long(256, "ü") }))
	// Crawlers and headless browsers are appended, marked; clients are not.
	ok(`{"site_id":"s","path":"/"}`, with(view("/"), func(e *event.Event) { e.Bot = true }),
		"User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	ok(`{"site_id":"s","path":"/"}`, with(view("/"), func(e *event.Event) { e.Bot, e.Browser, e.OS = true, "Chrome", "Linux" }),
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36")
	ok(`{"site_id":"s","path":"/"}`, view("/"), "User-Agent: python-requests/2.31.0")

	// The body as a whole.
	bad(``, 400, "body: empty")
	bad(" \n", 400, "body: empty")
	bad(`[{"site_id":"s","path":"/"}]`, 400, "body: must be a JSON object")
	bad(`null`, 400, "body: must be a JSON object")
	bad(`"x"`, 400, "body: must be a JSON object")
	bad(`{"site_id":"s","path":"/"`, 400, "body: invalid JSON: unexpected end of JSON input")
	bad(`{"site_id":"s","path":"/"} x`, 400, "body: invalid JSON: invalid character 'x' after top-level value")
	bad(`{"site_id":"s","path":"/"}{"site_id":"s","path":"/"}`, 400, "body: invalid JSON: invalid character '{' after top-level value")
	bad(`{site_id:"s"}`, 400, "body: invalid JSON: invalid character 's' looking for beginning of object key string")
	bad("{\"site_id\":\"s\",\"path\":\"/\xff\"}", 400, "body: not valid UTF-8")
	// Wrong JSON types.
	bad(`{"site_id":123,"path":"/"}`, 400, "site_id: must be a string, not number")
	bad(`{"site_id":"s","path":["/"]}`, 400, "path: must be a string, not array")
	bad(`{"site_id":"s","path":"/","user_id":{"id":1}}`, 400, "user_id: must be a string, not object")
	bad(`{"site_id":"s","path":"/","timestamp":1731578400}`, 400, "timestamp: must be a string, not number")
	bad(`{"site_id":"s","path":"/","event_type":true}`, 400, "event_type: must be a string, not bool")
	// site_id.
	bad(`{"path":"/"}`, 400, "site_id: required")
	bad(`{"site_id":"","path":"/"}`, 400, "site_id: required")
	bad(`{"site_id":"a b","path":"/"}`, 400, "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad(`{"site_id":"sïte","path":"/"}`, 400, "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad(`{"site_id":"a/b","path":"/"}`, 400, "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad(`{"site_id":"`+long(101, "s")+`","path":"/"}`, 400, "site_id: must be 1-100 characters of letters, digits and ._:-")
	// event_type.
	bad(`{"site_id":"s","event_type":"`+long(65, "t")+`"}`, 400, "event_type: must be 1-64 bytes of printable characters")
	bad(`{"site_id":"s","event_type":"a\tb"}`, 400, "event_type: must be 1-64 bytes of printable characters")
	bad(`{"site_id":"s","event_type":"a\u200bb"}`, 400, "event_type: must be 1-64 bytes of printable characters")
	// path and url.
	bad(`{"site_id":"s"}`, 400, "path: required for page_view events")
	bad(`{"site_id":"s","event_type":"page_view","path":""}`, 400, "path: required for page_view events")
	bad(`{"site_id":"s","path":"home"}`, 400, "path: must start with /")
	bad(`{"site_id":"s","path":"?q=1"}`, 400, "path: must start with /")
	bad(`{"site_id":"s","event_type":"signup","path":"https://example.com/"}`, 400, "path: must start with /")
	bad(`{"site_id":"s","path":"/a\u0000"}`, 400, "path: must not contain control characters")
	bad(`{"site_id":"s","path":"/a\nb"}`, 400, "path: must not contain control characters")
	bad(`{"site_id":"s","path":"/a\u007f"}`, 400, "path: must not contain control characters")
	bad(`{"site_id":"s","path":"/a\u0085"}`, 400, "path: must not contain control characters")
	bad(`{"site_id":"s","path":"/?a#\u0001"}`, 400, "path: must not contain control characters")
	bad(`{"site_id":"s","path":"`+long(2049, "/")+`"}`, 400, "path: longer than 2048 bytes")
	bad(`{"site_id":"s","path":"/?`+long(2049, "q")+`"}`, 400, "path: query longer than 2048 bytes")
	bad(`{"site_id":"s","path":"/#`+long(2049, "f")+`"}`, 400, "path: fragment longer than 2048 bytes")
	bad(`{"site_id":"s","path":"/a","url":"example.com/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"https://[::1/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"https://user@:80/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"https://a b/"}`, 400, "url: host name must be 1-253 bytes without spaces")
	bad(`{"site_id":"s","url":"https://`+long(254, "h")+`/"}`, 400, "url: host name must be 1-253 bytes without spaces")
	bad(`{"site_id":"s","path":"/","url":"https://example.com/\u0085"}`, 400, "url: must not contain control characters")
	bad(`{"site_id":"s","url":"example.com/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"https:///a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"1http://example.com/a"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"site_id":"s","url":"https://example.com/a\u0000"}`, 400, "url: must not contain control characters")
	bad(`{"site_id":"s","url":"https://example.com/`+long(2049, "a")+`"}`, 400, "url: longer than 2048 bytes")
	// user_id.
	bad(`{"site_id":"s","path":"/","user_id":"`+long(257, "u")+`"}`, 400, "user_id: longer than 256 bytes")
	bad(`{"site_id":"s","path":"/","user_id":"u\u001b[31m"}`, 400, "user_id: must not contain control characters")
	// timestamp.
	bad(`{"site_id":"s","path":"/","timestamp":"2025-11-14"}`, 400, "timestamp: must be RFC 3339, like 2025-11-14T10:00:00Z")
	bad(`{"site_id":"s","path":"/","timestamp":"2025-11-14 10:00:00"}`, 400, "timestamp: must be RFC 3339, like 2025-11-14T10:00:00Z")
	bad(`{"site_id":"s","path":"/","timestamp":"2025-11-14T10:00:00"}`, 400, "timestamp: must be RFC 3339, like 2025-11-14T10:00:00Z")
	bad(`{"site_id":"s","path":"/","timestamp":"2025-02-30T10:00:00Z"}`, 400, "timestamp: must be RFC 3339, like 2025-11-14T10:00:00Z")
	bad(`{"site_id":"s","path":"/","timestamp":"2025-11-15T12:00:00.123457Z"}`, 400, "timestamp: more than 24h in the future")
	bad(`{"site_id":"s","path":"/","timestamp":"9999-12-31T23:59:59Z"}`, 400, "timestamp: more than 24h in the future")
	bad(`{"site_id":"s","path":"/","timestamp":"0000-12-31T23:59:59Z"}`, 400, "timestamp: before year 1")
	bad(`{"site_id":"s","path":"/","timestamp":"0001-01-01T00:59:59+01:00"}`, 400, "timestamp: before year 1")

	if got := s.received("invalid"); got == 0 {
		t.Errorf("invalid outcomes counted %v", got)
	}
}

func TestBatch(t *testing.T) {
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	nowMicro := testNow().Truncate(time.Microsecond)
	e := func(i int) string { return fmt.Sprintf(`{"site_id":"s","path":"/p%d"}`, i) }
	want := func(n int, bot bool) []event.Event {
		var evs []event.Event
		for i := range n {
			evs = append(evs, event.Event{SiteID: "s", Type: event.PageView, Path: fmt.Sprintf("/p%d", i), Time: nowMicro, Bot: bot})
		}
		return evs
	}
	array := func(n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",\n ")
			}
			b.WriteString(e(i))
		}
		return b.String() + "]"
	}
	ndjson := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(e(i) + "\n")
		}
		return b.String()
	}

	var accepted, bots, invalid float64
	ok := func(body string, want []event.Event, headers ...string) {
		t.Helper()
		for _, ev := range want {
			if ev.Bot {
				bots++
			} else {
				accepted++
			}
		}
		r := s.post(t, "/events", body, headers...)
		wantBody := map[string]any{"status": "queued", "accepted": float64(len(want))}
		if r.code != http.StatusAccepted || !reflect.DeepEqual(r.body, wantBody) {
			t.Errorf("%.60s: %d %v, want 202 %v", body, r.code, r.body, wantBody)
		}
		if r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%.60s: no Access-Control-Allow-Origin", body)
		}
		if got := s.appended(t); !reflect.DeepEqual(got, want) {
			t.Errorf("%.60s: appended %d events\n%+v\nwant %d\n%+v", body, len(got), got, len(want), want)
		}
	}
	bad := func(body string, code int, msg string) {
		t.Helper()
		invalid++
		r := s.post(t, "/events", body)
		if r.code != code || r.body["error"] != msg {
			t.Errorf("%.60s: %d %v, want %d %q", body, r.code, r.body, code, msg)
		}
		if got := s.appended(t); len(got) != 0 {
			t.Errorf("%.60s: refused but appended %d events", body, len(got))
		}
	}

	ok(array(1), want(1, false))
	ok(array(3), want(3, false), "Content-Type: text/plain")
	ok(ndjson(3), want(3, false), "Content-Type: application/x-ndjson")
	ok(strings.ReplaceAll(ndjson(3), "\n", "\r\n"), want(3, false))
	ok("\n\n"+e(0)+"\n\n"+e(1)+"  "+e(2), want(3, false)) // blank lines, objects side by side
	ok(e(0), want(1, false))                              // one object is NDJSON of one line
	ok(array(MaxBatchEvents), want(MaxBatchEvents, false))
	ok(ndjson(MaxBatchEvents), want(MaxBatchEvents, false))
	ok(array(2), want(2, true), "User-Agent: Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")

	bad(array(MaxBatchEvents+1), 400, "events: more than 1000 in one batch")
	bad(ndjson(MaxBatchEvents+1), 400, "events: more than 1000 in one batch")
	bad(`[]`, 400, "body: no events")
	bad(" \n ", 400, "body: no events")
	bad(``, 400, "body: no events")
	bad(`"x"`, 400, "body: must be a JSON array of events or NDJSON")
	bad(`[`+e(0)+`,`+e(1)+`,`+e(2)+`,{"site_id":"s","path":"p3"},`+e(4)+`]`, 400, "events[3]: path: must start with /")
	bad(ndjson(3)+`{"site_id":"s","path":"/","timestamp":"2026-01-01T00:00:00Z"}`+"\n"+ndjson(1), 400, "events[3]: timestamp: more than 24h in the future")
	bad(`[`+e(0)+`,{"site_id":7}]`, 400, "events[1]: site_id: must be a string, not number")
	bad(`[`+e(0)+`,`+e(1)+`,5]`, 400, "events[2]: must be a JSON object")
	bad(`[`+e(0)+`,[]]`, 400, "events[1]: must be a JSON object")
	bad(e(0)+"\n"+`["x"]`, 400, "events[1]: must be a JSON object")
	bad(`[`+e(0)+` `+e(1)+`]`, 400, "events[1]: invalid JSON: expected comma after array element")
	bad(`[`+e(0)+`,]`, 400, "events[1]: invalid JSON: invalid character ']' looking for beginning of value")
	bad(e(0)+"\n"+`{"site_id":"s",`, 400, "events[1]: invalid JSON: unexpected end of JSON input")
	bad(`[`+e(0), 400, "body: invalid JSON: unexpected end of JSON input")
	bad(`[`+e(0)+`] x`, 400, "body: invalid JSON: data after the array")
	bad(`[`+e(0)+`][]`, 400, "body: invalid JSON: data after the array")
	bad("[\"\xff\"]", 400, "body: not valid UTF-8")

	// Appended events count one by one, refused batches once each.
	for outcome, want := range map[string]float64{"accepted": accepted, "bot": bots, "invalid": invalid, "too_large": 0, "unavailable": 0} {
		if got := s.received(outcome); got != want {
			t.Errorf("sitelog_events_received_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// chunked hides the length of a body, so that it is sent chunked and only
// the limit on reading can catch it.
type chunked struct{ io.Reader }

func TestTooLarge(t *testing.T) {
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	// pad makes an event of exactly n bytes with an unknown field.
	pad := func(n int) string {
		head := `{"site_id":"s","path":"/","pad":"`
		return head + strings.Repeat("x", n-len(head)-2) + `"}`
	}
	f := func(path string, body io.Reader, code int, msg string) {
		t.Helper()
		r := s.do(t, http.MethodPost, path, body)
		if r.code != code || (msg != "" && r.body["error"] != msg) {
			t.Errorf("%s: %d %v, want %d %q", path, r.code, r.body, code, msg)
		}
	}
	f("/event", strings.NewReader(pad(MaxEventBody)), 202, "")
	f("/event", strings.NewReader(pad(MaxEventBody+1)), 413, "body: larger than 8192 bytes")
	f("/event", chunked{strings.NewReader(pad(MaxEventBody + 1))}, 413, "body: larger than 8192 bytes")
	f("/event", chunked{strings.NewReader(pad(10 * MaxEventBody))}, 413, "body: larger than 8192 bytes")
	batch := "[" + pad(MaxBatchBody-2) + "]"
	f("/events", strings.NewReader(batch), 202, "")
	f("/events", strings.NewReader(batch+" "), 413, "body: larger than 1048576 bytes")
	f("/events", chunked{strings.NewReader(batch + " ")}, 413, "body: larger than 1048576 bytes")

	if got := s.appended(t); len(got) != 2 {
		t.Errorf("appended %d events, want the 2 at the limits", len(got))
	}
	if got := s.received("too_large"); got != 5 {
		t.Errorf("too_large counted %v, want 5", got)
	}
}

func TestRoutes(t *testing.T) {
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	s.router.Handler(http.MethodGet, "/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	}))
	f := func(method, path string, code int, msg string, headers ...string) {
		t.Helper()
		r := s.do(t, method, path, strings.NewReader(`{"site_id":"s","path":"/"}`))
		if r.code != code || (msg != "" && r.body["error"] != msg) {
			t.Errorf("%s %s: %d %v, want %d %q", method, path, r.code, r.body, code, msg)
		}
		for _, h := range headers {
			name, value, _ := strings.Cut(h, ": ")
			if got := r.hdr.Get(name); got != value {
				t.Errorf("%s %s: %s: %q, want %q", method, path, name, got, value)
			}
		}
	}
	f("GET", "/event", 405, "method GET not allowed; allowed: OPTIONS, POST", "Allow: OPTIONS, POST")
	f("PUT", "/events", 405, "method PUT not allowed; allowed: OPTIONS, POST")
	f("POST", "/healthz", 405, "method POST not allowed; allowed: GET, OPTIONS")
	f("GET", "/healthz", 200, "")
	f("GET", "/", 404, "no such route")
	f("POST", "/event/", 404, "no such route")
	f("POST", "/EVENT", 404, "no such route")
	f("POST", "/stats", 404, "no such route")
	f("OPTIONS", "/event", 204, "",
		"Access-Control-Allow-Origin: *", "Access-Control-Allow-Methods: POST, OPTIONS", "Access-Control-Allow-Headers: Content-Type")
	f("OPTIONS", "/events", 204, "", "Access-Control-Allow-Origin: *")
	if got := s.appended(t); len(got) != 0 {
		t.Errorf("appended %+v", got)
	}
}

func TestUnavailable(t *testing.T) {
	f := func(s *server, path, body string, msg string, events float64) {
		t.Helper()
		before := s.received("unavailable")
		r := s.post(t, path, body)
		if r.code != 503 || r.body["error"] != msg || r.hdr.Get("Retry-After") != "1" {
			t.Errorf("%s: %d %v Retry-After %q, want 503 %q Retry-After 1", path, r.code, r.body, r.hdr.Get("Retry-After"), msg)
		}
		if got := s.received("unavailable") - before; got != events {
			t.Errorf("%s: unavailable counted %v, want %v", path, got, events)
		}
	}
	one, three := `{"site_id":"s","path":"/"}`, "[{\"site_id\":\"s\",\"path\":\"/\"},\n{\"site_id\":\"s\",\"path\":\"/\"},{\"site_id\":\"s\",\"path\":\"/\"}]"

	// A closed log: shutting down.
	s := newServer(t, wal.Options{})
	if err := s.log.Close(); err != nil {
		t.Fatal(err)
	}
	f(s, "/event", one, "shutting down; retry later", 1)
	f(s, "/events", three, "shutting down; retry later", 3)

	// A backlog over its bound: the worker is behind.
	s = newServer(t, wal.Options{MaxBacklog: 2})
	if r := s.post(t, "/event", one); r.code != 202 {
		t.Fatalf("first event: %d %v", r.code, r.body)
	}
	f(s, "/events", three, "too many events waiting to be processed; retry later", 3)
	if r := s.post(t, "/event", one); r.code != 202 {
		t.Fatalf("second event, within the bound: %d %v", r.code, r.body)
	}
	f(s, "/event", one, "too many events waiting to be processed; retry later", 1)
	s.log.SetApplied(2)
	if r := s.post(t, "/events", `[`+one+`,`+one+`]`); r.code != 202 {
		t.Fatalf("batch after the worker caught up: %d %v", r.code, r.body)
	}
	if got := len(s.appended(t)); got != 4 {
		t.Errorf("appended %d events, want 4", got)
	}
}

func TestInstrument(t *testing.T) {
	l, err := wal.Open(t.TempDir(), wal.Options{Fsync: wal.FsyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var names []string
	h := New(Config{Wrap: func(name string, h http.Handler) http.Handler {
		names = append(names, name)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Route", name)
			h.ServeHTTP(w, r)
		})
	}}, l, nil)
	// Every route that takes events answers under its own name.
	for _, c := range []struct{ path, name, body string }{
		{"/event", "event", `{"site_id":"s","path":"/"}`},
		{"/events", "events", `[{"site_id":"s","path":"/"}]`},
		{"/api/event", "api_event", `{"n":"pageview","u":"https://example.com/","d":"s"}`},
	} {
		if !slices.Contains(names, c.name) {
			t.Errorf("%s not instrumented; wrapped %v", c.name, names)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body)))
		if rec.Code != 202 || rec.Header().Get("X-Route") != c.name {
			t.Errorf("%s: %d, X-Route %q", c.path, rec.Code, rec.Header().Get("X-Route"))
		}
	}
}

// TestConcurrent posts events and batches from many clients at once: every
// event answered 202 is in the log exactly once and whole, however the
// handler reuses its buffers between requests.
func TestConcurrent(t *testing.T) {
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	now := testNow().Truncate(time.Microsecond)
	const clients, requests = 8, 40
	var wg sync.WaitGroup
	acked := make(chan event.Event, clients*requests*3)
	for c := range clients {
		wg.Go(func() {
			for i := range requests {
				// Bodies of different sizes, so that a buffer reused too
				// early would show in another event.
				user := fmt.Sprintf("c%d-r%d", c, i)
				want := []event.Event{{SiteID: "s", Type: event.PageView, Path: "/" + strings.Repeat("p", i*37), UserID: user, Time: now}}
				path, body := "/event", fmt.Sprintf(`{"site_id":"s","path":%q,"user_id":%q}`, want[0].Path, user)
				if i%2 == 1 {
					want = nil
					for j := range 3 {
						want = append(want, event.Event{SiteID: "s", Type: "e", UserID: fmt.Sprintf("%s-%d", user, j), Time: now})
					}
					path, body = "/events", fmt.Sprintf(`[{"site_id":"s","event_type":"e","user_id":"%[1]s-0"},{"site_id":"s","event_type":"e","user_id":"%[1]s-1"},{"site_id":"s","event_type":"e","user_id":"%[1]s-2"}]`, user)
				}
				resp, err := http.Post(s.srv.URL+path, "text/plain", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 202 {
					t.Errorf("%s: %d", body, resp.StatusCode)
					continue
				}
				for _, ev := range want {
					acked <- ev
				}
			}
		})
	}
	wg.Wait()
	close(acked)
	seen := map[event.Event]int{}
	for _, ev := range s.appended(t) {
		seen[ev]++
	}
	n := 0
	for ev := range acked {
		ev.Visitor = event.UserVisitor(ev.SiteID, ev.UserID)
		n++
		if seen[ev] != 1 {
			t.Errorf("%+v appended %d times", ev, seen[ev])
		}
	}
	if len(seen) != n || n != clients*requests*2 {
		t.Errorf("log holds %d distinct events, %d acknowledged, want %d", len(seen), n, clients*requests*2)
	}
}
