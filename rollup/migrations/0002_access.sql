-- Who may send events for a site and who may read its reports. The table
-- named "sites" holds the all-time rollup totals, so the registry of sites
-- is site_registry.

-- The registered sites. time_zone is an IANA name (UTC unless given).
CREATE TABLE site_registry (
	site_id    TEXT    NOT NULL PRIMARY KEY,
	time_zone  TEXT    NOT NULL DEFAULT 'UTC',
	created_at INTEGER NOT NULL, -- Unix seconds
	updated_at INTEGER NOT NULL  -- Unix seconds
) WITHOUT ROWID;

-- The host names a site's events may come from (the Origin or Referer of
-- a browser's request), lower case; "*.example.com" stands for every
-- subdomain of example.com.
CREATE TABLE site_hostnames (
	site_id  TEXT NOT NULL REFERENCES site_registry (site_id) ON DELETE CASCADE,
	hostname TEXT NOT NULL,
	PRIMARY KEY (site_id, hostname)
) WITHOUT ROWID;

-- Report keys. Only the SHA-256 of a token is kept: the token itself is
-- shown once, when the key is created. site_id NULL is an admin key, which
-- reads every site and may change the registry. AUTOINCREMENT: the id of
-- a revoked key is never given to a new one.
CREATE TABLE report_keys (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	site_id    TEXT,
	label      TEXT    NOT NULL DEFAULT '',
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at INTEGER NOT NULL -- Unix seconds
);

-- One row counting the changes to the three tables above. Every process
-- that serves from this database polls it, and re-reads the registry when
-- it moves: a change made by another process (the sites and keys commands)
-- is seen without a restart.
CREATE TABLE registry_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

-- The counter moves by trigger rather than by the code that writes, so no
-- write to the registry can forget it, whatever made it.
CREATE TRIGGER site_registry_insert AFTER INSERT ON site_registry
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER site_registry_update AFTER UPDATE ON site_registry
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER site_registry_delete AFTER DELETE ON site_registry
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER site_hostnames_insert AFTER INSERT ON site_hostnames
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER site_hostnames_update AFTER UPDATE ON site_hostnames
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER site_hostnames_delete AFTER DELETE ON site_hostnames
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER report_keys_insert AFTER INSERT ON report_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER report_keys_update AFTER UPDATE ON report_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER report_keys_delete AFTER DELETE ON report_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
