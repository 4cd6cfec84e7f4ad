package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/internal/pgtest"
	"sitelog/rollup/pgstore"
	"sitelog/wal"
)

// Every report reads either store, and must answer the same for the same
// events. TestStores runs each case of storeCases on SQLite and on
// PostgreSQL, whose fixtures are the same events applied through each
// store's own write side: rollup.Store in one log, or two pgstore nodes,
// each visitor's events through one of them (as a balancer that keeps a
// client on one node does), so that every count read is a sum over the
// nodes' rows and every sketch a merge of theirs. The PostgreSQL cases
// share one throwaway server (internal/pgtest), a database each; without
// PostgreSQL they skip, and fail under CI.

// testStore is a store that a case builds its fixture in.
type testStore interface {
	// apply applies evs as ingest's log would have them applied.
	apply(t *testing.T, evs ...*event.Event)
	// addSite registers a site in a time zone.
	addSite(t *testing.T, id, zone string)
	// addGoal adds a goal to a site, before the events it counts.
	addGoal(t *testing.T, site, name, eventName, pagePath string)
	// handler returns a report over the store, as main builds it.
	handler(t *testing.T, cfg Config) *Handler
	// firstVisit is the id, in decimal, of the first visit that the
	// store makes for visitor, in a store without visits yet.
	firstVisit(visitor uint64) string
}

// storeCases are the cases that TestStores runs on both stores.
var storeCases = []struct {
	name string
	run  func(t *testing.T, s testStore)
}{
	{"realtime", testRealtime},
	{"realtime-order", testRealtimeOrder},
	{"realtime-csv", testRealtimeCSV},
	{"realtime-errors", testRealtimeErrors},
	{"events-list-fields", testEventsListFields},
	{"events-list-pages", testEventsListPages},
	{"events-list-range", testEventsListRange},
	{"events-list-filters", testEventsListFilters},
	{"events-list-scan-budget", testEventsListScanBudget},
	{"events-list-errors", testEventsListErrors},
	{"events-list-every-dimension", testEventsListFiltersEveryDimension},
}

// statsCases are the cases of /stats and /stats/events, over the rollups
// of fixture, which the PostgreSQL store holds split over two nodes.
var statsCases = []struct {
	name string
	run  func(t *testing.T, h *Handler)
}{
	{"seed-answer", testSeedAnswer},
	{"golden", testGolden},
	{"bad-requests", testBadRequests},
}

// datasetCases are the cases of the query API over the golden dataset.
var datasetCases = []struct {
	name string
	run  func(t *testing.T, ds *dataset)
}{
	{"golden", testQueryGolden},
	{"csv", testQueryCSV},
	{"paths-agree", testQueryPathsAgree},
}

func TestStores(t *testing.T) {
	// The golden dataset on SQLite is the reference the PostgreSQL store's
	// answers are compared with, byte for byte.
	ref := buildDataset(t, goldenData)
	t.Run("sqlite", func(t *testing.T) {
		for _, c := range storeCases {
			t.Run(c.name, func(t *testing.T) { c.run(t, newRawDB(t)) })
		}
		for _, c := range statsCases {
			t.Run("stats-"+c.name, func(t *testing.T) { c.run(t, newFixture(t, Config{})) })
		}
		for _, c := range datasetCases {
			t.Run("query-"+c.name, func(t *testing.T) { c.run(t, ref) })
		}
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		for _, c := range storeCases {
			t.Run(c.name, func(t *testing.T) { c.run(t, newPGDB(t, srv, nil)) })
		}
		for _, c := range statsCases {
			t.Run("stats-"+c.name, func(t *testing.T) { c.run(t, newPGFixture(t, srv)) })
		}
		ds := buildPGDataset(t, srv, goldenData)
		for _, c := range datasetCases {
			t.Run("query-"+c.name, func(t *testing.T) { c.run(t, ds) })
		}
		t.Run("same-answers", func(t *testing.T) { testSameAnswers(t, ref, ds) })
		t.Run("plans", func(t *testing.T) { testPostgresPlans(t, ds) })
	})
}

// testPostgresPlans checks that PostgreSQL can read the raw events of the
// events list and realtime through events_site_ts (migration 0005), in
// the list's order, without a sort: the planner is asked for a plan with
// neither a scan of the table nor a sort, which it can only make if the
// index gives both the rows and their order. (On a table this small it
// would rather scan and sort, which is why it is asked.)
func testPostgresPlans(t *testing.T, ds *dataset) {
	ctx := context.Background()
	conn, err := ds.h.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, set := range []string{"SET enable_seqscan = off", "SET enable_bitmapscan = off", "SET enable_sort = off"} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.ExecContext(ctx, "RESET ALL")
	d := &postgresDialect
	far := d.at(math.MaxInt64)
	// A day of the dataset: a range without a partition is pruned away.
	day := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC).UnixMicro()
	from, to := d.at(day), d.at(day+RealtimeWindow.Microseconds())
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"list":             {d.raw.listEvents, []any{genSite, d.at(0), far, far, int64(math.MaxInt64), int64(math.MaxInt64), 10}},
		"list with visits": {d.raw.listEventsWithVisits, []any{genSite, d.at(0), far, far, int64(math.MaxInt64), int64(math.MaxInt64), 10}},
		"realtime totals":  {d.raw.realtimeTotals, []any{genSite, from, to}},
		"realtime pages":   {d.raw.realtimePages, []any{genSite, from, to, 10}},
		"raw events":       {d.api.rawEvents, []any{genSite, from, to}},
	} {
		rows, err := conn.QueryContext(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		joined := strings.Join(plan, "\n")
		// Each day's partition has its own copy of the index, named
		// after its columns.
		if !strings.Contains(joined, "site_id_ts_node_id_log_index_idx") || !strings.Contains(joined, "Index Cond: ((site_id = ") {
			t.Errorf("%s: plan\n%s\ndoes not search events_site_ts by site and time", name, joined)
		}
		if strings.HasPrefix(name, "list") && strings.Contains(joined, "Sort") {
			t.Errorf("%s: plan\n%s\nsorts", name, joined)
		}
		if strings.Contains(joined, "Seq Scan on events") {
			t.Errorf("%s: plan\n%s\nscans the events", name, joined)
		}
	}
}

// pgDB is the PostgreSQL store of a case: a database of its own, two
// nodes that apply into it, the registry's writer and the reports' pool.
type pgDB struct {
	store   *pgstore.Store
	nodes   []*pgstore.Node
	next    []uint64 // each node's next log index
	admin   *sql.DB
	readers *sql.DB
}

// newPGDB makes a database on srv whose nodes count days in the zones
// that zone gives (nil: UTC, as newRawDB's store does).
func newPGDB(t testing.TB, srv *pgtest.Server, zone func(string) *time.Location) *pgDB {
	t.Helper()
	ctx := context.Background()
	dsn := srv.NewDatabase(t)
	d := &pgDB{next: make([]uint64, 2)}
	var err error
	if d.store, err = pgstore.Open(ctx, dsn, pgstore.Options{Logger: quietLogger(), Zone: zone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.store.Close)
	for i := range d.next {
		n, err := d.store.Attach(ctx, pgstore.Local{Identity: fmt.Sprintf("log-%d", i), MaxPadding: wal.MaxPadding})
		if err != nil {
			t.Fatal(err)
		}
		d.nodes = append(d.nodes, n)
	}
	if d.admin, err = pgstore.OpenAdmin(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.admin.Close() })
	if d.readers, err = pgstore.OpenReaders(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.readers.Close() })
	return d
}

// apply applies evs, each visitor's through one node: as the next entries
// of each node's log, a batch per node.
func (d *pgDB) apply(t *testing.T, evs ...*event.Event) { d.applyTB(t, evs) }

func (d *pgDB) applyTB(t testing.TB, evs []*event.Event) {
	t.Helper()
	batches := make([][]wal.Entry, len(d.nodes))
	for _, e := range evs {
		i := int(e.Visitor % uint64(len(d.nodes)))
		d.next[i]++
		batches[i] = append(batches[i], wal.Entry{Index: d.next[i], Data: e.AppendBinary(nil)})
	}
	for i, b := range batches {
		if len(b) == 0 {
			continue
		}
		if err := d.nodes[i].Apply(context.Background(), b, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (d *pgDB) addSite(t *testing.T, id, zone string) { d.exec(t, pgAddSite, id, zone) }

func (d *pgDB) addGoal(t *testing.T, site, name, eventName, pagePath string) {
	d.exec(t, pgAddGoal, site, name, eventName, pagePath)
}

// The registry's rows, written as package sites writes them.
const (
	pgAddSite = `INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES ($1, $2, 0, 0)
		ON CONFLICT (site_id) DO UPDATE SET time_zone = excluded.time_zone`
	pgAddGoal = `INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES ($1, $2, $3, $4, 0)`
)

func (d *pgDB) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := d.admin.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d *pgDB) handler(t *testing.T, cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	cfg.Store = PostgreSQL
	return New(d.readers, cfg)
}

// firstVisit is 1: visits are numbered in the order of the log.
func (d *rawDB) firstVisit(uint64) string { return "1" }

// firstVisit is the first id of the node that applies visitor's events:
// each node numbers its visits from its id shifted by 40 bits.
func (d *pgDB) firstVisit(visitor uint64) string {
	return strconv.FormatInt(d.nodes[visitor%uint64(len(d.nodes))].ID()<<40+1, 10)
}

// addGoal adds a goal through the sites registry.
func (d *rawDB) addGoal(t *testing.T, site, name, eventName, pagePath string) {
	t.Helper()
	if _, _, err := d.sites.AddGoal(context.Background(), site, name, eventName, pagePath); err != nil {
		t.Fatal(err)
	}
}

// pgFixtureTables are the /stats rollups of fixture: each table's key
// columns and count columns.
var pgFixtureTables = []struct{ table, keys, counts string }{
	{"daily", "site_id, day", "views, events, users, bots, paths"},
	{"daily_paths", "site_id, day, path", "views"},
	{"daily_types", "site_id, day, event_type", "events"},
	{"sites", "site_id", "views, events, users, bots"},
	{"site_paths", "site_id, path", "views"},
	{"site_types", "site_id, event_type", "events"},
}

// newPGFixture returns a report over fixture's rollups on PostgreSQL, as
// two nodes would have counted them: each row of fixture split into a row
// of node 1 (the larger half of each count) and one of node 2, so that
// every figure read is a sum over nodes, and ties and limits apply to the
// sums.
func newPGFixture(t *testing.T, srv *pgtest.Server) *Handler {
	t.Helper()
	_, path := newDB(t, "wal", fixture)
	src := openRO(t, path, "5000")
	d := newPGDB(t, srv, nil)
	for _, tb := range pgFixtureTables {
		nk, nc := len(strings.Split(tb.keys, ",")), len(strings.Split(tb.counts, ","))
		rows, err := src.Query(fmt.Sprintf("SELECT %s, %s FROM %s", tb.keys, tb.counts, tb.table))
		if err != nil {
			t.Fatal(err)
		}
		var places []string
		for i := range nk + 1 + nc {
			places = append(places, fmt.Sprintf("$%d", i+1))
		}
		insert := fmt.Sprintf("INSERT INTO %s (%s, node_id, %s) VALUES (%s)", tb.table, tb.keys, tb.counts, strings.Join(places, ", "))
		for rows.Next() {
			keys, counts := make([]any, nk), make([]int64, nc)
			dest := make([]any, 0, nk+nc)
			for i := range keys {
				keys[i] = new(string)
				dest = append(dest, keys[i])
			}
			for i := range counts {
				dest = append(dest, &counts[i])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			for node := int64(1); node <= 2; node++ {
				args := make([]any, 0, nk+1+nc)
				for _, k := range keys {
					args = append(args, *k.(*string))
				}
				args = append(args, node)
				for _, c := range counts {
					if node == 1 {
						args = append(args, c-c/2)
					} else {
						args = append(args, c/2)
					}
				}
				d.exec(t, insert, args...)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return d.handler(t, Config{})
}

// buildPGDataset is buildDataset on PostgreSQL: the same events, site and
// goals, each visitor's events through one of two nodes.
func buildPGDataset(tb testing.TB, srv *pgtest.Server, cfg genConfig) *dataset {
	tb.Helper()
	ds := &dataset{events: generate(cfg)}
	loc, err := time.LoadLocation(genZone)
	if err != nil {
		tb.Fatal(err)
	}
	d := newPGDB(tb, srv, func(site string) *time.Location {
		if site == genSite {
			return loc
		}
		return nil
	})
	d.exec(tb, pgAddSite, genSite, genZone)
	for _, g := range genGoals {
		d.exec(tb, pgAddGoal, genSite, g.name, g.event, g.path)
	}
	const batch = 2000
	for i := 0; i < len(ds.events); i += batch {
		d.applyTB(tb, ds.events[i:min(i+batch, len(ds.events))])
	}
	ds.h = New(d.readers, Config{Logger: quietLogger(), Store: PostgreSQL})
	return ds
}

// estimateWarning is the warning of an answer whose visitors over more
// than one day are merged from sketches.
const estimateWarning = "visitors over more than one day are estimated from HyperLogLog sketches"

// sameQueryAnswer fails t unless got, an answer of the query body, is
// want byte for byte. Visitors merged from sketches are the same estimate
// on both stores, the union of the nodes' sketches being the sketch of
// the union of their visitors; should the sketches' representation ever
// make them differ, the documented bound applies instead: within 2% of
// each other (conversion_rate, made of them, within 3%), every other
// figure exact.
func sameQueryAnswer(t *testing.T, body string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if !bytes.Contains(want, []byte(estimateWarning)) || !bytes.Contains(got, []byte(estimateWarning)) {
		t.Errorf("POST %s\ngot  %s\nwant %s", body, got, want)
		return
	}
	var a, b QueryResponse
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	t.Logf("POST %s: the estimates differ; within 2%%?\ngot  %s\nwant %s", body, got, want)
	agree(t, body, b.Query.Metrics, &a, &b)
	if a.Meta.TotalRows != b.Meta.TotalRows || a.Meta.ComputedFrom != b.Meta.ComputedFrom {
		t.Errorf("POST %s: meta %+v, want %+v", body, a.Meta, b.Meta)
	}
}

// testSameAnswers asks both stores, holding the same events, every kind
// of question the API answers, and compares their answers byte for byte:
// each dimension broken down from the rollups and from the raw events,
// time series, goals, comparisons, realtime, and the events list page by
// page, with filters.
func testSameAnswers(t *testing.T, sqlite, pg *dataset) {
	var bodies []string
	for _, q := range goldenQueries {
		bodies = append(bodies, q.body)
	}
	const metrics = `"metrics":["visitors","visits","pageviews","views_per_visit","bounce_rate","visit_duration","events"]`
	for _, dim := range append(slices.Clone(statsDims), "event:props:plan", "event:props:file") {
		m := metrics
		if dim == dimGoal || strings.HasPrefix(dim, "event:") {
			m = `"metrics":["visitors","pageviews","events"]`
		}
		if dim == dimGoal {
			m = `"metrics":["visitors","events","conversion_rate"]`
		}
		bodies = append(bodies,
			fmt.Sprintf(`{"site_id":"demo",%s,"date_range":"30d","date":"2026-03-31","dimensions":[%q]}`, m, dim),
			fmt.Sprintf(`{"site_id":"demo",%s,"date_range":"day","date":"2026-03-29","dimensions":[%q]}`, m, dim),
			fmt.Sprintf(`{"site_id":"demo",%s,"date_range":"7d","date":"2026-03-31","dimensions":[%q,"time:day"],"filters":[["is_not","visit:country",["DE"]]]}`, m, dim),
			fmt.Sprintf(`{"site_id":"demo",%s,"date_range":"30d","date":"2026-03-31","dimensions":[%q],"filters":[["contains",%q,["o"]]],"include":{"compare":"previous_period"}}`, m, dim, dim),
		)
	}
	bodies = append(bodies,
		`{"site_id":"demo",`+metrics+`,"date_range":"all","date":"2026-03-31","dimensions":["time:month"],"include":{"compare":"year_over_year"}}`,
		`{"site_id":"demo",`+metrics+`,"date_range":"12mo","date":"2026-03-31","dimensions":["time:week"]}`,
		`{"site_id":"demo","metrics":["visitors","conversion_rate"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:source"],"filters":[["is","goal",["Pricing"]]]}`,
		`{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"day","date":"2026-03-29","dimensions":["time:hour","event:page"],"filters":[["matches","event:page",["^/(blog|docs)/"]]]}`,
		`{"site_id":"demo","metrics":["visitors"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:browser"],"order_by":[["visitors","asc"]],"pagination":{"limit":3,"offset":1}}`,
		`{"site_id":"nobody","metrics":["visitors"],"date_range":"7d"}`,
	)
	for _, body := range bodies {
		a, b := post(pg.h, "/api/v1/query", body), post(sqlite.h, "/api/v1/query", body)
		if a.Code != b.Code {
			t.Errorf("POST %s: %d %s, SQLite %d %s", body, a.Code, a.Body, b.Code, b.Body)
			continue
		}
		sameQueryAnswer(t, body, a.Body.Bytes(), b.Body.Bytes())
	}

	// Realtime, with its clock a minute after each of some events.
	for i := 0; i < len(pg.events); i += len(pg.events) / 40 {
		now := func() time.Time { return pg.events[i].Time.Add(time.Minute) }
		a := New(pg.h.db, Config{Logger: quietLogger(), Store: PostgreSQL, Now: now})
		b := New(sqlite.h.db, Config{Logger: quietLogger(), Now: now})
		for _, target := range []string{"/api/v1/realtime?site_id=demo", "/api/v1/realtime?site_id=demo&limit=1"} {
			ra, rb := get(a, target), get(b, target)
			if ra.Code != rb.Code || ra.Body.String() != rb.Body.String() {
				t.Errorf("GET %s at %s: %d %s, SQLite %d %s", target, now(), ra.Code, ra.Body, rb.Code, rb.Body)
			}
		}
	}

	// The events list, walked page by page.
	for _, query := range []string{
		"site_id=demo&from=2026-03-29&to=2026-03-31&limit=70",
		"site_id=demo&to=2026-01-03&limit=1000",
		"site_id=demo&from=2026-03-01&limit=40&filters=" + url.QueryEscape(`[["is","visit:source",["Google"]],["is","event:name",["page_view"]]]`),
		"site_id=demo&from=2026-03-01&limit=25&filters=" + url.QueryEscape(`[["is","goal",["Signup","Blog"]]]`),
		"site_id=demo&from=2026-03-20&limit=30&filters=" + url.QueryEscape(`[["is","event:props:plan",["pro"]]]`),
		"site_id=demo&from=2026-03-28&limit=5&filters=" + url.QueryEscape(`[["matches","visit:entry_page",["^/docs"]],["is_not","visit:country",["US"]]]`),
	} {
		a, b := walkEvents(t, pg.h, query), walkEvents(t, sqlite.h, query)
		if len(a) != len(b) {
			t.Errorf("events list %s: %d pages, SQLite %d", query, len(a), len(b))
			continue
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("events list %s, page %d:\ngot  %s\nwant %s", query, i+1, a[i], b[i])
			}
		}
		if len(a) < 2 {
			t.Errorf("events list %s: %d pages; the walk needs several", query, len(a))
		}
	}
}

// walkEvents fetches every page of the events list that query asks for,
// following next_cursor, and returns each page as JSON with what differs
// by store made alike: a visit's id (each store numbers visits its own
// way: per node on PostgreSQL) becomes its rank of first appearance in
// the walk, and the cursor (over the store's own log positions) only
// whether there is one.
func walkEvents(t *testing.T, h *Handler, query string) []string {
	t.Helper()
	var pages []string
	sessions := make(map[int64]int64)
	seen := make(map[string]bool)
	target := "/api/v1/events?" + query
	for {
		p := page(t, h, target)
		for i := range p.Events {
			e := &p.Events[i]
			key := e.Time + e.Type + e.Path
			if seen[key] {
				t.Errorf("events list %s: %s %s %s again", query, e.Time, e.Type, e.Path)
			}
			seen[key] = true
			if e.Session != nil {
				n, ok := sessions[*e.Session]
				if !ok {
					n = int64(len(sessions) + 1)
					sessions[*e.Session] = n
				}
				e.Session = &n
			}
		}
		next := p.NextCursor
		if next != nil {
			p.NextCursor = new(string)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, string(b))
		if next == nil {
			return pages
		}
		target = "/api/v1/events?" + query + "&cursor=" + *next
	}
}
