package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The statements of /stats and /stats/events are in this file (those of
// the query API in apisql.go, of the raw-event views in rawsql.go). These
// reads touch only rollup tables, never the raw events or the per-user
// sets, so their cost does not grow with traffic. Every report reads
// either store, each with its statements in a dialect.

// dialect is the SQL of every report for one store: that of /stats and
// /stats/events here, of the query API (api) and of the raw-event views
// (raw) beside their code.
type dialect struct {
	dailyTotals, siteTotals     string
	dailyTopPaths, siteTopPaths string
	dailyTypes, siteTypes       string
	// readTx are the options of the transaction in which /stats reads its
	// totals and top paths from one committed state.
	readTx sql.TxOptions

	api apiStatements
	raw rawStatements
	// at is the argument that a statement compares an event's time with,
	// for a time in Unix microseconds.
	at func(us int64) any
}

// sqliteDialect reads the SQLite store. The top-N statements name their
// index with INDEXED BY: the order they ask for is the index's order, so
// SQLite walks the first rows of one index range and stops at the limit.
// Naming the index makes that a promise rather than a planner's choice
// that could change once statistics are gathered, and a missing index an
// error rather than a silent sort over every path. A SQLite transaction
// sees one snapshot from its first read on.
var sqliteDialect = dialect{
	dailyTotals: `SELECT views, users FROM daily WHERE site_id = ? AND day = ?`,
	siteTotals:  `SELECT views, users FROM sites WHERE site_id = ?`,

	dailyTopPaths: `SELECT path, views FROM daily_paths INDEXED BY daily_paths_top
		WHERE site_id = ? AND day = ? ORDER BY views DESC, path LIMIT ?`,
	siteTopPaths: `SELECT path, views FROM site_paths INDEXED BY site_paths_top
		WHERE site_id = ? ORDER BY views DESC, path LIMIT ?`,

	dailyTypes: `SELECT event_type, events FROM daily_types INDEXED BY daily_types_top
		WHERE site_id = ? AND day = ? ORDER BY events DESC, event_type LIMIT ?`,
	siteTypes: `SELECT event_type, events FROM site_types INDEXED BY site_types_top
		WHERE site_id = ? ORDER BY events DESC, event_type LIMIT ?`,

	readTx: sql.TxOptions{ReadOnly: true},

	api: sqliteAPI,
	raw: sqliteRaw,
	// Events keep their time as Unix microseconds.
	at: func(us int64) any { return us },
}

// postgresDialect reads the PostgreSQL store, where each ingest node
// counts into rows of its own (node_id) and closed days are folded into
// one row per key: every count is a sum over the key's rows. Ties sort by
// byte order (COLLATE "C"), as SQLite's BINARY collation does, so both
// stores list the same paths whatever the database's locale. REPEATABLE
// READ gives the two reads of /stats one snapshot, as SQLite does.
var postgresDialect = dialect{
	dailyTotals: `SELECT coalesce(sum(views), 0)::bigint, coalesce(sum(users), 0)::bigint
		FROM daily WHERE site_id = $1 AND day = $2`,
	siteTotals: `SELECT coalesce(sum(views), 0)::bigint, coalesce(sum(users), 0)::bigint
		FROM sites WHERE site_id = $1`,

	dailyTopPaths: `SELECT path, sum(views)::bigint AS n FROM daily_paths
		WHERE site_id = $1 AND day = $2 GROUP BY path ORDER BY n DESC, path COLLATE "C" LIMIT $3`,
	siteTopPaths: `SELECT path, sum(views)::bigint AS n FROM site_paths
		WHERE site_id = $1 GROUP BY path ORDER BY n DESC, path COLLATE "C" LIMIT $2`,

	dailyTypes: `SELECT event_type, sum(events)::bigint AS n FROM daily_types
		WHERE site_id = $1 AND day = $2 GROUP BY event_type ORDER BY n DESC, event_type COLLATE "C" LIMIT $3`,
	siteTypes: `SELECT event_type, sum(events)::bigint AS n FROM site_types
		WHERE site_id = $1 GROUP BY event_type ORDER BY n DESC, event_type COLLATE "C" LIMIT $2`,

	readTx: sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},

	api: postgresAPI,
	raw: postgresRaw,
	at:  pgTime,
}

// pgMinMicros is the earliest timestamptz, 4713 BC, in Unix microseconds
// (to within a day). The latest, 294276 AD, lies beyond any int64 of
// them.
var pgMinMicros = time.Date(-4712, 1, 2, 0, 0, 0, 0, time.UTC).UnixMicro()

// pgTime is the timestamptz of us, exactly: the driver sends a time as
// microseconds, where a conversion in SQL would go through a float and
// lose them. A bound before timestamptz's range (the events list's "no
// bound", or a cursor made up by a client) is moved to its start, which
// no stored event lies before.
func pgTime(us int64) any {
	return time.UnixMicro(max(us, pgMinMicros)).UTC()
}

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
func (d *dialect) readStats(ctx context.Context, db *sql.DB, s scope) (Stats, error) {
	st := Stats{SiteID: s.site, Date: s.date(), TopPaths: []PathViews{}}
	totalsSQL, topSQL := d.dailyTotals, d.dailyTopPaths
	if s.day == "" {
		totalsSQL, topSQL = d.siteTotals, d.siteTopPaths
	}
	err := inTx(ctx, db, d.readTx, func(tx *sql.Tx) error {
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
func (d *dialect) readEvents(ctx context.Context, db *sql.DB, s scope) (Events, error) {
	ev := Events{SiteID: s.site, Date: s.date(), Events: []TypeCount{}}
	q := d.dailyTypes
	if s.day == "" {
		q = d.siteTypes
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

// inTx runs fn in a transaction begun with opts, which writes nothing.
func inTx(ctx context.Context, db *sql.DB, opts sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &opts)
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
