package report

// Every statement of GET /api/v1/realtime and GET /api/v1/events is in this
// file, beside query.go's and apisql.go's, because the SQL depends on the
// dialect (INDEXED BY, µs timestamps and the log's key on SQLite;
// timestamptz and the node's key on PostgreSQL).
//
// Both read raw events through events_site_ts (site_id, ts), named so that
// a read can never become a scan of the table. Their cost is bounded by
// what they ask for rather than by the rollups: realtime reads the events
// of the last five minutes; the events list reads at most a page, or
// RawScanBudget rows when filters skip most of them. In a WITHOUT ROWID
// table an index holds the primary key after its own columns, so
// events_site_ts is in fact (site_id, ts, log_id, log_index): it gives the
// list's order, and the position of its cursor, without a sort.
const (
	// The site's IANA zone, from the registry.
	siteZoneSQL = `SELECT time_zone FROM site_registry WHERE site_id = ?`
	// Whether the site has had any event, for one not registered. The
	// all-time totals have a row per site from its first event, bots
	// included.
	siteSeenSQL = `SELECT EXISTS (SELECT 1 FROM sites WHERE site_id = ?)`

	// The last minutes, bots left out: visitors of any event (visitor 0 is
	// unknown, counted as none) and page views; then the pages by their
	// visitors.
	realtimeTotalsSQL = `SELECT count(DISTINCT nullif(visitor, 0)), count(*) FILTER (WHERE event_type = 'page_view')
		FROM events INDEXED BY events_site_ts
		WHERE site_id = ? AND ts BETWEEN ? AND ? AND bot = 0`
	realtimePagesSQL = `SELECT path, count(DISTINCT nullif(visitor, 0)) AS visitors, count(*) AS pageviews
		FROM events INDEXED BY events_site_ts
		WHERE site_id = ? AND ts BETWEEN ? AND ? AND bot = 0 AND event_type = 'page_view'
		GROUP BY path ORDER BY visitors DESC, pageviews DESC, path LIMIT ?`

	// A site's events of [?, ?] µs before the cursor (ts, log_id,
	// log_index), newest first, bots left out. The range's end is at most
	// the cursor's time, which enters the index there; the row value
	// then only orders the events of that one microsecond.
	listEventsSQL = `SELECT ` + listColumns + `
		FROM events AS e INDEXED BY events_site_ts
		WHERE e.site_id = ? AND e.ts BETWEEN ? AND ? AND (e.ts, e.log_id, e.log_index) < (?, ?, ?) AND e.bot = 0
		ORDER BY e.ts DESC, e.log_id DESC, e.log_index DESC LIMIT ?`
	// The same with each event's visit, for filters on visit:*
	// dimensions. An event of an unknown visitor (session 0) has none:
	// its visit values are ''.
	listEventsWithVisitsSQL = `SELECT ` + listColumns + `,
			coalesce(s.entry_page, ''), coalesce(s.exit_page, ''), coalesce(s.source, ''), coalesce(s.referrer, ''),
			coalesce(s.utm_source, ''), coalesce(s.utm_medium, ''), coalesce(s.utm_campaign, ''),
			coalesce(s.utm_content, ''), coalesce(s.utm_term, ''),
			coalesce(s.browser, ''), coalesce(s.os, ''), coalesce(s.device, ''), coalesce(s.country, '')
		FROM events AS e INDEXED BY events_site_ts
		LEFT JOIN sessions AS s ON s.id = e.session AND e.session <> 0
		WHERE e.site_id = ? AND e.ts BETWEEN ? AND ? AND (e.ts, e.log_id, e.log_index) < (?, ?, ?) AND e.bot = 0
		ORDER BY e.ts DESC, e.log_id DESC, e.log_index DESC LIMIT ?`
	listColumns = `e.ts, e.log_id, e.log_index, e.event_type, e.path, e.query, e.hostname, e.referrer, e.source,
		e.utm_source, e.utm_medium, e.utm_campaign, e.utm_content, e.utm_term,
		e.browser, e.os, e.device, e.country, e.screen_width, e.props, e.session, e.visitor`

	listGoalsSQL = `SELECT name, event_name, page_path FROM goals WHERE site_id = ?`
)

// rawStatements are the statements of the raw-event views, and the
// registry reads of every /api/v1 report, in one dialect.
type rawStatements struct {
	siteZone, siteSeen               string
	realtimeTotals, realtimePages    string
	listEvents, listEventsWithVisits string
	listGoals                        string
}

var sqliteRaw = rawStatements{
	siteZone:             siteZoneSQL,
	siteSeen:             siteSeenSQL,
	realtimeTotals:       realtimeTotalsSQL,
	realtimePages:        realtimePagesSQL,
	listEvents:           listEventsSQL,
	listEventsWithVisits: listEventsWithVisitsSQL,
	listGoals:            listGoalsSQL,
}

// postgresRaw reads the PostgreSQL store: the registry's tables of
// migration 0004, and the raw events through events_site_ts (site_id, ts,
// node_id, log_index) of migration 0005, whose order is the list's, ties
// in time broken by the node and its log where SQLite breaks them by the
// log. An event's time is read as Unix microseconds, and compared with
// dialect.at's arguments. Ties of realtime's pages sort by byte order, as
// SQLite's BINARY does.
var postgresRaw = rawStatements{
	siteZone: `SELECT time_zone FROM site_registry WHERE site_id = $1`,
	siteSeen: `SELECT EXISTS (SELECT 1 FROM sites WHERE site_id = $1)`,

	realtimeTotals: `SELECT count(DISTINCT nullif(visitor, 0)), count(*) FILTER (WHERE event_type = 'page_view')
		FROM events
		WHERE site_id = $1 AND ts BETWEEN $2 AND $3 AND NOT bot`,
	realtimePages: `SELECT path, count(DISTINCT nullif(visitor, 0)) AS visitors, count(*) AS pageviews
		FROM events
		WHERE site_id = $1 AND ts BETWEEN $2 AND $3 AND NOT bot AND event_type = 'page_view'
		GROUP BY path ORDER BY visitors DESC, pageviews DESC, path COLLATE "C" LIMIT $4`,

	listEvents: `SELECT ` + pgListColumns + `
		FROM events AS e
		WHERE e.site_id = $1 AND e.ts BETWEEN $2 AND $3 AND (e.ts, e.node_id, e.log_index) < ($4, $5, $6) AND NOT e.bot
		ORDER BY e.ts DESC, e.node_id DESC, e.log_index DESC LIMIT $7`,
	listEventsWithVisits: `SELECT ` + pgListColumns + `,
			coalesce(s.entry_page, ''), coalesce(s.exit_page, ''), coalesce(s.source, ''), coalesce(s.referrer, ''),
			coalesce(s.utm_source, ''), coalesce(s.utm_medium, ''), coalesce(s.utm_campaign, ''),
			coalesce(s.utm_content, ''), coalesce(s.utm_term, ''),
			coalesce(s.browser, ''), coalesce(s.os, ''), coalesce(s.device, ''), coalesce(s.country, '')
		FROM events AS e
		LEFT JOIN sessions AS s ON s.id = e.session AND e.session <> 0
		WHERE e.site_id = $1 AND e.ts BETWEEN $2 AND $3 AND (e.ts, e.node_id, e.log_index) < ($4, $5, $6) AND NOT e.bot
		ORDER BY e.ts DESC, e.node_id DESC, e.log_index DESC LIMIT $7`,

	listGoals: `SELECT name, event_name, page_path FROM goals WHERE site_id = $1`,
}

// pgListColumns are listColumns on PostgreSQL: the node where SQLite has
// the log.
const pgListColumns = `(extract(epoch FROM e.ts) * 1000000)::bigint, e.node_id, e.log_index,
	e.event_type, e.path, e.query, e.hostname, e.referrer, e.source,
	e.utm_source, e.utm_medium, e.utm_campaign, e.utm_content, e.utm_term,
	e.browser, e.os, e.device, e.country, e.screen_width, e.props, e.session, e.visitor`
