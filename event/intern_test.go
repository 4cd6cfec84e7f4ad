package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// same reports whether a and b are one string in memory.
func same(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestInterner(t *testing.T) {
	ts := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	long := "/" + strings.Repeat("x", internMaxLen)
	base := Event{SiteID: "site-1", Type: PageView, Path: "/pricing", Query: "a=1", UserID: "u1", Time: ts,
		Visitor: 7, Referrer: "https://www.google.com/", Source: "Google", Browser: "Firefox", OS: "Linux",
		Device: "Desktop", Country: "DE", Props: `{"k":"v"}`}
	var in Interner
	decode := func(e Event) Event {
		t.Helper()
		rec := e.AppendBinary(nil)
		var want, got Event
		if err := Decode(rec, &want); err != nil {
			t.Fatal(err)
		}
		if err := in.Decode(rec, &got); err != nil {
			t.Fatal(err)
		}
		if got != want || got != e {
			t.Fatalf("interned decode:\n got %+v\nwant %+v", got, want)
		}
		// The strings are the interner's, not the record's.
		clear(rec)
		if got != e {
			t.Fatalf("strings changed with the record: %+v", got)
		}
		return got
	}
	a := decode(base)
	second := base
	second.UserID, second.Query = "u2", "a=2"
	b := decode(second)
	for name, pair := range map[string][2]string{
		"site": {a.SiteID, b.SiteID}, "type": {a.Type, b.Type}, "path": {a.Path, b.Path},
		"referrer": {a.Referrer, b.Referrer}, "source": {a.Source, b.Source}, "browser": {a.Browser, b.Browser},
		"os": {a.OS, b.OS}, "device": {a.Device, b.Device}, "country": {a.Country, b.Country},
	} {
		if !same(pair[0], pair[1]) {
			t.Errorf("%s %q: two copies, want one", name, pair[0])
		}
	}
	// Values unique to an event, and long ones, are not kept.
	third := b
	third.Path = long
	c, d := decode(third), decode(third)
	if same(c.Props, d.Props) || same(c.UserID, d.UserID) || same(c.Query, d.Query) || same(c.Path, d.Path) {
		t.Error("a props, user ID, query or long path was interned")
	}
	if _, ok := in.m[long]; ok {
		t.Error("the long path is kept")
	}
	// String interns any text alike, not only a decoded event's fields.
	if x, y := in.String([]byte(`{"plan":"pro"}`)), in.String([]byte(`{"plan":"pro"}`)); x != `{"plan":"pro"}` || !same(x, y) {
		t.Errorf("String: %q and %q, two copies or wrong", x, y)
	}

	// A stream of values that never repeat keeps the table bounded, and
	// every event still decodes right.
	for i := range internMax + 10 {
		e := base
		e.Path = fmt.Sprintf("/p/%d", i)
		decode(e)
		if len(in.m) > internMax {
			t.Fatalf("after %d paths the interner holds %d values, more than %d", i+1, len(in.m), internMax)
		}
	}
	if e := decode(base); !same(e.Path, decode(base).Path) {
		t.Error("a value is not interned again after the table was dropped")
	}
}
