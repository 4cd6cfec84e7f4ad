package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"sitelog/derive"
	"sitelog/event"
	"sitelog/wal"
)

// Browsers of the tests, and what derive makes of them.
const (
	chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	iphoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)

// newDeriveServer is newServer with the salts main opens (in a directory
// of the test's own) and trusted as the trusted proxies.
func newDeriveServer(t *testing.T, trusted ...string) (*server, *derive.Salts) {
	t.Helper()
	salts, err := derive.OpenSalts(t.TempDir(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	prefixes, err := derive.ParseTrustedProxies(strings.Join(trusted, ","))
	if err != nil {
		t.Fatal(err)
	}
	return newServerConfig(t, wal.Options{}, Config{Now: testNow, Salts: salts, TrustedProxies: prefixes}), salts
}

// records returns the raw records of the log, every one of them.
func (s *server) records(t *testing.T) [][]byte {
	t.Helper()
	var recs [][]byte
	for i := uint64(1); i <= s.log.LastIndex(); {
		entries, err := s.log.Read(context.Background(), i, 1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			recs = append(recs, bytes.Clone(e.Data))
			i = e.Index + 1
		}
	}
	return recs
}

// one posts body to path and returns the one event it appended.
func (s *server) one(t *testing.T, path, body string, headers ...string) event.Event {
	t.Helper()
	r := s.post(t, path, body, headers...)
	if r.code != http.StatusAccepted {
		t.Fatalf("%s %s: %d %v, want 202", path, body, r.code, r.body)
	}
	got := s.appended(t)
	if len(got) != 1 {
		t.Fatalf("%s %s: appended %d events, want 1", path, body, len(got))
	}
	return got[0]
}

func mustProps(t *testing.T, kv ...string) string {
	t.Helper()
	var props []event.Prop
	for i := 0; i < len(kv); i += 2 {
		props = append(props, event.Prop{Key: kv[i], Value: kv[i+1]})
	}
	s, err := event.EncodeProps(props)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDerivedFields sends a browser's page view with every new field and
// checks each derived value, then varies one field at a time.
func TestDerivedFields(t *testing.T) {
	s, salts := newDeriveServer(t)
	local := netip.MustParseAddr("127.0.0.1") // the test client's address
	now := testNow().Truncate(time.Microsecond)

	got := s.one(t, "/event", `{"site_id":"s","url":"https://Blog.Example.com/post/1?utm_source=news&utm_medium=email&utm_campaign=launch&utm_content=top&utm_term=go#c",`+
		`"referrer":"https://news.ycombinator.com/item?id=1","props":{"plan":"pro","seats":3,"trial":false,"ratio":1.50},"screen_width":1920}`,
		"User-Agent: "+chromeUA, "Content-Type: text/plain;charset=UTF-8")
	want := event.Event{
		SiteID: "s", Type: event.PageView, Path: "/post/1",
		Query:    "utm_source=news&utm_medium=email&utm_campaign=launch&utm_content=top&utm_term=go",
		Fragment: "c", Time: now,
		Visitor:  salts.Visitor("s", local, chromeUA),
		Hostname: "blog.example.com", Referrer: "news.ycombinator.com/item", Source: "Hacker News",
		UTMSource: "news", UTMMedium: "email", UTMCampaign: "launch", UTMContent: "top", UTMTerm: "go",
		Browser: "Chrome", OS: "Windows", Device: "Desktop", ScreenWidth: 1920,
		Props: mustProps(t, "plan", "pro", "seats", "3", "trial", "false", "ratio", "1.50"),
	}
	if got != want {
		t.Fatalf("appended\n%+v\nwant\n%+v", got, want)
	}
	if got.Visitor == 0 {
		t.Fatal("no visitor")
	}

	f := func(body string, check func(ev event.Event) bool, headers ...string) {
		t.Helper()
		ev := s.one(t, "/event", body, headers...)
		if !check(ev) {
			t.Errorf("%s %q: appended %+v", body, headers, ev)
		}
	}
	// The same browser on the same site is the same visitor; another
	// browser, or another site, is another one.
	f(`{"site_id":"s","path":"/other"}`, func(ev event.Event) bool { return ev.Visitor == want.Visitor }, "User-Agent: "+chromeUA)
	f(`{"site_id":"s","path":"/"}`, func(ev event.Event) bool {
		return ev.Visitor == salts.Visitor("s", local, iphoneUA) && ev.Visitor != want.Visitor &&
			ev.Browser == "Safari" && ev.OS == "iOS" && ev.Device == "Mobile"
	}, "User-Agent: "+iphoneUA)
	f(`{"site_id":"t","path":"/"}`, func(ev event.Event) bool {
		return ev.Visitor == salts.Visitor("t", local, chromeUA) && ev.Visitor != want.Visitor
	}, "User-Agent: "+chromeUA)
	// A user_id names the visitor, whatever the browser.
	f(`{"site_id":"s","path":"/","user_id":"u1"}`, func(ev event.Event) bool { return ev.Visitor == event.UserVisitor("s", "u1") }, "User-Agent: "+chromeUA)
	f(`{"site_id":"s","path":"/","user_id":"u1"}`, func(ev event.Event) bool { return ev.Visitor == event.UserVisitor("s", "u1") }, "User-Agent: "+iphoneUA)
	// The screen width decides the device a User-Agent does not name.
	f(`{"site_id":"s","path":"/","screen_width":390}`, func(ev event.Event) bool { return ev.Device == "Mobile" && ev.ScreenWidth == 390 }, "User-Agent: curl/8.5.0")
	f(`{"site_id":"s","path":"/","screen_width":800}`, func(ev event.Event) bool { return ev.Device == "Tablet" })
	f(`{"site_id":"s","path":"/","screen_width":null}`, func(ev event.Event) bool { return ev.Device == "" && ev.ScreenWidth == 0 })
	// Loopback has no country.
	f(`{"site_id":"s","path":"/"}`, func(ev event.Event) bool { return ev.Country == "" })

	// Referrers: a self-referral (the site's own host, its www. variant or
	// another subdomain) is no source; without a url there is no page host
	// to compare with.
	f(`{"site_id":"s","url":"https://example.com/b","referrer":"https://www.example.com/a"}`, func(ev event.Event) bool { return ev.Source == "" && ev.Referrer == "" })
	f(`{"site_id":"s","url":"https://example.com/b","referrer":"https://docs.example.com/a"}`, func(ev event.Event) bool { return ev.Source == "" && ev.Referrer == "" })
	f(`{"site_id":"s","path":"/b","referrer":"https://www.example.com/a?q=1#f"}`, func(ev event.Event) bool {
		return ev.Source == "example.com" && ev.Referrer == "example.com/a"
	})
	f(`{"site_id":"s","url":"https://example.com/b","referrer":"https://www.google.com/"}`, func(ev event.Event) bool { return ev.Source == "Google" && ev.Referrer == "google.com" })
	f(`{"site_id":"s","url":"https://example.com/b","referrer":"not a url"}`, func(ev event.Event) bool { return ev.Source == "" && ev.Referrer == "" })
	f(`{"site_id":"s","url":"https://example.com/b","referrer":null}`, func(ev event.Event) bool { return ev.Source == "" })

	// UTM parameters: from the url's query, or the path's without a url;
	// ref and source stand in for utm_source; the query is kept as sent.
	f(`{"site_id":"s","path":"/?utm_source=a%20b&utm_source=c"}`, func(ev event.Event) bool { return ev.UTMSource == "a b" && ev.Query == "utm_source=a%20b&utm_source=c" })
	f(`{"site_id":"s","url":"https://example.com/?ref=producthunt"}`, func(ev event.Event) bool { return ev.UTMSource == "producthunt" })
	f(`{"site_id":"s","url":"https://example.com/?source=x&ref=y"}`, func(ev event.Event) bool { return ev.UTMSource == "y" })
	f(`{"site_id":"s","url":"https://example.com/?utm_campaign=`+strings.Repeat("c", 300)+`"}`, func(ev event.Event) bool { return len(ev.UTMCampaign) == derive.MaxUTM })
	// A tag that decodes to control characters is dropped, not the event.
	f(`{"site_id":"s","url":"https://example.com/?utm_source=a%0Ab&utm_medium=m"}`, func(ev event.Event) bool { return ev.UTMSource == "" && ev.UTMMedium == "m" })
	f(`{"site_id":"s","url":"https://example.com/?utm_source=%zz&utm_medium=m"}`, func(ev event.Event) bool { return ev.UTMMedium == "m" })
	f(`{"site_id":"s","url":"https://example.com/?q=utm_source"}`, func(ev event.Event) bool { return ev.UTMSource == "" })

	// Props: numbers and bools as their JSON text, null and "" absent, the
	// last of a repeated key wins, escapes decoded, keys sorted.
	f(`{"site_id":"s","event_type":"signup","props":{"b":"x","a":-1e3,"c":true,"d":null,"e":"","f":"\u00fc\"\\"}}`, func(ev event.Event) bool {
		return ev.Props == mustProps(t, "a", "-1e3", "b", "x", "c", "true", "f", "ü\"\\")
	})
	f(`{"site_id":"s","event_type":"e","props":{"k":"1","k":"2","j":"1","j":null}}`, func(ev event.Event) bool { return ev.Props == mustProps(t, "k", "2") })
	f(`{"site_id":"s","event_type":"e","props":{}}`, func(ev event.Event) bool { return ev.Props == "" })
	f(`{"site_id":"s","event_type":"e","props":null}`, func(ev event.Event) bool { return ev.Props == "" })
	f(`{"site_id":"s","event_type":"e","props":{ "a" : 1 , "b" : "2" }}`, func(ev event.Event) bool { return ev.Props == mustProps(t, "a", "1", "b", "2") })
	f(`{"site_id":"s","event_type":"e","props":{"ключ":"значение"}}`, func(ev event.Event) bool { return ev.Props == mustProps(t, "ключ", "значение") })

	// Without salts (nil) an event without user_id has no visitor.
	plain := newServer(t, wal.Options{})
	if ev := plain.one(t, "/event", `{"site_id":"s","path":"/"}`, "User-Agent: "+chromeUA); ev.Visitor != 0 || ev.Browser != "Chrome" {
		t.Errorf("without salts: %+v", ev)
	}
}

// TestBatchDerived: a batch's events share their sender's browser and
// address, each with its own site, user, screen width and props.
func TestBatchDerived(t *testing.T) {
	s, salts := newDeriveServer(t)
	local := netip.MustParseAddr("127.0.0.1")
	r := s.post(t, "/events", `[{"site_id":"a","url":"https://a.example/","screen_width":390},`+
		`{"site_id":"b","path":"/","props":{"k":1}},{"site_id":"a","event_type":"e","user_id":"u"},{"site_id":"a","path":"/x","screen_width":1200}]`,
		"User-Agent: curl/8.5.0")
	if r.code != http.StatusAccepted {
		t.Fatalf("%d %v", r.code, r.body)
	}
	evs := s.appended(t)
	if len(evs) != 4 {
		t.Fatalf("appended %d events", len(evs))
	}
	va, vb := salts.Visitor("a", local, "curl/8.5.0"), salts.Visitor("b", local, "curl/8.5.0")
	for i, c := range []struct {
		visitor uint64
		device  string
		props   string
	}{{va, "Mobile", ""}, {vb, "", mustProps(t, "k", "1")}, {event.UserVisitor("a", "u"), "", ""}, {va, "Desktop", ""}} {
		if evs[i].Visitor != c.visitor || evs[i].Device != c.device || evs[i].Props != c.props {
			t.Errorf("event %d: %+v, want visitor %d device %q props %q", i, evs[i], c.visitor, c.device, c.props)
		}
	}
	if evs[0].Hostname != "a.example" || evs[1].Hostname != "" {
		t.Errorf("host names %q %q", evs[0].Hostname, evs[1].Hostname)
	}
}

// TestInvalidFields: every new field's bad values, each a 400 naming the
// field, nothing appended.
func TestInvalidFields(t *testing.T) {
	s, _ := newDeriveServer(t)
	props := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"site_id":"s","event_type":"e","props":{`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		return b.String() + "}}"
	}
	ok := func(body string) {
		t.Helper()
		if r := s.post(t, "/event", body); r.code != http.StatusAccepted {
			t.Errorf("%.80s: %d %v, want 202", body, r.code, r.body)
		}
		s.appended(t)
	}
	bad := func(body string, code int, msg string) {
		t.Helper()
		for _, path := range []string{"/event", "/events"} {
			r := s.post(t, path, body)
			want := msg
			if path == "/events" && strings.Contains(msg, ": ") && !strings.HasPrefix(msg, "body: ") {
				want = "events[0]: " + msg
			}
			if r.code != code || r.body["error"] != want {
				t.Errorf("%s %.80s: %d %v, want %d %q", path, body, r.code, r.body, code, want)
			}
			if r.hdr.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s %.80s: no Access-Control-Allow-Origin", path, body)
			}
		}
		if got := s.appended(t); len(got) != 0 {
			t.Errorf("%.80s: refused but appended %+v", body, got)
		}
	}

	// props: at most 30, of strings, numbers and bools.
	ok(props(30))
	bad(props(31), 400, "props: more than 30 properties")
	ok(`{"site_id":"s","event_type":"e","props":{"k0":"x",` + props(30)[len(`{"site_id":"s","event_type":"e","props":{`):]) // k0 twice: 30 properties
	bad(`{"site_id":"s","event_type":"e","props":{"a":{"b":1}}}`, 400, `props: value of "a" must be a string, number or bool, not an object`)
	bad(`{"site_id":"s","event_type":"e","props":{"a":[1]}}`, 400, `props: value of "a" must be a string, number or bool, not an array`)
	bad(`{"site_id":"s","event_type":"e","props":["a"]}`, 400, "props: must be an object of string, number or bool values")
	bad(`{"site_id":"s","event_type":"e","props":"{\"a\":1}"}`, 400, "props: must be an object of string, number or bool values")
	bad(`{"site_id":"s","event_type":"e","props":7}`, 400, "props: must be an object of string, number or bool values")
	bad(`{"site_id":"s","event_type":"e","props":{"":"x"}}`, 400, "props: keys must not be empty")
	ok(`{"site_id":"s","event_type":"e","props":{"` + strings.Repeat("k", 300) + `":"` + strings.Repeat("v", 2000) + `"}}`)
	bad(`{"site_id":"s","event_type":"e","props":{"`+strings.Repeat("k", 301)+`":"v"}}`, 400, `props: key "`+strings.Repeat("k", 40)+`..." longer than 300 bytes`)
	bad(`{"site_id":"s","event_type":"e","props":{"k":"`+strings.Repeat("v", 2001)+`"}}`, 400, `props: value of "k" longer than 2000 bytes`)
	bad(`{"site_id":"s","event_type":"e","props":{"k":"a\nb"}}`, 400, `props: value of "k" must not contain control characters`)
	bad(`{"site_id":"s","event_type":"e","props":{"k\u0000":"v"}}`, 400, `props: key "k\x00" must not contain control characters`)
	// screen_width: a whole number of pixels.
	bad(`{"site_id":"s","path":"/","screen_width":"1920"}`, 400, "screen_width: must be a whole number, not string")
	bad(`{"site_id":"s","path":"/","screen_width":1920.5}`, 400, "screen_width: must be a whole number, not number 1920.5")
	bad(`{"site_id":"s","path":"/","screen_width":1e40}`, 400, "screen_width: must be a whole number, not number 1e40")
	bad(`{"site_id":"s","path":"/","screen_width":-1}`, 400, "screen_width: must be a whole number of pixels from 0 to 100000")
	bad(`{"site_id":"s","path":"/","screen_width":100001}`, 400, "screen_width: must be a whole number of pixels from 0 to 100000")
	// referrer: text.
	bad(`{"site_id":"s","path":"/","referrer":5}`, 400, "referrer: must be a string, not number")
	bad(`{"site_id":"s","path":"/","referrer":"https://a.example/\u001b[31m"}`, 400, "referrer: must not contain control characters")
	bad(`{"site_id":"s","path":"/","referrer":"https://a.example/`+strings.Repeat("r", 4096)+`"}`, 400, "referrer: longer than 4096 bytes")

	// Hostile bodies: invalid UTF-8 anywhere, props past the body limit.
	bad("{\"site_id\":\"s\",\"event_type\":\"e\",\"props\":{\"k\":\"\xff\"}}", 400, "body: not valid UTF-8")
	bad("{\"site_id\":\"s\",\"event_type\":\"e\",\"props\":{\"\xc3\x28\":\"v\"}}", 400, "body: not valid UTF-8")
	bad(`{"site_id":"s","event_type":"e","props":{"a":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}}`, 400,
		`props: value of "a" must be a string, number or bool, not an array`)
	if r := s.post(t, "/event", props(2000)); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("props of 2000 keys: %d %v, want 413", r.code, r.body)
	}
	batch := "[" + props(20000) + "]"
	if r := s.post(t, "/events", batch); r.code != 400 || r.body["error"] != "events[0]: props: more than 30 properties" {
		t.Errorf("batch with props of 20000 keys: %d %v", r.code, r.body)
	}
	if got := s.appended(t); len(got) != 0 {
		t.Errorf("hostile bodies appended %d events", len(got))
	}
}

// TestNeverWrittenDown: neither the client's address nor its User-Agent
// is in any record on the log, in any form, however the event came.
func TestNeverWrittenDown(t *testing.T) {
	s, _ := newDeriveServer(t, "127.0.0.0/8")
	const ip = "81.2.69.160"
	ua := chromeUA + " SitelogTestMarker/9.9"
	headers := []string{"User-Agent: " + ua, "X-Forwarded-For: " + ip}
	for _, c := range []struct{ path, body string }{
		{"/event", `{"site_id":"s","url":"https://example.com/","referrer":"https://google.com/","screen_width":1000,"props":{"a":"b"}}`},
		{"/event", `{"site_id":"s","event_type":"e","user_id":"u"}`},
		{"/events", `[{"site_id":"s","path":"/1"},{"site_id":"t","path":"/2"}]`},
	} {
		if r := s.post(t, c.path, c.body, headers...); r.code != http.StatusAccepted {
			t.Fatalf("%s %s: %d %v", c.path, c.body, r.code, r.body)
		}
	}
	if code, _, answer := s.postPlausible(t, `{"n":"pageview","u":"https://example.com/","d":"s","r":null,"w":1280}`, headers...); code != http.StatusAccepted {
		t.Fatalf("/api/event: %d %s", code, answer)
	}
	evs := s.appended(t)
	if len(evs) != 5 || evs[0].Country != "GB" || evs[0].Browser != "Chrome" || evs[0].Visitor == 0 {
		t.Fatalf("appended %+v; want 5 events, the first from GB in Chrome with a visitor", evs)
	}
	addr := netip.MustParseAddr(ip)
	a4, a16 := addr.As4(), addr.As16()
	for i, rec := range s.records(t) {
		for what, b := range map[string][]byte{
			"address": []byte(ip), "address bytes": a4[:], "address as IPv6": a16[:],
			"User-Agent": []byte(ua), "User-Agent marker": []byte("SitelogTestMarker"),
			"User-Agent product": []byte("AppleWebKit"),
		} {
			if bytes.Contains(rec, b) {
				t.Errorf("record %d holds the %s: %q", i, what, rec)
			}
		}
	}
}

// TestTrustedProxies: the client's address is the connection's, or behind
// a trusted proxy the one it forwards; it decides country, visitor and
// rate limit.
func TestTrustedProxies(t *testing.T) {
	const ua = "User-Agent: " + chromeUA
	visitor := func(salts *derive.Salts, ip string) uint64 {
		return salts.Visitor("s", netip.MustParseAddr(ip), chromeUA)
	}

	// Without trusted proxies the headers are the client's own word: ignored.
	s, salts := newDeriveServer(t)
	ev := s.one(t, "/event", `{"site_id":"s","path":"/"}`, ua, "X-Forwarded-For: 8.8.8.8", "X-Real-IP: 8.8.4.4")
	if ev.Country != "" || ev.Visitor != visitor(salts, "127.0.0.1") {
		t.Errorf("untrusted proxy headers were believed: %+v", ev)
	}

	s, salts = newDeriveServer(t, "127.0.0.0/8", "10.0.0.0/8")
	f := func(want string, headers ...string) {
		t.Helper()
		ev := s.one(t, "/event", `{"site_id":"s","path":"/"}`, append(headers, ua)...)
		country := derive.Country(netip.MustParseAddr(want))
		if ev.Visitor != visitor(salts, want) || ev.Country != country {
			t.Errorf("%q: visitor %d country %q, want those of %s (%q)", headers, ev.Visitor, ev.Country, want, country)
		}
	}
	f("8.8.8.8", "X-Forwarded-For: 8.8.8.8")
	f("8.8.8.8", "X-Forwarded-For: 8.8.8.8, 10.1.2.3")    // a second trusted proxy in the chain
	f("8.8.8.8", "X-Forwarded-For: 81.2.69.160, 8.8.8.8") // the left-most is the client's to forge
	f("81.2.69.160", "X-Real-IP: 81.2.69.160")
	f("8.8.8.8", "X-Forwarded-For: 8.8.8.8", "X-Real-IP: 81.2.69.160")
	f("2001:4860:4860::8888", "X-Forwarded-For: 2001:4860:4860::8888")
	f("127.0.0.1") // no header: the proxy's own request
	f("127.0.0.1", "X-Forwarded-For: garbage")
	if ev := s.one(t, "/event", `{"site_id":"s","path":"/"}`, "X-Forwarded-For: 8.8.8.8"); ev.Country != "US" {
		t.Errorf("8.8.8.8: country %q, want US", ev.Country)
	}

	// The rate limit counts each forwarded client apart, not the proxy.
	salts2, err := derive.OpenSalts(t.TempDir(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := derive.ParseTrustedProxies("127.0.0.1")
	s = newServerConfig(t, wal.Options{}, Config{Now: testNow, Salts: salts2, TrustedProxies: trusted, RateLimit: 1})
	codes := map[string][]int{}
	for _, client := range []string{"8.8.8.8", "8.8.8.8", "8.8.8.8", "81.2.69.160", "81.2.69.160"} {
		r := s.post(t, "/event", `{"site_id":"s","path":"/"}`, "X-Forwarded-For: "+client)
		codes[client] = append(codes[client], r.code)
	}
	if fmt.Sprint(codes["8.8.8.8"]) != "[202 202 429]" || fmt.Sprint(codes["81.2.69.160"]) != "[202 202]" {
		t.Errorf("answers by client %v, want a burst of 2 for each", codes)
	}
}

// TestCORS: browsers post cross-origin, as text/plain without a
// preflight, or as application/json after one; both must be able to read
// the answer.
func TestCORS(t *testing.T) {
	s, _ := newDeriveServer(t)
	for _, c := range []struct{ path, body string }{
		{"/event", `{"site_id":"s","path":"/"}`},
		{"/events", `[{"site_id":"s","path":"/"}]`},
		{"/api/event", `{"n":"pageview","u":"https://example.com/","d":"s"}`},
	} {
		pre := s.do(t, http.MethodOptions, c.path, nil, "Origin: https://example.com",
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type")
		if pre.code != http.StatusNoContent || pre.hdr.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(pre.hdr.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.EqualFold(pre.hdr.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Errorf("OPTIONS %s: %d %v", c.path, pre.code, pre.hdr)
		}
		for _, ct := range []string{"text/plain;charset=UTF-8", "application/json"} {
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Origin", "https://example.com")
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("POST %s as %s: %d, Access-Control-Allow-Origin %q", c.path, ct, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	}
	if got := len(s.appended(t)); got != 6 {
		t.Errorf("appended %d events, want 6", got)
	}
}
