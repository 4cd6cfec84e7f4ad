package report

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"sitelog/rollup"
)

// goldenQueries are the golden answers of POST /api/v1/query over the
// generated dataset, each in testdata/query_<name>.json (refreshed with
// go test ./report -run TestStores/sqlite/query-golden -update, then reviewed).
// "today" is pinned to 31 March 2026.
var goldenQueries = []struct{ name, body string }{
	// Each metric, site totals.
	{"aggregate_30d", `{"site_id":"demo","metrics":["visitors","visits","pageviews","views_per_visit","bounce_rate","visit_duration","events"],"date_range":"30d","date":"2026-03-31"}`},
	{"aggregate_day", `{"site_id":"demo","metrics":["visitors","visits","pageviews","views_per_visit","bounce_rate","visit_duration","events"],"date_range":"day","date":"2026-03-29"}`},
	{"aggregate_all", `{"site_id":"demo","metrics":["visitors","pageviews","events"],"date_range":"all","date":"2026-03-31"}`},
	{"aggregate_custom_range", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":["2026-02-01","2026-02-28"]}`},
	{"aggregate_before_any_event", `{"site_id":"demo","metrics":["visitors","pageviews","bounce_rate"],"date_range":"7d","date":"2020-01-31"}`},

	// Each kind of dimension.
	{"pages", `{"site_id":"demo","metrics":["visitors","pageviews","events"],"date_range":"7d","date":"2026-03-31","dimensions":["event:page"]}`},
	{"event_names", `{"site_id":"demo","metrics":["visitors","events"],"date_range":"month","date":"2026-03-31","dimensions":["event:name"]}`},
	{"hostnames", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"month","date":"2026-03-31","dimensions":["event:hostname"]}`},
	{"props_plan", `{"site_id":"demo","metrics":["visitors","events"],"date_range":"month","date":"2026-03-31","dimensions":["event:props:plan"]}`},
	{"sources", `{"site_id":"demo","metrics":["visitors","visits","bounce_rate","visit_duration","views_per_visit"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:source"]}`},
	{"entry_pages", `{"site_id":"demo","metrics":["visits","bounce_rate"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:entry_page"]}`},
	{"exit_pages", `{"site_id":"demo","metrics":["visits","visit_duration"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:exit_page"]}`},
	{"utm_campaigns", `{"site_id":"demo","metrics":["visitors","visits"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:utm_campaign"]}`},
	{"countries", `{"site_id":"demo","metrics":["visitors"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:country"]}`},
	{"devices_week", `{"site_id":"demo","metrics":["visitors","visits"],"date_range":"day","date":"2026-03-30","dimensions":["visit:device"]}`},
	{"goals", `{"site_id":"demo","metrics":["visitors","events","conversion_rate"],"date_range":"30d","date":"2026-03-31","dimensions":["goal"]}`},

	// Time dimensions.
	{"time_day", `{"site_id":"demo","metrics":["visitors","visits","pageviews"],"date_range":"7d","date":"2026-03-31","dimensions":["time:day"]}`},
	{"time_hour_dst", `{"site_id":"demo","metrics":["pageviews","visits"],"date_range":"day","date":"2026-03-29","dimensions":["time:hour"]}`},
	{"time_week", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"month","date":"2026-03-31","dimensions":["time:week"]}`},
	{"time_month", `{"site_id":"demo","metrics":["visitors","visits","bounce_rate"],"date_range":"year","date":"2026-03-31","dimensions":["time:month"]}`},
	{"time_day_by_source", `{"site_id":"demo","metrics":["visitors","visits"],"date_range":["2026-03-29","2026-03-31"],"dimensions":["time:day","visit:source"]}`},
	{"time_day_goal_conversion", `{"site_id":"demo","metrics":["visitors","conversion_rate"],"date_range":["2026-03-25","2026-03-31"],"dimensions":["time:day","goal"],"filters":[["is","goal",["Signup"]]]}`},

	// Filters the rollups answer: on the broken-down dimension only.
	{"filter_is_page", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"30d","date":"2026-03-31","filters":[["is","event:page",["/pricing","/about"]]]}`},
	{"filter_contains_pages", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"filters":[["contains","event:page",["/blog/"]]]}`},
	{"filter_matches_pages", `{"site_id":"demo","metrics":["pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"filters":[["matches","event:page",["^/docs/(start|api)$"]]]}`},
	{"filter_is_not_source", `{"site_id":"demo","metrics":["visits"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:source"],"filters":[["is_not","visit:source",["Direct / None","Google"]]]}`},
	{"filter_goal_conversion", `{"site_id":"demo","metrics":["visitors","events","conversion_rate"],"date_range":"30d","date":"2026-03-31","filters":[["is","goal",["Signup","Pricing"]]]}`},

	// Filters that need the raw events.
	{"raw_source_by_country", `{"site_id":"demo","metrics":["visitors","visits","pageviews","bounce_rate"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:country"],"filters":[["is","visit:source",["Google"]]]}`},
	{"raw_page_visits", `{"site_id":"demo","metrics":["visitors","visits","visit_duration","views_per_visit"],"date_range":"7d","date":"2026-03-31","filters":[["is","event:page",["/pricing"]]]}`},
	{"raw_two_dims", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"7d","date":"2026-03-31","dimensions":["visit:device","visit:browser"],"pagination":{"limit":5}}`},
	{"raw_hour_by_device", `{"site_id":"demo","metrics":["visitors"],"date_range":"day","date":"2026-03-29","dimensions":["time:hour","visit:device"],"filters":[["is","visit:device",["Mobile"]]]}`},
	{"raw_goal_by_source", `{"site_id":"demo","metrics":["visitors","events","conversion_rate"],"date_range":"30d","date":"2026-03-31","dimensions":["goal"],"filters":[["is","visit:source",["Google","Twitter"]]]}`},
	{"raw_props_by_country", `{"site_id":"demo","metrics":["events"],"date_range":"30d","date":"2026-03-31","dimensions":["event:props:plan"],"filters":[["matches","visit:country",["^(DE|FR|NL)$"]],["is","event:name",["signup"]]]}`},

	// Comparisons.
	{"compare_previous_period", `{"site_id":"demo","metrics":["visitors","visits","bounce_rate"],"date_range":"30d","date":"2026-03-31","include":{"compare":"previous_period"}}`},
	{"compare_year_over_year_days", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":["2026-03-01","2026-03-05"],"dimensions":["time:day"],"include":{"compare":"year_over_year"}}`},
	{"compare_sources", `{"site_id":"demo","metrics":["visitors","bounce_rate"],"date_range":"7d","date":"2026-03-31","dimensions":["visit:source"],"include":{"compare":"previous_period"}}`},
	{"compare_raw", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"7d","date":"2026-03-31","dimensions":["visit:os"],"filters":[["is","visit:device",["Desktop"]]],"include":{"compare":"previous_period"}}`},

	// Ordering and pagination.
	{"order_by_dim", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"order_by":[["event:page","asc"]]}`},
	{"order_by_second_metric", `{"site_id":"demo","metrics":["visitors","pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:browser"],"order_by":[["pageviews","asc"]]}`},
	{"order_time_desc", `{"site_id":"demo","metrics":["pageviews"],"date_range":"7d","date":"2026-03-31","dimensions":["time:day"],"order_by":[["time:day","desc"]]}`},
	{"page_1", `{"site_id":"demo","metrics":["pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"pagination":{"limit":4}}`},
	{"page_2", `{"site_id":"demo","metrics":["pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"pagination":{"limit":4,"offset":4}}`},
	{"page_past_end", `{"site_id":"demo","metrics":["pageviews"],"date_range":"30d","date":"2026-03-31","dimensions":["event:page"],"pagination":{"limit":4,"offset":400}}`},
}

func testQueryGolden(t *testing.T, ds *dataset) {
	for _, tt := range goldenQueries {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(ds.h, "/api/v1/query", tt.body)
			if rec.Code != 200 {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			checkJSONHeaders(t, rec)
			var got bytes.Buffer
			if err := json.Indent(&got, rec.Body.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			golden := filepath.Join("testdata", "query_"+tt.name+".json")
			if *update && ds.h.store == SQLite {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			sameQueryAnswer(t, tt.body, got.Bytes(), want)
		})
	}
}

// The same query as CSV: a header row, then the rows, with the campaign
// that looks like a formula neutralised.
func testQueryCSV(t *testing.T, ds *dataset) {
	body := `{"site_id":"demo","metrics":["visitors","visits"],"date_range":"30d","date":"2026-03-31","dimensions":["visit:utm_campaign"],"include":{"compare":"previous_period"}}`
	rec := post(ds.h, "/api/v1/query", body, "Accept: text/csv")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("got %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\r\n"), "\r\n")
	if lines[0] != "visit:utm_campaign,visitors,visits,comparison_visitors,comparison_visits,change_visitors,change_visits" {
		t.Errorf("header %q", lines[0])
	}
	var jsonAnswer QueryResponse
	if err := json.Unmarshal(post(ds.h, "/api/v1/query", body).Body.Bytes(), &jsonAnswer); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1+len(jsonAnswer.Results) {
		t.Fatalf("%d CSV lines for %d results:\n%s", len(lines), len(jsonAnswer.Results), rec.Body)
	}
	found := false
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, `'=cmd|' /C calc'!A0,`) {
			found = true
		}
		if strings.HasPrefix(l, "=") {
			t.Errorf("formula cell: %q", l)
		}
	}
	if !found {
		t.Errorf("no neutralised campaign among\n%s", rec.Body)
	}
	// Errors stay JSON.
	rec = post(ds.h, "/api/v1/query", `{"site_id":"demo"}`, "Accept: text/csv")
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("error as %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// Where the rollups can answer, the raw events must give the same answer:
// every count exactly, visitors (an estimate over several days on the
// rollups) within 2%.
func testQueryPathsAgree(t *testing.T, ds *dataset) {
	const allVisit = `"visitors","visits","pageviews","views_per_visit","bounce_rate","visit_duration","events"`
	const allEvent = `"visitors","pageviews","events"`
	queries := []string{
		`"metrics":[` + allVisit + `],"date_range":"30d"`,
		`"metrics":[` + allVisit + `],"date_range":"day","date":"2026-03-29"`,
		`"metrics":[` + allVisit + `],"date_range":"7d","dimensions":["time:day"]`,
		`"metrics":[` + allVisit + `],"date_range":"day","date":"2026-03-29","dimensions":["time:hour"]`,
		`"metrics":[` + allVisit + `],"date_range":"month","dimensions":["time:week"]`,
		`"metrics":[` + allVisit + `],"date_range":"year","dimensions":["time:month"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:page"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:name"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:hostname","time:week"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:props:plan"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:props:file"]`,
		`"metrics":["visitors","events","conversion_rate"],"date_range":"30d","dimensions":["goal"]`,
		`"metrics":["visitors","events","conversion_rate"],"date_range":"7d","dimensions":["goal","time:day"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:entry_page"]`,
		`"metrics":["visits","bounce_rate","visit_duration"],"date_range":"30d","dimensions":["visit:exit_page"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:source"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:referrer"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:utm_source"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:utm_medium"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:utm_campaign"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:browser"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:os"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:device","time:day"]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:country"]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","filters":[["contains","event:page",["/blog/"]]]`,
		`"metrics":[` + allEvent + `],"date_range":"30d","dimensions":["event:page"],"filters":[["matches","event:page",["^/docs/"]]]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["time:day"],"filters":[["is_not","visit:source",["Direct / None"]]]`,
		`"metrics":[` + allVisit + `],"date_range":"30d","dimensions":["visit:country"],"filters":[["is","visit:country",["DE","FR"]]]`,
		`"metrics":["visitors","events","conversion_rate"],"date_range":"30d","filters":[["is","goal",["Signup"]]]`,
		`"metrics":[` + allVisit + `],"date_range":"7d","dimensions":["visit:source"],"include":{"compare":"previous_period"}`,
		`"metrics":[` + allEvent + `],"date_range":["2026-03-01","2026-03-31"],"dimensions":["time:day"],"include":{"compare":"year_over_year"}`,
	}
	for _, body := range queries {
		q, err := parseQuery([]byte(`{"site_id":"demo","date":"2026-03-31",` + body + `}`))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		plan := planQuery(q)
		if !plan.rollup {
			t.Fatalf("%s: not a rollup query", body)
		}
		rolled, err := ds.h.d.runPlanned(t.Context(), ds.h.db, q, time.Time{}, plan)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ds.h.d.runPlanned(t.Context(), ds.h.db, q, time.Time{}, apiPlan{})
		if err != nil {
			t.Fatal(err)
		}
		if raw.Meta.ComputedFrom != fromRawEvents || *raw.Meta.RawEvents == 0 {
			t.Fatalf("%s: raw path read %+v", body, raw.Meta)
		}
		agree(t, body, q.metrics, rolled, raw)
	}
}

// agree fails t unless the rollup and raw answers hold the same rows with
// the same figures.
func agree(t *testing.T, body string, metrics []string, rolled, raw *QueryResponse) {
	t.Helper()
	type entry struct {
		row  QueryRow
		seen bool
	}
	byDims := func(resp *QueryResponse) map[string]*entry {
		m := make(map[string]*entry)
		for _, r := range resp.Results {
			m[groupKey(r.Dimensions)] = &entry{row: r}
		}
		if resp.Meta.Totals != nil {
			m["(totals)"] = &entry{row: *resp.Meta.Totals}
		}
		return m
	}
	a, b := byDims(rolled), byDims(raw)
	if len(a) != len(b) {
		t.Errorf("%s: %d rows from rollups, %d from raw events", body, len(a), len(b))
	}
	if len(rolled.Results) == 0 {
		t.Errorf("%s: no rows", body)
	}
	close := func(m string, x, y any) bool {
		fx, fy := toFloat(x), toFloat(y)
		switch m {
		case "visitors":
			return math.Abs(fx-fy) <= max(1, 0.02*fy)
		case "conversion_rate":
			return math.Abs(fx-fy) <= max(0.5, 0.03*fy)
		}
		return fx == fy
	}
	for k, ea := range a {
		eb := b[k]
		if eb == nil {
			t.Errorf("%s: row %q only from rollups: %v", body, k, ea.row.Metrics)
			continue
		}
		for i, m := range metrics {
			if !close(m, ea.row.Metrics[i], eb.row.Metrics[i]) {
				t.Errorf("%s: row %q: %s = %v from rollups, %v from raw events", body, k, m, ea.row.Metrics[i], eb.row.Metrics[i])
			}
			if ca, cb := ea.row.Comparison, eb.row.Comparison; ca != nil && cb != nil && !close(m, ca.Metrics[i], cb.Metrics[i]) {
				t.Errorf("%s: row %q: comparison %s = %v from rollups, %v from raw events", body, k, m, ca.Metrics[i], cb.Metrics[i])
			}
		}
	}
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	panic(fmt.Sprintf("metric of type %T", v))
}

// Unique visitors over several days come from merged HyperLogLog sketches:
// over 50 000 generated visitors in 30 days they are within 2% of the
// exact count, for the site and for each value of a dimension. The
// sketches' error is a property of the set of visitors (about 0.8% standard
// error at precision 14; the seed is fixed, so the test is too), and the
// site's figure is also exactly what one sketch of the same visitors
// estimates: storing, merging and reading lose nothing.
func TestQueryVisitorsEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and applies about 58 000 events")
	}
	ds := buildDataset(t, genConfig{seed: 9, from: "2026-03-02", to: "2026-03-31", visitsPerDay: 1900, returningRate: 0.1, bounceOnly: true})
	loc, err := time.LoadLocation(genZone)
	if err != nil {
		t.Fatal(err)
	}
	exact := make(map[uint64]struct{})
	direct := hyperloglog.New14()
	first, end := localStart("2026-03-02", loc), localStart("2026-04-01", loc)
	for _, e := range ds.events {
		if !e.Bot && e.Visitor != 0 && !e.Time.Before(first) && e.Time.Before(end) {
			exact[e.Visitor] = struct{}{}
			direct.InsertHash(e.Visitor)
		}
	}
	if len(exact) < 50_000 {
		t.Fatalf("only %d visitors generated", len(exact))
	}
	within := func(what string, got, want int64) {
		t.Helper()
		if d := math.Abs(float64(got-want)) / float64(want); d > 0.02 {
			t.Errorf("%s: %d visitors estimated, %d exact: off by %.2f%%", what, got, want, 100*d)
		}
	}
	run := func(body string, plan func(*apiQuery) apiPlan) *QueryResponse {
		t.Helper()
		q, err := parseQuery([]byte(`{"site_id":"demo","date":"2026-03-31",` + body + `}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ds.h.d.runPlanned(t.Context(), ds.h.db, q, time.Time{}, plan(q))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	rollups := planQuery
	rawEvents := func(*apiQuery) apiPlan { return apiPlan{} }

	total := run(`"metrics":["visitors"],"date_range":"30d"`, rollups).Results[0].Metrics[0].(int64)
	within("site, 30 days", total, int64(len(exact)))
	t.Logf("site, 30 days: %d visitors estimated, %d exact", total, len(exact))
	if want := int64(direct.Estimate()); total != want {
		t.Errorf("site, 30 days: %d visitors from the stored sketches, %d from one sketch of the same visitors", total, want)
	}

	for _, body := range []string{
		`"metrics":["visitors"],"date_range":"30d","dimensions":["visit:source"]`,
		`"metrics":["visitors"],"date_range":"30d","dimensions":["visit:country"]`,
		`"metrics":["visitors"],"date_range":"30d","dimensions":["time:week"]`,
		`"metrics":["visitors"],"date_range":"30d","dimensions":["event:page"]`,
	} {
		est, ex := run(body, rollups), run(body, rawEvents)
		want := make(map[string]int64)
		for _, r := range ex.Results {
			want[groupKey(r.Dimensions)] = r.Metrics[0].(int64)
		}
		checked := 0
		for _, r := range est.Results {
			if w := want[groupKey(r.Dimensions)]; w >= 1000 {
				within(body+" "+fmt.Sprint(r.Dimensions), r.Metrics[0].(int64), w)
				checked++
			}
		}
		if checked < 3 {
			t.Errorf("%s: only %d values with 1000 visitors or more", body, checked)
		}
		within(body+" totals", est.Meta.Totals.Metrics[0].(int64), ex.Meta.Totals.Metrics[0].(int64))
	}
}

// The query API takes the report keys of /stats: a site's key queries its
// own site only, which the body names, so the check follows the parse.
func TestQueryKeys(t *testing.T) {
	a := newAccess(t, Config{})
	if _, _, err := a.store.PutSite(t.Context(), "site-123", nil, "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	siteKey, adminKey := a.key(t, "site-123"), a.key(t, "")
	ro, err := rollup.OpenReadOnly(a.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	h := New(ro, Config{Keys: a.reg, Logger: quietLogger()})
	body := func(site string) string {
		return `{"site_id":"` + site + `","metrics":["visitors"],"date_range":"day","date":"2026-03-31"}`
	}
	f := func(site, header string, status int, wantErr string) {
		t.Helper()
		var headers []string
		if header != "" {
			headers = append(headers, header)
		}
		rec := post(h, "/api/v1/query", body(site), headers...)
		if rec.Code != status {
			t.Errorf("%s with %q: %d %s, want %d", site, header, rec.Code, rec.Body, status)
			return
		}
		if wantErr != "" {
			if got := errorOf(t, rec); got != wantErr {
				t.Errorf("%s with %q: error %q, want %q", site, header, got, wantErr)
			}
		}
	}
	f("site-123", "", 401, "a report key is required: send Authorization: Bearer <key>")
	f("site-123", bearer("nope"), 401, "unknown or revoked report key")
	f("site-123", bearer(siteKey), 200, "")
	f("blog", bearer(siteKey), 403, `forbidden: this key reads site "site-123" only`)
	f("blog", bearer(adminKey), 404, `unknown site "blog"`) // neither registered nor with events
	f("site-123", bearer(adminKey), 200, "")
	// A body that is not a query is refused before the key is checked
	// against its site: nothing of the site is read.
	rec := post(h, "/api/v1/query", `{"site_id":"blog"}`, bearer(siteKey))
	if rec.Code != 400 {
		t.Errorf("invalid body: %d %s", rec.Code, rec.Body)
	}
}

// A database that cannot be read in time is a 503 with Retry-After, as
// for every report.
func TestQueryLockedDatabase(t *testing.T) {
	// The lock is real: a rollback-journal database (WAL readers are not
	// blocked by a writer) on which another connection holds an EXCLUSIVE
	// lock.
	path := filepath.Join(t.TempDir(), "sitelog.db")
	store, err := rollup.Open(path, rollup.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	rw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(delete)")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	holder, err := rw.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	var mode string
	if err := holder.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "delete" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	if _, err := holder.ExecContext(t.Context(), `INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES ('site-123', 'UTC', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	h := New(openRO(t, path, "0"), Config{Logger: quietLogger()})
	if _, err := holder.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	const body = `{"site_id":"site-123","metrics":["visitors"],"date_range":"7d"}`
	rec := post(h, "/api/v1/query", body)
	if rec.Code != 503 || rec.Body.String() != `{"error":"database busy, retry later"}` || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d %s (Retry-After %q)", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if _, err := holder.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if rec := post(h, "/api/v1/query", body); rec.Code != 200 {
		t.Errorf("after the lock is released: %d %s", rec.Code, rec.Body)
	}
}

// Without "date", "today" is the site's, by the handler's clock: 00:30 on
// 1 April in Berlin is still 31 March in UTC.
func TestQueryToday(t *testing.T) {
	ds := buildDataset(t, genConfig{seed: 3, from: "2026-03-31", to: "2026-04-01", visitsPerDay: 5})
	ro, err := rollup.OpenReadOnly(ds.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	h := New(ro, Config{Logger: quietLogger(), Now: func() time.Time { return time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC) }})
	var resp QueryResponse
	rec := post(h, "/api/v1/query", `{"site_id":"demo","metrics":["visitors"],"date_range":"day"}`)
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if got := resp.Query.DateRange; got != [2]string{"2026-04-01", "2026-04-01"} {
		t.Errorf("date_range %q, want 2026-04-01 (Berlin's today)", got)
	}
}
