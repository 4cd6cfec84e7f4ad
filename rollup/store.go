// Package rollup is the write side of sitelog's database and the worker
// that feeds it. The worker tails the log from the database's checkpoint
// and applies each batch in one transaction: the raw events, the deltas of
// every rollup table and the new checkpoint commit together or not at all,
// so after a crash it resumes exactly where the last commit ended and no
// event is counted twice or skipped. Reports read only the rollups, a
// bounded number of rows whatever the number of events behind them.
//
// The Store is the SQLite database's only writer. Report processes open
// their own read-only pool with OpenReadOnly. The analytics model is the
// same for the PostgreSQL store, whose nodes run it through NodeModel.
package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	// DefaultPathsPerDay bounds the distinct paths stored per site and day;
	// page views of further new paths count under OtherPath. It bounds the
	// rows a day can add however many distinct URLs clients send.
	DefaultPathsPerDay = 10000
	// DefaultCheckpointInterval is how often the writer checkpoints and
	// truncates the SQLite WAL.
	DefaultCheckpointInterval = 30 * time.Second
	// DefaultCheckpointBytes is the SQLite WAL size that triggers a
	// checkpoint before the interval is up.
	DefaultCheckpointBytes = 64 << 20
)

// OtherPath is the path under which page views of a site and day count
// once the day has PathsPerDay distinct paths. It does not start with "/",
// so it cannot be a real page's path.
const OtherPath = "(other)"

// Options configure a Store. The zero value is usable.
type Options struct {
	// PathsPerDay is the most distinct paths stored per site and day;
	// 0 means DefaultPathsPerDay.
	PathsPerDay int
	// CheckpointInterval and CheckpointBytes say when the SQLite WAL is
	// checkpointed and truncated: after a commit, when the interval has
	// passed since the last checkpoint or the WAL file has grown past the
	// size. 0 means the defaults.
	CheckpointInterval time.Duration
	CheckpointBytes    int64
	// Logger receives skipped records and checkpoint trouble; nil means
	// slog.Default().
	Logger *slog.Logger
	// Metrics, from NewMetrics; nil means none.
	Metrics *Metrics
	// Now is the clock for checkpoint times; nil means time.Now.
	Now func() time.Time
	// Zone returns the time zone of a site, whose days its rollups count
	// in; nil, or a nil result, means UTC.
	Zone func(site string) *time.Location
}

// Store is the database opened by its single writer.
type Store struct {
	db     *sql.DB
	path   string
	opts   Options
	logger *slog.Logger
	m      *Metrics
	st     *statements

	closed atomic.Bool

	// mu makes Apply one batch at a time; the fields below belong to it.
	mu             sync.Mutex
	b              *batch
	known          *knownKeys // learnt from the batches committed
	an             *analytics
	pace           *pacer        // the batch's goroutine's, an's
	lastTook       time.Duration // how long the last batch took
	clock          localClock
	chunk          int                       // entries per chunk of a batch (rawChunk; tests make it small)
	rebuildZones   map[string]*time.Location // the sites' zones while Rebuild runs
	lastCheckpoint time.Time
}

// ErrClosed is returned by Apply and Applied once the Store is closed.
var ErrClosed = errors.New("rollup: store closed")

// Open opens (creating it and its directory if missing) the database at
// path as its single writer and brings its schema up to date.
func Open(path string, opts Options) (*Store, error) {
	if opts.PathsPerDay <= 0 {
		opts.PathsPerDay = DefaultPathsPerDay
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.CheckpointBytes <= 0 {
		opts.CheckpointBytes = DefaultCheckpointBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s, err := open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("rollup: open %s: %w", path, err)
	}
	return s, nil
}

func open(path string, opts Options) (*Store, error) {
	db, err := openWriter(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	st, err := setUp(ctx, db, opts.Now())
	if err != nil {
		db.Close()
		return nil, err
	}
	an := newAnalytics(opts.PathsPerDay)
	return &Store{
		db:             db,
		path:           path,
		opts:           opts,
		logger:         opts.Logger,
		m:              opts.Metrics,
		st:             st,
		b:              newBatch(),
		known:          newKnownKeys(knownVisitorsMax, knownPathsMax),
		an:             an,
		pace:           an.pace,
		chunk:          rawChunk,
		lastCheckpoint: opts.Now(),
	}, nil
}

// openWriter opens (creating it and its directory if missing) the database
// at path with the writer's pragmas on one connection: SQLite has one
// writer at a time anyway, and a single connection kept forever keeps its
// prepared statements and page cache. The worker's Store and the
// administration commands both write through one.
func openWriter(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	dsn, err := fileURI(path, writerParams)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func setUp(ctx context.Context, db *sql.DB, now time.Time) (*statements, error) {
	if err := checkWAL(ctx, db); err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, now); err != nil {
		return nil, err
	}
	return prepareStatements(ctx, db)
}

// Close waits for an Apply in progress and closes the database. SQLite
// checkpoints and removes its WAL file when the last connection to the
// database closes.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.st.closeRaw(context.Background(), s.db); err != nil {
		s.db.Close()
		return fmt.Errorf("rollup: close: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("rollup: close: %w", err)
	}
	return nil
}

// Applied returns the checkpoint of the log with the given identity: the
// index of the last entry applied, 0 for a log never seen.
func (s *Store) Applied(identity string) (uint64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var applied uint64
	err := s.db.QueryRowContext(context.Background(), sqlCheckpointOfLog, identity).Scan(&applied)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rollup: checkpoint of log %s: %w", identity, err)
	}
	return applied, nil
}

// OpenReadOnly opens a pool of read-only connections to the database at
// path, for report processes. It fails if there is no database there yet,
// or if its schema is not the one this binary knows.
func OpenReadOnly(path string) (*sql.DB, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("rollup: open %s read-only: %w", path, err)
	}
	return db, nil
}

func openReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no database at %s: start `sitelog serve` or `sitelog ingest` first", path)
	}
	want, err := latestVersion()
	if err != nil {
		return nil, err
	}
	dsn, err := fileURI(path, readerParams)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	have, err := schemaVersion(context.Background(), db)
	if err != nil {
		db.Close()
		return nil, err
	}
	switch {
	case have < want:
		db.Close()
		return nil, fmt.Errorf("database schema version %d is older than this binary's %d: start `sitelog serve` or `sitelog ingest` of this version once to migrate it", have, want)
	case have > want:
		db.Close()
		return nil, fmt.Errorf("database schema version %d is newer than this binary's %d: run a newer sitelog", have, want)
	}
	return db, nil
}

// maybeCheckpoint checkpoints the SQLite WAL when the interval has passed
// or the file has grown past its bound. A failure is logged, not
// returned: the batch is committed, and the next commit tries again.
func (s *Store) maybeCheckpoint(ctx context.Context) {
	now := s.opts.Now()
	due := now.Sub(s.lastCheckpoint) >= s.opts.CheckpointInterval
	if !due {
		fi, err := os.Stat(walFile(s.path))
		due = err == nil && fi.Size() >= s.opts.CheckpointBytes
	}
	if !due {
		return
	}
	s.lastCheckpoint = now
	busy, err := checkpointWAL(ctx, s.db)
	switch {
	case err != nil:
		s.logger.Warn("rollup: checkpoint of the SQLite WAL failed", "err", err)
	case busy:
		s.logger.Info("rollup: SQLite WAL checkpoint did not finish: readers kept old snapshots past the busy timeout")
	}
}
