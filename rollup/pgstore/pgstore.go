// Package pgstore is the PostgreSQL store, for several ingest nodes that
// each apply their own log into one shared database: the node side of it
// (identity, fencing, the checkpoint, raw events and their partitions),
// the rollups of /stats kept per node (rollups.go), the analytics model
// (rollup.NodeModel, run in each batch's transaction), the folding of
// closed days, the shared daily salts of visitor ids, and the pools that
// report processes and the sites registry read and write through.
//
// A node is a data directory with one log. The database allocates its id
// at first start and binds the log's identity to it; each start bumps the
// node's epoch, and every batch compares and sets the node's checkpoint
// under that epoch, so a stale copy of a node can never apply beside the
// current one. A batch's raw events and the checkpoint commit together:
// each log entry is stored exactly once across crashes of the node or of
// the database.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"sitelog/rollup"
)

// Errors of Attach, Apply and Retire, for errors.Is. Attach also returns
// wal.ErrBehind and wal.ErrGap, with the same meaning as wal.Log.Prepare's.
var (
	// ErrFenced means that another process has attached the node since
	// this one did (or moved its checkpoint): this process must stop
	// applying, and must not truncate its log on its own checkpoint.
	ErrFenced = errors.New("pgstore: node fenced: another process has attached it since")
	// ErrIdentity means the log's identity does not belong to the node.
	ErrIdentity = errors.New("pgstore: log identity does not match the node")
	// ErrRetired means the node was retired: its id is never used again.
	ErrRetired = errors.New("pgstore: node is retired")
	// ErrNotNext is returned by Apply for a batch that does not continue
	// the checkpoint: entries would be skipped.
	ErrNotNext = errors.New("pgstore: batch does not start right after the checkpoint")
	// ErrNotDrained is returned by Retire while the node's checkpoint is
	// short of its log's last index.
	ErrNotDrained = errors.New("pgstore: node has unapplied entries")
)

// Options configure a Store.
type Options struct {
	// Logger receives skipped records and lost commits; nil means
	// slog.Default().
	Logger *slog.Logger
	// Zone returns the time zone of a site's days; nil, or a nil result,
	// means UTC. The nodes of a Store call it at once: it must be safe for
	// concurrent use.
	Zone func(site string) *time.Location
	// PathsPerDay is the most distinct paths each node stores per site
	// and day; 0 means rollup.DefaultPathsPerDay.
	PathsPerDay int
	// BeforeCommit, if set, runs before each batch's COMMIT, once its
	// rows are written: crash tests stop the process there
	// (wal.Log.BeforeDBCommit).
	BeforeCommit func()
}

// idleInTransaction is how long the server keeps a transaction of ours
// open while waiting for its next command. A batch never waits between
// its statements, so a transaction left waiting is one whose connection
// was lost; ending it releases the node's row, which Apply waits for to
// learn whether a COMMIT lost with its connection took effect.
const idleInTransaction = 10 * time.Second

// Store is an open PostgreSQL store. Its methods are safe for concurrent
// use.
type Store struct {
	pool         *pgxpool.Pool
	logger       *slog.Logger
	zone         func(site string) *time.Location
	pathsPerDay  int
	beforeCommit func()
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PathsPerDay == 0 {
		opts.PathsPerDay = rollup.DefaultPathsPerDay
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(idleInTransaction / time.Millisecond))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{pool: pool, logger: opts.Logger, zone: opts.Zone, pathsPerDay: opts.PathsPerDay, beforeCommit: opts.BeforeCommit}, nil
}

// Close closes the connections.
func (s *Store) Close() {
	s.pool.Close()
}
