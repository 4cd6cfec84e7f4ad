package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"sitelog/event"
	"sitelog/rollup"
	"sitelog/wal"
)

// Local is what a node knows of itself from its data directory, for
// Attach.
type Local struct {
	// Identity is the identity of the node's log.
	Identity string
	// NodeID is the node id saved in the data directory, 0 before the
	// first start.
	NodeID int64
	// First and Last are the indexes of the log's first and last entries,
	// both 0 for an empty log.
	First, Last uint64
	// MaxPadding bounds how far the log's end may lie behind the
	// checkpoint (see wal.MaxPadding): within it the log is padded with
	// no-op entries (wal.Log.Prepare), beyond it an old copy of the log
	// was restored and Attach refuses.
	MaxPadding uint64
}

// Node is one attached node: this process's right to apply its log, until
// another process attaches the same node. A Node belongs to one goroutine,
// the node's worker.
type Node struct {
	s       *Store
	id      int64
	epoch   int64
	applied uint64 // the checkpoint, as of this process's last commit
	// days are the UTC days known to have a partition of events, as Unix
	// days (see partitions.go).
	days map[int64]bool
	// model is the node's analytics model.
	model *rollup.NodeModel
	// intern decodes the log's events, across batches.
	intern event.Interner
	// beforeCommit, when set, runs before each COMMIT: Options.BeforeCommit,
	// or the lost-COMMIT test's, which cuts the connection there.
	beforeCommit func()
}

// ID is the node's id: save it in the data directory beside the log.
func (n *Node) ID() int64 { return n.id }

// Epoch is the epoch this process attached at.
func (n *Node) Epoch() int64 { return n.epoch }

// Applied is the node's checkpoint: the index of the last log entry whose
// events are committed. The log may be truncated up to it, and must be
// prepared with it (wal.Log.Prepare) before any append.
func (n *Node) Applied() uint64 { return n.applied }

// Attach makes this process the node of the given log and returns it. At
// the first start (NodeID 0) the database allocates the node's id and
// binds the log's identity to it. Attach refuses a log identity that the
// database binds to another node (ErrIdentity), a retired node
// (ErrRetired), a checkpoint that lies beyond the log's end by more than
// MaxPadding (wal.ErrBehind), and a log that starts after the checkpoint,
// its entries in between gone (wal.ErrGap). Only when every check passed
// does it bump the node's epoch, which fences off any process that
// attached the node before: a refused start leaves the running one alone.
func (s *Store) Attach(ctx context.Context, l Local) (*Node, error) {
	n, err := s.attach(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("pgstore: attach node %d: %w", l.NodeID, err)
	}
	return n, nil
}

func (s *Store) attach(ctx context.Context, l Local) (*Node, error) {
	if l.Identity == "" {
		return nil, errors.New("BUG: attach without a log identity")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	id := l.NodeID
	if id == 0 {
		// The database allocates the id before the node saves it, so a
		// crash in between leaves the identity bound and no id saved: the
		// identity, random and the log's own, says which node this is.
		err := tx.QueryRow(ctx, "SELECT id FROM nodes WHERE identity = $1", l.Identity).Scan(&id)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
	}
	var (
		identity, status string
		applied          uint64
	)
	if id == 0 {
		applied = 0 // a new node has applied nothing
		if err := check(l, applied); err != nil {
			return nil, err
		}
		err = tx.QueryRow(ctx, "INSERT INTO nodes (identity) VALUES ($1) RETURNING id", l.Identity).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("allocate a node id: %w", err)
		}
	} else {
		// FOR UPDATE: two processes attaching the same node are checked
		// one after the other, each against the epoch the other left.
		err := tx.QueryRow(ctx, "SELECT identity, applied_index, status FROM nodes WHERE id = $1 FOR UPDATE", id).
			Scan(&identity, &applied, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("node %d is unknown to the database: is this the database the node was started with?", id)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case status == "retired":
			return nil, fmt.Errorf("%w: node %d was retired; start with a new data directory to join as a new node", ErrRetired, id)
		case identity != l.Identity:
			return nil, fmt.Errorf("%w: node %d applies log %s, not %s; a new log needs a new node: retire node %d, or restore its log", ErrIdentity, id, identity, l.Identity, id)
		}
		if err := check(l, applied); err != nil {
			return nil, err
		}
	}
	var epoch int64
	err = tx.QueryRow(ctx, "UPDATE nodes SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch", id).Scan(&epoch)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return &Node{s: s, id: id, epoch: epoch, applied: applied, days: make(map[int64]bool), beforeCommit: s.beforeCommit,
		model: rollup.NewNodeModel(id, s.pathsPerDay)}, nil
}

// check refuses a local log that cannot continue the checkpoint applied,
// with the same rules as wal.Log.Prepare.
func check(l Local, applied uint64) error {
	switch {
	case l.First > applied+1:
		return fmt.Errorf("%w: its first entry is %d but the database has applied only up to %d; entries in between are gone (was the database restored from an older copy?)", wal.ErrGap, l.First, applied)
	case applied > l.Last && applied-l.Last > l.MaxPadding:
		return fmt.Errorf("%w: the database has applied up to entry %d but the log ends at %d; it looks like an old copy of the log: restore the newest copy", wal.ErrBehind, applied, l.Last)
	}
	return nil
}

// Retire marks the node retired, once its checkpoint has reached last, the
// index of its log's last entry (ErrNotDrained before). A retired node's id
// is never used again, and retention no longer waits for it.
func (n *Node) Retire(ctx context.Context, last uint64) error {
	tag, err := n.s.pool.Exec(ctx, `UPDATE nodes SET status = 'retired'
		WHERE id = $1 AND epoch = $2 AND applied_index = $3 AND status = 'active'`,
		n.id, n.epoch, last)
	if err != nil {
		return fmt.Errorf("pgstore: retire node %d: %w", n.id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var epoch int64
	var applied uint64
	err = n.s.pool.QueryRow(ctx, "SELECT epoch, applied_index FROM nodes WHERE id = $1", n.id).Scan(&epoch, &applied)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: retire node %d: %w", n.id, err)
	case epoch != n.epoch:
		return fmt.Errorf("pgstore: retire node %d: %w", n.id, ErrFenced)
	case applied != last:
		return fmt.Errorf("%w: node %d has applied up to %d of %d", ErrNotDrained, n.id, applied, last)
	}
	return fmt.Errorf("pgstore: retire node %d: %w", n.id, ErrRetired)
}
