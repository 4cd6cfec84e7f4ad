package report

import "strings"

// Every statement of the query API (POST /api/v1/query) is in this file
// (the site's zone aside: rawsql.go's, shared with the other /api/v1
// reports), beside query.go's, because the SQL depends on the dialect
// (INDEXED BY, the µs timestamps) and a PostgreSQL backend will follow.
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
