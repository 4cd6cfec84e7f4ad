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
//
// Then the pass walks the visits (sessions) the same way, by id, and
// deletes those that ended before the cutoff. A visit is a raw record of
// one visitor as much as its events are, and only the raw-event queries
// read it: once its events are gone, nothing does. All of a visit's events
// are at or before its end, so they are gone by then. The visit with the
// highest id stays, whatever its age: the next id is one past it, and an
// id given again could join a raw event still stored to the wrong visit.
//
// A visit the worker remembers may be deleted under it. Only an event
// stamped within 30 minutes after that visit's end, before the cutoff,
// could continue it: its update then changes no row, while the rollups
// count it from memory as they would have, and its raw event goes with
// the next pass.

// pruneChunk is how many raw events, or visits, one prune step looks at.
const pruneChunk = 5000

// Retention statements. Row values compare the primary key in order.
const (
	sqlPruneWindowEnd = `SELECT log_id, log_index FROM events
		WHERE (log_id, log_index) > (?, ?) ORDER BY log_id, log_index LIMIT 1 OFFSET ?`
	sqlPruneWindow = `DELETE FROM events
		WHERE (log_id, log_index) > (?, ?) AND (log_id, log_index) <= (?, ?) AND ts < ?`
	sqlPruneRest = `DELETE FROM events WHERE (log_id, log_index) > (?, ?) AND ts < ?`

	sqlPruneVisitsWindowEnd = `SELECT id FROM sessions WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?`
	sqlPruneVisitsWindow    = `DELETE FROM sessions WHERE id > ? AND id <= ? AND last_ts < ?
		AND id < (SELECT max(id) FROM sessions)`
	sqlPruneVisitsRest = `DELETE FROM sessions WHERE id > ? AND last_ts < ?
		AND id < (SELECT max(id) FROM sessions)`
)

// pruneCursor is where a retention pass stands: the primary key of the
// last raw event it has looked at, then, once it is past them all, the
// id of the last visit.
type pruneCursor struct {
	logID, index int64
	visits       bool
	visit        int64
}

// prune deletes the raw events older than cutoff among the next
// pruneChunk after cur, or the visits that ended before cutoff, in one
// transaction, and returns the new cursor, how many raw events and visits
// it deleted, and whether the pass reached the end.
func (s *Store) prune(ctx context.Context, cur pruneCursor, cutoff time.Time) (next pruneCursor, events, visits int64, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return cur, 0, 0, false, ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return cur, 0, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	defer tx.Rollback()
	var deleted int64
	if cur.visits {
		next, deleted, done, err = pruneVisits(ctx, tx, cur, cutoff)
		visits = deleted
	} else {
		next, deleted, err = pruneEvents(ctx, tx, cur, cutoff)
		events = deleted
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return cur, 0, 0, false, fmt.Errorf("rollup: prune: %w", err)
	}
	s.m.pruned(events, visits)
	return next, events, visits, done, nil
}

// pruneEvents is a step of prune over the raw events. Past the last, the
// cursor moves on to the visits.
func pruneEvents(ctx context.Context, tx *sql.Tx, cur pruneCursor, cutoff time.Time) (pruneCursor, int64, error) {
	var res sql.Result
	next := cur
	err := tx.QueryRowContext(ctx, sqlPruneWindowEnd, cur.logID, cur.index, pruneChunk-1).Scan(&next.logID, &next.index)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		next.visits = true
		res, err = tx.ExecContext(ctx, sqlPruneRest, cur.logID, cur.index, cutoff.UnixMicro())
	case err == nil:
		res, err = tx.ExecContext(ctx, sqlPruneWindow, cur.logID, cur.index, next.logID, next.index, cutoff.UnixMicro())
	}
	if err != nil {
		return cur, 0, err
	}
	deleted, err := res.RowsAffected()
	return next, deleted, err
}

// pruneVisits is a step of prune over the visits.
func pruneVisits(ctx context.Context, tx *sql.Tx, cur pruneCursor, cutoff time.Time) (next pruneCursor, deleted int64, done bool, err error) {
	var res sql.Result
	next = cur
	err = tx.QueryRowContext(ctx, sqlPruneVisitsWindowEnd, cur.visit, pruneChunk-1).Scan(&next.visit)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		done = true
		res, err = tx.ExecContext(ctx, sqlPruneVisitsRest, cur.visit, cutoff.UnixMicro())
	case err == nil:
		res, err = tx.ExecContext(ctx, sqlPruneVisitsWindow, cur.visit, next.visit, cutoff.UnixMicro())
	}
	if err != nil {
		return cur, 0, false, err
	}
	deleted, err = res.RowsAffected()
	return next, deleted, done, err
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
	next, _, _, done, err := s.prune(ctx, r.cur, r.passStart.Add(-r.keep))
	if err != nil {
		return false, err
	}
	r.cur = next
	if done {
		r.lastPass, r.passStart = r.passStart, time.Time{}
	}
	return true, nil
}
