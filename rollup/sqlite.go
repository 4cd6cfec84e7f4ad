package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	// The pure-Go SQLite driver, registered as "sqlite": no cgo, so the
	// binary cross-compiles and builds without a C toolchain.
	_ "modernc.org/sqlite"
)

// This file holds everything that depends on the SQL dialect: connection
// parameters, pragmas and the text of every statement. A PostgreSQL backend
// will need its own version of what is here and nothing else.

const driverName = "sqlite"

// writerParams configure the single writer connection. modernc.org/sqlite
// runs the _pragma values with busy_timeout first and the rest in
// lexicographic order, then the _journal_mode key, and honours _txlock on
// every BEGIN.
const writerParams = "" +
	// busy_timeout must come first: journal_mode(WAL) writes to the file
	// and would fail at once with SQLITE_BUSY if a report process held a
	// lock at that moment. Five seconds covers any report query; the
	// worker retries a batch that still fails on it.
	"_pragma=busy_timeout(5000)" +
	// Referential checks where the schema declares them. The raw events
	// declare none: their log_id is the logs row that the same transaction
	// has just read, and checking it again cost a quarter of their insert.
	"&_pragma=foreign_keys(1)" +
	// 16 KiB pages, set before the switch to WAL below because a database
	// in WAL mode keeps the page size it was created with (an existing
	// database keeps its own). A batch dirties pages all over the visitor
	// sets and the path rollups: at 16 KiB it writes about the same bytes
	// to the WAL as at 4 KiB in a third as many frames, each one two
	// system calls and a checksum, and the trees are shallower.
	"&_pragma=page_size(16384)" +
	// WAL: report processes read a consistent snapshot while the worker
	// writes, and neither blocks the other.
	"&_journal_mode=WAL" +
	// After a checkpoint resets the WAL file, cut it back to 64 MiB instead
	// of leaving it at whatever size a burst of writes grew it to.
	"&_pragma=journal_size_limit(67108864)" +
	// The Store checkpoints the WAL itself (maybeCheckpoint). SQLite's own
	// checkpoint, by default after every 1000 pages, would copy the same
	// hot rollup pages back into the database over and over, each time
	// with an fsync; it stays as a backstop at 8192 pages (128 MiB), twice
	// DefaultCheckpointBytes.
	"&_pragma=wal_autocheckpoint(8192)" +
	// A 16 MiB page cache instead of the default 2 MiB: a large batch
	// dirties thousands of pages, which would otherwise spill into the WAL
	// before the commit and be read back. Not more: the driver's C
	// allocator gives each 16 KiB page (with SQLite's header, just over its
	// largest slot) a region of its own, so a page costs about four times
	// its size in resident memory. 64 MiB applied no faster than 16 MiB
	// (or 4 MiB) and took 240-400 MB more.
	"&_pragma=cache_size(-16384)" +
	// Statement journals in memory. A multi-row upsert keeps the pages it
	// changes in a statement journal, to undo itself alone on a
	// constraint error; in a file, each page was two more system calls.
	"&_pragma=temp_store(2)" +
	// FULL fsyncs the WAL on every commit. The worker tells the log that a
	// batch is applied only after its commit returns, and the log then
	// deletes segments behind that checkpoint: with NORMAL a power loss
	// could undo a commit whose events the log has already deleted.
	"&_pragma=synchronous(FULL)" +
	// BEGIN IMMEDIATE takes the write lock when the transaction starts, so
	// busy_timeout covers the wait. A deferred transaction that reads and
	// then upgrades to write fails with SQLITE_BUSY without waiting.
	"&_txlock=immediate"

// readerParams configure the read-only pool of report processes.
const readerParams = "" +
	// SQLite opens the file read-only and fails instead of creating it:
	// a report process never makes a database of its own.
	"mode=ro" +
	// A reader waits for the writer's brief exclusive moments (a WAL reset)
	// instead of failing a report.
	"&_pragma=busy_timeout(5000)" +
	// A second guard besides mode=ro: any statement that writes fails.
	"&_pragma=query_only(1)"

// fileURI turns a path into the "file:" URI that makes SQLite honour its
// own URI parameters (mode=ro); the path is escaped, so a '?' or '#' in a
// directory name cannot end it early.
func fileURI(path, params string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: params}
	return u.String(), nil
}

// checkWAL fails if SQLite did not switch to WAL, which it does silently
// on file systems without shared memory (some network mounts): readers
// would then block the writer.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file system local?)", mode)
	}
	return nil
}

// checkpointWAL copies the SQLite WAL back into the database and truncates
// it to zero bytes. The automatic checkpoints SQLite runs on commit are
// PASSIVE: they never wait for readers, so under a steady stream of report
// queries some reader always holds an old snapshot and the WAL is never
// reset, growing without bound. TRUNCATE waits (up to busy_timeout) until
// the readers have moved to the newest snapshot. busy reports that it
// could not finish in that time; it is retried at the next checkpoint.
func checkpointWAL(ctx context.Context, db *sql.DB) (busy bool, err error) {
	var b, logPages, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &logPages, &done); err != nil {
		return false, err
	}
	return b != 0, nil
}

// walFile is the SQLite WAL beside the database at path.
func walFile(path string) string { return path + "-wal" }

// Migrations.
const (
	sqlCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL -- Unix seconds
)`
	sqlHasMigrations   = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	sqlSchemaVersion   = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`
	sqlRecordMigration = `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`
)

// sqlCheckpointOfLog reads the checkpoint of one log identity.
const sqlCheckpointOfLog = `SELECT applied_index FROM logs WHERE identity = ?`

// statements are the prepared statements of Apply. They live as long as
// the Store: its one connection compiles each of them once, and the bulk
// statements that return no rows once more, on the driver, at their first
// execution (bulk.execRaw).
type statements struct {
	bulks []*bulk // all of those below

	logRow        *sql.Stmt // identity → id, applied_index
	insertLog     *sql.Stmt // identity
	setCheckpoint *sql.Stmt // applied_index, updated_at, id
	dailyPathsOf  *sql.Stmt // site_id, day, OtherPath → path, one row each

	events     *bulk // raw events
	dailyUsers *bulk // returns (site_id, day) of each new visitor
	siteUsers  *bulk // returns site_id of each new visitor
	daily      *bulk
	dailyTypes *bulk
	dailyPaths *bulk
	sites      *bulk
	siteTypes  *bulk
	sitePaths  *bulk

	// The analytics model (analytics.go).
	maxSession    *sql.Stmt // → the greatest session id, 0 for none
	goals         *sql.Stmt // → site_id, name, event_name, page_path
	valuesOf      *sql.Stmt // site_id, dim, day, OtherPath → value, one row each
	clockOf       *sql.Stmt // site_id → max_ts
	sessionOf     *sql.Stmt // site_id, visitor → the latest session
	sessionsOf    *bulk     // the same for many visitors: site_id, visitor and the latest session of each
	sketchesOf    *bulk     // site_id, dim, day, value → the key and its sketch, for those that have one
	setSession    *sql.Stmt // session, log_id, log_index
	statsVisitors *bulk     // returns each new member
	v3LastDay     *sql.Stmt // site_id → the last day stats_visitors_v3 holds members of
	v3Members     *bulk     // returns each member stats_visitors_v3 holds
	sketches      *bulk
	stats         *bulk
	newSessions   *bulk // sessions begun by the batch
	sessions      *bulk // id and the changing columns of continued ones
	clocks        *bulk
}

// prepareStatements prepares the statements of Apply on db. Every rollup
// is an upsert that adds a batch's deltas to the stored counts; the
// visitor sets insert and return only the rows that were new, which is
// what the user counts add.
//
// The multi-row writes say OR FAIL. With SQLite's default, ABORT, a
// statement that writes many rows inside a transaction keeps a statement
// journal, a copy of every page it changes, so that a constraint error
// undoes that statement alone; for inserts scattered over large tables
// that copy cost more than the inserts (inserting 25 600 random members
// into 2 million took 510 ms with it, 190 ms without). FAIL keeps no such
// journal. None of these statements can fail a constraint, and if one
// did, Apply would roll back the whole transaction anyway.
func prepareStatements(ctx context.Context, db *sql.DB) (*statements, error) {
	p := preparer{ctx: ctx, db: db}
	st := &statements{
		logRow:        p.one(`SELECT id, applied_index FROM logs WHERE identity = ?`),
		insertLog:     p.one(`INSERT INTO logs (identity) VALUES (?) ON CONFLICT (identity) DO NOTHING`),
		setCheckpoint: p.one(`UPDATE logs SET applied_index = ?, updated_at = ? WHERE id = ?`),
		dailyPathsOf:  p.one(`SELECT path FROM daily_paths WHERE site_id = ? AND day = ? AND path <> ?`),

		events: p.bulkRows(`INSERT OR FAIL INTO events (log_id, log_index, site_id, event_type, path, query, fragment, user_id, ts, bot,
	visitor, session, hostname, referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
	browser, os, device, country, screen_width, props) VALUES `, "(?, ?, ?, ?, ?, "+texts(3)+", ?, ?, ?, ?, "+texts(12)+", ?, "+texts(1)+")", ``),
		dailyUsers: p.bulk(`INSERT OR FAIL INTO daily_users (site_id, day, user_id) VALUES `, 3,
			` ON CONFLICT (site_id, day, user_id) DO NOTHING RETURNING site_id, day`),
		siteUsers: p.bulk(`INSERT OR FAIL INTO site_users (site_id, user_id) VALUES `, 2,
			` ON CONFLICT (site_id, user_id) DO NOTHING RETURNING site_id`),
		daily: p.bulk(`INSERT OR FAIL INTO daily (site_id, day, views, events, users, bots, paths) VALUES `, 7,
			` ON CONFLICT (site_id, day) DO UPDATE SET
	views = daily.views + excluded.views,
	events = daily.events + excluded.events,
	users = daily.users + excluded.users,
	bots = daily.bots + excluded.bots,
	paths = daily.paths + excluded.paths`),
		dailyTypes: p.bulk(`INSERT OR FAIL INTO daily_types (site_id, day, event_type, events) VALUES `, 4,
			` ON CONFLICT (site_id, day, event_type) DO UPDATE SET events = daily_types.events + excluded.events`),
		dailyPaths: p.bulk(`INSERT OR FAIL INTO daily_paths (site_id, day, path, views) VALUES `, 4,
			` ON CONFLICT (site_id, day, path) DO UPDATE SET views = daily_paths.views + excluded.views`),
		sites: p.bulk(`INSERT OR FAIL INTO sites (site_id, views, events, users, bots) VALUES `, 5,
			` ON CONFLICT (site_id) DO UPDATE SET
	views = sites.views + excluded.views,
	events = sites.events + excluded.events,
	users = sites.users + excluded.users,
	bots = sites.bots + excluded.bots`),
		siteTypes: p.bulk(`INSERT OR FAIL INTO site_types (site_id, event_type, events) VALUES `, 3,
			` ON CONFLICT (site_id, event_type) DO UPDATE SET events = site_types.events + excluded.events`),
		sitePaths: p.bulk(`INSERT OR FAIL INTO site_paths (site_id, path, views) VALUES `, 3,
			` ON CONFLICT (site_id, path) DO UPDATE SET views = site_paths.views + excluded.views`),

		maxSession: p.one(`SELECT COALESCE(MAX(id), 0) FROM sessions`),
		goals:      p.one(`SELECT site_id, name, event_name, page_path FROM goals ORDER BY site_id, id`),
		valuesOf:   p.one(`SELECT value FROM stats WHERE site_id = ? AND dim = ? AND day = ? AND value <> ?`),
		clockOf:    p.one(`SELECT max_ts FROM session_clock WHERE site_id = ?`),
		sessionOf: p.one(`SELECT id, start_ts, last_ts, exit_ts, day, hour, pageviews, events, entry_page, exit_page,
	source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term, browser, os, device, country
	FROM sessions WHERE site_id = ? AND visitor = ? ORDER BY last_ts DESC, id DESC LIMIT 1`),
		sessionsOf: p.bulk(`SELECT s.site_id, s.visitor, s.id, s.start_ts, s.last_ts, s.exit_ts, s.day, s.hour, s.pageviews, s.events,
	s.entry_page, s.exit_page, s.source, s.referrer, s.utm_source, s.utm_medium, s.utm_campaign, s.utm_content, s.utm_term,
	s.browser, s.os, s.device, s.country
	FROM (VALUES `, 2, `) AS k JOIN sessions AS s ON s.id = (SELECT id FROM sessions
		WHERE site_id = k.column1 AND visitor = k.column2 ORDER BY last_ts DESC, id DESC LIMIT 1)`),
		sketchesOf: p.bulk(`SELECT s.site_id, s.dim, s.day, s.value, s.sketch FROM (VALUES `, 4, `) AS k
	JOIN stats_sketches AS s ON s.site_id = k.column1 AND s.dim = k.column2 AND s.day = k.column3 AND s.value = k.column4`),
		setSession: p.one(`UPDATE events SET session = ? WHERE log_id = ? AND log_index = ?`),
		// One site and day per execution, bound once: the member hashes
		// are then the only values per row, and no text is bound per row.
		statsVisitors: p.bulkShared(2, `INSERT OR FAIL INTO stats_visitors (site_id, day, member) SELECT ?, ?, column1 FROM (VALUES `, 1,
			`) WHERE true ON CONFLICT (site_id, day, member) DO NOTHING RETURNING member`),
		v3LastDay: p.one(`SELECT last_day FROM stats_visitors_v3_days WHERE site_id = ?`),
		v3Members: p.bulkShared(1, `SELECT member FROM stats_visitors_v3 WHERE site_id = ? AND member IN (VALUES `, 1, `)`),
		sketches: p.bulk(`INSERT OR FAIL INTO stats_sketches (site_id, dim, day, value, sketch) VALUES `, 5,
			` ON CONFLICT (site_id, dim, day, value) DO UPDATE SET sketch = excluded.sketch`),
		stats: p.bulk(`INSERT OR FAIL INTO stats (site_id, dim, day, value, pageviews, visitors, visits, bounces, duration, events) VALUES `, 10,
			` ON CONFLICT (site_id, dim, day, value) DO UPDATE SET
	pageviews = stats.pageviews + excluded.pageviews,
	visitors = stats.visitors + excluded.visitors,
	visits = stats.visits + excluded.visits,
	bounces = stats.bounces + excluded.bounces,
	duration = stats.duration + excluded.duration,
	events = stats.events + excluded.events`),
		// One row per statement: a multi-row insert into sessions keeps a
		// statement journal even with OR FAIL (its explicit rowid may fail
		// a type check, undone statement by statement), and the journal
		// copies every page of the visitor index that the insert touches:
		// 25 600 sessions inserted 256 a statement took 440 ms, one a
		// statement 160 ms.
		newSessions: p.bulkSized(1, 0, `INSERT INTO sessions (id, site_id, visitor, start_ts, last_ts, exit_ts, day, hour, pageviews, events,
	entry_page, exit_page, source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
	browser, os, device, country) VALUES `, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "+texts(13)+")", ``),
		// A continued visit changes in these columns only: binding its
		// other 15 again cost more than the update.
		sessions: p.bulk(`UPDATE OR FAIL sessions SET
	start_ts = v.column2, last_ts = v.column3, exit_ts = v.column4, pageviews = v.column5, events = v.column6,
	entry_page = v.column7, exit_page = v.column8
	FROM (VALUES `, 8, `) AS v WHERE sessions.id = v.column1`),
		clocks: p.bulk(`INSERT OR FAIL INTO session_clock (site_id, max_ts) VALUES `, 2,
			` ON CONFLICT (site_id) DO UPDATE SET max_ts = excluded.max_ts`),
	}
	if p.err != nil {
		return nil, p.err
	}
	st.bulks = p.made
	return st, nil
}

// placeholders is the group of a row of n values.
func placeholders(n int) string {
	return "(" + strings.Repeat("?, ", n-1) + "?)"
}

// texts are the placeholders of n text columns that are often empty, each
// bound as text() binds it: NULL for the empty string, which coalesce
// stores as the empty string. The driver copies every text value it binds
// into a C allocation of its own and records it to free after the
// execution: on the load tool's events before browsers and referrers,
// 12 of a raw event's 17 text values were empty (a browser's User-Agent
// and a referrer fill up to five of them).
func texts(n int) string {
	return strings.Repeat("coalesce(?, ''), ", n-1) + "coalesce(?, '')"
}

// text is the argument for a placeholder of texts.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// preparer prepares statements until the first error, which it keeps.
type preparer struct {
	ctx  context.Context
	db   *sql.DB
	err  error
	made []*bulk
}

func (p *preparer) one(query string) *sql.Stmt {
	if p.err != nil {
		return nil
	}
	st, err := p.db.PrepareContext(p.ctx, query)
	if err != nil {
		p.err = fmt.Errorf("prepare %q: %w", query, err)
	}
	return st
}

// bulk prepares head, then one "(?, …)" group of cols placeholders per
// row, then tail, once for each size of bulk.
func (p *preparer) bulk(head string, cols int, tail string) *bulk {
	return p.bulkSized(bulkMaxRows, 0, head, placeholders(cols), tail)
}

// bulkRows is bulk with the group of each row given.
func (p *preparer) bulkRows(head, group, tail string) *bulk {
	return p.bulkSized(bulkMaxRows, 0, head, group, tail)
}

// bulkShared is bulk for a statement whose head holds shared placeholders
// bound once per execution (bulk.queryShared).
func (p *preparer) bulkShared(shared int, head string, cols int, tail string) *bulk {
	return p.bulkSized(bulkMaxRows, shared, head, placeholders(cols), tail)
}

// bulkSized prepares head, then group once per row, then tail, with at
// most maxRows rows per statement.
func (p *preparer) bulkSized(maxRows, shared int, head, group, tail string) *bulk {
	b := &bulk{shared: shared, cols: strings.Count(group, "?")}
	for rows := maxRows; rows >= 1; rows /= bulkStep {
		var sb strings.Builder
		sb.WriteString(head)
		for i := range rows {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(group)
		}
		sb.WriteString(tail)
		b.stmts = append(b.stmts, sizedStmt{rows: rows, query: sb.String(), stmt: p.one(sb.String())})
	}
	p.made = append(p.made, b)
	return b
}
