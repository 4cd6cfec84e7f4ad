-- The members of stats_visitors under their site and day: a batch's new
-- members then fall into the few pages of the days it applies to, rather
-- than on pages scattered over every day ever stored, which each batch
-- dirtied, wrote to the WAL and often read from disk first.
--
-- The old rows cannot be given a day (the member is a hash of the row's
-- key, day included, and the visitor), so they stay where they are under
-- another name, and stats_visitors_v3_days says up to which day of each
-- site they hold members: a member new to stats_visitors on such a day is
-- new only if stats_visitors_v3 does not hold it either. Later days never
-- look there.
ALTER TABLE stats_visitors RENAME TO stats_visitors_v3;
CREATE TABLE stats_visitors_v3_days (
	site_id  TEXT NOT NULL PRIMARY KEY,
	last_day TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO stats_visitors_v3_days (site_id, last_day)
	SELECT site_id, MAX(day) FROM stats GROUP BY site_id;
CREATE TABLE stats_visitors (
	site_id TEXT    NOT NULL,
	day     TEXT    NOT NULL,
	member  INTEGER NOT NULL,
	PRIMARY KEY (site_id, day, member)
) WITHOUT ROWID;
