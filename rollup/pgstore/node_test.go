package pgstore

import (
	"context"
	"errors"
	"testing"

	"sitelog/internal/pgtest"
	"sitelog/wal"
)

func TestAttach(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()

	t.Run("first attach allocates an id, a new start keeps it and bumps the epoch", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		a := attach(t, s, Local{Identity: "log-a"})
		b := attach(t, s, Local{Identity: "log-b"})
		if a.ID() == 0 || b.ID() == 0 || a.ID() == b.ID() {
			t.Fatalf("ids %d and %d; want two distinct ids", a.ID(), b.ID())
		}
		if a.Epoch() != 1 || a.Applied() != 0 {
			t.Fatalf("new node: epoch %d, applied %d; want 1, 0", a.Epoch(), a.Applied())
		}
		apply(t, a, views(1, 3))
		again := attach(t, s, Local{Identity: "log-a", NodeID: a.ID(), First: 1, Last: 3})
		if again.ID() != a.ID() || again.Epoch() != 2 || again.Applied() != 3 {
			t.Fatalf("restart: id %d epoch %d applied %d; want %d, 2, 3", again.ID(), again.Epoch(), again.Applied(), a.ID())
		}
	})

	t.Run("a first start that crashed before saving its id gets the same id", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		a := attach(t, s, Local{Identity: "log-a"})
		again := attach(t, s, Local{Identity: "log-a"})
		if again.ID() != a.ID() || again.Epoch() != 2 {
			t.Fatalf("id %d epoch %d; want %d, 2", again.ID(), again.Epoch(), a.ID())
		}
	})

	t.Run("refusals come before the epoch is bumped", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		a := attach(t, s, Local{Identity: "log-a"})
		b := attach(t, s, Local{Identity: "log-b"})
		apply(t, a, views(1, 10))
		f := func(name string, l Local, want error) {
			t.Helper()
			_, err := s.Attach(ctx, l)
			if !errors.Is(err, want) {
				t.Errorf("%s: err = %v; want %v", name, err, want)
			}
			for _, n := range []*Node{a, b} {
				if epoch, _ := nodeRow(t, s, n.ID()); epoch != 1 {
					t.Errorf("%s: node %d at epoch %d; want 1, unchanged", name, n.ID(), epoch)
				}
			}
		}
		f("identity bound to another node", Local{Identity: "log-a", NodeID: b.ID(), First: 1, Last: 10}, ErrIdentity)
		f("another log for the node", Local{Identity: "log-c", NodeID: a.ID(), First: 1, Last: 10}, ErrIdentity)
		f("checkpoint ahead beyond the padding bound", Local{Identity: "log-a", NodeID: a.ID(), First: 1, Last: 6, MaxPadding: 3}, wal.ErrBehind)
		f("checkpoint ahead of an empty log", Local{Identity: "log-a", NodeID: a.ID(), MaxPadding: 9}, wal.ErrBehind)
		f("a gap after the checkpoint", Local{Identity: "log-a", NodeID: a.ID(), First: 12, Last: 20, MaxPadding: 100}, wal.ErrGap)
		f("a new node whose log starts late", Local{Identity: "log-c", First: 2, Last: 5}, wal.ErrGap)
		if n := count(t, s, "SELECT count(*) FROM nodes"); n != 2 {
			t.Errorf("%d nodes after refusals; want 2", n)
		}

		// At the bounds, the start goes ahead.
		again := attach(t, s, Local{Identity: "log-a", NodeID: a.ID(), First: 1, Last: 7, MaxPadding: 3})
		if again.Epoch() != 2 || again.Applied() != 10 {
			t.Fatalf("within the padding bound: epoch %d applied %d; want 2, 10", again.Epoch(), again.Applied())
		}
		attach(t, s, Local{Identity: "log-a", NodeID: a.ID(), First: 11, Last: 11})
	})

	t.Run("retire", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		a := attach(t, s, Local{Identity: "log-a"})
		apply(t, a, views(1, 5))
		if err := a.Retire(ctx, 6); !errors.Is(err, ErrNotDrained) {
			t.Fatalf("retire short of the log's end: err = %v; want ErrNotDrained", err)
		}
		if err := a.Retire(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if err := a.Apply(ctx, views(6, 1), t0); !errors.Is(err, ErrFenced) {
			t.Fatalf("apply after retiring: err = %v; want ErrFenced", err)
		}
		if _, err := s.Attach(ctx, Local{Identity: "log-a", NodeID: a.ID(), First: 1, Last: 5}); !errors.Is(err, ErrRetired) {
			t.Fatalf("attach a retired node: err = %v; want ErrRetired", err)
		}
		if _, err := s.Attach(ctx, Local{Identity: "log-a", First: 1, Last: 5}); !errors.Is(err, ErrRetired) {
			t.Fatalf("attach a retired node's log without its id: err = %v; want ErrRetired", err)
		}
		b := attach(t, s, Local{Identity: "log-b"})
		if b.ID() <= a.ID() {
			t.Fatalf("new node after retiring %d got id %d; want a new one", a.ID(), b.ID())
		}
	})
}
