package ingest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/wal"
)

// postPlausible posts body to /api/event as Plausible's tracker does
// (text/plain) and returns the answer: its code, Content-Type and body.
func (s *server) postPlausible(t *testing.T, body string, headers ...string) (int, string, string) {
	t.Helper()
	resp, data := s.send(t, http.MethodPost, "/api/event", strings.NewReader(body),
		append([]string{"Content-Type: text/plain"}, headers...)...)
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%s: no Access-Control-Allow-Origin", body)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(data)
}

func TestPlausible(t *testing.T) {
	s, salts := newDeriveServer(t)
	now := testNow().Truncate(time.Microsecond)
	local := netip.MustParseAddr("127.0.0.1")

	ok := func(body string, want event.Event, headers ...string) {
		t.Helper()
		code, ct, answer := s.postPlausible(t, body, headers...)
		if code != http.StatusAccepted || answer != "ok" || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: %d %q %q, want 202 text/plain ok, as Plausible answers", body, code, ct, answer)
		}
		got := s.appended(t)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: appended\n%+v\nwant\n%+v", body, got, want)
		}
	}
	bad := func(body string, code int, msg string) {
		t.Helper()
		gotCode, ct, answer := s.postPlausible(t, body)
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(answer), &e); err != nil || ct != "application/json" || gotCode != code || e.Error != msg {
			t.Errorf("%.80s: %d %s %s, want %d %q", body, gotCode, ct, answer, code, msg)
		}
		if got := s.appended(t); len(got) != 0 {
			t.Errorf("%.80s: refused but appended %+v", body, got)
		}
	}

	view := event.Event{
		SiteID: "example.com", Type: event.PageView, Path: "/blog/post", Query: "utm_source=newsletter", Time: now,
		Visitor:  salts.Visitor("example.com", local, chromeUA),
		Hostname: "example.com", Source: "Google", Referrer: "google.com", UTMSource: "newsletter",
		Browser: "Chrome", OS: "Windows", Device: "Desktop", ScreenWidth: 1280,
		Props: mustProps(t, "author", "ann", "words", "1200"),
	}
	// The long keys of Plausible's documentation, and the short ones its
	// tracker sends (with keys sitelog does not use: h, i).
	ok(`{"name":"pageview","url":"https://example.com/blog/post?utm_source=newsletter","domain":"example.com",`+
		`"referrer":"https://www.google.com/","props":{"author":"ann","words":1200},"screen_width":1280}`, view, "User-Agent: "+chromeUA)
	ok(`{"n":"pageview","u":"https://example.com/blog/post?utm_source=newsletter","d":"example.com",`+
		`"r":"https://www.google.com/","p":{"author":"ann","words":1200},"w":1280,"h":0,"i":true}`, view, "User-Agent: "+chromeUA)
	// Where both come, the short key wins, as in Plausible.
	ok(`{"n":"pageview","name":"x","u":"https://example.com/blog/post?utm_source=newsletter","url":"https://other.example/",`+
		`"d":"example.com","domain":"other.example","r":"https://www.google.com/","referrer":"https://bing.com/",`+
		`"p":{"author":"ann","words":1200},"props":{"z":1},"w":1280,"screen_width":5}`, view, "User-Agent: "+chromeUA)

	// A custom event; the first domain of a list is the site; r null.
	ok(`{"n":"Signup","u":"https://app.example.com/pricing#annual","d":" example.com , rollup.example","r":null,"p":{"plan":"pro","trial":true}}`,
		event.Event{SiteID: "example.com", Type: "Signup", Path: "/pricing", Fragment: "annual", Time: now, Hostname: "app.example.com",
			Visitor: salts.Visitor("example.com", local, ""), Props: mustProps(t, "plan", "pro", "trial", "true")})
	// Crawlers are taken, and marked.
	ok(`{"n":"pageview","u":"https://example.com/","d":"example.com"}`,
		event.Event{SiteID: "example.com", Type: event.PageView, Path: "/", Time: now, Hostname: "example.com", Bot: true,
			Visitor: salts.Visitor("example.com", local, "Googlebot/2.1")}, "User-Agent: Googlebot/2.1")

	bad(``, 400, "body: empty")
	bad(`[{"n":"pageview"}]`, 400, "body: must be a JSON object")
	bad(`{"u":"https://example.com/","d":"example.com"}`, 400, "name: required")
	bad(`{"n":"pageview","d":"example.com"}`, 400, "url: required")
	bad(`{"n":"pageview","u":"https://example.com/"}`, 400, "domain: required")
	bad(`{"n":"pageview","u":"https://example.com/","d":" , example.com"}`, 400, "domain: required")
	bad(`{"n":"pageview","u":"/blog","d":"example.com"}`, 400, "url: must be an absolute URL like https://example.com/path")
	bad(`{"n":"pageview","u":"https://example.com/","d":"my site"}`, 400, "domain: must be 1-100 characters of letters, digits and ._:-")
	bad(`{"n":"`+strings.Repeat("e", 65)+`","u":"https://example.com/","d":"example.com"}`, 400, "name: must be 1-64 bytes of printable characters")
	bad(`{"n":"page_view","u":"https://example.com/","d":"example.com"}`, 400, `name: "page_view" is reserved; a page view is "pageview"`)
	bad(`{"n":1,"u":"https://example.com/","d":"example.com"}`, 400, "n: must be a string, not number")
	bad(`{"n":"pageview","u":"https://example.com/","d":"example.com","w":"wide"}`, 400, "w: must be a whole number, not string")
	bad(`{"n":"e","u":"https://example.com/","d":"example.com","p":{"a":{"b":1}}}`, 400, `props: value of "a" must be a string, number or bool, not an object`)
	bad(`{"n":"e","u":"https://example.com/","d":"example.com","props":[1]}`, 400, "props: must be an object of string, number or bool values")
	bad("{\"n\":\"e\",\"u\":\"https://example.com/\xff\",\"d\":\"example.com\"}", 400, "body: not valid UTF-8")

	if got, want := s.received("accepted"), 4.0; got != want {
		t.Errorf("accepted counted %v, want %v", got, want)
	}
	if got, want := s.received("bot"), 1.0; got != want {
		t.Errorf("bot counted %v, want %v", got, want)
	}
	if got, want := s.received("invalid"), 15.0; got != want {
		t.Errorf("invalid counted %v, want %v", got, want)
	}

	// The body limit of POST /event.
	big := `{"n":"pageview","u":"https://example.com/","d":"example.com","x":"` + strings.Repeat("x", MaxEventBody) + `"}`
	if code, _, answer := s.postPlausible(t, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d bytes: %d %s, want 413", len(big), code, answer)
	}
}

func TestPlausibleStrictSitesAndRateLimit(t *testing.T) {
	s := newStrictServer(t)
	f := func(body string, code int, headers ...string) {
		t.Helper()
		if got, _, answer := s.postPlausible(t, body, headers...); got != code {
			t.Errorf("%s %q: %d %s, want %d", body, headers, got, answer, code)
		}
	}
	f(`{"n":"pageview","u":"https://example.com/","d":"site-123"}`, 202, "Origin: https://example.com")
	f(`{"n":"pageview","u":"https://example.com/","d":"site-123"}`, 403, "Origin: https://evil.example")
	f(`{"n":"pageview","u":"https://example.com/","d":"unknown.example"}`, 403)
	if got := s.received("refused"); got != 2 {
		t.Errorf("refused counted %v, want 2", got)
	}
	if got := len(s.appended(t)); got != 1 {
		t.Errorf("appended %d events, want 1", got)
	}

	s = newServerConfig(t, wal.Options{}, Config{Now: testNow, RateLimit: 1})
	for i, want := range []int{202, 202, 429} {
		if got, _, answer := s.postPlausible(t, `{"n":"pageview","u":"https://example.com/","d":"example.com"}`); got != want {
			t.Errorf("request %d: %d %s, want %d", i, got, answer, want)
		}
	}
}
