package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"sitelog/rollup"
)

// foldLock is the key of the advisory lock that Fold runs under: two
// Folds at once would add into the same rows of node 0 in no set order.
const foldLock = 0x73697465_6c6f6703 // "sitelog" and 3

// folds are the per-day rollups that Fold folds, in the order a batch
// writes them (rollups.go, then the analytics model): Fold locks their rows table by table and in
// key order, as a batch does, so that the two cannot deadlock. The daily
// rows come after daily_paths, so that the folded day's paths count its
// folded path rows. The all-time tables (sites, site_types, site_paths)
// are not folded: they hold a row per node and key, not per node, key and
// day, so they do not grow with the range read.
var folds = []struct {
	table string
	keys  string // the key without node_id, in index order
	match string // the join of a row to its locked key
	cols  string // the count columns
	lock  string // ORDER BY of the key, in Go's byte order
	sums  string // the count columns summed into node 0
	set   string // how node 0's row takes them
}{
	{
		table: "daily_paths",
		keys:  "site_id, day, path",
		match: "(t.site_id, t.day, t.path, t.node_id) = (l.site_id, l.day, l.path, l.node_id)",
		cols:  "views",
		lock:  `site_id COLLATE "C", day COLLATE "C", path COLLATE "C", node_id`,
		sums:  "sum(views)",
		set:   "views = daily_paths.views + excluded.views",
	},
	{
		table: "daily_types",
		keys:  "site_id, day, event_type",
		match: "(t.site_id, t.day, t.event_type, t.node_id) = (l.site_id, l.day, l.event_type, l.node_id)",
		cols:  "events",
		lock:  `site_id COLLATE "C", day COLLATE "C", event_type COLLATE "C", node_id`,
		sums:  "sum(events)",
		set:   "events = daily_types.events + excluded.events",
	},
	{
		table: "daily",
		keys:  "site_id, day",
		match: "(t.site_id, t.day, t.node_id) = (l.site_id, l.day, l.node_id)",
		cols:  "views, events, users, bots, paths",
		lock:  `site_id COLLATE "C", day COLLATE "C", node_id`,
		// paths keeps its meaning for node 0: the day's folded path rows,
		// which is what a node's cap counts them as.
		sums: `sum(views), sum(events), sum(users), sum(bots),
			(SELECT count(*) FROM daily_paths p WHERE p.site_id = d.site_id AND p.day = d.day AND p.node_id = 0 AND p.path <> $2)`,
		set: `views = daily.views + excluded.views, events = daily.events + excluded.events,
			users = daily.users + excluded.users, bots = daily.bots + excluded.bots, paths = excluded.paths`,
	},
	{
		// The analytics model's rows, which a batch writes after the
		// rollups above. Their sketches stay a row per node: merging
		// them takes the sketches' own code, and readers merge a key's
		// sketches anyway.
		table: "stats",
		keys:  "site_id, dim, day, value",
		match: "(t.site_id, t.dim, t.day, t.value, t.node_id) = (l.site_id, l.dim, l.day, l.value, l.node_id)",
		cols:  "pageviews, visitors, visits, bounces, duration, events",
		lock:  `site_id COLLATE "C", dim COLLATE "C", day COLLATE "C", value COLLATE "C", node_id`,
		sums:  "sum(pageviews), sum(visitors), sum(visits), sum(bounces), sum(duration), sum(events)",
		set: `pageviews = stats.pageviews + excluded.pageviews, visitors = stats.visitors + excluded.visitors,
			visits = stats.visits + excluded.visits, bounces = stats.bounces + excluded.bounces,
			duration = stats.duration + excluded.duration, events = stats.events + excluded.events`,
	},
}

// Fold replaces the per-node rows of the daily rollups of days before
// before ('YYYY-MM-DD') by their sums under node 0, in one transaction, so
// that reading a long range costs a row per key rather than one per node
// and key; sums over node_id are unchanged. It is safe while nodes apply:
// a late event into a folded day makes a per-node row again, which the
// next Fold folds. Fold returns the number of rows it removed.
//
// Each table is folded by one statement that locks the rows it folds in
// the order batches lock them, and deletes only rows it has locked: a row
// a batch makes meanwhile is left for the next Fold rather than waited
// for out of order, which could deadlock with the batch. A row a batch
// changed meanwhile is folded as changed (READ COMMITTED follows the
// update to the version it locked).
func (s *Store) Fold(ctx context.Context, before string) (int64, error) {
	var removed int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		removed = 0
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(foldLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		for _, f := range folds {
			args := []any{before}
			if f.table == "daily" {
				args = append(args, rollup.OtherPath)
			}
			// MATERIALIZED: every row is locked, in order, before the
			// first is deleted.
			sql := fmt.Sprintf(`WITH locked AS MATERIALIZED (
					SELECT %[2]s, node_id FROM %[1]s WHERE day < $1 AND node_id <> 0 ORDER BY %[6]s FOR UPDATE
				), gone AS (
					DELETE FROM %[1]s t USING locked l WHERE %[7]s RETURNING t.*
				), folded AS (
					INSERT INTO %[1]s (%[2]s, node_id, %[5]s)
					SELECT %[2]s, 0, %[3]s FROM gone d GROUP BY %[2]s
					ON CONFLICT (%[2]s, node_id) DO UPDATE SET %[4]s
				)
				SELECT count(*) FROM gone`, f.table, f.keys, f.sums, f.set, f.cols, f.lock, f.match)
			var n int64
			if err := tx.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
				return fmt.Errorf("%s: %w", f.table, err)
			}
			removed += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: fold before %s: %w", before, err)
	}
	return removed, nil
}
