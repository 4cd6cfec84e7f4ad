-- The daily salts of visitor ids (package derive), shared by every ingest
-- node: a visitor's id is a hash of the day's salt, the site, its address
-- and its User-Agent, so nodes with salts of their own would give one
-- visitor a different id on each node it reaches, and count it once per
-- node. The first node to need a day's salt keeps the one it drew; every
-- other node takes that one. Deleted two days on, as the file of a single
-- server is: after that nobody can tell whether two of those days'
-- visitor ids are the same person. day is the UTC day number (days since
-- 1970-01-01).
CREATE TABLE salts (
	day  bigint NOT NULL PRIMARY KEY,
	salt bytea  NOT NULL CHECK (length(salt) = 32)
);
