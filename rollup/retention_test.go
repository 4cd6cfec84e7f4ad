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

// TestRetentionDeletesOldRawEventsOnly fills the log with events on two
// days, runs the worker with a retention that keeps only the newer day,
// and checks that the older raw events go while every rollup stays as it
// was.
func TestRetentionDeletesOldRawEventsOnly(t *testing.T) {
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
	const n = 12000 // more than two prune chunks
	var recs [][]byte
	for i := range n {
		ts := old
		if i%3 == 0 {
			ts = recent
		}
		ev := event.Event{SiteID: "s", Type: event.PageView, Path: "/p", UserID: "u", Time: ts}
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
		if applied, _ := store.Applied(log.Identity()); applied == n && count(`SELECT count(*) FROM events`) == n/3 {
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
	if got := count(`SELECT views FROM sites WHERE site_id = 's'`); got != n {
		t.Fatalf("all-time views %d after retention, want %d: rollups must keep what raw events lose", got, n)
	}
	if got := count(`SELECT sum(views) FROM daily WHERE site_id = 's'`); got != n {
		t.Fatalf("daily views sum to %d, want %d", got, n)
	}
}
