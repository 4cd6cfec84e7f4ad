// Package wal is sitelog's durable event log: a segmented write-ahead log
// over github.com/tidwall/wal with what that library lacks for our
// guarantees. Every record carries a CRC32C; a torn or zero-filled tail is
// cut back at open; appends are group committed (one write and one fsync
// for every event that arrived meanwhile); the directory is fsynced when a
// segment is created; a failed write or fsync poisons the handle; whole
// applied segments are truncated. One goroutine owns the tidwall log and
// does every write, read and truncation, because its reads are not safe
// for concurrent use.
package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	twal "github.com/tidwall/wal"
	"sitelog/internal/durable"
)

// Errors returned by the log.
var (
	ErrClosed   = errors.New("wal: log closed")
	ErrPoisoned = errors.New("wal: log failed a write or fsync and takes no more entries until restart")
	ErrBacklog  = errors.New("wal: backlog of unapplied entries over its bound")
	ErrLocked   = errors.New("wal: directory locked")
	ErrBehind   = errors.New("wal: log is behind the database checkpoint")
	ErrGap      = errors.New("wal: log starts after the database checkpoint")
	ErrDiskFull = errors.New("wal: free disk space below the reserve")
)

// FsyncMode says when appended entries are fsynced.
type FsyncMode int

const (
	// FsyncAlways fsyncs every group commit before acknowledging it: an
	// acknowledged entry survives power loss.
	FsyncAlways FsyncMode = iota
	// FsyncInterval acknowledges after the write and fsyncs every
	// SyncInterval: an acknowledged entry survives a crash of the process.
	FsyncInterval
)

// ParseFsyncMode parses "always" or "interval".
func ParseFsyncMode(s string) (FsyncMode, error) {
	switch s {
	case "always":
		return FsyncAlways, nil
	case "interval":
		return FsyncInterval, nil
	}
	return 0, fmt.Errorf("fsync mode %q: must be always or interval", s)
}

func (m FsyncMode) String() string {
	if m == FsyncInterval {
		return "interval"
	}
	return "always"
}

// Defaults for Options.
const (
	// DefaultSegmentSize is 4 MiB: tidwall/wal holds the tail segment and
	// the two last read in memory, and the worker's batch keeps slices of
	// them alive. 20 MiB segments took 100 MB more resident memory in a
	// 60 s single-event run, and no more events a second in batches.
	DefaultSegmentSize = 4 << 20
	// SyncInterval is how often FsyncInterval fsyncs, and how often the
	// owner does its housekeeping (truncation, lag gauges) in either mode.
	SyncInterval = 100 * time.Millisecond
	// MaxPadding bounds how far the log's end may lie behind the database
	// checkpoint and still be padded at Prepare (an unsynced tail lost
	// after the worker applied it). Farther behind means an old copy was
	// restored, and Prepare refuses.
	MaxPadding = 1 << 20
	// maxGroup bounds the entries of one group commit; a single Append is
	// never split.
	maxGroup = 16384
	// With FsyncAlways, a group with fewer appends than the previous one
	// (counting at most groupWaitMax) waits up to groupWait for as many
	// before its write and fsync (see await). On two cores shared by
	// handlers, the load tool and the worker, the fsync's own CPU cost was
	// what limited single events: groups of about 5 appends took
	// 9.0k-10.1k requests/s (64 connections), and with this wait, groups
	// of 7-9 took 11.1k-12.8k. Waiting the whole groupWait instead took
	// 12.2k-13.8k, but 40 µs an append instead of 11 for appenders in a
	// tight loop (BenchmarkAppend), whose next group was only late.
	groupWait    = 300 * time.Microsecond
	groupWaitMax = 16
)

// Options configure a log.
type Options struct {
	Fsync       FsyncMode
	SegmentSize int    // bytes per segment file; 0 means DefaultSegmentSize
	MaxBacklog  uint64 // appended but unapplied entries allowed; 0 means no bound
	// MaxBacklogBytes bounds the bytes of the entries appended since this
	// open and not yet applied; 0 means no bound. It is followed at the
	// grain of a group commit, and applied bytes are seen within a
	// SyncInterval.
	MaxBacklogBytes uint64
	// MinFreeBytes is the free space kept on the log's file system:
	// below it Append answers ErrDiskFull, and takes entries again once
	// space returns. Refusing before the disk is full keeps the handle
	// from a failed write, which would poison it until restart. 0 means
	// no reserve.
	MinFreeBytes uint64
	Logger       *slog.Logger // nil means slog.Default()
	Metrics      *Metrics     // nil means none
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CrashAt names a crash point, for crash tests only (see crash.go).
	CrashAt string
}

// Entry is one log entry. Data is nil for a no-op entry (padding, or a
// damaged record that is skipped): a reader still counts its index as
// applied.
type Entry struct {
	Index uint64
	Data  []byte
}

type appendReq struct {
	records [][]byte
	done    chan appendResult
}

type appendResult struct {
	first uint64
	err   error
}

// Log is an open log. Its methods are safe for concurrent use.
type Log struct {
	dir      string
	opts     Options
	logger   *slog.Logger
	m        *Metrics
	identity string
	lock     *os.File

	appends chan appendReq
	calls   chan func()
	quit    chan struct{} // closed by Close: the owner drains and stops
	stopped chan struct{} // closed by the owner when it has stopped
	closing atomic.Bool
	once    sync.Once

	donePool sync.Pool // of chan appendResult

	last     atomic.Uint64 // last entry written
	durable  atomic.Uint64 // last entry fsynced (or written, with FsyncInterval before its sync)
	applied  atomic.Uint64 // last entry committed to the database
	poisoned atomic.Bool
	diskFull atomic.Bool // free space below MinFreeBytes at the last look
	// Bytes of payload appended since open, and of those applied, as of
	// the last group found applied by housekeep.
	written      atomic.Uint64
	appliedBytes atomic.Uint64

	advMu    sync.Mutex
	advanced chan struct{} // closed and replaced whenever durable moves

	// Owned by the owner goroutine.
	tl        *twal.Log
	batch     twal.Batch
	buf       []byte
	segStarts []uint64
	tailBytes int
	dirty     bool // written but not fsynced (FsyncInterval)
	groups    []groupMark
	closeErr  error
	unchecked int // bytes written since free space was last looked at
	crash     *crash
	// fault, when set by a test, is called before each write ("write")
	// and fsync ("fsync") of the log and fails it with what it returns.
	fault func(op string) error
}

// groupMark remembers when the entries up to last were appended, for the
// age of the oldest unapplied entry, and how many bytes had been written
// by then, for the bytes of the backlog.
type groupMark struct {
	last  uint64
	at    time.Time
	bytes uint64
}

// Open locks dir, repairs a damaged tail, reads or creates the log's
// identity, opens the segments and starts the goroutine that owns them.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	l, err := open(dir, opts, lock)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("wal: open %s: %w", dir, err)
	}
	go l.run()
	return l, nil
}

func open(dir string, opts Options, lock *os.File) (*Log, error) {
	l := &Log{
		dir:      dir,
		opts:     opts,
		logger:   opts.Logger,
		m:        opts.Metrics,
		lock:     lock,
		appends:  make(chan appendReq, 4096),
		calls:    make(chan func()),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
		advanced: make(chan struct{}),
	}
	starts, err := segments(dir)
	if err != nil {
		return nil, err
	}
	if l.crash, err = parseCrash(opts.CrashAt); err != nil {
		return nil, err
	}
	if l.identity, err = identity(dir, len(starts) > 0); err != nil {
		return nil, err
	}
	topts := twal.Options{
		// We fsync ourselves, once per group commit (or per interval), so
		// that one fsync covers every waiting append.
		NoSync:           true,
		SegmentSize:      opts.SegmentSize,
		LogFormat:        twal.Binary,
		SegmentCacheSize: 2,
		// Reads hand out slices of the segment buffers; entries are never
		// modified after they are written, and readers copy what they keep.
		NoCopy:     true,
		AllowEmpty: true,
		DirPerms:   0o755,
		FilePerms:  0o644,
	}
	// A crash in the middle of a truncation leaves a .START or .END file
	// that tidwall/wal's Open resolves; let it, before we look at the tail.
	if pending, err := hasPendingTruncation(dir); err != nil {
		return nil, err
	} else if pending {
		if tl, err := twal.Open(dir, &topts); err == nil {
			if err := tl.Close(); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, twal.ErrCorrupt) {
			return nil, err
		}
	}
	rep, err := repairTail(dir, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("repair tail: %w", err)
	}
	if rep != nil {
		l.m.repairs.Inc()
		l.logger.Warn("wal: cut a damaged tail back to its last whole record",
			"segment", rep.Segment, "offset", rep.Offset, "cut_bytes", rep.Cut, "saved_to", rep.Saved)
	}
	if l.tl, err = twal.Open(dir, &topts); err != nil {
		return nil, err
	}
	last, err := l.tl.LastIndex()
	if err != nil {
		l.tl.Close()
		return nil, err
	}
	if l.segStarts, err = segments(dir); err != nil {
		l.tl.Close()
		return nil, err
	}
	if fi, err := os.Stat(segmentPath(dir, l.segStarts[len(l.segStarts)-1])); err != nil {
		l.tl.Close()
		return nil, err
	} else {
		l.tailBytes = int(fi.Size())
	}
	// A new log's first segment file was just created: make it durable.
	if err := durable.SyncDir(dir); err != nil {
		l.tl.Close()
		return nil, err
	}
	l.last.Store(last)
	l.durable.Store(last)
	l.m.lastIndex.Set(float64(last))
	l.checkFree()
	return l, nil
}

// Identity is the random identity the log was created with. The database
// keys its checkpoint and raw events by it.
func (l *Log) Identity() string { return l.identity }

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// Applied is the index of the last entry committed to the database, as
// told by SetApplied.
func (l *Log) Applied() uint64 { return l.applied.Load() }

// LastIndex is the index of the last entry written.
func (l *Log) LastIndex() uint64 { return l.last.Load() }

// Ready reports whether the log takes appends: false once it is poisoned
// or closed.
func (l *Log) Ready() bool { return !l.poisoned.Load() && !l.closing.Load() }

// Append appends records contiguously, all or none, and returns the index
// of the first. It returns only once the write, and with FsyncAlways its
// fsync, has completed: the caller may acknowledge then and not before.
func (l *Log) Append(ctx context.Context, records ...[]byte) (uint64, error) {
	if len(records) == 0 {
		return 0, errors.New("wal: append of no records")
	}
	if max := l.opts.MaxBacklog; max > 0 && l.last.Load()-l.applied.Load()+uint64(len(records)) > max {
		return 0, ErrBacklog
	}
	if max := l.opts.MaxBacklogBytes; max > 0 {
		n := uint64(0)
		for _, r := range records {
			n += uint64(len(r))
		}
		if l.written.Load()-l.appliedBytes.Load()+n > max {
			return 0, ErrBacklog
		}
	}
	if l.diskFull.Load() {
		return 0, ErrDiskFull
	}
	return l.append(ctx, records)
}

func (l *Log) append(ctx context.Context, records [][]byte) (uint64, error) {
	if l.closing.Load() {
		return 0, ErrClosed
	}
	if l.poisoned.Load() {
		return 0, ErrPoisoned
	}
	// The answer channel is reused once its answer has been received; one
	// that might still be answered is left to the garbage collector.
	done, _ := l.donePool.Get().(chan appendResult)
	if done == nil {
		done = make(chan appendResult, 1)
	}
	req := appendReq{records: records, done: done}
	select {
	case l.appends <- req:
	case <-l.stopped:
		l.donePool.Put(done)
		return 0, ErrClosed
	case <-ctx.Done():
		l.donePool.Put(done)
		return 0, ctx.Err()
	}
	select {
	case res := <-req.done:
		l.donePool.Put(done)
		return res.first, res.err
	case <-l.stopped:
		// The owner may have answered just before stopping.
		select {
		case res := <-req.done:
			return res.first, res.err
		default:
			return 0, ErrClosed
		}
	}
}

// Read waits until entry from is durable, then returns up to max
// consecutive entries starting there, appended to dst[:0]. The Data of an
// entry stays valid until the log is closed and must not be modified.
func (l *Log) Read(ctx context.Context, from uint64, max int, dst []Entry) ([]Entry, error) {
	if from == 0 {
		from = 1
	}
	if max < 1 {
		max = 1
	}
	for {
		l.advMu.Lock()
		ch := l.advanced
		l.advMu.Unlock()
		if from <= l.durable.Load() {
			break
		}
		select {
		case <-ch:
		case <-l.stopped:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var entries []Entry
	var err error
	if cerr := l.do(ctx, func() { entries, err = l.read(from, max, dst[:0]) }); cerr != nil {
		return nil, cerr
	}
	return entries, err
}

// SetApplied records that every entry up to index is committed in the
// database. Whole segments behind it become eligible for truncation.
func (l *Log) SetApplied(index uint64) {
	l.crashpoint(CrashAfterDBCommit)
	l.applied.Store(index)
	l.m.appliedIndex.Set(float64(index))
}

// Prepare reconciles the log with the database's checkpoint for this log's
// identity, once, before any append. If the log ends behind the checkpoint
// (its unsynced tail was lost after the worker applied it), it is padded
// with no-op entries so that no new entry reuses an applied index; if it
// ends farther behind than MaxPadding, or starts after the checkpoint,
// Prepare refuses.
func (l *Log) Prepare(applied uint64) error {
	first, err := l.FirstIndex()
	if err != nil {
		return err
	}
	last := l.last.Load()
	switch {
	case first > applied+1:
		return fmt.Errorf("%w: its first entry is %d but the database has applied only up to %d; entries in between are gone (was the database restored from an older copy?)", ErrGap, first, applied)
	case applied > last && applied-last > MaxPadding:
		return fmt.Errorf("%w: the database has applied up to entry %d but the log %s ends at %d; it looks like an old copy of the log: restore the newest copy, or move %s away to start a new log", ErrBehind, applied, l.dir, last, l.dir)
	case applied > last:
		l.logger.Warn("wal: log ends behind the database checkpoint; padding with no-op entries", "last", last, "applied", applied)
		noop := make([][]byte, 0, min(applied-last, maxGroup))
		for n := applied - last; n > 0; n -= uint64(len(noop)) {
			noop = noop[:min(n, maxGroup)]
			if _, err := l.append(context.Background(), noop); err != nil {
				return fmt.Errorf("wal: pad: %w", err)
			}
		}
	}
	l.SetApplied(applied)
	return nil
}

// FirstIndex is the index of the log's first entry: 1 for a new log, more
// once applied segments are truncated.
func (l *Log) FirstIndex() (uint64, error) {
	var first uint64
	var err error
	if cerr := l.do(context.Background(), func() { first, err = l.tl.FirstIndex() }); cerr != nil {
		return 0, cerr
	}
	return first, err
}

// do runs fn on the owner goroutine, the only one that may touch l.tl.
func (l *Log) do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case l.calls <- func() { fn(); close(done) }:
	case <-l.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// Close stops taking appends, answers every append already queued, fsyncs
// and closes the segments, and releases the directory lock.
func (l *Log) Close() error {
	l.once.Do(func() {
		l.closing.Store(true)
		close(l.quit)
		<-l.stopped
		if err := l.tl.Close(); err != nil && !errors.Is(err, twal.ErrClosed) && l.closeErr == nil {
			l.closeErr = err
		}
		l.lock.Close()
	})
	return l.closeErr
}
