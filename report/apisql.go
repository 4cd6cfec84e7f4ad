package report

import "strings"

// Every statement of the query API (POST /api/v1/query) is in this file
// (the site's zone aside: rawsql.go's, shared with the other /api/v1
// reports), beside query.go's, because the SQL depends on the dialect:
// INDEXED BY and µs timestamps on SQLite; on PostgreSQL, sums over the
// nodes' rows of a key, a sketch per node and key, and timestamptz.
//
// The rollup path reads the stats and stats_sketches rows of one dimension
// over a range of days by their primary key (site_id, dim, day, value): the
// rows read are bounded by the days of the range times the values a day may
// hold, whatever the number of events behind them. The raw path reads the
// site's events of the range through events_site_ts, each with its visit.
const (
	// The first local day with any event, for date_range "all".
	apiFirstDaySQL = `SELECT min(day) FROM stats WHERE site_id = ? AND dim = ''`

	apiStatsSQL = `SELECT day, value, pageviews, visitors, visits, bounces, duration, events
		FROM stats WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?`

	apiSketchesSQL = `SELECT day, value, sketch
		FROM stats_sketches WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?`

	apiSketchSQL = `SELECT sketch FROM stats_sketches WHERE site_id = ? AND dim = ? AND day = ? AND value = ?`

	apiGoalsSQL = `SELECT name, event_name, page_path FROM goals WHERE site_id = ? ORDER BY name`

	// The raw events of [?, ?) µs, bots left out. The index is named so
	// that a range read can never become a scan of the table.
	apiRawEventsSQL = `SELECT ts, event_type, path, hostname, props, visitor, session
		FROM events INDEXED BY events_site_ts
		WHERE site_id = ? AND ts >= ? AND ts < ? AND bot = 0`

	rawSessionCols = `id, day, hour, start_ts, last_ts, pageviews,
		entry_page, exit_page, source, referrer,
		utm_source, utm_medium, utm_campaign, utm_content, utm_term,
		browser, os, device, country`
)

// rawSessionBatch is how many visits apiRawSessionsSQL reads by id at
// once: the visits of the events read, each once rather than once per
// event (a join would decode them per event, five times the cost).
const rawSessionBatch = 256

var apiRawSessionsSQL = `SELECT ` + rawSessionCols + ` FROM sessions WHERE id IN (?` +
	strings.Repeat(", ?", rawSessionBatch-1) + `)`

// rawVisitDims are the visit dimensions in the order rawSessionCols
// names them, after pageviews.
var rawVisitDims = []string{
	"visit:entry_page", "visit:exit_page", "visit:source", "visit:referrer",
	"visit:utm_source", "visit:utm_medium", "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
	"visit:browser", "visit:os", "visit:device", "visit:country",
}

// apiStatements are the query API's statements in one dialect.
type apiStatements struct {
	firstDay, stats, sketches, sketch, goals, rawEvents, rawSessions string
	// sessionArgs are the arguments of rawSessions for at most
	// rawSessionBatch ids.
	sessionArgs func(ids []int64) []any
}

var sqliteAPI = apiStatements{
	firstDay:    apiFirstDaySQL,
	stats:       apiStatsSQL,
	sketches:    apiSketchesSQL,
	sketch:      apiSketchSQL,
	goals:       apiGoalsSQL,
	rawEvents:   apiRawEventsSQL,
	rawSessions: apiRawSessionsSQL,
	sessionArgs: func(ids []int64) []any {
		// The statement has rawSessionBatch places: the last id again
		// fills those left.
		args := make([]any, rawSessionBatch)
		for i := range args {
			args[i] = ids[min(i, len(ids)-1)]
		}
		return args
	},
}

// postgresAPI reads the PostgreSQL store, where each node counts into
// stats rows of its own (node_id; 0 for folded days) and keeps its own
// sketch of a key's visitors. The stats are summed by key, so that the
// code above sees one row per key as on SQLite: a key's visitors summed
// over nodes are its distinct visitors (the visitor sets are shared), and
// one row's figure stays exact. A key's sketches come as a row per node,
// each merged into the key's groups: the union of the nodes' sketches is
// the sketch of the union of their visitors. Event times are timestamptz,
// read as Unix microseconds and compared with dialect.at's arguments.
var postgresAPI = apiStatements{
	firstDay: `SELECT min(day) FROM stats WHERE site_id = $1 AND dim = ''`,
	stats: `SELECT day, value, sum(pageviews)::bigint, sum(visitors)::bigint, sum(visits)::bigint,
			sum(bounces)::bigint, sum(duration)::bigint, sum(events)::bigint
		FROM stats WHERE site_id = $1 AND dim = $2 AND day >= $3 AND day <= $4
		GROUP BY day, value`,
	sketches: `SELECT day, value, sketch
		FROM stats_sketches WHERE site_id = $1 AND dim = $2 AND day >= $3 AND day <= $4`,
	sketch: `SELECT sketch FROM stats_sketches WHERE site_id = $1 AND dim = $2 AND day = $3 AND value = $4`,
	goals:  `SELECT name, event_name, page_path FROM goals WHERE site_id = $1 ORDER BY name COLLATE "C"`,
	rawEvents: `SELECT (extract(epoch FROM ts) * 1000000)::bigint, event_type, path, hostname, props, visitor, session
		FROM events
		WHERE site_id = $1 AND ts >= $2 AND ts < $3 AND NOT bot`,
	rawSessions: `SELECT ` + rawSessionCols + ` FROM sessions WHERE id = ANY($1)`,
	sessionArgs: func(ids []int64) []any { return []any{ids} },
}
