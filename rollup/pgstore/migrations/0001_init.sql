-- The ingest nodes that apply into this database, each with its own log.
-- id comes from a sequence, so an id is never handed out twice, even after
-- its node is retired or a transaction that took it rolled back. identity
-- is the log's own random identity, bound to one node for good. epoch is
-- bumped by every start of the node: a process that applies with an older
-- epoch has been replaced and is fenced off. applied_index is the
-- checkpoint, the last log index applied, written in the same transaction
-- as the raw events. low_watermark is the time of the node's oldest
-- unapplied event as of that checkpoint: retention drops no day that a
-- node may still apply events into.
CREATE TABLE nodes (
	id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	identity      text        NOT NULL UNIQUE,
	epoch         bigint      NOT NULL DEFAULT 0,
	applied_index bigint      NOT NULL DEFAULT 0,
	low_watermark timestamptz NOT NULL DEFAULT now(),
	status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
	checkpoint_at timestamptz NOT NULL DEFAULT now(),
	created_at    timestamptz NOT NULL DEFAULT now()
);

-- Raw events, with the columns of the SQLite store's events table, keyed
-- by where they came from: (node_id, log_index), each pair stored once
-- because the checkpoint is compared and set in the transaction that
-- copies them. That key is not declared: a primary key would cost over a third
-- of the COPY rate (measured: 473k against 750k rows/s), and the
-- checkpoint already guarantees it. One partition per UTC day of ts, so
-- that retention drops whole days without deleting rows; BRIN on ts, since
-- rows arrive in roughly time order.
CREATE TABLE events (
	node_id      bigint      NOT NULL,
	log_index    bigint      NOT NULL,
	site_id      text        NOT NULL,
	event_type   text        NOT NULL,
	path         text        NOT NULL,
	query        text        NOT NULL,
	fragment     text        NOT NULL,
	user_id      text        NOT NULL,
	ts           timestamptz NOT NULL,
	bot          boolean     NOT NULL,
	visitor      bigint      NOT NULL DEFAULT 0, -- event.Event.Visitor as a signed 64-bit integer
	session      bigint      NOT NULL DEFAULT 0, -- 0 until the PostgreSQL store keeps sessions
	hostname     text        NOT NULL DEFAULT '',
	referrer     text        NOT NULL DEFAULT '',
	source       text        NOT NULL DEFAULT '',
	utm_source   text        NOT NULL DEFAULT '',
	utm_medium   text        NOT NULL DEFAULT '',
	utm_campaign text        NOT NULL DEFAULT '',
	utm_content  text        NOT NULL DEFAULT '',
	utm_term     text        NOT NULL DEFAULT '',
	browser      text        NOT NULL DEFAULT '',
	os           text        NOT NULL DEFAULT '',
	device       text        NOT NULL DEFAULT '',
	country      text        NOT NULL DEFAULT '',
	screen_width integer     NOT NULL DEFAULT 0,
	props        text        NOT NULL DEFAULT '' -- event.Event.Props
) PARTITION BY RANGE (ts);
CREATE INDEX events_ts ON events USING brin (ts);
