package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Raw events are partitioned by UTC day of their time. A partition is
// named events_YYYYMMDD and holds [day, day+24h).

const day = 24 * time.Hour

// unixDay returns the start of t's UTC day in Unix seconds.
func unixDay(t time.Time) int64 {
	return t.UTC().Truncate(day).Unix()
}

func partitionName(d int64) string {
	return "events_" + time.Unix(d, 0).UTC().Format("20060102")
}

// partitionLock is the key of the transaction-level advisory lock under
// which partitions are created and dropped: CREATE TABLE IF NOT EXISTS is
// not safe against a concurrent creation of the same table by another
// node, and a drop must not interleave with a creation.
const partitionLock = 0x73697465_6c6f6702 // "sitelog" and 2

// ensureDays makes sure that events has a partition for each of days and
// for the day after each, so that the partition of the next day exists
// before its first event. The partitions are created in a transaction of
// their own, before the batch's: creating a partition takes an ACCESS
// EXCLUSIVE lock on events (measured on PostgreSQL 15), which, held until
// the batch committed, would stall every other node's COPY meanwhile.
func (n *Node) ensureDays(ctx context.Context, days []int64) error {
	var missing []int64
	for _, d := range days {
		for _, d := range []int64{d, d + int64(day/time.Second)} {
			if !n.days[d] && !slices.Contains(missing, d) {
				missing = append(missing, d)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	err := pgx.BeginFunc(ctx, n.s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLock)); err != nil {
			return err
		}
		for _, d := range missing {
			from := time.Unix(d, 0).UTC()
			sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')",
				partitionName(d), from.Format(time.RFC3339), from.Add(day).Format(time.RFC3339))
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("create %s: %w", partitionName(d), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range missing {
		n.days[d] = true
	}
	return nil
}

// Retain drops the day partitions of raw events that end at or before
// before, except those that a node may still apply events into: a
// partition is dropped only when it ends at or before the lowest
// low-watermark of the active nodes minus margin. The margin covers
// events whose time lies before the oldest unapplied one's receipt (a
// client's own timestamp, a clock that differs).
//
// The visits that ended before the first day kept go too: a visit is a
// raw record of one visitor as much as its events are, only the raw-event
// queries read it, and its events, all at or before its end, are in the
// days dropped. Each node's visit with the highest id stays, whatever its
// age: the node's next id is one past it, and an id given again could join
// a raw event still stored to the wrong visit.
//
// Retain returns the starts of the days dropped and how many visits it
// deleted.
func (s *Store) Retain(ctx context.Context, before time.Time, margin time.Duration) (days []time.Time, visits int64, err error) {
	var dropped []time.Time
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dropped, visits = dropped[:0], 0
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLock)); err != nil {
			return err
		}
		var low *time.Time
		if err := tx.QueryRow(ctx, "SELECT min(low_watermark) FROM nodes WHERE status = 'active'").Scan(&low); err != nil {
			return fmt.Errorf("low-watermark: %w", err)
		}
		cutoff := before
		if low != nil && low.Add(-margin).Before(cutoff) {
			cutoff = low.Add(-margin)
		}
		rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'events'::regclass ORDER BY c.relname`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range names {
			start, err := time.Parse("20060102", strings.TrimPrefix(name, "events_"))
			if err != nil {
				continue // not one of ours
			}
			if start.Add(day).After(cutoff) {
				continue
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			dropped = append(dropped, start)
		}
		kept := cutoff.UTC().Truncate(day) // the first day whose partition stays
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE last_ts < $1
			AND id NOT IN (SELECT max(id) FROM sessions GROUP BY node_id)`, kept.UnixMicro())
		if err != nil {
			return fmt.Errorf("delete visits: %w", err)
		}
		visits = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("pgstore: retain: %w", err)
	}
	return dropped, visits, nil
}
