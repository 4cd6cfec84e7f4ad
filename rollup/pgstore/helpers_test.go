package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/internal/pgtest"
	"sitelog/wal"
)

// open opens a store on a new database of srv, closed when t ends.
func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// newStore starts a server and opens a store on a new database of it.
func newStore(t *testing.T) (*pgtest.Server, *Store) {
	t.Helper()
	srv := pgtest.Start(t)
	return srv, open(t, srv.NewDatabase(t))
}

// attach attaches a node, failing t on an error.
func attach(t *testing.T, s *Store, l Local) *Node {
	t.Helper()
	n, err := s.Attach(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// t0 is the time of the test events: a fixed day, so partitions are known.
var t0 = time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)

// pageView is the log record of a page view of path at ts.
func pageView(path string, ts time.Time) []byte {
	e := event.Event{SiteID: "example.com", Type: event.PageView, Path: path, UserID: "u1", Time: ts, Visitor: 42, Browser: "Firefox"}
	return e.AppendBinary(nil)
}

// views returns entries first..first+n-1, page views of /p<index> at t0.
func views(first uint64, n int) []wal.Entry {
	es := make([]wal.Entry, n)
	for i := range es {
		idx := first + uint64(i)
		es[i] = wal.Entry{Index: idx, Data: pageView(fmt.Sprintf("/p%d", idx), t0)}
	}
	return es
}

// count runs a query returning one number.
func count(t *testing.T, s *Store, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// nodeRow returns the epoch and checkpoint of node id in the database.
func nodeRow(t *testing.T, s *Store, id int64) (epoch, applied int64) {
	t.Helper()
	err := s.pool.QueryRow(context.Background(), "SELECT epoch, applied_index FROM nodes WHERE id = $1", id).Scan(&epoch, &applied)
	if err != nil {
		t.Fatal(err)
	}
	return epoch, applied
}

// apply applies entries on n, failing t on an error.
func apply(t *testing.T, n *Node, entries []wal.Entry) {
	t.Helper()
	if err := n.Apply(context.Background(), entries, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// applyConcurrently attaches nodes on dsn, each through a Store of its own
// as a process of its own would, and has them apply their batches at once
// (batches(i) are node i's, in order), failing t on an error. It returns
// a Store to read the outcome through, and the nodes.
func applyConcurrently(t *testing.T, dsn string, nodes int, batches func(node int) [][]wal.Entry) (*Store, []*Node) {
	t.Helper()
	ns := make([]*Node, nodes)
	for i := range ns {
		ns[i] = attach(t, open(t, dsn), Local{Identity: fmt.Sprintf("log-%d", i), MaxPadding: wal.MaxPadding})
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, n := range ns {
		wg.Go(func() {
			for _, es := range batches(i) {
				if errs[i] = n.Apply(context.Background(), es, time.Time{}); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return open(t, dsn), ns
}

// inBatches cuts log into batches of at most size entries.
func inBatches(log []wal.Entry, size int) [][]wal.Entry {
	var out [][]wal.Entry
	for len(log) > 0 {
		k := min(len(log), size)
		out, log = append(out, log[:k]), log[k:]
	}
	return out
}
