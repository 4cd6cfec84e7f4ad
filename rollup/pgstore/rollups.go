package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"sitelog/event"
	"sitelog/rollup"
)

// The rollups count what the SQLite store's do (rollup.Store's batch.add):
// bots only as bots; every other event as an event of its type and its
// user as a visitor of the day and of the site; page views as views, and
// per path under the cap. Each node adds to rows of its own node_id, so
// that nodes never wait on each other's counters, except in the shared
// user sets, where a user inserted by two nodes at once makes the second
// wait for the first to commit. Every statement takes its rows in key
// order (Go's byte order, the same on every node): two transactions that
// lock rows in one order cannot deadlock.

// tally is what a batch adds to the rollups that does not depend on what
// the database holds, counted once per batch. What does (new users, which
// paths are under the cap) is worked out by each attempt of the batch's
// transaction afresh, in a delta.
type tally struct {
	daily      map[dayKey]*counts
	dailyTypes map[dayTypeKey]int64
	dailyUsers map[dayUserKey]struct{}
	sites      map[string]*counts
	siteTypes  map[siteTypeKey]int64
	siteUsers  map[siteUserKey]struct{}
	pageViews  []dayPathKey // in log order: new paths are admitted in it

	zones map[string]*time.Location
	clock localDay
}

type counts struct{ views, events, users, bots, paths int64 }

type (
	dayKey      struct{ site, day string }
	dayTypeKey  struct{ site, day, typ string }
	dayUserKey  struct{ site, day, user string }
	dayPathKey  struct{ site, day, path string }
	siteTypeKey struct{ site, typ string }
	siteUserKey struct{ site, user string }
	sitePathKey struct{ site, path string }
)

func newTally() *tally {
	return &tally{
		daily:      make(map[dayKey]*counts),
		dailyTypes: make(map[dayTypeKey]int64),
		dailyUsers: make(map[dayUserKey]struct{}),
		sites:      make(map[string]*counts),
		siteTypes:  make(map[siteTypeKey]int64),
		siteUsers:  make(map[siteUserKey]struct{}),
		zones:      make(map[string]*time.Location),
	}
}

// local is the event's time in its site's time zone.
func (t *tally) local(s *Store, e *event.Event) time.Time {
	loc, ok := t.zones[e.SiteID]
	if !ok {
		if s.zone != nil {
			loc = s.zone(e.SiteID)
		}
		if loc == nil {
			loc = time.UTC
		}
		t.zones[e.SiteID] = loc
	}
	return e.Time.In(loc)
}

// add counts one event in the day of its site's time zone.
func (t *tally) add(s *Store, e *event.Event) {
	day := t.clock.day(t.local(s, e))
	dk := dayKey{e.SiteID, day}
	dc := t.daily[dk]
	if dc == nil {
		dc = new(counts)
		t.daily[dk] = dc
	}
	sc := t.sites[e.SiteID]
	if sc == nil {
		sc = new(counts)
		t.sites[e.SiteID] = sc
	}
	if e.Bot {
		dc.bots++
		sc.bots++
		return
	}
	dc.events++
	sc.events++
	t.dailyTypes[dayTypeKey{e.SiteID, day, e.Type}]++
	t.siteTypes[siteTypeKey{e.SiteID, e.Type}]++
	if e.UserID != "" {
		t.dailyUsers[dayUserKey{e.SiteID, day, e.UserID}] = struct{}{}
		t.siteUsers[siteUserKey{e.SiteID, e.UserID}] = struct{}{}
	}
	if e.Type == event.PageView {
		dc.views++
		sc.views++
		t.pageViews = append(t.pageViews, dayPathKey{e.SiteID, day, e.Path})
	}
}

// localDay formats local dates, remembering the last one: events come in
// runs of the same day, and formatting each one's allocated a string.
type localDay struct {
	year, yday int
	text       string
}

func (c *localDay) day(lt time.Time) string {
	if y, d := lt.Year(), lt.YearDay(); c.text == "" || y != c.year || d != c.yday {
		c.year, c.yday, c.text = y, d, lt.Format(time.DateOnly)
	}
	return c.text
}

// delta is what one attempt of a batch's transaction learnt from the
// database: the users its inserts found new, and the paths under the cap.
// It is made anew by every attempt, since a rolled back attempt's inserts
// are gone.
type delta struct {
	dayUsers   map[dayKey]int64
	siteUsers  map[string]int64
	dayPaths   map[dayKey]int64 // paths the batch admitted, per day
	dailyPaths map[dayPathKey]int64
	sitePaths  map[sitePathKey]int64
}

// writeRollups adds the batch's tally to the rollups, in tx, which has
// compared and set the node's checkpoint. The shared user sets come first,
// then the node's own rows, the hottest (daily, sites) last, so that the
// locks every batch takes are held for the shortest time.
func (n *Node) writeRollups(ctx context.Context, tx pgx.Tx, t *tally) error {
	if len(t.daily) == 0 {
		return nil
	}
	d := &delta{
		dayUsers:   make(map[dayKey]int64),
		siteUsers:  make(map[string]int64),
		dayPaths:   make(map[dayKey]int64),
		dailyPaths: make(map[dayPathKey]int64),
		sitePaths:  make(map[sitePathKey]int64),
	}
	// The user sets and the reads for the cap in one round trip.
	var b pgx.Batch
	if len(t.dailyUsers) > 0 {
		var sites, days, users []string
		for _, k := range sortedKeys(t.dailyUsers, cmpDayUser) {
			sites, days, users = append(sites, k.site), append(days, k.day), append(users, k.user)
		}
		b.Queue(`INSERT INTO daily_users (site_id, day, user_id)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
			ON CONFLICT DO NOTHING RETURNING site_id, day`, sites, days, users).
			Query(func(rows pgx.Rows) error {
				var k dayKey
				_, err := pgx.ForEachRow(rows, []any{&k.site, &k.day}, func() error { d.dayUsers[k]++; return nil })
				return err
			})
		sites, users = nil, nil
		for _, k := range sortedKeys(t.siteUsers, cmpSiteUser) {
			sites, users = append(sites, k.site), append(users, k.user)
		}
		b.Queue(`INSERT INTO site_users (site_id, user_id)
			SELECT * FROM unnest($1::text[], $2::text[])
			ON CONFLICT DO NOTHING RETURNING site_id`, sites, users).
			Query(func(rows pgx.Rows) error {
				var site string
				_, err := pgx.ForEachRow(rows, []any{&site}, func() error { d.siteUsers[site]++; return nil })
				return err
			})
	}
	// What the node and the folded rows (node 0) already hold of the
	// batch's days: their paths count against the cap, and a path either
	// holds is no new path. Counting the folded ones keeps a Fold from
	// handing every node a fresh cap for a late event's day.
	have := make(map[dayKey]int64)
	stored := make(map[dayPathKey]bool)
	if len(t.pageViews) > 0 {
		var sites, days, paths []string
		seen := make(map[dayPathKey]bool)
		for _, pv := range t.pageViews {
			if !seen[pv] {
				seen[pv] = true
				sites, days, paths = append(sites, pv.site), append(days, pv.day), append(paths, pv.path)
			}
		}
		b.Queue(`SELECT p.site_id, p.day, p.path
			FROM unnest($2::text[], $3::text[], $4::text[]) AS k (site_id, day, path)
			JOIN daily_paths p USING (site_id, day, path)
			WHERE p.node_id IN (0, $1)`, n.id, sites, days, paths).
			Query(func(rows pgx.Rows) error {
				var k dayPathKey
				_, err := pgx.ForEachRow(rows, []any{&k.site, &k.day, &k.path}, func() error { stored[k] = true; return nil })
				return err
			})
		sites, days = nil, nil
		for k, c := range t.daily {
			if c.views > 0 {
				sites, days = append(sites, k.site), append(days, k.day)
			}
		}
		b.Queue(`SELECT d.site_id, d.day, d.paths
			FROM unnest($2::text[], $3::text[]) AS k (site_id, day)
			JOIN daily d USING (site_id, day)
			WHERE d.node_id IN (0, $1)`, n.id, sites, days).
			Query(func(rows pgx.Rows) error {
				var (
					k     dayKey
					paths int64
				)
				_, err := pgx.ForEachRow(rows, []any{&k.site, &k.day, &paths}, func() error { have[k] += paths; return nil })
				return err
			})
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("users and paths: %w", err)
	}
	n.capPaths(t, d, have, stored)

	b = pgx.Batch{}
	queue := func(sql string, args ...any) { b.Queue(sql, append([]any{n.id}, args...)...) }
	{
		keys := sortedKeys(d.dailyPaths, cmpDayPath)
		sites, days, paths, views := column(keys, func(k dayPathKey) string { return k.site }), column(keys, func(k dayPathKey) string { return k.day }),
			column(keys, func(k dayPathKey) string { return k.path }), column(keys, func(k dayPathKey) int64 { return d.dailyPaths[k] })
		queue(`INSERT INTO daily_paths (site_id, day, path, node_id, views)
			SELECT s, d, p, $1, v FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS t (s, d, p, v)
			ON CONFLICT (site_id, day, path, node_id) DO UPDATE SET views = daily_paths.views + excluded.views`,
			sites, days, paths, views)
	}
	{
		keys := sortedKeys(d.sitePaths, cmpSitePath)
		sites, paths, views := column(keys, func(k sitePathKey) string { return k.site }), column(keys, func(k sitePathKey) string { return k.path }),
			column(keys, func(k sitePathKey) int64 { return d.sitePaths[k] })
		queue(`INSERT INTO site_paths (site_id, path, node_id, views)
			SELECT s, p, $1, v FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t (s, p, v)
			ON CONFLICT (site_id, path, node_id) DO UPDATE SET views = site_paths.views + excluded.views`,
			sites, paths, views)
	}
	{
		keys := sortedKeys(t.dailyTypes, cmpDayType)
		sites, days, types, events := column(keys, func(k dayTypeKey) string { return k.site }), column(keys, func(k dayTypeKey) string { return k.day }),
			column(keys, func(k dayTypeKey) string { return k.typ }), column(keys, func(k dayTypeKey) int64 { return t.dailyTypes[k] })
		queue(`INSERT INTO daily_types (site_id, day, event_type, node_id, events)
			SELECT s, d, e, $1, v FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS t (s, d, e, v)
			ON CONFLICT (site_id, day, event_type, node_id) DO UPDATE SET events = daily_types.events + excluded.events`,
			sites, days, types, events)
	}
	{
		keys := sortedKeys(t.siteTypes, cmpSiteType)
		sites, types, events := column(keys, func(k siteTypeKey) string { return k.site }), column(keys, func(k siteTypeKey) string { return k.typ }),
			column(keys, func(k siteTypeKey) int64 { return t.siteTypes[k] })
		queue(`INSERT INTO site_types (site_id, event_type, node_id, events)
			SELECT s, e, $1, v FROM unnest($2::text[], $3::text[], $4::bigint[]) AS t (s, e, v)
			ON CONFLICT (site_id, event_type, node_id) DO UPDATE SET events = site_types.events + excluded.events`,
			sites, types, events)
	}
	{
		keys := sortedKeys(t.daily, cmpDay)
		var sites, days []string
		var views, events, users, bots, paths []int64
		for _, k := range keys {
			c := t.daily[k]
			sites, days = append(sites, k.site), append(days, k.day)
			views, events, bots = append(views, c.views), append(events, c.events), append(bots, c.bots)
			users, paths = append(users, d.dayUsers[k]), append(paths, d.dayPaths[k])
		}
		queue(`INSERT INTO daily (site_id, day, node_id, views, events, users, bots, paths)
			SELECT s, d, $1, v, e, u, b, p
			FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) AS t (s, d, v, e, u, b, p)
			ON CONFLICT (site_id, day, node_id) DO UPDATE SET views = daily.views + excluded.views,
				events = daily.events + excluded.events, users = daily.users + excluded.users,
				bots = daily.bots + excluded.bots, paths = daily.paths + excluded.paths`,
			sites, days, views, events, users, bots, paths)
	}
	{
		keys := slices.Sorted(maps.Keys(t.sites))
		var views, events, users, bots []int64
		for _, k := range keys {
			c := t.sites[k]
			views, events, users, bots = append(views, c.views), append(events, c.events), append(users, d.siteUsers[k]), append(bots, c.bots)
		}
		queue(`INSERT INTO sites (site_id, node_id, views, events, users, bots)
			SELECT s, $1, v, e, u, b FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS t (s, v, e, u, b)
			ON CONFLICT (site_id, node_id) DO UPDATE SET views = sites.views + excluded.views,
				events = sites.events + excluded.events, users = sites.users + excluded.users, bots = sites.bots + excluded.bots`,
			keys, views, events, users, bots)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// capPaths counts the batch's page views per path, under rollup.OtherPath
// for a new path of a day whose node has its PathsPerDay paths, as the
// SQLite store does for the whole day: new paths are admitted in the
// order of their first page view in the log, so what makes it under the
// cap does not depend on how the log was cut into batches. have is the
// paths the node and the folded rows hold per day, stored which of the
// batch's paths either holds. The all-time paths follow the capped path,
// as in the SQLite store.
func (n *Node) capPaths(t *tally, d *delta, have map[dayKey]int64, stored map[dayPathKey]bool) {
	admitted := make(map[dayPathKey]bool)
	for _, pv := range t.pageViews {
		k := dayKey{pv.site, pv.day}
		ok, seen := admitted[pv]
		if !seen {
			switch {
			case stored[pv] || pv.path == rollup.OtherPath:
				ok = true
			case have[k]+d.dayPaths[k] < int64(n.s.pathsPerDay):
				ok = true
				d.dayPaths[k]++
			}
			admitted[pv] = ok
		}
		path := pv.path
		if !ok {
			path = rollup.OtherPath
		}
		d.dailyPaths[dayPathKey{pv.site, pv.day, path}]++
		d.sitePaths[sitePathKey{pv.site, path}]++
	}
}

// sortedKeys returns m's keys in the order of compare.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	return slices.SortedFunc(maps.Keys(m), compare)
}

// column returns f of each key, one array parameter of an unnest.
func column[K, V any](keys []K, f func(K) V) []V {
	out := make([]V, len(keys))
	for i, k := range keys {
		out[i] = f(k)
	}
	return out
}

func cmpDay(a, b dayKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day))
}
func cmpDayType(a, b dayTypeKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.typ, b.typ))
}
func cmpDayUser(a, b dayUserKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.user, b.user))
}
func cmpDayPath(a, b dayPathKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.path, b.path))
}
func cmpSiteType(a, b siteTypeKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.typ, b.typ))
}
func cmpSiteUser(a, b siteUserKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.user, b.user))
}
func cmpSitePath(a, b sitePathKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.path, b.path))
}
