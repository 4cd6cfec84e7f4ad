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

// pruneWalk is how a pass walks one table: by its primary key, of cols
// integers, pruneChunk rows a step. Row values compare the key in order.
type pruneWalk struct {
	cols      int
	windowEnd string // key, offset → the key of the window's last row
	window    string // key, last key, cutoff: deletes the window's old rows
	rest      string // key, cutoff: deletes the old rows after key
	visits    bool   // the rows are visits, not raw events (metrics)
}

// pruneWalks are the walks of a pass, in order: the raw events, then the
// visits, all but the one with the highest id.
var pruneWalks = [...]pruneWalk{{
	cols: 2,
	windowEnd: `SELECT log_id, log_index FROM events
		WHERE (log_id, log_index) > (?, ?) ORDER BY log_id, log_index LIMIT 1 OFFSET ?`,
	window: `DELETE FROM events
		WHERE (log_id, log_index) > (?, ?) AND (log_id, log_index) <= (?, ?) AND ts < ?`,
	rest: `DELETE FROM events WHERE (log_id, log_index) > (?, ?) AND ts < ?`,
}, {
	cols:      1,
	windowEnd: `SELECT id FROM sessions WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?`,
	window: `DELETE FROM sessions WHERE id > ? AND id <= ? AND last_ts < ?
		AND id < (SELECT max(id) FROM sessions)`,
	rest: `DELETE FROM sessions WHERE id > ? AND last_ts < ?
		AND id < (SELECT max(id) FROM sessions)`,
	visits: true,
}}

// pruneCursor is where a retention pass stands: in which walk, and the
// primary key of the last row it has looked at there (nil before the
// first).
type pruneCursor struct {
	walk int
	key  []int64
}

// prune runs one step of cur's walk with cutoff, in one transaction, and
// returns the new cursor and whether the pass reached its end.
func (s *Store) prune(ctx context.Context, cur pruneCursor, cutoff time.Time) (next pruneCursor, done bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return cur, false, ErrClosed
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return cur, false, fmt.Errorf("rollup: prune: %w", err)
	}
	defer tx.Rollback()
	w := &pruneWalks[cur.walk]
	key, deleted, end, err := w.step(ctx, tx, cur.key, cutoff)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return cur, false, fmt.Errorf("rollup: prune: %w", err)
	}
	s.m.pruned(w.visits, deleted)
	switch {
	case !end:
		return pruneCursor{cur.walk, key}, false, nil
	case cur.walk+1 < len(pruneWalks):
		return pruneCursor{walk: cur.walk + 1}, false, nil
	}
	return pruneCursor{}, true, nil
}

// step deletes the rows older than cutoff among the next pruneChunk after
// key, and returns the key of the last row it looked at, how many it
// deleted, and whether it reached the table's end.
func (w *pruneWalk) step(ctx context.Context, tx *sql.Tx, key []int64, cutoff time.Time) (next []int64, deleted int64, end bool, err error) {
	if key == nil {
		key = make([]int64, w.cols) // before every key
	}
	args := make([]any, 0, 2*w.cols+1)
	for _, k := range key {
		args = append(args, k)
	}
	next = make([]int64, w.cols)
	dest := make([]any, w.cols)
	for i := range next {
		dest[i] = &next[i]
	}
	var res sql.Result
	err = tx.QueryRowContext(ctx, w.windowEnd, append(args, pruneChunk-1)...).Scan(dest...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		next, end = key, true
		res, err = tx.ExecContext(ctx, w.rest, append(args, cutoff.UnixMicro())...)
	case err == nil:
		for _, k := range next {
			args = append(args, k)
		}
		res, err = tx.ExecContext(ctx, w.window, append(args, cutoff.UnixMicro())...)
	}
	if err != nil {
		return key, 0, false, err
	}
	deleted, err = res.RowsAffected()
	return next, deleted, end, err
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
	next, done, err := s.prune(ctx, r.cur, r.passStart.Add(-r.keep))
	if err != nil {
		return false, err
	}
	r.cur = next
	if done {
		r.lastPass, r.passStart = r.passStart, time.Time{}
	}
	return true, nil
}
