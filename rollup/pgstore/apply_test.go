package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"sitelog/internal/pgtest"
	"sitelog/wal"
)

func TestApply(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	events := func(t *testing.T, s *Store, n *Node) int64 {
		t.Helper()
		return count(t, s, "SELECT count(*) FROM events WHERE node_id = $1", n.ID())
	}

	t.Run("raw events and the checkpoint", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, views(1, 3))
		if got := events(t, s, n); got != 3 {
			t.Fatalf("%d events; want 3", got)
		}
		if _, applied := nodeRow(t, s, n.ID()); applied != 3 || n.Applied() != 3 {
			t.Fatalf("checkpoint %d, node says %d; want 3", applied, n.Applied())
		}
		var (
			site, path, browser string
			ts                  time.Time
			bot                 bool
			visitor             int64
		)
		err := s.pool.QueryRow(ctx, "SELECT site_id, path, browser, ts, bot, visitor FROM events WHERE node_id = $1 AND log_index = 2", n.ID()).
			Scan(&site, &path, &browser, &ts, &bot, &visitor)
		if err != nil {
			t.Fatal(err)
		}
		if site != "example.com" || path != "/p2" || browser != "Firefox" || !ts.Equal(t0) || bot || visitor != 42 {
			t.Fatalf("stored %q %q %q %v %v %d; want the event of entry 2", site, path, browser, ts, bot, visitor)
		}
	})

	t.Run("a replay of applied entries changes nothing", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, views(1, 3))
		apply(t, n, views(1, 3))
		if got := events(t, s, n); got != 3 {
			t.Fatalf("after a replay, %d events; want 3", got)
		}
		// After a crash, the new process replays from the log's start.
		again := attach(t, s, Local{Identity: "log-a", NodeID: n.ID(), First: 1, Last: 5})
		apply(t, again, views(1, 5))
		if got := events(t, s, n); got != 5 {
			t.Fatalf("after a replay that runs past the checkpoint, %d events; want 5", got)
		}
		if _, applied := nodeRow(t, s, n.ID()); applied != 5 {
			t.Fatalf("checkpoint %d; want 5", applied)
		}
	})

	t.Run("a batch that does not continue the checkpoint fails", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, views(1, 3))
		if err := n.Apply(ctx, views(5, 2), time.Time{}); !errors.Is(err, ErrNotNext) {
			t.Fatalf("a batch after a gap: err = %v; want ErrNotNext", err)
		}
		holey := append(views(4, 1), views(6, 1)...)
		if err := n.Apply(ctx, holey, time.Time{}); !errors.Is(err, ErrNotNext) {
			t.Fatalf("a batch with a hole: err = %v; want ErrNotNext", err)
		}
		if got := events(t, s, n); got != 3 {
			t.Fatalf("%d events; want 3", got)
		}
		if _, applied := nodeRow(t, s, n.ID()); applied != 3 {
			t.Fatalf("checkpoint %d; want 3", applied)
		}
	})

	t.Run("no-op entries advance the checkpoint", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, []wal.Entry{{Index: 1}, {Index: 2}, {Index: 3, Data: []byte("not an event")}})
		apply(t, n, views(4, 1))
		if _, applied := nodeRow(t, s, n.ID()); applied != 4 {
			t.Fatalf("checkpoint %d; want 4", applied)
		}
		if got := events(t, s, n); got != 1 {
			t.Fatalf("%d events; want 1", got)
		}
	})

	t.Run("a process of an older epoch is fenced", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		old := attach(t, s, Local{Identity: "log-a"})
		apply(t, old, views(1, 2))
		cur := attach(t, s, Local{Identity: "log-a", NodeID: old.ID(), First: 1, Last: 2})
		if err := old.Apply(ctx, views(3, 2), time.Time{}); !errors.Is(err, ErrFenced) {
			t.Fatalf("apply of the old epoch: err = %v; want ErrFenced", err)
		}
		apply(t, cur, views(3, 1))
		// The old process, believing itself at 2, cannot apply 3 again.
		if err := old.Apply(ctx, views(3, 1), time.Time{}); !errors.Is(err, ErrFenced) {
			t.Fatalf("apply of the old epoch: err = %v; want ErrFenced", err)
		}
		if got := events(t, s, old); got != 3 {
			t.Fatalf("%d events; want 3", got)
		}
		if epoch, applied := nodeRow(t, s, old.ID()); epoch != 2 || applied != 3 {
			t.Fatalf("epoch %d, checkpoint %d; want 2, 3", epoch, applied)
		}
	})
}

// TestNodesApplyConcurrently applies the logs of four nodes at once, as
// four processes on their own connections, and checks that each entry is
// stored once.
func TestNodesApplyConcurrently(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	const nodes, batches, size = 4, 20, 50
	s, ns := applyConcurrently(t, dsn, nodes, func(int) [][]wal.Entry {
		out := make([][]wal.Entry, batches)
		for b := range out {
			out[b] = views(uint64(b*size+1), size)
			// Half the batches on the next day: nodes create partitions
			// while others copy.
			if b%2 == 1 {
				for j := range out[b] {
					out[b][j].Data = pageView("/", t0.Add(24*time.Hour))
				}
			}
		}
		return out
	})
	for _, n := range ns {
		_, applied := nodeRow(t, s, n.ID())
		got := count(t, s, "SELECT count(*) FROM events WHERE node_id = $1", n.ID())
		distinct := count(t, s, "SELECT count(DISTINCT log_index) FROM events WHERE node_id = $1", n.ID())
		if applied != batches*size || got != applied || distinct != got {
			t.Errorf("node %d: checkpoint %d, %d events, %d distinct indexes; want %d of each", n.ID(), applied, got, distinct, batches*size)
		}
	}
}
