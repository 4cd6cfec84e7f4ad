package rollup

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"sitelog/event"
)

// NodeModel is the analytics model of one node of the PostgreSQL store
// (rollup/pgstore): the model of the SQLite store, reading and writing the
// node's rows of the tables of pgstore's migration 0003 in the
// transaction of each of the node's batches. A node continues only the
// visits it began, counts into stats rows of its own, and shares the exact
// visitor sets with every node. A NodeModel belongs to its node's worker.
type NodeModel struct {
	a     *analytics
	db    pgAnalytics
	clock localClock
}

// NewNodeModel returns the model of node, which caps the distinct values
// of a dimension per site and day at capLimit, as Options.PathsPerDay.
func NewNodeModel(node int64, capLimit int) *NodeModel {
	if capLimit <= 0 {
		capLimit = DefaultPathsPerDay
	}
	return &NodeModel{a: newAnalytics(capLimit), db: pgAnalytics{node: node}}
}

// Begin starts a batch of events in tx, reading at once the latest visits
// of the batch's visitors that the model does not remember: one statement
// instead of one per visitor.
func (m *NodeModel) Begin(ctx context.Context, tx pgx.Tx, events []event.Event) error {
	m.db.tx = tx
	if err := m.a.begin(ctx, m.db); err != nil {
		return err
	}
	return m.a.prefetch(ctx, events)
}

// Add counts one event at lt, its time in its site's zone, and returns the
// id of the visit it joined: 0 for a bot's event or an unknown visitor.
func (m *NodeModel) Add(ctx context.Context, e *event.Event, lt time.Time) (int64, error) {
	if e.Bot {
		return 0, nil
	}
	day, hour := m.clock.local(lt)
	return m.a.add(ctx, e, day, hour)
}

// Write writes what the batch changed, in its transaction.
func (m *NodeModel) Write(ctx context.Context) error { return m.a.write(ctx) }

// Commit keeps what the batch taught the model, once its transaction has
// committed.
func (m *NodeModel) Commit() { m.a.commit() }

// Forget drops what the model remembers, after a batch that failed: what
// it read or wrote may or may not be in the database.
func (m *NodeModel) Forget() { m.a.forget() }

// nodeIDShift places a node's visit ids: node << nodeIDShift, plus the
// node's own count, so that nodes never take the same id without asking
// one another.
const nodeIDShift = 40

// pgAnalytics is the analytics model's side of a PostgreSQL node, in the
// transaction of one batch. Every statement takes a whole batch's rows,
// sorted, as arrays: one round trip each, and locks taken in one order by
// every node.
type pgAnalytics struct {
	tx   pgx.Tx
	node int64
}

func (d pgAnalytics) lastSession(ctx context.Context) (int64, error) {
	base := d.node << nodeIDShift
	var id int64
	err := d.tx.QueryRow(ctx, `SELECT coalesce(max(id), $1) FROM sessions WHERE id >= $1 AND id < $2`,
		base, base+1<<nodeIDShift).Scan(&id)
	return id, err
}

func (d pgAnalytics) goals(ctx context.Context) (map[string][]goal, error) {
	rows, err := d.tx.Query(ctx, `SELECT site_id, name, event_name, page_path FROM goals ORDER BY site_id, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanGoals(rows)
}

func (d pgAnalytics) values(ctx context.Context, k dimDay) (map[string]struct{}, error) {
	rows, err := d.tx.Query(ctx, `SELECT DISTINCT value FROM stats WHERE site_id = $1 AND dim = $2 AND day = $3 AND value <> $4`,
		k.site, k.dim, k.day, OtherPath)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanValues(rows)
}

func (d pgAnalytics) clock(ctx context.Context, site string) (int64, error) {
	var t int64
	err := d.tx.QueryRow(ctx, `SELECT max_ts FROM session_clock WHERE site_id = $1 AND node_id = $2`, site, d.node).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return t, err
}

// sessionColumns are the columns of a visit that scanSession reads, after
// its site and visitor.
const sessionColumns = `id, start_ts, last_ts, exit_ts, day, hour, pageviews, events, entry_page, exit_page,
	source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term, browser, os, device, country`

func scanSession(row pgx.Row, s *session) error {
	s.vals = new(visitVals)
	return row.Scan(&s.site, &s.visitor,
		&s.id, &s.start, &s.last, &s.exitTS, &s.day, &s.hour, &s.pageviews, &s.events, &s.entry, &s.exit,
		&s.vals[0], &s.vals[1], &s.vals[2], &s.vals[3], &s.vals[4], &s.vals[5], &s.vals[6],
		&s.vals[7], &s.vals[8], &s.vals[9], &s.vals[10])
}

func (d pgAnalytics) latestSession(ctx context.Context, k visitorKey) (*session, error) {
	s := new(session)
	err := scanSession(d.tx.QueryRow(ctx, `SELECT site_id, visitor, `+sessionColumns+` FROM sessions
		WHERE site_id = $1 AND visitor = $2 AND node_id = $3 ORDER BY last_ts DESC, id DESC LIMIT 1`,
		k.site, k.visitor, d.node), s)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d pgAnalytics) latestSessions(ctx context.Context, keys []visitorKey) (map[visitorKey]*session, error) {
	sites, visitors := make([]string, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		sites[i], visitors[i] = k.site, k.visitor
	}
	rows, err := d.tx.Query(ctx, `SELECT DISTINCT ON (s.site_id, s.visitor) s.site_id, s.visitor, `+sessionColumns+`
		FROM unnest($1::text[], $2::bigint[]) AS k(site_id, visitor)
		JOIN sessions AS s ON s.site_id = k.site_id AND s.visitor = k.visitor AND s.node_id = $3
		ORDER BY s.site_id, s.visitor, s.last_ts DESC, s.id DESC`, sites, visitors, d.node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[visitorKey]*session)
	for rows.Next() {
		s := new(session)
		if err := scanSession(rows, s); err != nil {
			return nil, err
		}
		found[visitorKey{s.site, s.visitor}] = s
	}
	return found, rows.Err()
}

func (d pgAnalytics) addMembers(ctx context.Context, site, day string, hashes, fresh []int64) ([]int64, error) {
	rows, err := d.tx.Query(ctx, `INSERT INTO stats_visitors (site_id, day, member)
		SELECT $1, $2, m FROM unnest($3::bigint[]) AS m
		ON CONFLICT (site_id, day, member) DO NOTHING RETURNING member`, site, day, hashes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		fresh = append(fresh, h)
	}
	return fresh, rows.Err()
}

// statKeyColumns splits keys into the arrays of their columns.
func statKeyColumns(n int, key func(int) statKey) (sites, dims, days, values []string) {
	sites, dims, days, values = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		k := key(i)
		sites[i], dims[i], days[i], values[i] = k.site, k.dim, k.day, k.value
	}
	return sites, dims, days, values
}

func (d pgAnalytics) sketches(ctx context.Context, keys []statKey) (map[statKey][]byte, error) {
	stored := make(map[statKey][]byte)
	if len(keys) == 0 {
		return stored, nil
	}
	sites, dims, days, values := statKeyColumns(len(keys), func(i int) statKey { return keys[i] })
	rows, err := d.tx.Query(ctx, `SELECT s.site_id, s.dim, s.day, s.value, s.sketch
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(site_id, dim, day, value)
		JOIN stats_sketches AS s USING (site_id, dim, day, value)
		WHERE s.node_id = $5`, sites, dims, days, values, d.node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k statKey
		var data []byte
		if err := rows.Scan(&k.site, &k.dim, &k.day, &k.value, &data); err != nil {
			return nil, err
		}
		stored[k] = data
	}
	return stored, rows.Err()
}

func (d pgAnalytics) writeSketches(ctx context.Context, rows []*row, data [][]byte) error {
	if len(rows) == 0 {
		return nil
	}
	sites, dims, days, values := statKeyColumns(len(rows), func(i int) statKey { return rows[i].key })
	_, err := d.tx.Exec(ctx, `INSERT INTO stats_sketches (site_id, dim, day, value, node_id, sketch)
		SELECT site_id, dim, day, value, $6, sketch
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS u(site_id, dim, day, value, sketch)
		ON CONFLICT (site_id, dim, day, value, node_id) DO UPDATE SET sketch = excluded.sketch`,
		sites, dims, days, values, data, d.node)
	return err
}

func (d pgAnalytics) writeStats(ctx context.Context, rows []*row) error {
	if len(rows) == 0 {
		return nil
	}
	sites, dims, days, values := statKeyColumns(len(rows), func(i int) statKey { return rows[i].key })
	counts := make([][]int64, 6)
	for c := range counts {
		counts[c] = make([]int64, len(rows))
	}
	for i, r := range rows {
		counts[0][i], counts[1][i], counts[2][i] = r.pageviews, r.visitors, r.visits
		counts[3][i], counts[4][i], counts[5][i] = r.bounces, r.duration, r.events
	}
	_, err := d.tx.Exec(ctx, `INSERT INTO stats (site_id, dim, day, value, node_id, pageviews, visitors, visits, bounces, duration, events)
		SELECT site_id, dim, day, value, $11, pageviews, visitors, visits, bounces, duration, events
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
			$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
			AS u(site_id, dim, day, value, pageviews, visitors, visits, bounces, duration, events)
		ON CONFLICT (site_id, dim, day, value, node_id) DO UPDATE SET
			pageviews = stats.pageviews + excluded.pageviews,
			visitors = stats.visitors + excluded.visitors,
			visits = stats.visits + excluded.visits,
			bounces = stats.bounces + excluded.bounces,
			duration = stats.duration + excluded.duration,
			events = stats.events + excluded.events`,
		sites, dims, days, values, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], d.node)
	return err
}

func (d pgAnalytics) writeSessions(ctx context.Context, begun, continued []*session) error {
	if len(begun) > 0 {
		n := len(begun)
		ids, visitors, starts, lasts, exits, pvs, evs := make([]int64, n), make([]int64, n), make([]int64, n),
			make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		text := make([][]string, 5+len(VisitDims)) // site, day, hour, entry, exit, the visit values
		for c := range text {
			text[c] = make([]string, n)
		}
		for i, s := range begun {
			ids[i], visitors[i], starts[i], lasts[i], exits[i], pvs[i], evs[i] = s.id, s.visitor, s.start, s.last, s.exitTS, s.pageviews, s.events
			text[0][i], text[1][i], text[2][i], text[3][i], text[4][i] = s.site, s.day, s.hour, s.entry, s.exit
			for v := range s.vals {
				text[5+v][i] = s.vals[v]
			}
		}
		args := []any{d.node, ids, visitors, starts, lasts, exits, pvs, evs}
		for _, c := range text {
			args = append(args, c)
		}
		_, err := d.tx.Exec(ctx, `INSERT INTO sessions (node_id, id, visitor, start_ts, last_ts, exit_ts, pageviews, events,
			site_id, day, hour, entry_page, exit_page,
			source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term, browser, os, device, country)
			SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
				$9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
				$14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[])`,
			args...)
		if err != nil {
			return err
		}
	}
	if len(continued) == 0 {
		return nil
	}
	n := len(continued)
	ids, starts, lasts, exits, pvs, evs := make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n)
	entries, exitPages := make([]string, n), make([]string, n)
	for i, s := range continued {
		ids[i], starts[i], lasts[i], exits[i], pvs[i], evs[i] = s.id, s.start, s.last, s.exitTS, s.pageviews, s.events
		entries[i], exitPages[i] = s.entry, s.exit
	}
	_, err := d.tx.Exec(ctx, `UPDATE sessions SET start_ts = v.start_ts, last_ts = v.last_ts, exit_ts = v.exit_ts,
			pageviews = v.pageviews, events = v.events, entry_page = v.entry_page, exit_page = v.exit_page
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[])
			AS v(id, start_ts, last_ts, exit_ts, pageviews, events, entry_page, exit_page)
		WHERE sessions.id = v.id`, ids, starts, lasts, exits, pvs, evs, entries, exitPages)
	return err
}

func (d pgAnalytics) writeClocks(ctx context.Context, sites []string, clocks []int64) error {
	if len(sites) == 0 {
		return nil
	}
	_, err := d.tx.Exec(ctx, `INSERT INTO session_clock (site_id, node_id, max_ts)
		SELECT site_id, $3, max_ts FROM unnest($1::text[], $2::bigint[]) AS u(site_id, max_ts)
		ON CONFLICT (site_id, node_id) DO UPDATE SET max_ts = excluded.max_ts`, sites, clocks, d.node)
	return err
}
