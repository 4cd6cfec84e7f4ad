-- The analytics model (rollup/analytics.go), with the meaning of the SQLite
-- store's tables of the same names (rollup/migrations/0003 and 0004), kept
-- so that nodes applying at once never wait on one another:
--
-- * A visit belongs to the node that applied its first event, and only
--   that node continues it: a node looks up a visitor's latest visit among
--   its own. A load balancer that sends a client to the same node (by
--   address) keeps visits whole; without one, a visitor who changes node
--   starts a new visit there. Ids are the node's: node_id << 40 plus the
--   node's own count, so no two nodes ever take the same id.
-- * Counts are per node, in rows of the node's own node_id (0 is for
--   folded rows), and readers sum them.
-- * The exact visitor sets are shared: a node counts in its row only the
--   members its transaction newly inserted, so the sum over nodes is the
--   number of distinct visitors, however many nodes a visitor reached.
-- * Each node keeps its own HyperLogLog sketch of a row's visitors;
--   readers merge a key's sketches, and a union of sketches is the sketch
--   of the union.

CREATE TABLE sessions (
	id           bigint NOT NULL PRIMARY KEY,
	node_id      bigint NOT NULL,
	site_id      text   NOT NULL,
	visitor      bigint NOT NULL,
	start_ts     bigint NOT NULL, -- Unix microseconds
	last_ts      bigint NOT NULL,
	exit_ts      bigint NOT NULL, -- time of the page view that is the exit page
	day          text   NOT NULL, -- local day of the start, where the visit counts
	hour         text   NOT NULL, -- local hour of the start, '00'..'23'
	pageviews    bigint NOT NULL,
	events       bigint NOT NULL,
	entry_page   text   NOT NULL,
	exit_page    text   NOT NULL,
	source       text   NOT NULL,
	referrer     text   NOT NULL,
	utm_source   text   NOT NULL,
	utm_medium   text   NOT NULL,
	utm_campaign text   NOT NULL,
	utm_content  text   NOT NULL,
	utm_term     text   NOT NULL,
	browser      text   NOT NULL,
	os           text   NOT NULL,
	device       text   NOT NULL,
	country      text   NOT NULL
);
CREATE INDEX sessions_visitor ON sessions (site_id, visitor, node_id);

-- Per site and node, the newest event time the node applied: its horizon
-- for continuing visits (visitHorizon in rollup/analytics.go).
CREATE TABLE session_clock (
	site_id text   NOT NULL,
	node_id bigint NOT NULL,
	max_ts  bigint NOT NULL,
	PRIMARY KEY (site_id, node_id)
);

CREATE TABLE stats (
	site_id   text   NOT NULL,
	dim       text   NOT NULL,
	day       text   NOT NULL,
	value     text   NOT NULL,
	node_id   bigint NOT NULL,
	pageviews bigint NOT NULL DEFAULT 0,
	visitors  bigint NOT NULL DEFAULT 0,
	visits    bigint NOT NULL DEFAULT 0,
	bounces   bigint NOT NULL DEFAULT 0,
	duration  bigint NOT NULL DEFAULT 0,
	events    bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, dim, day, value, node_id)
);

-- Each member is a 64-bit hash of its stats row's key and the visitor, as
-- in the SQLite store.
CREATE TABLE stats_visitors (
	site_id text   NOT NULL,
	day     text   NOT NULL,
	member  bigint NOT NULL,
	PRIMARY KEY (site_id, day, member)
);

CREATE TABLE stats_sketches (
	site_id text   NOT NULL,
	dim     text   NOT NULL,
	day     text   NOT NULL,
	value   text   NOT NULL,
	node_id bigint NOT NULL,
	sketch  bytea  NOT NULL, -- github.com/axiomhq/hyperloglog, marshalled
	PRIMARY KEY (site_id, dim, day, value, node_id)
);
