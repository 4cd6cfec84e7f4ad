package pgstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
		got, _, err := s.Retain(ctx, before, margin)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("Retain(%v, %v) dropped %v; want %v", before, margin, got, want)
		}
	}
	// visits are the days of the visits stored, in the order of their ids.
	visits := func(want ...time.Time) {
		t.Helper()
		rows, err := s.pool.Query(ctx, `SELECT start_ts FROM sessions ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
			var us int64
			err := r.Scan(&us)
			return time.UnixMicro(us).UTC().Truncate(24 * time.Hour), err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("visits of days %v; want %v", got, want)
		}
	}

	// Node a has events of days 1 to 3, and its oldest unapplied event is
	// of day 3, noon; node b has two visits on day 4, and its oldest
	// unapplied event is of day 5.
	a := attach(t, s, Local{Identity: "log-a"})
	b := attach(t, s, Local{Identity: "log-b"})
	for i, day := range []int{1, 2, 3} {
		idx := uint64(i + 1)
		err := a.Apply(ctx, []wal.Entry{{Index: idx, Data: pageView("/", d(day).Add(time.Hour))}}, d(3).Add(12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
	}
	bViews := []wal.Entry{{Index: 1, Data: pageView("/b", d(4).Add(time.Hour))}, {Index: 2, Data: pageView("/b", d(4).Add(13*time.Hour))}}
	if err := b.Apply(ctx, bViews, d(5)); err != nil {
		t.Fatal(err)
	}
	// Each day with events has a partition, and so has the day after.
	if got, want := partitions(), []string{"events_20260101", "events_20260102", "events_20260103", "events_20260104", "events_20260105"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}

	visits(d(1), d(2), d(3), d(4), d(4))
	retain(d(2), 12*time.Hour, d(1)) // what retention asks for
	visits(d(2), d(3), d(4), d(4))   // day 1's visit went with its day
	// Day 3 ends after a's watermark minus the margin: a may still apply
	// events into it.
	retain(d(30), 12*time.Hour, d(2))
	if got, want := partitions(), []string{"events_20260103", "events_20260104", "events_20260105"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}
	visits(d(3), d(4), d(4))

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
	if got, want := partitions(), []string{"events_20260104", "events_20260105"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v; want %v", got, want)
	}
	// The late event's visit has a's highest id: it stays, so that a's
	// next id is not one given before. The cutoff, b's watermark minus the
	// margin, is day 4, noon, but day 4 keeps its raw events, so its
	// morning visit stays with them.
	visits(d(2), d(4), d(4))
}
