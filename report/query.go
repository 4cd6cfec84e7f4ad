package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The statements of /stats and /stats/events are in this file (those of
// the query API in apisql.go, of the raw-event views in rawsql.go), because
// the SQL depends on the dialect (INDEXED BY, SQLite's result codes) and a
// PostgreSQL backend will follow. These reads touch only rollup tables,
// never the raw events or the per-user sets, so their cost does not grow
// with traffic.

// The top-N statements name their index with INDEXED BY: the order they ask
// for is the index's order, so SQLite walks the first rows of one index
// range and stops at the limit. Naming the index makes that a promise rather
// than a planner's choice that could change once statistics are gathered,
// and a missing index an error rather than a silent sort over every path.
const (
	dailyTotalsSQL = `SELECT views, users FROM daily WHERE site_id = ? AND day = ?`
	siteTotalsSQL  = `SELECT views, users FROM sites WHERE site_id = ?`

	dailyTopPathsSQL = `SELECT path, views FROM daily_paths INDEXED BY daily_paths_top
		WHERE site_id = ? AND day = ? ORDER BY views DESC, path LIMIT ?`
	siteTopPathsSQL = `SELECT path, views FROM site_paths INDEXED BY site_paths_top
		WHERE site_id = ? ORDER BY views DESC, path LIMIT ?`

	dailyTypesSQL = `SELECT event_type, events FROM daily_types INDEXED BY daily_types_top
		WHERE site_id = ? AND day = ? ORDER BY events DESC, event_type LIMIT ?`
	siteTypesSQL = `SELECT event_type, events FROM site_types INDEXED BY site_types_top
		WHERE site_id = ? ORDER BY events DESC, event_type LIMIT ?`
)

// scope is what a report covers: one site on one day, or over all time when
// day is empty.
type scope struct {
	site  string
	day   string // YYYY-MM-DD (UTC), or "" for all time
	limit int    // rows of a top-N list
}

// args returns the statement arguments that select the scope's rows, with
// the limit last when withLimit is set.
func (s scope) args(withLimit bool) []any {
	a := []any{s.site}
	if s.day != "" {
		a = append(a, s.day)
	}
	if withLimit {
		a = append(a, s.limit)
	}
	return a
}

// date is the scope's day as the JSON answers carry it: null for all time.
func (s scope) date() *string {
	if s.day == "" {
		return nil
	}
	return &s.day
}

// Stats is the answer of GET /stats. The field order is the order of the
// JSON object.
type Stats struct {
	SiteID      string      `json:"site_id"`
	Date        *string     `json:"date"` // null for all time
	TotalViews  int64       `json:"total_views"`
	UniqueUsers int64       `json:"unique_users"`
	TopPaths    []PathViews `json:"top_paths"`
}

// PathViews is one row of a top-paths list.
type PathViews struct {
	Path  string `json:"path"`
	Views int64  `json:"views"`
}

// Events is the answer of GET /stats/events: the counts of each event type,
// page views included, so custom events are reported on their own.
type Events struct {
	SiteID string      `json:"site_id"`
	Date   *string     `json:"date"` // null for all time
	Events []TypeCount `json:"events"`
}

// TypeCount is the number of events of one type.
type TypeCount struct {
	Type   string `json:"event_type"`
	Events int64  `json:"events"`
}

// readStats reads the totals and top paths of s in one read transaction, so
// they come from the same committed state of the worker: the top paths never
// add up to more views than the total beside them.
func readStats(ctx context.Context, db *sql.DB, s scope) (Stats, error) {
	st := Stats{SiteID: s.site, Date: s.date(), TopPaths: []PathViews{}}
	totalsSQL, topSQL := dailyTotalsSQL, dailyTopPathsSQL
	if s.day == "" {
		totalsSQL, topSQL = siteTotalsSQL, siteTopPathsSQL
	}
	err := inReadTx(ctx, db, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, totalsSQL, s.args(false)...).Scan(&st.TotalViews, &st.UniqueUsers)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("totals: %w", err)
		}
		rows, err := tx.QueryContext(ctx, topSQL, s.args(true)...)
		if err != nil {
			return fmt.Errorf("top paths: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p PathViews
			if err := rows.Scan(&p.Path, &p.Views); err != nil {
				return fmt.Errorf("top paths: %w", err)
			}
			st.TopPaths = append(st.TopPaths, p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("top paths: %w", err)
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("report: stats: %w", err)
	}
	return st, nil
}

// readEvents reads the event counts by type of s, most frequent first.
func readEvents(ctx context.Context, db *sql.DB, s scope) (Events, error) {
	ev := Events{SiteID: s.site, Date: s.date(), Events: []TypeCount{}}
	q := dailyTypesSQL
	if s.day == "" {
		q = siteTypesSQL
	}
	rows, err := db.QueryContext(ctx, q, s.args(true)...)
	if err != nil {
		return Events{}, fmt.Errorf("report: events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c TypeCount
		if err := rows.Scan(&c.Type, &c.Events); err != nil {
			return Events{}, fmt.Errorf("report: events: %w", err)
		}
		ev.Events = append(ev.Events, c)
	}
	if err := rows.Err(); err != nil {
		return Events{}, fmt.Errorf("report: events: %w", err)
	}
	return ev, nil
}

// inReadTx runs fn in a read-only transaction, which SQLite begins as a
// deferred one: the snapshot is taken at the first read and holds until the
// end, which is all a report needs.
func inReadTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // nothing was written; the first error is the one to report
		return err
	}
	// A read transaction has nothing to commit; Commit only ends it.
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return nil
}

// SQLite's primary result codes that mean "not now" rather than "wrong": the
// database is locked by another connection, or the statement was interrupted
// because its context ended.
const (
	sqliteBusy      = 5
	sqliteLocked    = 6
	sqliteInterrupt = 9
)

// unavailable reports whether err means the database could not answer in
// time (locked, busy or interrupted), so the client should retry later.
// Context errors are judged by the caller, as they are not the dialect's.
func unavailable(err error) bool {
	// The driver's error type is matched by its method, so this package
	// needs no driver: main hands it a pool opened elsewhere.
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	// Extended result codes carry the primary code in their low byte.
	switch coded.Code() & 0xff {
	case sqliteBusy, sqliteLocked, sqliteInterrupt:
		return true
	}
	return false
}
