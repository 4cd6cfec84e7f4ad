package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"sitelog/event"
	"sitelog/wal"
)

// eventColumns are the columns of events that Apply copies, in the order
// of the values of eventRow.
var eventColumns = []string{
	"node_id", "log_index", "site_id", "event_type", "path", "query", "fragment", "user_id", "ts", "bot",
	"visitor", "session", "hostname", "referrer", "source", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
	"browser", "os", "device", "country", "screen_width", "props",
}

// sessionColumn is the position of the event's visit in eventRow, set
// once the analytics model has put the event in one.
const sessionColumn = 11

func eventRow(node int64, index uint64, e *event.Event) []any {
	return []any{
		node, int64(index), e.SiteID, e.Type, e.Path, e.Query, e.Fragment, e.UserID, e.Time, e.Bot,
		int64(e.Visitor), int64(0), e.Hostname, e.Referrer, e.Source, e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMContent, e.UTMTerm,
		e.Browser, e.OS, e.Device, e.Country, int32(e.ScreenWidth), e.Props,
	}
}

// commitAttempts bounds how often Apply tries one batch when the
// connection is lost before or during COMMIT and the batch did not
// commit; past it the error goes to the caller, who retries later.
const commitAttempts = 3

// reconnectFor bounds how long Apply tries to read the checkpoint back
// after losing the connection during COMMIT: long enough for the server
// to restart and recover from a crash.
const reconnectFor = 30 * time.Second

// Apply applies entries of the node's log in one transaction: it compares
// and sets the node's checkpoint under this process's epoch, copies the
// raw events and adds them to the node's rollups (rollups.go). Entries at
// or below the checkpoint are dropped, so applying a range again after a
// crash changes nothing; the rest must continue the checkpoint without a
// gap (ErrNotNext). An entry with nil
// Data is a no-op, and one that does not decode is logged and skipped;
// either way its index is applied. oldest is the time of the oldest event
// left unapplied in the log after entries, or zero when entries reach the
// log's end; it is published as the node's low-watermark. ErrFenced means
// another process has attached the node: the caller must stop.
//
// If the connection is lost during COMMIT, Apply reads the checkpoint
// back, over a new connection, and commits the batch again only if it did
// not commit; lost before COMMIT, the batch is tried again at once, as
// the server rolled it back.
func (n *Node) Apply(ctx context.Context, entries []wal.Entry, oldest time.Time) error {
	if err := n.apply(ctx, entries, oldest); err != nil {
		// A partition this node created may have been dropped by
		// retention since (a late event): check them all again next time.
		clear(n.days)
		return fmt.Errorf("pgstore: apply node %d: %w", n.id, err)
	}
	return nil
}

func (n *Node) apply(ctx context.Context, entries []wal.Entry, oldest time.Time) error {
	if len(entries) == 0 {
		return nil
	}
	for i, e := range entries[1:] {
		if e.Index != entries[i].Index+1 {
			return fmt.Errorf("%w: entry %d follows %d", ErrNotNext, e.Index, entries[i].Index)
		}
	}
	last := entries[len(entries)-1].Index
	if last <= n.applied {
		return nil // all applied before: a replay after a crash
	}
	if n.applied >= entries[0].Index {
		entries = entries[n.applied-entries[0].Index+1:]
	}
	if entries[0].Index != n.applied+1 {
		return fmt.Errorf("%w: applied up to %d, the batch starts at %d", ErrNotNext, n.applied, entries[0].Index)
	}

	rows := make([][]any, 0, len(entries))
	evs := make([]event.Event, 0, len(entries)) // evs[i] is the event of rows[i]
	t := newTally()
	var days []int64
	for _, e := range entries {
		if e.Data == nil {
			continue
		}
		evs = append(evs, event.Event{})
		ev := &evs[len(evs)-1]
		if err := n.intern.Decode(e.Data, ev); err != nil {
			n.s.logger.Warn("pgstore: skipping a log record that does not decode", "node", n.id, "index", e.Index, "err", err)
			evs = evs[:len(evs)-1]
			continue
		}
		rows = append(rows, eventRow(n.id, e.Index, ev))
		t.add(n.s, ev)
		days = append(days, unixDay(ev.Time))
	}
	var watermark *time.Time // NULL: caught up, the database's now()
	if !oldest.IsZero() {
		watermark = &oldest
	}
	var err error
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, time.Duration(attempt-1)*100*time.Millisecond); err != nil {
				return err
			}
		}
		if err = n.ensureDays(ctx, days); err != nil {
			err = fmt.Errorf("partitions: %w", err)
			if lostConnection(err) {
				continue
			}
			return err
		}
		err = n.commit(ctx, rows, evs, t, last, watermark)
		var lost *lostCommit
		if errors.As(err, &lost) {
			n.s.logger.Warn("pgstore: connection lost during COMMIT; reading the checkpoint back", "node", n.id, "last", last, "err", lost.err)
			committed, rerr := n.committed(ctx, last)
			switch {
			case rerr != nil:
				n.model.Forget()
				return fmt.Errorf("read the checkpoint back after %w: %w", lost, rerr)
			case committed:
				err = nil
			default:
				n.s.logger.Warn("pgstore: the lost COMMIT did not take effect; committing the batch again", "node", n.id, "last", last)
			}
		}
		if err != nil {
			// What the model read or wrote in the attempt is gone, or
			// may be: it reads again.
			n.model.Forget()
		}
		switch {
		case err == nil:
			n.model.Commit()
			n.applied = last
			return nil
		case noPartition(err):
			// Retention dropped a day this node had made a partition
			// for: a late event. Make it again.
			clear(n.days)
		case errors.As(err, &lost):
			// It did not commit: apply it again.
		case conflict(err):
			// Every writer takes rows in one order (rollups.go, Fold),
			// so this is not expected; but the server rolled the batch
			// back, and it may be applied again.
			n.s.logger.Warn("pgstore: the batch conflicted with another transaction; applying it again", "node", n.id, "last", last, "err", err)
		case lostConnection(err):
			// Before COMMIT: the server rolls the transaction back when
			// its connection goes, and the pool dials a new one.
			n.s.logger.Warn("pgstore: connection lost before COMMIT; applying the batch again", "node", n.id, "last", last, "err", err)
		default:
			return err
		}
	}
	return err
}

// commit runs the transaction of one batch. READ COMMITTED is enough: the
// compare-and-set of the node's row is what orders this node's batches,
// other nodes write other rows of the rollups, and the user sets are
// inserted with ON CONFLICT, which waits for a concurrent insert of the
// same user to commit or roll back before it decides.
func (n *Node) commit(ctx context.Context, rows [][]any, evs []event.Event, t *tally, last uint64, watermark *time.Time) error {
	tx, err := n.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	// First, so that a fenced process copies nothing and a live one
	// holds its node's row until commit.
	tag, err := tx.Exec(ctx, `UPDATE nodes
		SET applied_index = $4, low_watermark = coalesce($5, now()), checkpoint_at = now()
		WHERE id = $1 AND epoch = $2 AND applied_index = $3 AND status = 'active'`,
		n.id, n.epoch, n.applied, last, watermark)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	// The analytics model reads what the batch continues (visits, values
	// under the cap) before anything is written, and puts each raw event
	// in its visit.
	if err := n.model.Begin(ctx, tx, evs); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	for i := range evs {
		e := &evs[i]
		visit, err := n.model.Add(ctx, e, t.local(n.s, e))
		if err != nil {
			return fmt.Errorf("analytics: %w", err)
		}
		rows[i][sessionColumn] = visit
	}
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
	}
	if err := n.writeRollups(ctx, tx, t); err != nil {
		return err
	}
	if err := n.model.Write(ctx); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	if n.beforeCommit != nil {
		n.beforeCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		if committedNot(err) {
			return err
		}
		return &lostCommit{err: err}
	}
	return nil
}

// lostConnection reports whether err says that the connection to the
// server failed, rather than the server refusing a statement.
func lostConnection(err error) bool {
	var (
		pgErr      *pgconn.PgError
		netErr     net.Error
		connectErr *pgconn.ConnectError
	)
	if errors.As(err, &pgErr) {
		return pgErr.Severity == "FATAL" // the server ending the connection, as it shuts down
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr) || errors.As(err, &connectErr)
}

// conflict reports whether the server rolled a transaction back to break
// a deadlock or for a serialization failure: one to try again.
func conflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// noPartition reports whether err is PostgreSQL's refusal of a row that
// no partition of its table takes.
func noPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.HasPrefix(pgErr.Message, "no partition of relation")
}

// lostCommit is a COMMIT whose outcome is unknown: the connection failed
// after the command may have reached the server.
type lostCommit struct{ err error }

func (e *lostCommit) Error() string { return "a COMMIT of unknown outcome: " + e.err.Error() }
func (e *lostCommit) Unwrap() error { return e.err }

// committedNot reports whether err, from COMMIT, says for sure that the
// transaction did not commit: the server answered with an error (not a
// FATAL one, sent as it went down) or with a rollback. Nothing else is
// sure: pgx v5.12 reports a COMMIT sent and its answer lost as "conn
// closed", an error it says is safe to retry (measured with a proxy that
// cuts the connection, lostcommit_test.go).
func committedNot(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Severity == "ERROR"
	}
	return errors.Is(err, pgx.ErrTxCommitRollback)
}

// committed reads the node's checkpoint back after a lost COMMIT of the
// batch ending at last, retrying over new connections while the server
// comes back: true if the batch committed, false if the checkpoint is
// still where the batch started, ErrFenced if another process has moved
// it or attached the node.
func (n *Node) committed(ctx context.Context, last uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, reconnectFor)
	defer cancel()
	var (
		epoch   int64
		applied uint64
		err     error
	)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		// The pool drops the broken connection and dials a new one. FOR
		// UPDATE waits for the lost transaction to end, on the server's
		// side too: committed, or rolled back when its backend saw the
		// connection go or timed out idle (idleInTransaction).
		err = n.s.pool.QueryRow(ctx, "SELECT epoch, applied_index FROM nodes WHERE id = $1 FOR UPDATE", n.id).Scan(&epoch, &applied)
		if err == nil {
			break
		}
		if sleep(ctx, wait) != nil {
			return false, err
		}
	}
	switch {
	case epoch != n.epoch:
		return false, ErrFenced
	case applied == last:
		return true, nil
	case applied == n.applied:
		return false, nil
	}
	return false, ErrFenced
}
