-- The analytics model: what ingest derives for each event, sessions kept
-- by the worker, and per-dimension rollups with visitor sketches. Days are
-- the site's local days (site_registry.time_zone), 'YYYY-MM-DD'.

-- Raw events carry what ingest derived, and the session the worker put
-- them in, so that filtered queries and a rebuild can read them back.
ALTER TABLE events ADD COLUMN visitor      INTEGER NOT NULL DEFAULT 0; -- event.Event.Visitor as a signed 64-bit integer
ALTER TABLE events ADD COLUMN session      INTEGER NOT NULL DEFAULT 0; -- sessions.id; 0 for bots and unknown visitors
ALTER TABLE events ADD COLUMN hostname     TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN referrer     TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN source       TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN utm_source   TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN utm_medium   TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN utm_campaign TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN utm_content  TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN utm_term     TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN browser      TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN os           TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN device       TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN country      TEXT    NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN screen_width INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN props        TEXT    NOT NULL DEFAULT ''; -- event.Event.Props

-- Filtered queries, the raw-event API and retention read a site's events
-- by time through this index.
CREATE INDEX events_site_ts ON events (site_id, ts);

-- Visits. A visit is the events of one visitor on one site with no gap of
-- 30 minutes or more between them. The attributes are those of the first
-- event, except exit, which follows the visit's latest page view. Values
-- are stored as sent: the cardinality cap applies where they are counted.
CREATE TABLE sessions (
	id           INTEGER PRIMARY KEY,
	site_id      TEXT    NOT NULL,
	visitor      INTEGER NOT NULL,
	start_ts     INTEGER NOT NULL, -- Unix microseconds
	last_ts      INTEGER NOT NULL,
	exit_ts      INTEGER NOT NULL, -- time of the page view that is the exit page
	day          TEXT    NOT NULL, -- local day of the start, where the visit counts
	hour         TEXT    NOT NULL, -- local hour of the start, '00'..'23'
	pageviews    INTEGER NOT NULL,
	events       INTEGER NOT NULL,
	entry_page   TEXT    NOT NULL,
	exit_page    TEXT    NOT NULL,
	source       TEXT    NOT NULL,
	referrer     TEXT    NOT NULL,
	utm_source   TEXT    NOT NULL,
	utm_medium   TEXT    NOT NULL,
	utm_campaign TEXT    NOT NULL,
	utm_content  TEXT    NOT NULL,
	utm_term     TEXT    NOT NULL,
	browser      TEXT    NOT NULL,
	os           TEXT    NOT NULL,
	device       TEXT    NOT NULL,
	country      TEXT    NOT NULL
);
-- Without last_ts, which changes with every event of a visit: a visitor
-- has few visits to sort.
CREATE INDEX sessions_visitor ON sessions (site_id, visitor);

-- The latest event time applied per site: a visit whose last event is more
-- than two days older can no longer be continued (so that which visit an
-- event joins depends on the events alone, never on how they were batched).
CREATE TABLE session_clock (
	site_id TEXT    NOT NULL PRIMARY KEY,
	max_ts  INTEGER NOT NULL
) WITHOUT ROWID;

-- Per site, dimension, local day and value. dim '' with value '' is the
-- site's totals; otherwise dim is a query API dimension name
-- ('event:page', 'visit:source', 'event:props:plan', 'time:hour', ...).
-- pageviews and events count on the event's day; visits, bounces and
-- duration (seconds) on the day the visit started, under the visit's
-- values; visitors are exact, the rows of stats_visitors.
CREATE TABLE stats (
	site_id   TEXT    NOT NULL,
	dim       TEXT    NOT NULL,
	day       TEXT    NOT NULL,
	value     TEXT    NOT NULL,
	pageviews INTEGER NOT NULL DEFAULT 0,
	visitors  INTEGER NOT NULL DEFAULT 0,
	visits    INTEGER NOT NULL DEFAULT 0,
	bounces   INTEGER NOT NULL DEFAULT 0,
	duration  INTEGER NOT NULL DEFAULT 0,
	events    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, dim, day, value)
) WITHOUT ROWID;

-- The distinct visitors of each stats row, each as a 64-bit hash of the
-- row's key and the visitor (memberHash): an integer key makes the check
-- for a new visitor a fraction of what the five columns cost. Two members
-- of a site share a hash with a probability of about n²/2⁶⁵ for n rows,
-- 1 in 3 700 at a hundred million, which would count one visitor short.
-- Written only for visitors not seen before on the row, so that its
-- visitors column stays exact.
CREATE TABLE stats_visitors (
	site_id TEXT    NOT NULL,
	member  INTEGER NOT NULL,
	PRIMARY KEY (site_id, member)
) WITHOUT ROWID;

-- A HyperLogLog sketch (github.com/axiomhq/hyperloglog, marshalled) of the
-- visitors of each stats row, merged across days for the unique visitors
-- of a range.
CREATE TABLE stats_sketches (
	site_id TEXT NOT NULL,
	dim     TEXT NOT NULL,
	day     TEXT NOT NULL,
	value   TEXT NOT NULL,
	sketch  BLOB NOT NULL,
	PRIMARY KEY (site_id, dim, day, value)
) WITHOUT ROWID;

-- Goals: a custom event name or a page path pattern ('*' matches any run
-- of characters) whose visitors are counted under dim 'goal', value name.
CREATE TABLE goals (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	site_id    TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	event_name TEXT    NOT NULL DEFAULT '',
	page_path  TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL, -- Unix seconds
	UNIQUE (site_id, name),
	CHECK ((event_name = '') <> (page_path = ''))
);
CREATE TRIGGER goals_insert AFTER INSERT ON goals
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER goals_delete AFTER DELETE ON goals
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;

-- Requests to recompute a site's rollups (site_id '' for every site) from
-- its raw events, made by `sitelog rebuild` and carried out by the worker
-- between batches.
CREATE TABLE rebuilds (
	id           INTEGER PRIMARY KEY,
	site_id      TEXT    NOT NULL,
	requested_at INTEGER NOT NULL, -- Unix seconds
	finished_at  INTEGER,
	error        TEXT
);
