package rollup

import (
	"context"
	"path/filepath"
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
	const n = 12000 // more than two prune chunks of raw events, and of visits
	var recs [][]byte
	for i := range n {
		ts := old
		if i%3 == 0 {
			ts = recent
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
		if applied, _ := store.Applied(log.Identity()); applied == n && count(`SELECT count(*) FROM events`) == n/3 &&
			count(`SELECT count(*) FROM sessions`) == n/3+1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := count(`SELECT count(*) FROM events`); got != n/3 {
		t.Fatalf("%d raw events left, want the %d recent ones", got, n/3)
	}
	if got := count(`SELECT count(*) FROM events WHERE ts < ` + strconv.FormatInt(now.Add(-7*24*time.Hour).UnixMicro(), 10)); got != 0 {
		t.Fatalf("%d raw events older than the retention left", got)
	}
	// The last event is an old one: its visit has the highest id, which
	// stays so that no id is given twice.
	cutoff := strconv.FormatInt(now.Add(-7*24*time.Hour).UnixMicro(), 10)
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts >= ` + cutoff); got != n/3 {
		t.Fatalf("%d recent visits left, want %d", got, n/3)
	}
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts < ` + cutoff + ` AND id = (SELECT max(id) FROM sessions)`); got != 1 {
		t.Fatalf("the old visit with the highest id went, or another old visit stayed (%d)", got)
	}
	if got := count(`SELECT count(*) FROM sessions WHERE last_ts < ` + cutoff); got != 1 {
		t.Fatalf("%d old visits left, want only the one with the highest id", got)
	}
	if got := count(`SELECT visits FROM stats WHERE site_id = 's' AND dim = '' AND day = '` + old.Format(time.DateOnly) + `'`); got != n-n/3 {
		t.Fatalf("the old day counts %d visits after retention, want %d", got, n-n/3)
	}
	if got := count(`SELECT views FROM sites WHERE site_id = 's'`); got != n {
		t.Fatalf("all-time views %d after retention, want %d: rollups must keep what raw events lose", got, n)
	}
	if got := count(`SELECT sum(views) FROM daily WHERE site_id = 's'`); got != n {
		t.Fatalf("daily views sum to %d, want %d", got, n)
	}
}
