package rollup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"sitelog/event"
	"sitelog/wal"
)

// randomLog returns n log entries from index 1: events of several sites,
// days, paths, users and types, some from bots, some no-op entries and
// some records that do not decode.
func randomLog(rng *rand.Rand, n int) []wal.Entry {
	sites := []string{"site-a", "site-b", "site-c"}
	types := []string{event.PageView, event.PageView, event.PageView, "signup", "click"}
	start := time.Date(2025, 11, 13, 22, 0, 0, 0, time.UTC)
	out := make([]wal.Entry, n)
	for i := range out {
		out[i].Index = uint64(i + 1)
		switch r := rng.IntN(100); {
		case r < 5: // a no-op entry: padding or a damaged record
			continue
		case r < 7: // bytes that are not an event
			out[i].Data = []byte{0xff, byte(r)}
			continue
		}
		e := event.Event{
			SiteID: sites[rng.IntN(len(sites))],
			Type:   types[rng.IntN(len(types))],
			Path:   fmt.Sprintf("/p%d", rng.IntN(12)),
			Query:  fmt.Sprintf("q=%d", rng.IntN(3)),
			Time:   start.Add(time.Duration(rng.Int64N(int64(72 * time.Hour)))).Truncate(time.Microsecond),
			Bot:    rng.IntN(10) == 0,
		}
		if e.Type != event.PageView && rng.IntN(2) == 0 {
			e.Path = ""
		}
		switch u := rng.IntN(25); {
		case u < 15:
			e.UserID = fmt.Sprintf("u%d", u)
			e.Visitor = event.UserVisitor(e.SiteID, e.UserID)
		case u < 22:
			e.Visitor = uint64(1000 + u)
		}
		e.Source = []string{"", "", "Google", "example.org"}[rng.IntN(4)]
		if e.Source != "" {
			e.Referrer = e.Source + "/x"
		}
		e.UTMCampaign = []string{"", "", "spring"}[rng.IntN(3)]
		e.Browser = []string{"", "Firefox", "Chrome"}[rng.IntN(3)]
		e.Country = []string{"", "DE", "US"}[rng.IntN(3)]
		if rng.IntN(4) == 0 {
			e.Props = fmt.Sprintf(`{"plan":"p%d"}`, rng.IntN(3))
		}
		out[i].Data = e.AppendBinary(nil)
	}
	return out
}

// applySplit applies log in batches of random sizes, from 1 to 300.
func applySplit(t *testing.T, s *Store, identity string, rng *rand.Rand, log []wal.Entry) {
	t.Helper()
	for len(log) > 0 {
		n := min(1+rng.IntN(300), len(log))
		if err := s.Apply(context.Background(), identity, log[:n]); err != nil {
			t.Fatal(err)
		}
		log = log[n:]
	}
}

// recounts pairs each rollup with the same rows computed by SQL from the
// raw events alone.
func recounts() map[string][2]string {
	const e = `(SELECT site_id, date(ts / 1000000, 'unixepoch') AS day, event_type, path, user_id, bot FROM events)`
	// The events that count in the analytics model, with their UTC day and hour.
	const a = `(SELECT site_id, date(ts / 1000000, 'unixepoch') AS day, strftime('%H', ts / 1000000, 'unixepoch') AS hour,
		event_type, path, visitor, props FROM events WHERE bot = 0)`
	return map[string][2]string{
		"daily": {
			`SELECT site_id, day, views, events, users, bots, paths FROM daily`,
			`SELECT site_id, day,
				SUM(bot = 0 AND event_type = 'page_view'), SUM(bot = 0),
				COUNT(DISTINCT CASE WHEN bot = 0 AND user_id <> '' THEN user_id END),
				SUM(bot = 1),
				COUNT(DISTINCT CASE WHEN bot = 0 AND event_type = 'page_view' THEN path END)
			FROM ` + e + ` GROUP BY site_id, day`,
		},
		"daily_types": {
			`SELECT site_id, day, event_type, events FROM daily_types`,
			`SELECT site_id, day, event_type, COUNT(*) FROM ` + e + ` WHERE bot = 0 GROUP BY site_id, day, event_type`,
		},
		"daily_users": {
			`SELECT site_id, day, user_id FROM daily_users`,
			`SELECT DISTINCT site_id, day, user_id FROM ` + e + ` WHERE bot = 0 AND user_id <> ''`,
		},
		"daily_paths": {
			`SELECT site_id, day, path, views FROM daily_paths`,
			`SELECT site_id, day, path, COUNT(*) FROM ` + e + ` WHERE bot = 0 AND event_type = 'page_view' GROUP BY site_id, day, path`,
		},
		"sites": {
			`SELECT site_id, views, events, users, bots FROM sites`,
			`SELECT site_id, SUM(bot = 0 AND event_type = 'page_view'), SUM(bot = 0),
				COUNT(DISTINCT CASE WHEN bot = 0 AND user_id <> '' THEN user_id END), SUM(bot = 1)
			FROM events GROUP BY site_id`,
		},
		"site_types": {
			`SELECT site_id, event_type, events FROM site_types`,
			`SELECT site_id, event_type, COUNT(*) FROM events WHERE bot = 0 GROUP BY site_id, event_type`,
		},
		"site_users": {
			`SELECT site_id, user_id FROM site_users`,
			`SELECT DISTINCT site_id, user_id FROM events WHERE bot = 0 AND user_id <> ''`,
		},
		"stats totals": {
			`SELECT site_id, day, pageviews, visitors, events FROM stats WHERE dim = ''`,
			`SELECT site_id, day, SUM(event_type = 'page_view'), COUNT(DISTINCT NULLIF(visitor, 0)), COUNT(*)
			FROM ` + a + ` GROUP BY site_id, day`,
		},
		"stats pages": {
			`SELECT site_id, day, value, pageviews, visitors, events FROM stats WHERE dim = 'event:page'`,
			`SELECT site_id, day, path, COUNT(*), COUNT(DISTINCT NULLIF(visitor, 0)), COUNT(*)
			FROM ` + a + ` WHERE event_type = 'page_view' GROUP BY site_id, day, path`,
		},
		"stats hours": {
			`SELECT site_id, day, value, pageviews, visitors, events FROM stats WHERE dim = 'time:hour'`,
			`SELECT site_id, day, hour, SUM(event_type = 'page_view'), COUNT(DISTINCT NULLIF(visitor, 0)), COUNT(*)
			FROM ` + a + ` GROUP BY site_id, day, hour`,
		},
		"stats props": {
			`SELECT site_id, day, value, events, visitors FROM stats WHERE dim = 'event:props:plan'`,
			`SELECT site_id, day, props ->> '$.plan', COUNT(*), COUNT(DISTINCT NULLIF(visitor, 0))
			FROM ` + a + ` WHERE props <> '' GROUP BY 1, 2, 3`,
		},
		"visits": {
			`SELECT site_id, day, visits, bounces, duration FROM stats WHERE dim = '' AND visits > 0`,
			`SELECT site_id, day, COUNT(*), SUM(pageviews = 1), SUM((last_ts - start_ts) / 1000000) FROM sessions GROUP BY site_id, day`,
		},
		"visits by source": {
			`SELECT site_id, day, value, visits, bounces, duration FROM stats WHERE dim = 'visit:source' AND visits > 0`,
			`SELECT site_id, day, source, COUNT(*), SUM(pageviews = 1), SUM((last_ts - start_ts) / 1000000) FROM sessions GROUP BY 1, 2, 3`,
		},
		"visits by entry page": {
			`SELECT site_id, day, value, visits, bounces, duration FROM stats WHERE dim = 'visit:entry_page' AND visits > 0`,
			`SELECT site_id, day, entry_page, COUNT(*), SUM(pageviews = 1), SUM((last_ts - start_ts) / 1000000) FROM sessions WHERE entry_page <> '' GROUP BY 1, 2, 3`,
		},
		"visits by exit page": {
			`SELECT site_id, day, value, visits, bounces, duration FROM stats WHERE dim = 'visit:exit_page' AND visits > 0`,
			`SELECT site_id, day, exit_page, COUNT(*), SUM(pageviews = 1), SUM((last_ts - start_ts) / 1000000) FROM sessions WHERE exit_page <> '' GROUP BY 1, 2, 3`,
		},
		"sessions": {
			`SELECT id, start_ts, last_ts, pageviews, events FROM sessions`,
			`SELECT session, MIN(ts), MAX(ts), SUM(event_type = 'page_view'), COUNT(*) FROM events WHERE session <> 0 GROUP BY session`,
		},
		"site_paths": {
			`SELECT site_id, path, views FROM site_paths`,
			`SELECT site_id, path, COUNT(*) FROM events WHERE bot = 0 AND event_type = 'page_view' GROUP BY site_id, path`,
		},
	}
}

// TestRollupsEqualRecount applies random logs in random batch splits and
// checks that every rollup equals a recount from the raw events, and that
// the database does not depend on how the log was split.
func TestRollupsEqualRecount(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			log := randomLog(rng, 500+rng.IntN(700))
			dir := t.TempDir()

			whole := openStore(t, filepath.Join(dir, "whole.db"), Options{PathsPerDay: 1 << 20})
			if err := whole.Apply(context.Background(), "log-a", log); err != nil {
				t.Fatal(err)
			}
			split := openStore(t, filepath.Join(dir, "split.db"), Options{PathsPerDay: 1 << 20})
			// Chunks of a few entries: a batch's raw events go in while
			// the batch goes on counting, and visits are read per chunk.
			split.chunk = 1 + int(seed)*5
			applySplit(t, split, "log-a", rng, log)

			for table, q := range recounts() {
				got, want := rowsOf(t, split.db, q[0]), rowsOf(t, split.db, q[1])
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s: rollup\n%v\nrecount\n%v", table, got, want)
				}
			}
			if applied, err := split.Applied("log-a"); err != nil || applied != uint64(len(log)) {
				t.Errorf("Applied = %d, %v; want %d", applied, err, len(log))
			}
			diffDumps(t, dump(t, whole.db), dump(t, split.db))
		})
	}
}

// TestPathCap checks that a site and day stores at most PathsPerDay paths,
// counts the page views of further new paths under OtherPath, and keeps
// every total.
func TestPathCap(t *testing.T) {
	day1 := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	log := entries(1,
		pv("s", "/a", "u1", day1),
		pv("s", "/b", "u1", day1),
		&event.Event{SiteID: "s", Type: "signup", Path: "/x", Time: day1}, // not a page view: takes no place
		pv("s", "/c", "u2", day1),
		pv("s", "/d", "u3", day1), // the 4th path of the day
		pv("s", "/a", "u3", day1), // a stored path still counts as itself
		pv("s", "/e", "u4", day1),
		pv("s", "/d", "u5", day1),
		pv("s", "/d", "u1", day2), // a new day has room again
		pv("other-site", "/z", "u1", day1),
	)
	want := map[string][]string{
		"daily_paths": {
			"other-site|2025-11-14|/z|1",
			"s|2025-11-14|(other)|3",
			"s|2025-11-14|/a|2",
			"s|2025-11-14|/b|1",
			"s|2025-11-14|/c|1",
			"s|2025-11-15|/d|1",
		},
		"site_paths": {
			"other-site|/z|1",
			"s|(other)|3",
			"s|/a|2",
			"s|/b|1",
			"s|/c|1",
			"s|/d|1",
		},
		"daily": {
			"other-site|2025-11-14|1|1",
			"s|2025-11-14|8|3",
			"s|2025-11-15|1|1",
		},
	}
	f := func(name string, batches ...int) {
		t.Helper()
		s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{PathsPerDay: 3})
		rest := log
		for _, n := range batches {
			if err := s.Apply(context.Background(), "log-a", rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		got := map[string][]string{
			"daily_paths": rowsOf(t, s.db, "SELECT site_id, day, path, views FROM daily_paths ORDER BY site_id, day, path"),
			"site_paths":  rowsOf(t, s.db, "SELECT site_id, path, views FROM site_paths ORDER BY site_id, path"),
			"daily":       rowsOf(t, s.db, "SELECT site_id, day, events, paths FROM daily ORDER BY site_id, day"),
		}
		for table := range want {
			if !slices.Equal(got[table], want[table]) {
				t.Errorf("%s: %s =\n%v\nwant\n%v", name, table, got[table], want[table])
			}
		}
		// Views add up however they were capped.
		for _, q := range []string{
			`SELECT site_id, day, views FROM daily WHERE views > 0 EXCEPT SELECT site_id, day, SUM(views) FROM daily_paths GROUP BY site_id, day`,
			`SELECT site_id, views FROM sites EXCEPT SELECT site_id, SUM(views) FROM site_paths GROUP BY site_id`,
		} {
			if rows := rowsOf(t, s.db, q); len(rows) > 0 {
				t.Errorf("%s: totals differ: %v", name, rows)
			}
		}
	}
	f("one batch", len(log))
	f("one event per batch", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	f("cut at the cap", 4, 3, 3)
}

// TestPathCapSplitIndependent applies random logs with a small cap in
// random splits: the database must not depend on the split.
func TestPathCapSplitIndependent(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 2))
		log := randomLog(rng, 800)
		dir := t.TempDir()
		whole := openStore(t, filepath.Join(dir, "whole.db"), Options{PathsPerDay: 5})
		if err := whole.Apply(context.Background(), "log-a", log); err != nil {
			t.Fatal(err)
		}
		split := openStore(t, filepath.Join(dir, "split.db"), Options{PathsPerDay: 5})
		applySplit(t, split, "log-a", rng, log)
		diffDumps(t, dump(t, whole.db), dump(t, split.db))
		if rows := rowsOf(t, split.db, `SELECT site_id, day, paths FROM daily WHERE paths > 5 OR paths <>
			(SELECT COUNT(*) FROM daily_paths p WHERE p.site_id = daily.site_id AND p.day = daily.day AND p.path <> '(other)')`); len(rows) > 0 {
			t.Errorf("seed %d: daily.paths over the cap or not the count of stored paths: %v", seed, rows)
		}
	}
}

// TestApplyTwiceChangesNothing simulates a crash after a commit and before
// anything else learnt of it: the same range, or one that overlaps it, is
// applied again, by the same Store or after reopening.
func TestApplyTwiceChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	log := randomLog(rng, 800)
	path := filepath.Join(t.TempDir(), "sitelog.db")
	s, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	applySplit(t, s, "log-a", rng, log[:500])
	before := dump(t, s.db)

	f := func(name string, s *Store, batch []wal.Entry) {
		t.Helper()
		if err := s.Apply(context.Background(), "log-a", batch); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		diffDumps(t, before, dump(t, s.db))
	}
	f("the last batch again", s, log[400:500])
	f("everything again", s, log[:500])
	f("one entry again", s, log[0:1])
	s.Close()
	s = openStore(t, path, Options{})
	f("everything again after reopening", s, log[:500])

	// A batch that overlaps the checkpoint applies only its new part.
	if err := s.Apply(context.Background(), "log-a", log[450:800]); err != nil {
		t.Fatal(err)
	}
	once := openStore(t, filepath.Join(t.TempDir(), "once.db"), Options{})
	if err := once.Apply(context.Background(), "log-a", log); err != nil {
		t.Fatal(err)
	}
	diffDumps(t, dump(t, once.db), dump(t, s.db))
}

func TestApplyRefusesAGap(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	ctx := context.Background()
	f := func(name string, batch []wal.Entry) {
		t.Helper()
		before := dump(t, s.db)
		if err := s.Apply(ctx, "log-a", batch); !errors.Is(err, ErrNotNext) {
			t.Errorf("%s: err = %v, want ErrNotNext", name, err)
		}
		diffDumps(t, before, dump(t, s.db))
	}
	f("a new log from index 2", entries(2, pv("s", "/", "u", at)))
	if err := s.Apply(ctx, "log-a", entries(1, pv("s", "/", "u", at), pv("s", "/", "u", at))); err != nil {
		t.Fatal(err)
	}
	f("past checkpoint+1", entries(4, pv("s", "/", "u", at)))
	gap := append(entries(3, pv("s", "/", "u", at)), entries(5, pv("s", "/", "u", at))...)
	f("a gap inside the batch", gap)

	// Another log identity has its own checkpoint, from 1.
	if err := s.Apply(ctx, "log-b", entries(1, pv("s", "/", "u", at))); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]uint64{"log-a": 2, "log-b": 1, "never-seen": 0} {
		if got, err := s.Applied(id); err != nil || got != want {
			t.Errorf("Applied(%s) = %d, %v; want %d", id, got, err, want)
		}
	}
}

// TestApplySkipsWhatDoesNotDecode checks that records that are not events
// and no-op entries are applied as nothing, counted, and still advance the
// checkpoint.
func TestApplySkipsWhatDoesNotDecode(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{Metrics: m})
	batch := entries(1, pv("s", "/", "u", at), nil, pv("s", "/", "u", at))
	batch = append(batch,
		wal.Entry{Index: 4, Data: []byte{}},
		wal.Entry{Index: 5, Data: []byte("not an event")},
		wal.Entry{Index: 6},
	)
	if err := s.Apply(context.Background(), "log-a", batch); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, s.db, "SELECT log_index FROM events ORDER BY log_index"); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("raw events at %v, want 1 and 3", got)
	}
	if applied, _ := s.Applied("log-a"); applied != 6 {
		t.Errorf("Applied = %d, want 6", applied)
	}
	got := make(map[string]string)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch m := mf.GetMetric()[0]; {
		case m.GetCounter() != nil:
			got[mf.GetName()] = fmt.Sprint(m.GetCounter().GetValue())
		case m.GetHistogram() != nil:
			got[mf.GetName()] = fmt.Sprint(m.GetHistogram().GetSampleCount(), " batches, ", m.GetHistogram().GetSampleSum())
		}
	}
	want := map[string]string{
		"sitelog_worker_skipped_records_total": "2",
		"sitelog_worker_batch_events":          "1 batches, 6",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	if _, ok := got["sitelog_worker_apply_seconds"]; !ok {
		t.Error("no sitelog_worker_apply_seconds")
	}
}

// The local day and hour of times in random order and zones are those
// that formatting each time gives, one string per hour, and the hours
// remembered stay bounded.
func TestLocalClock(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	zones := []*time.Location{time.UTC, tokyo, time.FixedZone("-0930", -(9*3600 + 1800))}
	rng := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2025, 12, 30, 0, 0, 0, 0, time.UTC) // across a new year
	var c localClock
	first := map[string]string{} // the day and hour text first returned for each
	for i := range 3 * maxLocalHours {
		// Half within four days, half anywhere in three years: more
		// hours than a localClock remembers.
		span := 4 * 24 * time.Hour
		if i%2 == 0 {
			span = 3 * 365 * 24 * time.Hour
		}
		lt := start.Add(time.Duration(rng.Int64N(int64(span)))).In(zones[rng.IntN(len(zones))])
		day, hour := c.local(lt)
		if day != lt.Format(time.DateOnly) || hour != lt.Format("15") {
			t.Fatalf("local(%v) = %s %s", lt, day, hour)
		}
		if len(c.hours) > maxLocalHours {
			t.Fatalf("%d hours remembered, more than %d", len(c.hours), maxLocalHours)
		}
		key := day + " " + hour
		if prev, ok := first[key]; ok && i < maxLocalHours && unsafe.StringData(prev) != unsafe.StringData(day) {
			t.Fatalf("%s formatted again", key)
		}
		if _, ok := first[key]; !ok {
			first[key] = day
		}
	}
}
