package report

// Every statement of the query API (POST /api/v1/query) is in this file,
// beside query.go's, because the SQL depends on the dialect (INDEXED BY,
// the µs timestamps) and a PostgreSQL backend will follow.
//
// The rollup path reads the stats and stats_sketches rows of one dimension
// over a range of days by their primary key (site_id, dim, day, value): the
// rows read are bounded by the days of the range times the values a day may
// hold, whatever the number of events behind them. The raw path reads the
// site's events of the range through events_site_ts, each with its visit.
const (
	// The site's IANA zone; no row means UTC.
	apiZoneSQL = `SELECT time_zone FROM site_registry WHERE site_id = ?`

	// The first local day with any event, for date_range "all".
	apiFirstDaySQL = `SELECT min(day) FROM stats WHERE site_id = ? AND dim = ''`

	apiStatsSQL = `SELECT day, value, pageviews, visitors, visits, bounces, duration, events
		FROM stats WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?`

	apiSketchesSQL = `SELECT day, value, sketch
		FROM stats_sketches WHERE site_id = ? AND dim = ? AND day >= ? AND day <= ?`

	apiGoalsSQL = `SELECT name, event_name, page_path FROM goals WHERE site_id = ? ORDER BY name`

	// The raw events of [?, ?) µs, bots left out, each with its visit (NULLs
	// for an event of an unknown visitor, whose session is 0). The index
	// is named so that a range read can never become a scan of the table.
	apiRawEventsSQL = `SELECT e.ts, e.event_type, e.path, e.hostname, e.props, e.visitor, e.session,
			s.day, s.hour, s.start_ts, s.last_ts, s.pageviews,
			s.entry_page, s.exit_page, s.source, s.referrer,
			s.utm_source, s.utm_medium, s.utm_campaign, s.utm_content, s.utm_term,
			s.browser, s.os, s.device, s.country
		FROM events e INDEXED BY events_site_ts
		LEFT JOIN sessions s ON s.id = e.session AND e.session <> 0
		WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? AND e.bot = 0`
)

// rawVisitDims are the visit dimensions in the order apiRawEventsSQL
// selects them, after the session's pageviews.
var rawVisitDims = []string{
	"visit:entry_page", "visit:exit_page", "visit:source", "visit:referrer",
	"visit:utm_source", "visit:utm_medium", "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
	"visit:browser", "visit:os", "visit:device", "visit:country",
}
