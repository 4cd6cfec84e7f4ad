-- The members of stats_visitors under their site and day: a batch's new
-- members then fall into the few pages of the days it applies to, rather
-- than on pages scattered over every day ever stored, which each batch
-- dirtied, wrote to the WAL and often read from disk first. The old rows
-- cannot be given a day (the member is a hash), so they are recomputed:
-- the migration asks the worker for a rebuild of every site.
DROP TABLE stats_visitors;
CREATE TABLE stats_visitors (
	site_id TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	member  INTEGER NOT NULL,
	PRIMARY KEY (site_id, day, member)
) WITHOUT ROWID;
INSERT INTO rebuilds (site_id, requested_at)
	SELECT '', CAST(strftime('%s', 'now') AS INTEGER) WHERE EXISTS (SELECT 1 FROM stats);
