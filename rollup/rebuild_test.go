package rollup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones, whatever the machine has
)

// rollupDump returns every rollup row, by table, with visits named by
// their content rather than their id (a rebuild numbers them anew).
func rollupDump(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	d := dump(t, s.db)
	out := make(map[string][]string)
	for _, table := range siteTables {
		out[table] = d[table]
	}
	out["sessions"] = rowsOf(t, s.db, `SELECT site_id, visitor, start_ts, last_ts, exit_ts, day, hour, pageviews, events,
		entry_page, exit_page, source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term, browser, os, device, country
		FROM sessions`)
	out["events' visits"] = rowsOf(t, s.db, `SELECT e.log_id, e.log_index, s.visitor, s.start_ts
		FROM events e LEFT JOIN sessions s ON s.id = e.session`)
	for _, rows := range out {
		slices.Sort(rows)
	}
	return out
}

func diffRollups(t *testing.T, what string, a, b map[string][]string) {
	t.Helper()
	for table, rows := range a {
		if !slices.Equal(rows, b[table]) {
			t.Errorf("%s: table %s differs:\n%s\nvs\n%s", what, table, strings.Join(rows, "\n"), strings.Join(b[table], "\n"))
		}
	}
}

// TestRebuildEqualsApply applies random logs incrementally, in random
// batch splits and with a small cardinality cap, rebuilds, and checks that
// every rollup is what it was: for every site, then for one.
func TestRebuildEqualsApply(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			log := randomLog(rng, 1500)
			s := openStore(t, filepath.Join(t.TempDir(), "db"), Options{PathsPerDay: 6})
			if _, err := s.db.Exec(`INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES
				('site-a', 'Signup', 'signup', '', 0), ('site-a', 'Visit /p1*', '', '/p1*', 0)`); err != nil {
				t.Fatal(err)
			}
			applySplit(t, s, "log-a", rng, log)
			before := rollupDump(t, s)
			if len(before["stats"]) == 0 || len(before["sessions"]) == 0 {
				t.Fatal("nothing applied")
			}

			n, err := s.Rebuild(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if want := len(rowsOf(t, s.db, "SELECT 1 FROM events")); n != int64(want) {
				t.Errorf("rebuilt %d events, want %d", n, want)
			}
			diffRollups(t, "all sites", before, rollupDump(t, s))

			if _, err := s.Rebuild(context.Background(), "site-b"); err != nil {
				t.Fatal(err)
			}
			diffRollups(t, "site-b", before, rollupDump(t, s))

			// Apply goes on after a rebuild as if it had never happened.
			more := randomLog(rng, 300)
			for i := range more {
				more[i].Index += uint64(len(log))
			}
			applySplit(t, s, "log-a", rng, more)
			fresh := openStore(t, filepath.Join(t.TempDir(), "fresh"), Options{PathsPerDay: 6})
			if _, err := fresh.db.Exec(`INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES
				('site-a', 'Signup', 'signup', '', 0), ('site-a', 'Visit /p1*', '', '/p1*', 0)`); err != nil {
				t.Fatal(err)
			}
			applySplit(t, fresh, "log-a", rng, append(append(log[:0:0], log...), more...))
			diffRollups(t, "apply after rebuild", rollupDump(t, fresh), rollupDump(t, s))
		})
	}
}

// TestRebuildAfterTimeZoneChange checks that a rebuild moves a site's
// rollups to its new time zone, as if its events had been applied in it.
func TestRebuildAfterTimeZoneChange(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	log := randomLog(rng, 800)
	s := openStore(t, filepath.Join(t.TempDir(), "db"), Options{})
	applySplit(t, s, "log-a", rng, log)
	// The zone changes in the registry, which a rebuild reads (the server's
	// Options.Zone may not have seen the change yet).
	for _, site := range []string{"site-a", "site-b", "site-c"} {
		if _, err := s.db.Exec(`INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES (?, 'Asia/Tokyo', 0, 0)`, site); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Rebuild(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	want := openStore(t, filepath.Join(t.TempDir(), "tokyo"), Options{Zone: func(string) *time.Location { return tokyo }})
	applySplit(t, want, "log-a", rng, log)
	diffRollups(t, "Tokyo", rollupDump(t, want), rollupDump(t, s))
	if got := rowsOf(t, s.db, "SELECT DISTINCT day FROM stats WHERE day = '2025-11-17'"); len(got) == 0 {
		t.Error("no rollup on the 17th: days were not moved to Tokyo's")
	}
}

// TestWorkerCarriesOutRebuildRequests requests a rebuild from another
// connection, as `sitelog rebuild` does beside a running server, and
// checks that the worker carries it out between batches.
func TestWorkerCarriesOutRebuildRequests(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	path := filepath.Join(t.TempDir(), "sitelog.db")
	s := openStore(t, path, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewWorker(s, src, WorkerConfig{}).Run(ctx) }()
	appendEvents(t, l, 100, at)
	waitApplied(t, src, 100)
	before := rollupDump(t, s)
	// Break a rollup, as a bug would have, for the rebuild to repair.
	if _, err := s.db.Exec("UPDATE stats SET pageviews = 0"); err != nil {
		t.Fatal(err)
	}

	admin, err := OpenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	id, err := RequestRebuild(context.Background(), admin, "site-123", at)
	if err != nil {
		t.Fatal(err)
	}
	for {
		finished, err := RebuildDone(context.Background(), admin, id)
		if err != nil {
			t.Fatal(err)
		}
		if finished {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	diffRollups(t, "after the requested rebuild", before, rollupDump(t, s))
	appendEvents(t, l, 10, at)
	waitApplied(t, src, 110)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
