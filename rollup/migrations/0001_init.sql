-- The log identities this database has applied from, each with the index
-- of the last entry applied: the worker's checkpoint. Written in the same
-- transaction as the rows below, so a replay after a crash starts exactly
-- after the last committed entry.
CREATE TABLE logs (
	id            INTEGER PRIMARY KEY,
	identity      TEXT    NOT NULL UNIQUE,
	applied_index INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL DEFAULT 0 -- Unix seconds
);

-- Raw events, keyed by where they came from in the log, so the same log
-- entry can never be stored twice. log_id names a logs row, but without a
-- REFERENCES clause: the worker takes it from the logs row it reads in the
-- same transaction, and the check cost a quarter of every event's insert.
CREATE TABLE events (
	log_id     INTEGER NOT NULL,
	log_index  INTEGER NOT NULL,
	site_id    TEXT    NOT NULL,
	event_type TEXT    NOT NULL,
	path       TEXT    NOT NULL,
	query      TEXT    NOT NULL,
	fragment   TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	ts         INTEGER NOT NULL, -- Unix microseconds, UTC
	bot        INTEGER NOT NULL,
	PRIMARY KEY (log_id, log_index)
) WITHOUT ROWID;

-- Per site and day (UTC date, 'YYYY-MM-DD'). views counts page views,
-- events every event that is not a bot's, users the distinct user_ids of
-- those events (the set is daily_users), bots the events sent by bots,
-- paths the rows in daily_paths other than '(other)' (for the cardinality
-- cap: once a day has the most paths allowed, page views of a new path
-- count under the path '(other)').
CREATE TABLE daily (
	site_id TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	views   INTEGER NOT NULL DEFAULT 0,
	events  INTEGER NOT NULL DEFAULT 0,
	users   INTEGER NOT NULL DEFAULT 0,
	bots    INTEGER NOT NULL DEFAULT 0,
	paths   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day)
) WITHOUT ROWID;

CREATE TABLE daily_types (
	site_id    TEXT    NOT NULL,
	day        TEXT    NOT NULL,
	event_type TEXT    NOT NULL,
	events     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day, event_type)
) WITHOUT ROWID;
-- Top event types of a day are read from this index, never sorted.
CREATE INDEX daily_types_top ON daily_types (site_id, day, events DESC, event_type);

CREATE TABLE daily_users (
	site_id TEXT NOT NULL,
	day     TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (site_id, day, user_id)
) WITHOUT ROWID;

CREATE TABLE daily_paths (
	site_id TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	path    TEXT    NOT NULL,
	views   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day, path)
) WITHOUT ROWID;
-- Top paths of a day are read from this index, never sorted.
CREATE INDEX daily_paths_top ON daily_paths (site_id, day, views DESC, path);

-- All-time totals per site, with the same meaning as daily's columns.
CREATE TABLE sites (
	site_id TEXT    NOT NULL PRIMARY KEY,
	views   INTEGER NOT NULL DEFAULT 0,
	events  INTEGER NOT NULL DEFAULT 0,
	users   INTEGER NOT NULL DEFAULT 0,
	bots    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE site_types (
	site_id    TEXT    NOT NULL,
	event_type TEXT    NOT NULL,
	events     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, event_type)
) WITHOUT ROWID;
CREATE INDEX site_types_top ON site_types (site_id, events DESC, event_type);

CREATE TABLE site_users (
	site_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (site_id, user_id)
) WITHOUT ROWID;

CREATE TABLE site_paths (
	site_id TEXT    NOT NULL,
	path    TEXT    NOT NULL,
	views   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, path)
) WITHOUT ROWID;
CREATE INDEX site_paths_top ON site_paths (site_id, views DESC, path);
