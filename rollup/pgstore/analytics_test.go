package pgstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"sitelog/event"
	"sitelog/internal/pgtest"
	"sitelog/rollup"
	"sitelog/wal"
)

// visitorTraffic returns n events of two sites as ingest derives them:
// 300 visitors, each with a browser, country and source, whose events come
// in visits (a page view or a custom event every few minutes, a pause of
// an hour or more between visits), with props on some, over two days. The
// events are in time order.
func visitorTraffic(seed uint64, n int) []event.Event {
	r := rand.New(rand.NewPCG(seed, 2))
	type visitor struct {
		id                        uint64
		site, browser, country    string
		source, referrer, utmCamp string
		next                      time.Time
	}
	vs := make([]*visitor, 300)
	for i := range vs {
		v := &visitor{
			id:      uint64(1000 + i),
			site:    []string{"a.example", "b.example"}[i%2],
			browser: []string{"Firefox", "Chrome", "Safari"}[r.IntN(3)],
			country: []string{"DE", "FR", "US", "JP"}[r.IntN(4)],
			next:    t0.Add(time.Duration(r.IntN(3600)) * time.Second),
		}
		switch r.IntN(3) {
		case 0:
			v.source, v.referrer = "Google", "https://www.google.com/"
		case 1:
			v.utmCamp = "spring"
		}
		vs[i] = v
	}
	out := make([]event.Event, 0, n)
	for len(out) < n {
		// The visitor whose next event comes first.
		v := vs[0]
		for _, w := range vs[1:] {
			if w.next.Before(v.next) {
				v = w
			}
		}
		e := event.Event{
			SiteID: v.site, Type: event.PageView, Path: fmt.Sprintf("/p%d", r.IntN(12)),
			Time: v.next, Visitor: v.id, UserID: fmt.Sprintf("u%d", v.id),
			Hostname: v.site, Browser: v.browser, Country: v.country, OS: "Linux", Device: "Desktop",
			Source: v.source, Referrer: v.referrer, UTMCampaign: v.utmCamp,
		}
		if r.IntN(6) == 0 {
			e.Type, e.Path = "signup", ""
			e.Props, _ = event.EncodeProps([]event.Prop{{Key: "plan", Value: []string{"free", "pro"}[r.IntN(2)]}})
		}
		out = append(out, e)
		if r.IntN(8) == 0 {
			v.next = v.next.Add(time.Duration(60+r.IntN(600)) * time.Minute) // a new visit
		} else {
			v.next = v.next.Add(time.Duration(10+r.IntN(600)) * time.Second)
		}
	}
	return out
}

// logOf returns events as a log's entries from index 1.
func logOf(events []event.Event) []wal.Entry {
	es := make([]wal.Entry, len(events))
	for i := range events {
		es[i] = wal.Entry{Index: uint64(i + 1), Data: events[i].AppendBinary(nil)}
	}
	return es
}

// statRow is a stats row's counts: pageviews, visitors, visits, bounces,
// duration, events.
type statRow [6]int64

// scanner is what both drivers' rows have.
type scanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// collectStats reads rows of (site_id, dim, day, value, the six counts)
// by key, rows of zeros left out.
func collectStats(t *testing.T, rows scanner) map[string]statRow {
	t.Helper()
	stats := make(map[string]statRow)
	for rows.Next() {
		var site, dim, day, value string
		var r statRow
		if err := rows.Scan(&site, &dim, &day, &value, &r[0], &r[1], &r[2], &r[3], &r[4], &r[5]); err != nil {
			t.Fatal(err)
		}
		if r != (statRow{}) {
			stats[site+"|"+dim+"|"+day+"|"+value] = r
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return stats
}

// collectSketches reads rows of (site_id, dim, day, value, sketch) by
// key, the sketches of one key merged, as readers merge the nodes'.
func collectSketches(t *testing.T, rows scanner) map[string]*hyperloglog.Sketch {
	t.Helper()
	sketches := make(map[string]*hyperloglog.Sketch)
	for rows.Next() {
		var site, dim, day, value string
		var data []byte
		if err := rows.Scan(&site, &dim, &day, &value, &data); err != nil {
			t.Fatal(err)
		}
		sk := hyperloglog.New14()
		if err := sk.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		k := site + "|" + dim + "|" + day + "|" + value
		if have := sketches[k]; have != nil {
			if err := have.Merge(sk); err != nil {
				t.Fatal(err)
			}
		} else {
			sketches[k] = sk
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sketches
}

// sqliteStats applies events to a SQLite store in one log and returns its
// stats rows and sketches by key.
func sqliteStats(t *testing.T, events []event.Event) (map[string]statRow, map[string]*hyperloglog.Sketch) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sitelog.db")
	st, err := rollup.Open(path, rollup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries := logOf(events)
	for len(entries) > 0 {
		n := min(len(entries), 500)
		if err := st.Apply(context.Background(), "reference", entries[:n]); err != nil {
			t.Fatal(err)
		}
		entries = entries[n:]
	}
	st.Close()
	db, err := rollup.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT site_id, dim, day, value, pageviews, visitors, visits, bounces, duration, events FROM stats`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stats := collectStats(t, rows)
	srows, err := db.Query(`SELECT site_id, dim, day, value, sketch FROM stats_sketches`)
	if err != nil {
		t.Fatal(err)
	}
	defer srows.Close()
	return stats, collectSketches(t, srows)
}

// pgStats returns the stats rows of the PostgreSQL store summed over the
// nodes, and each key's sketches merged, as readers see them.
func pgStats(t *testing.T, s *Store) (map[string]statRow, map[string]*hyperloglog.Sketch) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, `SELECT site_id, dim, day, value, sum(pageviews)::bigint, sum(visitors)::bigint,
		sum(visits)::bigint, sum(bounces)::bigint, sum(duration)::bigint, sum(events)::bigint
		FROM stats GROUP BY 1, 2, 3, 4`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stats := collectStats(t, rows)
	srows, err := s.pool.Query(ctx, `SELECT site_id, dim, day, value, sketch FROM stats_sketches`)
	if err != nil {
		t.Fatal(err)
	}
	defer srows.Close()
	return stats, collectSketches(t, srows)
}

// byVisitor splits events among nodes by visitor, as a load balancer that
// sends each client to one node does, and returns each node's log.
func byVisitor(events []event.Event, nodes int) [][]event.Event {
	out := make([][]event.Event, nodes)
	for _, e := range events {
		i := int(e.Visitor % uint64(nodes))
		out[i] = append(out[i], e)
	}
	return out
}

// TestAnalyticsSameAsSQLite applies the same events to the SQLite store in
// one log and to three PostgreSQL nodes at once, each visitor's events
// through one node: every stats row, summed over the nodes, equals the
// SQLite store's, and every row's merged sketch estimates what SQLite's
// does.
func TestAnalyticsSameAsSQLite(t *testing.T) {
	srv := pgtest.Start(t)
	s := open(t, srv.NewDatabase(t))
	events := visitorTraffic(1, 6000)
	want, wantSketches := sqliteStats(t, events)

	// Each node restarts halfway, so that its second half continues
	// visits the model reads back from the database rather than
	// remembers.
	var wg sync.WaitGroup
	for i, part := range byVisitor(events, 3) {
		log := logOf(part)
		half := len(log) / 2
		l := Local{Identity: fmt.Sprintf("log-%d", i), MaxPadding: wal.MaxPadding}
		n := attach(t, s, l)
		wg.Go(func() {
			apply := func(n *Node, log []wal.Entry) error {
				for _, es := range inBatches(log, 400) {
					if err := n.Apply(context.Background(), es, time.Time{}); err != nil {
						return err
					}
				}
				return nil
			}
			if err := apply(n, log[:half]); err != nil {
				t.Error(err)
				return
			}
			l.NodeID, l.First, l.Last = n.ID(), 1, uint64(len(log))
			restarted, err := s.Attach(context.Background(), l)
			if err == nil {
				err = apply(restarted, log[half:])
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	got, gotSketches := pgStats(t, s)
	same(t, "stats rows on PostgreSQL and on SQLite", flatten(got), flatten(want))
	if len(want) < 100 {
		t.Fatalf("only %d stats rows: the traffic does not exercise the model", len(want))
	}
	for k, sk := range wantSketches {
		g := gotSketches[k]
		if g == nil {
			t.Errorf("sketch %s: none on PostgreSQL", k)
			continue
		}
		if w, e := float64(sk.Estimate()), float64(g.Estimate()); math.Abs(w-e) > 0.02*w+1 {
			t.Errorf("sketch %s: PostgreSQL estimates %v, SQLite %v", k, e, w)
		}
	}
	if len(gotSketches) != len(wantSketches) {
		t.Errorf("%d sketches on PostgreSQL, %d on SQLite", len(gotSketches), len(wantSketches))
	}
	// Every raw event of a known visitor is in a visit of the node that
	// applied it, and the visits are those of the stats.
	if n := count(t, s, "SELECT count(*) FROM events WHERE NOT bot AND visitor <> 0 AND session = 0"); n != 0 {
		t.Errorf("%d events of known visitors in no visit", n)
	}
	if n, v := count(t, s, "SELECT count(DISTINCT session) FROM events WHERE session <> 0"),
		count(t, s, "SELECT sum(visits)::bigint FROM stats WHERE dim = ''"); n != v {
		t.Errorf("%d visits among the raw events, the stats count %d", n, v)
	}
	if n := count(t, s, "SELECT count(*) FROM events e JOIN sessions v ON v.id = e.session WHERE v.node_id <> e.node_id"); n != 0 {
		t.Errorf("%d events in a visit of another node", n)
	}

	// Folding the days leaves a row per key and the same sums.
	if _, err := s.Fold(context.Background(), "9999-12-31"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM stats WHERE node_id <> 0"); n != 0 {
		t.Errorf("%d stats rows of nodes left after folding", n)
	}
	folded, _ := pgStats(t, s)
	same(t, "folded stats rows and SQLite's", flatten(folded), flatten(want))
}

// flatten keys every count of rows by its row and column, for same.
func flatten(rows map[string]statRow) map[string]int64 {
	out := make(map[string]int64)
	for k, r := range rows {
		for c, name := range []string{"pageviews", "visitors", "visits", "bounces", "duration", "events"} {
			if r[c] != 0 {
				out["stats|"+k+"|"+name] = r[c]
			}
		}
	}
	return out
}

// TestAnalyticsAcrossNodes sends each visitor's events through every node
// at once, as a balancer without stickiness would: nothing deadlocks,
// visitors stay exact (summed over nodes, each day's total counts each
// visitor once), and the page views, events and visits add up.
func TestAnalyticsAcrossNodes(t *testing.T) {
	srv := pgtest.Start(t)
	events := visitorTraffic(2, 6000)
	parts := make([][]event.Event, 3)
	for i, e := range events {
		parts[i%3] = append(parts[i%3], e)
	}
	s, _ := applyConcurrently(t, srv.NewDatabase(t), len(parts), func(i int) [][]wal.Entry {
		return inBatches(logOf(parts[i]), 200)
	})
	for _, q := range []string{
		`SELECT count(*) FROM ((SELECT site_id, day, sum(visitors), sum(pageviews), sum(events) FROM stats WHERE dim = '' GROUP BY 1, 2) EXCEPT
		   (SELECT site_id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(DISTINCT visitor), count(*) FILTER (WHERE event_type = 'page_view'), count(*)
		     FROM events WHERE NOT bot GROUP BY 1, 2)) d`,
		`SELECT count(*) FROM ((SELECT site_id, day, sum(visits), sum(bounces) FROM stats WHERE dim = '' AND visits <> 0 GROUP BY 1, 2) EXCEPT
		   (SELECT site_id, day, count(*), count(*) FILTER (WHERE pageviews = 1) FROM sessions GROUP BY 1, 2)) d`,
		`SELECT count(*) FROM ((SELECT id, pageviews, events FROM sessions) EXCEPT
		   (SELECT session, count(*) FILTER (WHERE event_type = 'page_view'), count(*) FROM events WHERE session <> 0 GROUP BY 1)) d`,
	} {
		if bad := count(t, s, q); bad != 0 {
			t.Errorf("%d rows differ from a recount:\n%s", bad, q)
		}
	}
	if log := srv.Log(t); strings.Contains(log, "deadlock detected") || strings.Contains(log, "could not serialize") {
		t.Errorf("PostgreSQL broke a deadlock or a serialization conflict:\n%s", log)
	}
}
