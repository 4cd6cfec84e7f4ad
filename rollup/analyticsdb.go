package rollup

import (
	"context"
	"database/sql"
	"errors"
	"slices"
)

// analyticsDB is where the analytics model reads the state a batch
// continues and writes what the batch changed, in the batch's
// transaction: the SQLite store's (sqliteAnalytics), or a node's of the
// PostgreSQL store (pgAnalytics). The model itself, which visit an event
// joins and what each row counts, is the same for both.
type analyticsDB interface {
	// lastSession is the greatest visit id this writer has given, or
	// the id before its first.
	lastSession(ctx context.Context) (int64, error)
	// goals are every site's goals, by site.
	goals(ctx context.Context) (map[string][]goal, error)
	// values are the values stored for a dimension on a site's day,
	// OtherPath left out: the cardinality cap's count.
	values(ctx context.Context, k dimDay) (map[string]struct{}, error)
	// clock is the newest event time applied for the site (Unix µs), 0
	// for none.
	clock(ctx context.Context, site string) (int64, error)
	// latestSession is the visitor's latest visit (greatest last event,
	// then greatest id) that this writer may continue, nil for none.
	latestSession(ctx context.Context, k visitorKey) (*session, error)
	// latestSessions is latestSession for many visitors (sorted) at
	// once: those with a visit, by key.
	latestSessions(ctx context.Context, keys []visitorKey) (map[visitorKey]*session, error)
	// addMembers inserts the members (sorted) of a site's day into its
	// exact visitor sets, and returns, appended to fresh, those that were
	// not there before.
	addMembers(ctx context.Context, site, day string, hashes, fresh []int64) ([]int64, error)
	// sketches are the stored sketches of stats rows (sorted), by key;
	// a row without one has none in the map.
	sketches(ctx context.Context, keys []statKey) (map[statKey][]byte, error)
	// writeSketches stores data[i] as the sketch of rows[i] (sorted).
	writeSketches(ctx context.Context, rows []*row, data [][]byte) error
	// writeStats adds each row's deltas (sorted by key) to its stats row.
	writeStats(ctx context.Context, rows []*row) error
	// writeSessions inserts the visits the batch began and updates those
	// it continued, each sorted by id.
	writeSessions(ctx context.Context, begun, continued []*session) error
	// writeClocks stores clocks[i] as the clock of sites[i] (sorted).
	writeClocks(ctx context.Context, sites []string, clocks []int64) error
}

// sqliteAnalytics is the analytics model's side of the SQLite store, in
// the transaction of one batch.
type sqliteAnalytics struct {
	tx   *writeTx
	st   *statements
	args *[]any // the batch's scratch arguments, reused
	pace *pacer // the batch goroutine's
}

func (d sqliteAnalytics) lastSession(ctx context.Context) (int64, error) {
	var id int64
	err := d.tx.StmtContext(ctx, d.st.maxSession).QueryRowContext(ctx).Scan(&id)
	return id, err
}

func (d sqliteAnalytics) goals(ctx context.Context) (map[string][]goal, error) {
	rows, err := d.tx.StmtContext(ctx, d.st.goals).QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanGoals(rows)
}

// rowScanner is what both drivers' rows have: *sql.Rows and pgx.Rows.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanGoals reads rows of (site_id, name, event_name, page_path) into
// every site's goals.
func scanGoals(rows rowScanner) (map[string][]goal, error) {
	goals := make(map[string][]goal)
	for rows.Next() {
		var site string
		var g goal
		if err := rows.Scan(&site, &g.name, &g.event, &g.path); err != nil {
			return nil, err
		}
		goals[site] = append(goals[site], g)
	}
	return goals, rows.Err()
}

func (d sqliteAnalytics) values(ctx context.Context, k dimDay) (map[string]struct{}, error) {
	rows, err := d.tx.StmtContext(ctx, d.st.valuesOf).QueryContext(ctx, k.site, k.dim, k.day, OtherPath)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanValues(rows)
}

// scanValues reads rows of one value each into a set.
func scanValues(rows rowScanner) (map[string]struct{}, error) {
	stored := make(map[string]struct{})
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		stored[v] = struct{}{}
	}
	return stored, rows.Err()
}

func (d sqliteAnalytics) clock(ctx context.Context, site string) (int64, error) {
	var t int64
	err := d.tx.StmtContext(ctx, d.st.clockOf).QueryRowContext(ctx, site).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return t, err
}

func (d sqliteAnalytics) latestSession(ctx context.Context, k visitorKey) (*session, error) {
	s := &session{site: k.site, visitor: k.visitor, vals: new(visitVals)}
	err := d.tx.StmtContext(ctx, d.st.sessionOf).QueryRowContext(ctx, k.site, k.visitor).Scan(
		&s.id, &s.start, &s.last, &s.exitTS, &s.day, &s.hour, &s.pageviews, &s.events, &s.entry, &s.exit,
		&s.vals[0], &s.vals[1], &s.vals[2], &s.vals[3], &s.vals[4], &s.vals[5], &s.vals[6],
		&s.vals[7], &s.vals[8], &s.vals[9], &s.vals[10])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d sqliteAnalytics) latestSessions(ctx context.Context, keys []visitorKey) (map[visitorKey]*session, error) {
	args := (*d.args)[:0]
	for _, k := range keys {
		d.pace.tick()
		args = append(args, k.site, k.visitor)
	}
	*d.args = args
	found := make(map[visitorKey]*session)
	err := d.st.sessionsOf.query(ctx, d.tx, args, func(rows *sql.Rows) error {
		s := &session{vals: new(visitVals)}
		if err := rows.Scan(&s.site, &s.visitor,
			&s.id, &s.start, &s.last, &s.exitTS, &s.day, &s.hour, &s.pageviews, &s.events, &s.entry, &s.exit,
			&s.vals[0], &s.vals[1], &s.vals[2], &s.vals[3], &s.vals[4], &s.vals[5], &s.vals[6],
			&s.vals[7], &s.vals[8], &s.vals[9], &s.vals[10]); err != nil {
			return err
		}
		found[visitorKey{s.site, s.visitor}] = s
		return nil
	})
	return found, err
}

func (d sqliteAnalytics) addMembers(ctx context.Context, site, day string, hashes, fresh []int64) ([]int64, error) {
	args := (*d.args)[:0]
	for _, h := range hashes {
		args = append(args, h)
	}
	*d.args = args
	var h int64
	err := d.st.statsVisitors.queryShared(ctx, d.tx, []any{site, day}, args, func(rows *sql.Rows) error {
		if err := rows.Scan(&h); err != nil {
			return err
		}
		fresh = append(fresh, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.notInV3(ctx, site, day, fresh)
}

// notInV3 returns the members of fresh, new to stats_visitors on the
// site's day, that stats_visitors_v3 does not hold either: a database
// migrated from schema 3 keeps there, without their day, the members of
// the days it had.
func (d sqliteAnalytics) notInV3(ctx context.Context, site, day string, fresh []int64) ([]int64, error) {
	if len(fresh) == 0 {
		return fresh, nil
	}
	var last string
	err := d.tx.StmtContext(ctx, d.st.v3LastDay).QueryRowContext(ctx, site).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && day > last) {
		return fresh, nil
	}
	if err != nil {
		return nil, err
	}
	args := (*d.args)[:0]
	for _, h := range fresh {
		args = append(args, h)
	}
	*d.args = args
	old := make(map[int64]bool)
	var h int64
	err = d.st.v3Members.queryShared(ctx, d.tx, []any{site}, args, func(rows *sql.Rows) error {
		if err := rows.Scan(&h); err != nil {
			return err
		}
		old[h] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fresh, func(h int64) bool { return old[h] }), nil
}

func (d sqliteAnalytics) sketches(ctx context.Context, keys []statKey) (map[statKey][]byte, error) {
	stored := make(map[statKey][]byte)
	args := (*d.args)[:0]
	for _, k := range keys {
		d.pace.tick()
		args = append(args, k.site, k.dim, k.day, k.value)
	}
	*d.args = args
	err := d.st.sketchesOf.query(ctx, d.tx, args, func(rows *sql.Rows) error {
		var k statKey
		var data []byte
		if err := rows.Scan(&k.site, &k.dim, &k.day, &k.value, &data); err != nil {
			return err
		}
		stored[k] = data
		return nil
	})
	return stored, err
}

func (d sqliteAnalytics) writeSketches(ctx context.Context, rows []*row, data [][]byte) error {
	args := (*d.args)[:0]
	for i, r := range rows {
		d.pace.tick()
		k := r.key
		args = append(args, k.site, k.dim, k.day, k.value, data[i])
	}
	*d.args = args
	return d.st.sketches.exec(ctx, d.tx, args)
}

func (d sqliteAnalytics) writeStats(ctx context.Context, rows []*row) error {
	args := (*d.args)[:0]
	for _, r := range rows {
		d.pace.tick()
		k := r.key
		args = append(args, k.site, k.dim, k.day, k.value, r.pageviews, r.visitors, r.visits, r.bounces, r.duration, r.events)
	}
	*d.args = args
	return d.st.stats.exec(ctx, d.tx, args)
}

func (d sqliteAnalytics) writeSessions(ctx context.Context, begun, continued []*session) error {
	args := (*d.args)[:0]
	for _, s := range begun {
		d.pace.tick()
		args = append(args, s.id, s.site, s.visitor, s.start, s.last, s.exitTS, s.day, s.hour, s.pageviews, s.events, text(s.entry), text(s.exit))
		for _, v := range s.vals {
			args = append(args, text(v))
		}
	}
	*d.args = args
	if err := d.st.newSessions.exec(ctx, d.tx, args); err != nil {
		return err
	}
	args = args[:0]
	for _, s := range continued {
		d.pace.tick()
		args = append(args, s.id, s.start, s.last, s.exitTS, s.pageviews, s.events, s.entry, s.exit)
	}
	*d.args = args
	return d.st.sessions.exec(ctx, d.tx, args)
}

func (d sqliteAnalytics) writeClocks(ctx context.Context, sites []string, clocks []int64) error {
	args := (*d.args)[:0]
	for i, site := range sites {
		args = append(args, site, clocks[i])
	}
	*d.args = args
	return d.st.clocks.exec(ctx, d.tx, args)
}
