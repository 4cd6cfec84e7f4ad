-- The rollups that GET /stats and GET /stats/events read, with the meaning
-- of the SQLite store's tables of the same names (rollup/migrations), but
-- kept per node: each node adds its batches to rows of its own node_id, in
-- the transaction that sets its checkpoint, so nodes applying at once
-- never wait on each other's counters and each batch counts exactly once.
-- Readers sum over node_id. node_id 0 holds what Fold has folded: the rows
-- of past days, summed, so that reading a long range does not cost a row
-- per node and day.
--
-- day is the site's local date, 'YYYY-MM-DD', as in the SQLite store.
-- users is the number of user-set rows that a node's transactions newly
-- inserted: the sets below are shared, so a user that arrives through two
-- nodes counts in the row of the node that inserted it first, and the sum
-- over nodes is the number of distinct users. paths is the node's rows in
-- daily_paths other than '(other)', for the node's share of the cap on
-- distinct paths; summed over nodes it is not a count of distinct paths.
CREATE TABLE daily (
	site_id text   NOT NULL,
	day     text   NOT NULL,
	node_id bigint NOT NULL,
	views   bigint NOT NULL DEFAULT 0,
	events  bigint NOT NULL DEFAULT 0,
	users   bigint NOT NULL DEFAULT 0,
	bots    bigint NOT NULL DEFAULT 0,
	paths   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day, node_id)
);

CREATE TABLE daily_types (
	site_id    text   NOT NULL,
	day        text   NOT NULL,
	event_type text   NOT NULL,
	node_id    bigint NOT NULL,
	events     bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day, event_type, node_id)
);

-- node_id last in the key: the paths of a day are read, and summed, across
-- nodes from one range of the index.
CREATE TABLE daily_paths (
	site_id text   NOT NULL,
	day     text   NOT NULL,
	path    text   NOT NULL,
	node_id bigint NOT NULL,
	views   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, day, path, node_id)
);

-- The exact sets of users, shared by all nodes rather than kept per node:
-- a user counts once however many nodes its events came through. Nodes
-- insert into them in key order, so that two inserting the same users
-- wait on each other in one order and cannot deadlock.
CREATE TABLE daily_users (
	site_id text NOT NULL,
	day     text NOT NULL,
	user_id text NOT NULL,
	PRIMARY KEY (site_id, day, user_id)
);

-- All-time totals per site, with daily's meaning. Never folded: a site has
-- one row per node here, not one per node and day.
CREATE TABLE sites (
	site_id text   NOT NULL,
	node_id bigint NOT NULL,
	views   bigint NOT NULL DEFAULT 0,
	events  bigint NOT NULL DEFAULT 0,
	users   bigint NOT NULL DEFAULT 0,
	bots    bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, node_id)
);

CREATE TABLE site_types (
	site_id    text   NOT NULL,
	event_type text   NOT NULL,
	node_id    bigint NOT NULL,
	events     bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, event_type, node_id)
);

CREATE TABLE site_paths (
	site_id text   NOT NULL,
	path    text   NOT NULL,
	node_id bigint NOT NULL,
	views   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, path, node_id)
);

CREATE TABLE site_users (
	site_id text NOT NULL,
	user_id text NOT NULL,
	PRIMARY KEY (site_id, user_id)
);
