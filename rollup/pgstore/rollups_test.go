package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/internal/pgtest"
	"sitelog/rollup"
	"sitelog/wal"
)

// mixed returns entries first..first+n-1 of a varied log: two sites, page
// views of six paths and signups, users from a pool of five and some
// without one, a bot every seventh entry, over two days. salt shifts the
// pattern, so that nodes send different but overlapping events.
func mixed(first uint64, n int, salt int) []wal.Entry {
	es := make([]wal.Entry, n)
	for i := range es {
		idx := first + uint64(i)
		k := int(idx) + salt
		e := event.Event{
			SiteID: []string{"a.example", "b.example"}[k%2],
			Type:   event.PageView,
			Path:   fmt.Sprintf("/p%d", k%6),
			Time:   t0.Add(time.Duration(k%3) * 10 * time.Hour), // 09:30, 19:30, 05:30 the next day
			Bot:    k%7 == 0,
		}
		if k%5 != 0 {
			e.UserID = fmt.Sprintf("u%d", k%5)
		}
		if k%4 == 0 {
			e.Type, e.Path = "signup", ""
		}
		es[i] = wal.Entry{Index: idx, Data: e.AppendBinary(nil)}
	}
	return es
}

// rollups reads every rollup as readers do, summed over node_id, keyed
// "table|key…|column"; zero counts are left out.
func rollups(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	m := make(map[string]int64)
	for _, q := range []struct{ name, sql string }{
		{"daily", "SELECT site_id, day, sum(views)::bigint AS views, sum(events)::bigint AS events, sum(users)::bigint AS users, sum(bots)::bigint AS bots FROM daily GROUP BY 1, 2"},
		{"daily_types", "SELECT site_id, day, event_type, sum(events)::bigint AS events FROM daily_types GROUP BY 1, 2, 3"},
		{"daily_paths", "SELECT site_id, day, path, sum(views)::bigint AS views FROM daily_paths GROUP BY 1, 2, 3"},
		{"daily_users", "SELECT site_id, day, count(*) AS users FROM daily_users GROUP BY 1, 2"},
		{"sites", "SELECT site_id, sum(views)::bigint AS views, sum(events)::bigint AS events, sum(users)::bigint AS users, sum(bots)::bigint AS bots FROM sites GROUP BY 1"},
		{"site_types", "SELECT site_id, event_type, sum(events)::bigint AS events FROM site_types GROUP BY 1, 2"},
		{"site_paths", "SELECT site_id, path, sum(views)::bigint AS views FROM site_paths GROUP BY 1, 2"},
		{"site_users", "SELECT site_id, count(*) AS users FROM site_users GROUP BY 1"},
	} {
		collect(t, s, m, q.name, q.sql)
	}
	return m
}

// recount counts the rollups again from the raw events, in SQL, for days
// in the PostgreSQL time zone zone and with each node admitting the
// first paths (per site and day) of its log up to paths.
func recount(t *testing.T, s *Store, zone string, paths int) map[string]int64 {
	t.Helper()
	const ev = `WITH ev AS (SELECT *, to_char(ts AT TIME ZONE $1, 'YYYY-MM-DD') AS day FROM events) `
	// pv is the page views with the path each counts under: the node's
	// paths ranked by their first page view in its log.
	const pv = `, views AS (
			SELECT node_id, log_index, site_id, day, path FROM ev WHERE NOT bot AND event_type = 'page_view'
		), firsts AS (
			SELECT node_id, site_id, day, path, row_number() OVER (PARTITION BY node_id, site_id, day ORDER BY min(log_index)) AS rank
			FROM views WHERE path <> '(other)' GROUP BY 1, 2, 3, 4
		), pv AS (
			SELECT v.site_id, v.day, CASE WHEN v.path = '(other)' OR f.rank <= $2 THEN v.path ELSE '(other)' END AS path
			FROM views v LEFT JOIN firsts f USING (node_id, site_id, day, path)
		) `
	m := make(map[string]int64)
	for _, q := range []struct{ name, sql string }{
		{"daily", ev + `SELECT site_id, day,
			count(*) FILTER (WHERE NOT bot AND event_type = 'page_view') AS views,
			count(*) FILTER (WHERE NOT bot) AS events,
			count(DISTINCT user_id) FILTER (WHERE NOT bot AND user_id <> '') AS users,
			count(*) FILTER (WHERE bot) AS bots
			FROM ev GROUP BY 1, 2`},
		{"daily_types", ev + "SELECT site_id, day, event_type, count(*) AS events FROM ev WHERE NOT bot GROUP BY 1, 2, 3"},
		{"daily_paths", ev + pv + "SELECT site_id, day, path, count(*) AS views FROM pv GROUP BY 1, 2, 3"},
		{"daily_users", ev + "SELECT site_id, day, count(DISTINCT user_id) AS users FROM ev WHERE NOT bot AND user_id <> '' GROUP BY 1, 2"},
		{"sites", ev + `SELECT site_id,
			count(*) FILTER (WHERE NOT bot AND event_type = 'page_view') AS views,
			count(*) FILTER (WHERE NOT bot) AS events,
			count(DISTINCT user_id) FILTER (WHERE NOT bot AND user_id <> '') AS users,
			count(*) FILTER (WHERE bot) AS bots
			FROM ev GROUP BY 1`},
		{"site_types", ev + "SELECT site_id, event_type, count(*) AS events FROM ev WHERE NOT bot GROUP BY 1, 2"},
		{"site_paths", ev + pv + "SELECT site_id, path, count(*) AS views FROM pv GROUP BY 1, 2"},
		{"site_users", ev + "SELECT site_id, count(DISTINCT user_id) AS users FROM ev WHERE NOT bot AND user_id <> '' GROUP BY 1"},
	} {
		args := []any{zone}
		if strings.Contains(q.sql, "$2") {
			args = append(args, paths)
		}
		collect(t, s, m, q.name, q.sql, args...)
	}
	return m
}

// collect adds the rows of sql to m: the text columns make the key, each
// bigint column a count.
func collect(t *testing.T, s *Store, m map[string]int64, name, sql string, args ...any) {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		key := name
		for i, v := range vals {
			switch v := v.(type) {
			case string:
				key += "|" + v
			case int64:
				if v != 0 {
					m[key+"|"+rows.FieldDescriptions()[i].Name] = v
				}
			default:
				t.Fatalf("%s: column %s is a %T", name, rows.FieldDescriptions()[i].Name, v)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// same fails t, listing the differences, unless got equals want.
func same(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(maps.Collect(func(yield func(string, int64) bool) {
		for k, v := range got {
			yield(k, v)
		}
		for k, v := range want {
			yield(k, v)
		}
	}))) {
		if got[k] != want[k] {
			diff = append(diff, fmt.Sprintf("%s: %d, want %d", k, got[k], want[k]))
		}
	}
	t.Fatalf("%s differ:\n%s", what, strings.Join(diff, "\n"))
}

// recounted fails t unless the rollups equal a recount of the raw events,
// in UTC and without a cap that the events reach.
func recounted(t *testing.T, s *Store) {
	t.Helper()
	same(t, "rollups and a recount of the raw events", rollups(t, s), recount(t, s, "UTC", rollup.DefaultPathsPerDay))
}

func TestRollups(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()

	t.Run("one node", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, mixed(1, 40, 0))
		apply(t, n, mixed(41, 40, 0))
		recounted(t, s)
		// Spot checks that the recount counts what it should.
		if got := count(t, s, "SELECT sum(bots) FROM daily"); got != 11 {
			t.Errorf("%d bots; want 11, every seventh of 80", got)
		}
		if got := count(t, s, "SELECT sum(users) FROM sites WHERE site_id = 'a.example'"); got != 4 {
			t.Errorf("%d users of a.example; want 4", got)
		}
	})

	t.Run("a replayed batch counts once", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		n := attach(t, s, Local{Identity: "log-a"})
		apply(t, n, mixed(1, 30, 0))
		apply(t, n, mixed(1, 30, 0))
		again := attach(t, s, Local{Identity: "log-a", NodeID: n.ID(), First: 1, Last: 50})
		apply(t, again, mixed(1, 50, 0))
		if got := count(t, s, "SELECT count(*) FROM events"); got != 50 {
			t.Fatalf("%d events; want 50", got)
		}
		recounted(t, s)
	})

	t.Run("a fenced batch changes no rollup", func(t *testing.T) {
		s := open(t, srv.NewDatabase(t))
		old := attach(t, s, Local{Identity: "log-a"})
		apply(t, old, mixed(1, 20, 0))
		attach(t, s, Local{Identity: "log-a", NodeID: old.ID(), First: 1, Last: 20})
		before := rollups(t, s)
		if err := old.Apply(ctx, mixed(21, 20, 0), time.Time{}); !errors.Is(err, ErrFenced) {
			t.Fatalf("apply of the old epoch: err = %v; want ErrFenced", err)
		}
		same(t, "rollups before and after a fenced batch", rollups(t, s), before)
		recounted(t, s)
	})

	t.Run("each node caps its own paths", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		s, err := Open(ctx, dsn, Options{PathsPerDay: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a := attach(t, s, Local{Identity: "log-a"})
		b := attach(t, s, Local{Identity: "log-b"})
		at := func(first uint64, paths ...string) []wal.Entry {
			es := make([]wal.Entry, len(paths))
			for i, p := range paths {
				es[i] = wal.Entry{Index: first + uint64(i), Data: pageView(p, t0)}
			}
			return es
		}
		apply(t, a, at(1, "/a", "/b", "/a"))
		// The third new path fits, the fourth and fifth do not; a path
		// the node has, and "(other)" itself, always count as themselves.
		apply(t, a, at(4, "/c", "/d", "/b", "/e", "(other)", "/d"))
		// Node b has a cap of its own, and admits /d.
		apply(t, b, at(1, "/d", "/a"))
		want := map[string]int64{"/a": 3, "/b": 2, "/c": 1, "/d": 1, rollup.OtherPath: 4}
		for path, views := range want {
			if got := count(t, s, "SELECT coalesce(sum(views), 0) FROM daily_paths WHERE path = $1", path); got != views {
				t.Errorf("path %s: %d views; want %d", path, got, views)
			}
			if got := count(t, s, "SELECT coalesce(sum(views), 0) FROM site_paths WHERE path = $1", path); got != views {
				t.Errorf("all-time path %s: %d views; want %d", path, got, views)
			}
		}
		if got := count(t, s, "SELECT paths FROM daily WHERE node_id = $1", a.ID()); got != 3 {
			t.Errorf("node a has %d paths; want 3", got)
		}
		same(t, "rollups and a recount with a cap of 3", rollups(t, s), recount(t, s, "UTC", 3))
	})

	t.Run("days are the site's local days", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		plus2 := time.FixedZone("+02:00", 2*60*60)
		s, err := Open(ctx, dsn, Options{Zone: func(site string) *time.Location {
			if site == "example.com" {
				return plus2
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		n := attach(t, s, Local{Identity: "log-a"})
		late := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
		other := event.Event{SiteID: "other.example", Type: event.PageView, Path: "/", Time: late}
		apply(t, n, []wal.Entry{{Index: 1, Data: pageView("/", late)}, {Index: 2, Data: other.AppendBinary(nil)}})
		for _, c := range []struct {
			site, day string
			views     int64
		}{
			{"example.com", "2026-03-11", 1},
			{"example.com", "2026-03-10", 0},
			{"other.example", "2026-03-10", 1}, // no zone: UTC
		} {
			got := count(t, s, "SELECT coalesce(sum(views), 0) FROM daily WHERE site_id = $1 AND day = $2", c.site, c.day)
			if got != c.views {
				t.Errorf("%s on %s: %d views; want %d", c.site, c.day, got, c.views)
			}
		}
		if got := count(t, s, "SELECT count(*) FROM daily_users WHERE site_id = 'example.com' AND day = '2026-03-11'"); got != 1 {
			t.Errorf("%d users of example.com on 2026-03-11; want 1", got)
		}
	})
}

// TestRollupsConcurrent applies the logs of three nodes at once, each of
// them the same site's page views of the same day, by the same users and
// of the same paths: each user counts once, every event once, and the
// server breaks no deadlock.
func TestRollupsConcurrent(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	const nodes, batches, size = 3, 30, 40
	s, _ := applyConcurrently(t, dsn, nodes, func(i int) [][]wal.Entry {
		out := make([][]wal.Entry, batches)
		for b := range out {
			// Users of a batch are new to the day in each of them,
			// u<b>-<0..size/2>, and every node sends them at once.
			es := make([]wal.Entry, size)
			for j := range es {
				e := event.Event{SiteID: "example.com", Type: event.PageView, Path: fmt.Sprintf("/p%d", (j+i)%7),
					UserID: fmt.Sprintf("u%d-%d", b, (j*(i+1))%(size/2)), Time: t0}
				if j%9 == 0 {
					e.Type = "click"
				}
				es[j] = wal.Entry{Index: uint64(b*size + j + 1), Data: e.AppendBinary(nil)}
			}
			out[b] = es
		}
		return out
	})
	recounted(t, s)
	if got := count(t, s, "SELECT sum(users) FROM daily"); got != batches*size/2 {
		t.Errorf("%d users; want %d", got, batches*size/2)
	}
	if log := srv.Log(t); strings.Contains(log, "deadlock detected") {
		t.Errorf("the server broke a deadlock:\n%s", log)
	}
}

func TestFold(t *testing.T) {
	srv := pgtest.Start(t)
	s := open(t, srv.NewDatabase(t))
	ctx := context.Background()
	a := attach(t, s, Local{Identity: "log-a"})
	b := attach(t, s, Local{Identity: "log-b"})
	// Days 2026-03-10 and 2026-03-11 from both nodes.
	apply(t, a, mixed(1, 60, 0))
	apply(t, b, mixed(1, 60, 1))
	fold := func(before string) int64 {
		t.Helper()
		n, err := s.Fold(ctx, before)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// perNode counts the rows of days before 2026-03-11 that are not
	// folded, and rows that are not one per key.
	perNode := func() (rows, extra int64) {
		t.Helper()
		for _, q := range []struct{ table, key string }{
			{"daily", "site_id, day"},
			{"daily_types", "site_id, day, event_type"},
			{"daily_paths", "site_id, day, path"},
			{"stats", "site_id, dim, day, value"},
		} {
			rows += count(t, s, fmt.Sprintf("SELECT count(*) FROM %s WHERE day < '2026-03-11' AND node_id <> 0", q.table))
			extra += count(t, s, fmt.Sprintf("SELECT count(*) - count(DISTINCT (%s)) FROM %s WHERE day < '2026-03-11'", q.key, q.table))
		}
		return rows, extra
	}

	before := rollups(t, s)
	rows, _ := perNode()
	if rows == 0 {
		t.Fatal("no per-node rows to fold")
	}
	if got := fold("2026-03-11"); got != rows {
		t.Fatalf("Fold removed %d rows; want %d", got, rows)
	}
	if rows, extra := perNode(); rows != 0 || extra != 0 {
		t.Fatalf("after Fold, %d per-node rows and %d rows beyond one per key; want none", rows, extra)
	}
	if got := count(t, s, "SELECT count(*) FROM daily WHERE day >= '2026-03-11' AND node_id = 0"); got != 0 {
		t.Fatalf("%d rows of later days folded; want none", got)
	}
	same(t, "reads before and after Fold", rollups(t, s), before)
	recounted(t, s)
	if got := fold("2026-03-11"); got != 0 {
		t.Fatalf("Fold again removed %d rows; want 0", got)
	}

	// A late event into the folded day makes a per-node row again, which
	// adds to the folded one and is folded next time.
	apply(t, a, mixed(61, 12, 0))
	if rows, _ := perNode(); rows == 0 {
		t.Fatal("late events made no per-node row")
	}
	recounted(t, s)
	fold("2026-03-11")
	if rows, extra := perNode(); rows != 0 || extra != 0 {
		t.Fatalf("after the second Fold, %d per-node rows and %d rows beyond one per key; want none", rows, extra)
	}
	recounted(t, s)
	// The folded day's paths are its folded path rows.
	if got, want := count(t, s, "SELECT sum(paths) FROM daily WHERE day < '2026-03-11'"),
		count(t, s, "SELECT count(*) FROM daily_paths WHERE day < '2026-03-11' AND path <> '(other)'"); got != want {
		t.Errorf("folded days count %d paths; want %d", got, want)
	}
}

// TestFoldWhileApplying folds a day again and again while two nodes apply
// events into it: no batch or Fold fails, nothing deadlocks, and every
// event counts once.
func TestFoldWhileApplying(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	const batches, size = 40, 30
	s := open(t, dsn)
	ns := []*Node{attach(t, open(t, dsn), Local{Identity: "log-a"}), attach(t, open(t, dsn), Local{Identity: "log-b"})}
	var applying, folding sync.WaitGroup
	errs := make([]error, len(ns)+1)
	for i, n := range ns {
		applying.Go(func() {
			for b := range batches {
				if errs[i] = n.Apply(context.Background(), mixed(uint64(b*size+1), size, i), time.Time{}); errs[i] != nil {
					return
				}
			}
		})
	}
	done := make(chan struct{})
	var folded int64
	folding.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			n, err := s.Fold(context.Background(), "2026-03-11")
			if err != nil {
				errs[len(ns)] = err
				return
			}
			folded += n
		}
	})
	applying.Wait()
	close(done)
	folding.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if folded == 0 {
		t.Fatal("Fold folded nothing while the nodes applied")
	}
	recounted(t, s)
	if log := srv.Log(t); strings.Contains(log, "deadlock detected") {
		t.Errorf("the server broke a deadlock:\n%s", log)
	}
}
