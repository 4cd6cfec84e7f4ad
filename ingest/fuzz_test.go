package ingest

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sitelog/event"
)

// FuzzDecode feeds arbitrary bodies to both decoders. Neither may panic,
// and every event either accepts must obey the rules, checked here by a
// second, independent reading of them; decoding must also be a fixed point
// (the accepted event, sent again, is accepted unchanged).
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"site_id":"site-123","event_type":"page_view","path":"/home","user_id":"u10","timestamp":"2025-11-14T10:00:00Z"}`,
		`{"site_id":"s","path":"//a//b?q=1#f?g"}`,
		`{"site_id":"s","url":"https://example.com/a?b#c"}`,
		`{"site_id":"s","url":"https://example.com"}`,
		`{"site_id":"s","url":"https://Blog.Example.com:8443/p?utm_source=a&utm_medium=b&ref=c#f","referrer":"https://news.ycombinator.com/item?id=1","screen_width":1920,"props":{"plan":"pro","n":1.5,"ok":true,"x":null}}`,
		`{"site_id":"s","path":"/v","url":"http://[2001:db8::1]/real?utm_campaign=%E2%82%AC%0A","referrer":"android-app://com.google.android.gm/"}`,
		`{"site_id":"s","event_type":"e","props":{"k":"1","k":"2","\u00fc":"\ud800","":""}}`,
		`{"site_id":"s","event_type":"e","props":{"a":{"b":1}},"screen_width":-1}`,
		`{"site_id":"s","path":"/","screen_width":1e3,"referrer":"www.example.com/x"}`,
		`[{"site_id":"a","url":"https://a.example/?source=x","props":{"k":true}},{"site_id":"b","path":"/","screen_width":390}]`,
		`{"n":"pageview","u":"https://example.com/","d":"example.com,other","r":null,"p":{"a":1},"w":1280}`,
		`{"site_id":"s","event_type":"signup","user_id":"ü","timestamp":"2025-11-15T12:00:00.123456789+01:00"}`,
		`{"site_id":"s","path":"/","x":{"y":[1,"2",null]},"event_type":null}`,
		`{"site_id":1}`,
		`{"site_id":"s","path":"/\u0085"}`,
		`{"Site_ID":"s","PATH":"/"}`,
		`[{"site_id":"a","path":"/"},{"site_id":"b","event_type":"e"}]`,
		"{\"site_id\":\"a\",\"path\":\"/\"}\n{\"site_id\":\"b\",\"path\":\"/x\"}\r\n",
		`[{"site_id":"a","path":"/"}] x`,
		"{\"site_id\":\"s\",\"path\":\"/\xff\"}",
		``,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	now := testNow()
	r := newRules(now)
	f.Fuzz(func(t *testing.T, body []byte) {
		var w wireEvent
		var ev event.Event
		errOne := decodeEvent(body, now, &w, &ev)
		if errOne == nil {
			r.check(t, ev)
		}
		var p wirePlausible
		var pev event.Event
		if err := decodePlausible(body, now, &p, &w, &pev); err == nil {
			r.check(t, pev)
			if pev.Hostname == "" || pev.Path == "" {
				t.Fatalf("Plausible event without url accepted: %+v", pev)
			}
		}
		evs, errBatch := decodeBatch(body, now, &w, nil)
		if errBatch == nil {
			if len(evs) == 0 || len(evs) > MaxBatchEvents {
				t.Fatalf("batch of %d events accepted", len(evs))
			}
			for _, ev := range evs {
				r.check(t, ev)
			}
		}
		// One object is a batch of one.
		if errOne == nil && (errBatch != nil || len(evs) != 1 || evs[0] != ev) {
			t.Fatalf("event accepted as %+v, as a batch: %v %+v", ev, errBatch, evs)
		}
	})
}

// rules are the rules of the package comment, written as regular
// expressions rather than the loops of the code under test.
type rules struct {
	now                        time.Time // the time of receipt
	siteID, printable, control *regexp.Regexp
}

func newRules(now time.Time) rules {
	return rules{
		now:       now,
		siteID:    regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`),
		printable: regexp.MustCompile(`^[\pL\pM\pN\pP\pS ]+$`),
		control:   regexp.MustCompile(`\p{Cc}`),
	}
}

// check fails t unless ev obeys the rules.
func (r rules) check(t *testing.T, ev event.Event) {
	t.Helper()
	text := func(field, s string, max int) {
		t.Helper()
		if len(s) > max || !utf8.ValidString(s) || r.control.MatchString(s) {
			t.Fatalf("%s %q accepted: %+v", field, s, ev)
		}
	}
	if !r.siteID.MatchString(ev.SiteID) {
		t.Fatalf("site_id %q accepted", ev.SiteID)
	}
	if len(ev.Type) > 64 || !utf8.ValidString(ev.Type) || !r.printable.MatchString(ev.Type) {
		t.Fatalf("event_type %q accepted", ev.Type)
	}
	if ev.Type == event.PageView && ev.Path == "" {
		t.Fatalf("page view without a path accepted: %+v", ev)
	}
	if ev.Path == "" && (ev.Query != "" || ev.Fragment != "") {
		t.Fatalf("query or fragment without a path: %+v", ev)
	}
	if ev.Path != "" && (ev.Path[0] != '/' || strings.Contains(ev.Path, "//") || strings.ContainsAny(ev.Path, "?#")) {
		t.Fatalf("path %q accepted", ev.Path)
	}
	if strings.Contains(ev.Query, "#") {
		t.Fatalf("query %q holds a fragment", ev.Query)
	}
	text("path", ev.Path, 2048)
	text("query", ev.Query, 2048)
	text("fragment", ev.Fragment, 2048)
	text("user_id", ev.UserID, 256)
	text("hostname", ev.Hostname, 253)
	if ev.Hostname != strings.ToLower(ev.Hostname) || strings.ContainsAny(ev.Hostname, " /?#@") || strings.HasSuffix(ev.Hostname, ".") {
		t.Fatalf("hostname %q accepted", ev.Hostname)
	}
	text("referrer", ev.Referrer, 4096)
	text("source", ev.Source, 4096)
	if (ev.Source == "") != (ev.Referrer == "") {
		t.Fatalf("source %q with referrer %q", ev.Source, ev.Referrer)
	}
	for name, v := range map[string]string{"utm_source": ev.UTMSource, "utm_medium": ev.UTMMedium,
		"utm_campaign": ev.UTMCampaign, "utm_content": ev.UTMContent, "utm_term": ev.UTMTerm} {
		text(name, v, 200)
	}
	if ev.ScreenWidth < 0 || ev.ScreenWidth > 100000 {
		t.Fatalf("screen_width %d accepted", ev.ScreenWidth)
	}
	props, err := event.DecodeProps(ev.Props)
	if err != nil || len(props) > 30 || (ev.Props != "" && len(props) == 0) {
		t.Fatalf("props %q accepted: %v", ev.Props, err)
	}
	for _, p := range props {
		text("props key", p.Key, 300)
		text("props value", p.Value, 2000)
		if p.Key == "" || p.Value == "" {
			t.Fatalf("props %q accepted", ev.Props)
		}
	}
	if canonical, err := event.EncodeProps(props); err != nil || canonical != ev.Props {
		t.Fatalf("props %q not canonical: %q %v", ev.Props, canonical, err)
	}
	if ev.Visitor != 0 || ev.Browser != "" || ev.OS != "" || ev.Device != "" || ev.Country != "" || ev.Bot {
		t.Fatalf("the decoder derived what only the request tells: %+v", ev)
	}
	if ev.Time.Location() != time.UTC || ev.Time.Nanosecond()%1000 != 0 || ev.Time.After(r.now.Add(24*time.Hour)) {
		t.Fatalf("time %v accepted", ev.Time)
	}

	var back event.Event
	if err := event.Decode(ev.AppendBinary(nil), &back); err != nil || back != ev {
		t.Fatalf("log round trip of %+v: %v %+v", ev, err, back)
	}

	// Sent again, the event must come back as it is, but for what is
	// derived from fields it does not keep as sent (the referrer, the
	// url's query).
	path := ev.Path
	if ev.Query != "" {
		path += "?" + ev.Query
	}
	if ev.Fragment != "" {
		path += "#" + ev.Fragment
	}
	fields := map[string]any{
		"site_id": ev.SiteID, "event_type": ev.Type, "path": path, "user_id": ev.UserID,
		"timestamp": ev.Time.Format(time.RFC3339Nano), "screen_width": ev.ScreenWidth,
	}
	if ev.Props != "" {
		fields["props"] = json.RawMessage(ev.Props)
	}
	if host := ev.Hostname; host != "" {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		fields["url"] = "https://" + host + "/"
	}
	again, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	var w wireEvent
	var ev2 event.Event
	err = decodeEvent(again, r.now, &w, &ev2)
	kept := func(ev event.Event) event.Event {
		ev.Source, ev.Referrer = "", ""
		ev.UTMSource, ev.UTMMedium, ev.UTMCampaign, ev.UTMContent, ev.UTMTerm = "", "", "", "", ""
		return ev
	}
	if err != nil || !reflect.DeepEqual(kept(ev2), kept(ev)) {
		t.Fatalf("%+v sent again as %s: %v %+v", ev, again, err, ev2)
	}
}
