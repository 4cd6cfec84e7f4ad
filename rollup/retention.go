package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Raw-event retention. Rollups are kept forever; raw events older than the
// retention are deleted by the worker, the database's only writer of
// events, in small chunks between batches so that apply never waits long.
// The chunks walk the raw events' primary key (log, index) rather than
// their time, so no index on time has to be kept up by every insert: a
// pass visits every raw event once and deletes the old ones among them.

// pruneChunk is how many raw events one prune step looks at.
const pruneChunk = 5000

// Retention statements. Row values compare the primary key in order.
const (
	sqlPruneWindowEnd = `SELECT log_id, log_index FROM events
		WHERE (log_id, log_index) > (?, ?) ORDER BY log_id, log_index LIMIT 1 OFFSET ?`
	sqlPruneWindow = `DELETE FROM events
		WHERE (log_id, log_index) > (?, ?) AND (log_id, log_index) <= (?, ?) AND ts < ?`
	sqlPruneRest = `DELETE FROM events WHERE (log_id, log_index) > (?, ?) AND ts < ?`
)

// pruneCursor is where a retention pass stands: the primary key of the
// last raw event it has looked at.
type pruneCursor struct {
	logID, index int64
}

// prune deletes the raw events older than cutoff among the next
// pruneChunk after cur, in one transaction, and returns the new cursor,
// how many it deleted, and whether the pass reached the end.
func (s *Store) prune(ctx context.Context, cur pruneCursor, cutoff time.Time) (next pruneCursor, deleted int64, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return cur, 0, false, ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return cur, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	defer tx.Rollback()
	var res sql.Result
	err = tx.QueryRowContext(ctx, sqlPruneWindowEnd, cur.logID, cur.index, pruneChunk-1).Scan(&next.logID, &next.index)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		done = true
		res, err = tx.ExecContext(ctx, sqlPruneRest, cur.logID, cur.index, cutoff.UnixMicro())
	case err == nil:
		res, err = tx.ExecContext(ctx, sqlPruneWindow, cur.logID, cur.index, next.logID, next.index, cutoff.UnixMicro())
	}
	if err != nil {
		return cur, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	if deleted, err = res.RowsAffected(); err != nil {
		return cur, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return cur, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	s.m.pruned(deleted)
	return next, deleted, done, nil
}

// retention is the worker's state of raw-event retention.
type retention struct {
	keep      time.Duration // raw events older than this go; 0 keeps them all
	every     time.Duration // the least time from one pass's start to the next
	now       func() time.Time
	cur       pruneCursor
	passStart time.Time // zero: no pass under way
	lastPass  time.Time
}

// step runs one prune step if a pass is under way or due, and reports
// whether it did anything.
func (r *retention) step(ctx context.Context, s *Store) (bool, error) {
	if r.keep <= 0 {
		return false, nil
	}
	now := r.now()
	if r.passStart.IsZero() {
		if !r.lastPass.IsZero() && now.Sub(r.lastPass) < r.every {
			return false, nil
		}
		r.passStart, r.cur = now, pruneCursor{}
	}
	next, _, done, err := s.prune(ctx, r.cur, r.passStart.Add(-r.keep))
	if err != nil {
		return false, err
	}
	r.cur = next
	if done {
		r.lastPass, r.passStart = r.passStart, time.Time{}
	}
	return true, nil
}
