package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/wal"
)

// watched is a real log that also reports every SetApplied on a channel,
// so a test can wait for the worker's progress without polling.
type watched struct {
	*wal.Log
	applied chan uint64
}

func (w watched) SetApplied(index uint64) {
	w.Log.SetApplied(index)
	w.applied <- index
}

func openLog(t *testing.T) *wal.Log {
	t.Helper()
	l, err := wal.Open(t.TempDir(), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Prepare(0); err != nil {
		t.Fatal(err)
	}
	return l
}

func appendEvents(t *testing.T, l *wal.Log, n int, at time.Time) {
	t.Helper()
	records := make([][]byte, n)
	for i := range records {
		e := pv("site-123", fmt.Sprintf("/p%d", i%7), fmt.Sprintf("u%d", i%5), at)
		records[i] = e.AppendBinary(nil)
	}
	if _, err := l.Append(context.Background(), records...); err != nil {
		t.Fatal(err)
	}
}

// waitApplied waits until the worker has told the log that index is
// applied; the test's own deadline bounds the wait.
func waitApplied(t *testing.T, src watched, index uint64) {
	t.Helper()
	for got := range src.applied {
		if got >= index {
			return
		}
	}
}

func TestWorkerAppliesTheLog(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	w := NewWorker(s, src, WorkerConfig{BatchSize: 100})

	appendEvents(t, l, 250, at) // three batches: 100, 100, 50
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitApplied(t, src, 250)
	if !w.Running() {
		t.Error("Running() = false while Run runs")
	}

	appendEvents(t, l, 30, at.Add(24*time.Hour)) // the worker wakes for them
	waitApplied(t, src, 280)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if w.Running() {
		t.Error("Running() = true after Run returned")
	}
	if applied, err := s.Applied(l.Identity()); err != nil || applied != 280 {
		t.Errorf("checkpoint = %d, %v; want 280", applied, err)
	}
	if got, want := rowsOf(t, s.db, "SELECT day, views, users, paths FROM daily ORDER BY day"),
		[]string{"2025-11-14|250|5|7", "2025-11-15|30|5|7"}; !slices.Equal(got, want) {
		t.Errorf("daily = %v, want %v", got, want)
	}
	if got := rowsOf(t, s.db, "SELECT COUNT(*) FROM events"); !slices.Equal(got, []string{"280"}) {
		t.Errorf("raw events = %v, want 280", got)
	}
}

// TestWorkerLingers checks that after a full batch the worker waits for
// half a batch before it reads again, so that events arriving in several
// appends are applied together; Linger is long enough that only the
// events can end the wait.
func TestWorkerLingers(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	w := NewWorker(s, src, WorkerConfig{BatchSize: 128, Linger: time.Hour})
	appendEvents(t, l, 128, at)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitApplied(t, src, 128)
	// Half a batch, in three appends: one batch of 64 once all are in.
	for _, n := range []int{30, 20, 14} {
		appendEvents(t, l, n, at)
		time.Sleep(10 * time.Millisecond) // time for a worker that does not wait to read
	}
	if got := <-src.applied; got != 192 {
		t.Errorf("second batch applied up to %d, want 192 (the 64 events together)", got)
	}
	cancel() // ends the wait that the last batch of 64 began
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// slowApply is a Store whose every Apply moves the worker's clock on by
// took.
type slowApply struct {
	*Store
	clock *atomic.Int64 // Unix nanoseconds
	took  time.Duration
}

func (s slowApply) Apply(ctx context.Context, identity string, entries []wal.Entry) error {
	s.clock.Add(int64(s.took))
	return s.Store.Apply(ctx, identity, entries)
}

// TestWorkerLingerCountsFromTheRead checks that the linger ends Linger
// after the batch before it was read, not after its apply: after a batch
// that took longer than Linger, the worker reads the events waiting at
// once, however few. On a clock that only batches move, a linger that
// counted from the end of the apply would wait for half a batch forever.
func TestWorkerLingerCountsFromTheRead(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	var clock atomic.Int64
	clock.Store(at.UnixNano())
	target := slowApply{openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{}), &clock, 2 * time.Hour}
	w := NewWorker(target, src, WorkerConfig{BatchSize: 128, Linger: time.Hour,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	appendEvents(t, l, 128, at)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitApplied(t, src, 128)
	appendEvents(t, l, 10, at) // far from half a batch
	select {
	case got := <-src.applied:
		if got != 138 {
			t.Errorf("second batch applied up to %d, want 138", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker still waits for half a batch after a batch that took longer than its linger")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWorkerResumesFromTheCheckpoint runs a worker over a log of which the
// database has already applied a part, as after a restart.
func TestWorkerResumesFromTheCheckpoint(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	appendEvents(t, l, 40, at)
	first, err := l.Read(context.Background(), 1, 25, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), l.Identity(), first); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- NewWorker(s, src, WorkerConfig{}).Run(ctx) }()
	waitApplied(t, src, 40)
	if got := rowsOf(t, s.db, "SELECT COUNT(*), MIN(log_index), MAX(log_index) FROM events"); !slices.Equal(got, []string{"40|1|40"}) {
		t.Errorf("raw events (count, first, last) = %v, want 40|1|40", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWorkerStopsWhenTheLogCloses(t *testing.T) {
	l := openLog(t)
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	w := NewWorker(s, l, WorkerConfig{})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	appendEvents(t, l, 1, time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after the log closed: %v", err)
	}
}

// A record the worker cannot decode is skipped, not retried forever.
func TestWorkerSkipsABadRecord(t *testing.T) {
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	good := (&event.Event{SiteID: "s", Type: "signup", Time: time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)}).AppendBinary(nil)
	if _, err := l.Append(context.Background(), []byte("garbage"), good); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewWorker(s, src, WorkerConfig{}).Run(ctx) }()
	waitApplied(t, src, 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, s.db, "SELECT site_id, event_type, events FROM site_types"); !slices.Equal(got, []string{"s|signup|1"}) {
		t.Errorf("site_types = %v", got)
	}
}

// lines is an io.Writer that hands each log line to a channel.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// TestWorkerRetriesALockedDatabase holds the database's write lock from
// another connection past the busy timeout: the worker must log the
// failure, retry the same batch, and apply it once the lock is gone.
func TestWorkerRetriesALockedDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out SQLite's busy timeout")
	}
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	path := filepath.Join(t.TempDir(), "sitelog.db")
	s := openStore(t, path, Options{})

	other, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	logged := make(lines, 100)
	w := NewWorker(s, src, WorkerConfig{Logger: slog.New(slog.NewTextHandler(logged, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	appendEvents(t, l, 10, at)
	for line := range logged {
		if strings.Contains(line, "could not apply a batch") {
			break
		}
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, src, 10)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, s.db, "SELECT views FROM sites"); !slices.Equal(got, []string{"10"}) {
		t.Errorf("views = %v, want 10", got)
	}
}

func TestWorkerStopsWhenTheStoreCloses(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	l := openLog(t)
	src := watched{Log: l, applied: make(chan uint64, 100)}
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	w := NewWorker(s, src, WorkerConfig{})
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	appendEvents(t, l, 1, at)
	waitApplied(t, src, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, 1, at)
	if err := <-done; err != nil {
		t.Fatalf("Run after the store closed: %v", err)
	}
}
