package rollup

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"sitelog/wal"
)

// Source is the log the worker tails. *wal.Log satisfies it.
type Source interface {
	// Identity names the log; its checkpoint is stored under it.
	Identity() string
	// Read waits for entry from and returns up to max consecutive entries
	// starting there, appended to dst[:0].
	Read(ctx context.Context, from uint64, max int, dst []wal.Entry) ([]wal.Entry, error)
	// SetApplied says that every entry up to index is committed.
	SetApplied(index uint64)
	// LastIndex is the index of the last entry appended.
	LastIndex() uint64
}

// Defaults for WorkerConfig.
const (
	// DefaultBatchSize is the most log entries applied in one transaction.
	// Batches are this large only when the worker is behind (and half as
	// large when it lingers, see Worker.linger), and then the larger the
	// batch, the more of its events share each stats row, each visit they
	// continue, each page of the visitor sets and the commit's fsync.
	// Draining a backlog of a million of the load tool's events before
	// its browsers and referrers (`sitelog load --batch 100 --events
	// 1000000 --days 0 --browsers=false --referrer-share 0`), batches of
	// 16384 applied 27 000–30 000 events/s, 32768 32 000–34 000, 65536
	// 38 000–48 000, and 131072 50 000–52 000 with a fifth more memory. A
	// transaction of this size takes about two seconds; readers never wait
	// for it (WAL), and one in progress at shutdown commits within the
	// shutdown timeout.
	DefaultBatchSize = 65536
	// DefaultRetryWait is the first wait before a failed batch is tried
	// again; the wait doubles up to DefaultMaxRetryWait.
	DefaultRetryWait    = 100 * time.Millisecond
	DefaultMaxRetryWait = 5 * time.Second
	// DefaultLinger bounds how long the worker waits for a fuller batch
	// while events arrive fast (see Worker.linger).
	DefaultLinger = 500 * time.Millisecond
)

// WorkerConfig configures a Worker. The zero value is usable.
type WorkerConfig struct {
	BatchSize    int           // 0 means DefaultBatchSize
	RetryWait    time.Duration // 0 means DefaultRetryWait
	MaxRetryWait time.Duration // 0 means DefaultMaxRetryWait
	Logger       *slog.Logger  // nil means slog.Default()
	// RetainRaw is how long raw events are kept; older ones are deleted,
	// their rollups kept. 0 keeps every raw event.
	RetainRaw time.Duration
	// PruneEvery is the least time between the starts of two retention
	// passes over the raw events; 0 means DefaultPruneEvery.
	PruneEvery time.Duration
	// Now is the clock of retention and of the linger; nil means time.Now.
	Now func() time.Time
	// Linger is the longest the worker waits for a fuller batch while
	// events arrive fast; 0 means DefaultLinger.
	Linger time.Duration
}

// DefaultPruneEvery is how often a retention pass starts at most. Raw
// events are kept for days, so an hour's delay in deleting one is nothing,
// and a pass reads every raw event once.
const DefaultPruneEvery = time.Hour

// Target is the database a Worker applies the log into: the SQLite Store,
// or this process's node of the PostgreSQL store.
type Target interface {
	// Applied returns the checkpoint of the log with the given identity:
	// the index of the last entry applied, 0 for a log never seen.
	Applied(identity string) (uint64, error)
	// Apply applies consecutive entries of the log in one transaction with
	// the new checkpoint. ErrFenced means it never will again.
	Apply(ctx context.Context, identity string, entries []wal.Entry) error
}

// ErrFenced is returned by a Target's Apply when another process has taken
// over the log's checkpoint (another copy of the same PostgreSQL node was
// started): this process must stop applying, and stop taking events that
// it could never apply. Run returns it.
var ErrFenced = errors.New("rollup: fenced: another process now applies this log")

// Worker applies the log to the database, batch after batch, from the
// database's checkpoint on.
type Worker struct {
	target  Target
	store   *Store // the target when it is the SQLite store, nil otherwise
	src     Source
	cfg     WorkerConfig
	logger  *slog.Logger
	running atomic.Bool
	ret     retention
	fenced  error // why Run stopped, when a Target fenced it off
}

// NewWorker returns a worker that applies src to target. Raw-event
// retention and rebuild requests are the SQLite store's: with another
// target, WorkerConfig.RetainRaw is not the worker's business.
func NewWorker(target Target, src Source, cfg WorkerConfig) *Worker {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = DefaultRetryWait
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = DefaultPruneEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	store, _ := target.(*Store)
	return &Worker{target: target, store: store, src: src, cfg: cfg, logger: cfg.Logger,
		ret: retention{keep: cfg.RetainRaw, every: cfg.PruneEvery, now: cfg.Now}}
}

// Running reports whether Run is running, for readiness.
func (w *Worker) Running() bool { return w.running.Load() }

// Run applies the log until ctx is done or the log or the store is
// closed, and then returns nil; or until the target fences it off, and
// then returns an error that wraps ErrFenced. A transaction in progress when ctx ends is
// finished, not abandoned. A batch that fails to apply (the database
// locked past its busy timeout, a full disk) is logged and tried again
// after a pause, never skipped: what follows it waits.
func (w *Worker) Run(ctx context.Context) error {
	w.running.Store(true)
	defer w.running.Store(false)
	id := w.src.Identity()

	var applied uint64
	if !w.retry(ctx, "read the checkpoint", func() (err error) {
		applied, err = w.target.Applied(id)
		return err
	}) {
		return w.fenced
	}
	w.src.SetApplied(applied)

	// The transaction must not see ctx's cancellation: it commits what it
	// began, and the log is told only after the commit.
	applyCtx := context.WithoutCancel(ctx)
	buf := make([]wal.Entry, 0, w.cfg.BatchSize)
	var lastPoll time.Time
	last := 0          // events in the last batch applied
	var read time.Time // when it was read
	for {
		// Between batches, one step of raw-event retention, if due. While
		// a pass is under way the read below does not wait long for new
		// events, so an idle server still finishes its pass.
		var pruning bool
		if w.store != nil {
			var err error
			pruning, err = w.ret.step(applyCtx, w.store)
			if err != nil && !errors.Is(err, ErrClosed) {
				w.logger.Error("rollup: worker could not delete old raw events; trying again later", "err", err)
			}
			if now := time.Now(); now.Sub(lastPoll) >= rebuildPoll {
				lastPoll = now
				w.rebuild(applyCtx)
			}
		}
		w.linger(ctx, applied, last, read)
		var batch []wal.Entry
		if !w.retry(ctx, "read the log", func() error {
			// The read waits for events at most until the next look for
			// rebuild requests, or less while a retention pass is under way.
			wait := rebuildPoll
			if pruning {
				// Long enough to take events that are there, short
				// enough to go on with the pass when there are none.
				wait = 10 * time.Millisecond
			}
			readCtx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			var err error
			batch, err = w.src.Read(readCtx, applied+1, w.cfg.BatchSize, buf)
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil // time for retention, not a failure
			}
			return err
		}) {
			return w.fenced
		}
		if len(batch) == 0 {
			continue
		}
		read = w.cfg.Now()
		if !w.retry(ctx, "apply a batch", func() error {
			return w.target.Apply(applyCtx, id, batch)
		}) {
			return w.fenced
		}
		applied = batch[len(batch)-1].Index
		w.src.SetApplied(applied)
		last = len(batch)
		buf = batch[:0]
	}
}

// lingerPoll is how often linger looks at the log's end.
const lingerPoll = 5 * time.Millisecond

// linger waits, after a batch of at least 1/64 of BatchSize events (1,024
// by default: events arrive fast), until half a batch waits in the log or
// Linger has passed since that batch was read. Most of a batch's
// statements are per distinct row, not per event (stats upserts,
// sketches, the pages its commit writes), so a fuller batch costs less
// CPU an event, and under a flood of single events that CPU goes to
// ingest instead: 22.4k-24.4k single events a second against 20.1k-22.1k
// (64 connections, current timestamps, alternating runs). A trickle of
// events never waits.
//
// The events waiting all arrived after that read, so none waits longer
// than Linger, or the batch's own apply if that took longer, before the
// next read. Counted from the end of the apply instead, at 13,000 events
// a second the oldest unapplied event was 1.9 s old on average and 2.8 s
// at most; counted from the read, 0.75 s and 1.1 s.
func (w *Worker) linger(ctx context.Context, applied uint64, last int, read time.Time) {
	if last < max(w.cfg.BatchSize/64, 1) {
		return
	}
	want := uint64(max(w.cfg.BatchSize/2, 1))
	deadline := read.Add(w.cfg.Linger)
	poll := time.NewTicker(lingerPoll)
	defer poll.Stop()
	for w.src.LastIndex()-applied < want && w.cfg.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// retry calls f until it succeeds, waiting longer after each failure. It
// returns false, without calling f again, once ctx is done, the log or
// the store is closed, or the target has fenced the worker off (w.fenced
// says so): the worker is stopping.
func (w *Worker) retry(ctx context.Context, what string, f func() error) bool {
	wait := w.cfg.RetryWait
	for {
		err := f()
		switch {
		case err == nil:
			return true
		case errors.Is(err, ErrFenced):
			w.logger.Error("rollup: worker stops: another process applies this log now", "err", err)
			w.fenced = err
			return false
		case errors.Is(err, wal.ErrClosed) || errors.Is(err, ErrClosed) || ctx.Err() != nil:
			return false
		}
		w.logger.Error("rollup: worker could not "+what+"; trying again", "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, w.cfg.MaxRetryWait)
	}
}
