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
	if ev.Time.Location() != time.UTC || ev.Time.Nanosecond()%1000 != 0 || ev.Time.After(r.now.Add(24*time.Hour)) {
		t.Fatalf("time %v accepted", ev.Time)
	}

	var back event.Event
	if err := event.Decode(ev.AppendBinary(nil), &back); err != nil || back != ev {
		t.Fatalf("log round trip of %+v: %v %+v", ev, err, back)
	}

	// Sent again, the event must come back as it is.
	path := ev.Path
	if ev.Query != "" {
		path += "?" + ev.Query
	}
	if ev.Fragment != "" {
		path += "#" + ev.Fragment
	}
	again, err := json.Marshal(map[string]string{
		"site_id": ev.SiteID, "event_type": ev.Type, "path": path, "user_id": ev.UserID,
		"timestamp": ev.Time.Format(time.RFC3339Nano),
	})
	if err != nil {
		t.Fatal(err)
	}
	var w wireEvent
	var ev2 event.Event
	if err := decodeEvent(again, r.now, &w, &ev2); err != nil || !reflect.DeepEqual(ev2, ev) {
		t.Fatalf("%+v sent again as %s: %v %+v", ev, again, err, ev2)
	}
}
