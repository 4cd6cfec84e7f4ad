package pgstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"sitelog/internal/pgtest"
	"sitelog/wal"
)

func TestRetain(t *testing.T) {
	srv := pgtest.Start(t)
	s := open(t, srv.NewDatabase(t))
	ctx := context.Background()
	d := func(n int) time.Time { return time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC) }
	partitions := func() []string {
		t.Helper()
		rows, err := s.pool.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		return names
	}
	retain := func(before time.Time, margin time.Duration, want ...time.Time) {
		t.Helper()
		got, err := s.Retain(ctx, before, margin)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("Retain(%v, %v) dropped %v; want %v", before, margin, got, want)
		}
	}

	// Node a has events of days 1 to 3, and its oldest unapplied event is
	// of day 3, noon; node b's is of day 5.
	a := attach(t, s, Local{Identity: "log-a"})
	b := attach(t, s, Local{Identity: "log-b"})
	for i, day := range []int{1, 2, 3} {
		idx := uint64(i + 1)
		err := a.Apply(ctx, []wal.Entry{{Index: idx, Data: pageView("/", d(day).Add(time.Hour))}}, d(3).Add(12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Apply(ctx, []wal.Entry{{Index: 1}}, d(5)); err != nil {
		t.Fatal(err)
	}
	// Each day with events has a partition, and so has the day after.
	if got, want := partitions(), []string{"events_20260101", "events_20260102", "events_20260103", "events_20260104"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}

	retain(d(2), 12*time.Hour, d(1)) // what retention asks for
	// Day 3 ends after a's watermark minus the margin: a may still apply
	// events into it.
	retain(d(30), 12*time.Hour, d(2))
	if got, want := partitions(), []string{"events_20260103", "events_20260104"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}

	// A late event into a dropped day: its partition is made again.
	if err := a.Apply(ctx, []wal.Entry{{Index: 4, Data: pageView("/late", d(2).Add(time.Hour))}}, d(3).Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE path = '/late'"); n != 1 {
		t.Fatalf("%d late events stored; want 1", n)
	}

	// Retired, a no longer holds retention back; b's watermark does.
	if err := a.Retire(ctx, 4); err != nil {
		t.Fatal(err)
	}
	retain(d(30), 12*time.Hour, d(2), d(3))
	if got, want := partitions(), []string{"events_20260104"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}
}
