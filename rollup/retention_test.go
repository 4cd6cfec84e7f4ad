package rollup

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/wal"
)

// TestRetentionDeletesOldRawEventsAndVisits fills the log with events of
// one visitor each on two days, runs the worker with a retention that
// keeps only the newer day, and checks that the older raw events and
// visits go while every rollup stays as it was.
func TestRetentionDeletesOldRawEventsAndVisits(t *testing.T) {
	const n = 12000 // more than two prune chunks of raw events, and of visits
	dir := t.TempDir()
	store, err := Open(filepath.Join(dir, "sitelog.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{Fsync: wal.FsyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()

	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-10*24*time.Hour), now.Add(-time.Hour)
	var recs [][]byte
	var kept int // the recent events, each of its own visit
	for i := range n {
		ts := old
		if i%3 == 1 {
			ts, kept = recent, kept+1
		}
		user := "u" + strconv.Itoa(i)
		ev := event.Event{SiteID: "s", Type: event.PageView, Path: "/p", UserID: user, Visitor: event.UserVisitor("s", user), Time: ts}
		recs = append(recs, ev.AppendBinary(nil))
	}
	if _, err := log.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}

	// Each look at the clock is a second later, so passes keep falling
	// due (one a second) while the cutoff stays between the two days.
	var ticks atomic.Int64
	w := NewWorker(store, log, WorkerConfig{
		BatchSize:  1000,
		RetainRaw:  7 * 24 * time.Hour,
		PruneEvery: time.Second,
		Now:        func() time.Time { return now.Add(time.Duration(ticks.Add(1)) * time.Second) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	count := func(q string) int {
		var c int
		if err := store.db.QueryRow(q).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for range 600 {
		if applied, _ := store.Applied(log.Identity()); applied == n && count(`SELECT count(*) FROM events`) == kept &&
			count(`SELECT count(*) FROM sessions`) == kept+1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := count(`SELECT count(*) FROM events`); got != kept {
		t.Fatalf("%d raw events left, want the %d recent ones", got, kept)
	}
	if got := count(`SELECT count(*) FROM events WHERE ts < ` + strconv.FormatInt(now.Add(-7*24*time.Hour).UnixMicro(), 10)); got != 0 {
		t.Fatalf("%d raw events older than the retention left", got)
	}
	// The last event is an old one (n-1 is not 1 modulo 3): its visit has
	// the highest id, which stays so that no id is given twice.
	cutoff := strconv.FormatInt(now.Add(-7*24*time.Hour).UnixMicro(), 10)
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts >= ` + cutoff); got != kept {
		t.Fatalf("%d recent visits left, want %d", got, kept)
	}
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts < ` + cutoff + ` AND id = (SELECT max(id) FROM sessions)`); got != 1 {
		t.Fatalf("the old visit with the highest id went, or another old visit stayed (%d)", got)
	}
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts < ` + cutoff); got != 1 {
		t.Fatalf("%d old visits left, want only the one with the highest id", got)
	}
	if got := count(`SELECT visits FROM stats WHERE site_id = 's' AND dim = '' AND day = '` + old.Format(time.DateOnly) + `'`); got != n-kept {
		t.Fatalf("the old day counts %d visits after retention, want %d", got, n-kept)
	}
	if got := count(`SELECT views FROM sites WHERE site_id = 's'`); got != n {
		t.Fatalf("all-time views %d after retention, want %d: rollups must keep what raw events lose", got, n)
	}
	if got := count(`SELECT sum(views) FROM daily WHERE site_id = 's'`); got != n {
		t.Fatalf("daily views sum to %d, want %d", got, n)
	}
}

// TestPruneKeepsTheLastVisit runs a retention pass over visits that are
// all old: only the one with the highest id stays, whether the last full
// chunk of the pass holds it (10,000 visits) or the rest after that chunk
// (12,000).
func TestPruneKeepsTheLastVisit(t *testing.T) {
	for _, n := range []int{2 * pruneChunk, 2*pruneChunk + 2000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{Now: testNow})
			at := testNow().Add(-10 * 24 * time.Hour)
			evs := make([]*event.Event, n)
			for i := range evs {
				evs[i] = pv("s", "/p", "u"+strconv.Itoa(i), at)
			}
			if err := s.Apply(context.Background(), "log-a", entries(1, evs...)); err != nil {
				t.Fatal(err)
			}
			var cur pruneCursor
			for done := false; !done; {
				var err error
				if cur, done, err = s.prune(context.Background(), cur, testNow().Add(-7*24*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := rowsOf(t, s.db, `SELECT id FROM sessions`), []string{strconv.Itoa(n)}; !slices.Equal(got, want) {
				t.Errorf("visits left %.60v; want only the last, %v", got, want)
			}
			if got := rowsOf(t, s.db, `SELECT count(*) FROM events`); got[0] != "0" {
				t.Errorf("%s raw events left; want none", got[0])
			}
		})
	}
}
