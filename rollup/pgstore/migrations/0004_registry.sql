-- The sites registry (package sites): the registered sites with their
-- time zones and host names, the report keys and the goals, with the
-- meaning of the SQLite store's tables of the same names
-- (rollup/migrations/0002_access.sql, and goals in 0003_analytics.sql).
-- Kept here, not in each data directory, so that every ingest node and
-- report process of this database reads one registry: a site's zone
-- decides the same days on every node, and a key made once is honoured
-- by every report process. Times are Unix seconds, as in SQLite, so the
-- code reads the same values from both.

CREATE TABLE site_registry (
	site_id    text   NOT NULL PRIMARY KEY,
	time_zone  text   NOT NULL DEFAULT 'UTC',
	created_at bigint NOT NULL, -- Unix seconds
	updated_at bigint NOT NULL  -- Unix seconds
);

-- Lower case; "*.example.com" stands for every subdomain of example.com.
CREATE TABLE site_hostnames (
	site_id  text NOT NULL REFERENCES site_registry (site_id) ON DELETE CASCADE,
	hostname text NOT NULL,
	PRIMARY KEY (site_id, hostname)
);

-- Only the SHA-256 of a token is kept. site_id NULL is an admin key. ids
-- come from an identity's sequence, which never hands out a number twice,
-- not even one taken by a transaction that rolled back: as with SQLite's
-- AUTOINCREMENT, the id of a revoked key never names a new one.
CREATE TABLE report_keys (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site_id    text,
	label      text   NOT NULL DEFAULT '',
	hash       bytea  NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at bigint NOT NULL -- Unix seconds
);

-- A custom event name or a page path pattern ('*' matches any run of
-- characters). ids are never reused either: a worker that knew goal 1
-- never mistakes a new goal for it.
CREATE TABLE goals (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site_id    text   NOT NULL,
	name       text   NOT NULL,
	event_name text   NOT NULL DEFAULT '',
	page_path  text   NOT NULL DEFAULT '',
	created_at bigint NOT NULL, -- Unix seconds
	UNIQUE (site_id, name),
	CHECK ((event_name = '') <> (page_path = ''))
);

-- One row counting the changes to the tables above. Every process that
-- serves from this database polls it once a second and re-reads the
-- registry when it moves, so a change made by any process is seen by all
-- without a restart. Writers of the registry lock this row first (package
-- sites), so that they take turns.
CREATE TABLE registry_version (
	id      integer PRIMARY KEY CHECK (id = 1),
	version bigint  NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

-- The counter moves by trigger rather than by the code that writes, so no
-- write to the registry can forget it, whatever made it. Once per
-- statement rather than per row: readers compare the counter, never count
-- with it, so a statement that changed no row moving it costs one
-- needless re-read and nothing else.
CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE registry_version SET version = version + 1 WHERE id = 1;
	RETURN NULL;
END
$$;
CREATE TRIGGER site_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON site_registry
	FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
CREATE TRIGGER site_hostnames_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON site_hostnames
	FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
CREATE TRIGGER report_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON report_keys
	FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
CREATE TRIGGER goals_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON goals
	FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
