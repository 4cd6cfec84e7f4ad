package rollup

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zones, whatever the machine has

	"github.com/cespare/xxhash/v2"

	"sitelog/event"
)

// TestVisits follows two visitors through visits that continue, time out,
// bounce, and move their exit page, and checks every number by hand.
func TestVisits(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"), Options{})
	at := func(hm string) time.Time {
		tm, err := time.Parse(time.DateTime, "2025-11-14 "+hm+":00")
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	ev := func(visitor uint64, typ, path, hm, source string) *event.Event {
		return &event.Event{SiteID: "s", Type: typ, Path: path, Time: at(hm), Visitor: visitor, Source: source, Browser: "Firefox"}
	}
	log := entries(1,
		ev(1, event.PageView, "/a", "10:00", "Google"),
		ev(2, event.PageView, "/a", "10:00", ""),
		ev(1, event.PageView, "/b", "10:10", ""), // continues visit 1: its source stays Google
		ev(1, "signup", "", "10:15", ""),
		ev(2, event.PageView, "/a", "11:00", ""), // a new visit: 60 minutes later
		ev(1, event.PageView, "/c", "10:05", ""), // late, within visit 1: not its exit page
		ev(0, event.PageView, "/a", "10:30", ""), // unknown visitor: counted, in no visit
	)
	if err := s.Apply(context.Background(), "log", log[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), "log", log[3:]); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":                 {"s||2025-11-14||6|2|3|2|900|7"},
		"event:page":       {"s|event:page|2025-11-14|/a|4|2|0|0|0|4", "s|event:page|2025-11-14|/b|1|1|0|0|0|1", "s|event:page|2025-11-14|/c|1|1|0|0|0|1"},
		"event:name":       {"s|event:name|2025-11-14|signup|0|1|0|0|0|1"},
		"visit:source":     {"s|visit:source|2025-11-14|Direct / None|2|1|2|2|0|2", "s|visit:source|2025-11-14|Google|3|1|1|0|900|4"},
		"visit:entry_page": {"s|visit:entry_page|2025-11-14|/a|5|2|3|2|900|6"},
		"visit:exit_page":  {"s|visit:exit_page|2025-11-14|/a|0|0|2|2|0|0", "s|visit:exit_page|2025-11-14|/b|0|0|1|0|900|0"},
		"visit:browser":    {"s|visit:browser|2025-11-14|Firefox|5|2|3|2|900|6"},
		"time:hour":        {"s|time:hour|2025-11-14|10|5|2|2|1|900|6", "s|time:hour|2025-11-14|11|1|1|1|1|0|1"},
	}
	for dim, rows := range want {
		got := rowsOf(t, s.db, "SELECT * FROM stats WHERE dim = ? ORDER BY value", dim)
		if !slices.Equal(got, rows) {
			t.Errorf("dim %q:\n got %v\nwant %v", dim, got, rows)
		}
	}
	if got := rowsOf(t, s.db, "SELECT id, visitor, pageviews, events, entry_page, exit_page, source FROM sessions ORDER BY id"); !slices.Equal(got, []string{
		"1|1|3|4|/a|/b|Google", "2|2|1|1|/a|/a|Direct / None", "3|2|1|1|/a|/a|Direct / None",
	}) {
		t.Errorf("sessions: %v", got)
	}
	if got := rowsOf(t, s.db, "SELECT log_index, session FROM events ORDER BY log_index"); !slices.Equal(got, []string{
		"1|1", "2|2", "3|1", "4|1", "5|3", "6|1", "7|0",
	}) {
		t.Errorf("events' sessions: %v", got)
	}
}

// TestSharedVisitValues checks that visits with the same visit values
// share one copy of them, whether begun by a batch or read back from the
// database, that other values get a copy of their own, and that the
// copies kept stay bounded.
func TestSharedVisitValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	start := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	ev := func(visitor uint64, minute int, browser string) *event.Event {
		return &event.Event{SiteID: "s", Type: event.PageView, Path: "/", Time: start.Add(time.Duration(minute) * time.Minute),
			Visitor: visitor, Browser: browser, OS: "Linux"}
	}
	latest := func(s *Store, visitor int64) *session {
		t.Helper()
		v, ok := s.an.latest.get(visitorKey{"s", visitor})
		if !ok || v == nil {
			t.Fatalf("visitor %d: no visit remembered", visitor)
		}
		return v
	}
	check := func(s *Store) {
		t.Helper()
		one, two, three := latest(s, 1), latest(s, 2), latest(s, 3)
		if one.vals != two.vals {
			t.Error("visitors 1 and 2 have the same values in two copies")
		}
		if one.vals == three.vals || one.vals[7] != "Firefox" || three.vals[7] != "Chrome" {
			t.Errorf("visitors 1 and 3 have browsers %q and %q", one.vals[7], three.vals[7])
		}
	}

	s := openStore(t, path, Options{})
	if err := s.Apply(context.Background(), "log", entries(1, ev(1, 0, "Firefox"), ev(2, 1, "Firefox"), ev(3, 2, "Chrome"))); err != nil {
		t.Fatal(err)
	}
	check(s)
	s.Close()
	// Reopened, the Store reads the visits that these events continue.
	s = openStore(t, path, Options{})
	if err := s.Apply(context.Background(), "log", entries(4, ev(1, 10, "Firefox"), ev(2, 11, "Firefox"), ev(3, 12, "Chrome"))); err != nil {
		t.Fatal(err)
	}
	check(s)
	if got := rowsOf(t, s.db, "SELECT id, visitor, events, browser, os FROM sessions ORDER BY id"); !slices.Equal(got, []string{
		"1|1|2|Firefox|Linux", "2|2|2|Firefox|Linux", "3|3|2|Chrome|Linux",
	}) {
		t.Errorf("sessions: %v", got)
	}

	a := newAnalytics(10)
	for i := range 3 * maxVisitVals {
		a.sharedVals(visitVals{1: fmt.Sprint("https://example.org/", i)})
		if len(a.vals) > maxVisitVals {
			t.Fatalf("%d sets of values kept, more than %d", len(a.vals), maxVisitVals)
		}
	}
}

// TestSiteTimeZone checks that a site's events count on its local days
// and hours, in every rollup.
func TestSiteTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, filepath.Join(t.TempDir(), "db"), Options{Zone: func(site string) *time.Location {
		if site == "ny" {
			return ny
		}
		return nil
	}})
	at := time.Date(2025, 11, 14, 3, 30, 0, 0, time.UTC) // 22:30 on the 13th in New York
	log := entries(1, pv("ny", "/", "u", at), pv("utc", "/", "u", at))
	if err := s.Apply(context.Background(), "log", log); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"SELECT site_id, day, value FROM stats WHERE dim = 'time:hour' ORDER BY site_id": {"ny|2025-11-13|22", "utc|2025-11-14|03"},
		"SELECT site_id, day FROM daily ORDER BY site_id":                                {"ny|2025-11-13", "utc|2025-11-14"},
		"SELECT site_id, day, hour FROM sessions ORDER BY site_id":                       {"ny|2025-11-13|22", "utc|2025-11-14|03"},
	} {
		if got := rowsOf(t, s.db, q); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", q, got, want)
		}
	}
}

// TestMemberHash pins the hash of a member, which stats_visitors stores
// and every later batch must compute alike: xxHash64 of the row's key
// fields, each ended by a zero byte, then the visitor as 8 bytes little
// endian.
func TestMemberHash(t *testing.T) {
	r := &row{key: statKey{"s", DimPage, "2025-11-14", "/a"}}
	for _, visitor := range []int64{1, -5, 1, 1 << 40} {
		b := []byte("s\x00event:page\x002025-11-14\x00/a\x00")
		b = binary.LittleEndian.AppendUint64(b, uint64(visitor))
		if got, want := (memberKey{r, visitor}).hash(), int64(xxhash.Sum64(b)); got != want {
			t.Errorf("hash of visitor %d = %d, want %d", visitor, got, want)
		}
	}
}
