package report

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// post serves one POST of body to target through h.
func post(h http.Handler, target, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	for _, hd := range headers {
		name, value, _ := strings.Cut(hd, ": ")
		req.Header.Set(name, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Every invalid query is answered 400 with an error that names the field
// and the problem, before any read.
func TestQueryBadRequests(t *testing.T) {
	h := newFixture(t, Config{})
	const ok = `"site_id":"s","metrics":["visitors"],"date_range":"7d"`
	f := func(body string, status int, wantErr string) {
		t.Helper()
		rec := post(h, "/api/v1/query", body)
		var got struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != status || got.Error != wantErr {
			t.Errorf("POST %s\ngot  %d %s\nwant %d {\"error\":%q}", body, rec.Code, rec.Body, status, wantErr)
		}
		checkJSONHeaders(t, rec)
	}
	f(``, 400, "body: must be a JSON query object: EOF")
	f(`[]`, 400, "body: must be a JSON query object: cannot unmarshal array into Go value of type report.queryBody")
	f(`{`+ok+`,"sites":1}`, 400, `body: must be a JSON query object: unknown field "sites"`)
	f(`{`+ok+`} {}`, 400, "body: must be one JSON object, with nothing after it")
	f(`{`+ok+`}x`, 400, "body: must be one JSON object, with nothing after it")

	f(`{"metrics":["visitors"],"date_range":"7d"}`, 400, "site_id: required")
	f(`{"site_id":"a b","metrics":["visitors"],"date_range":"7d"}`, 400, "site_id: must be 1-100 characters of letters, digits and ._:-")

	const allMetrics = "visitors, visits, pageviews, views_per_visit, bounce_rate, visit_duration, events, conversion_rate"
	f(`{"site_id":"s","date_range":"7d"}`, 400, "metrics: required: one or more of "+allMetrics)
	f(`{"site_id":"s","metrics":[],"date_range":"7d"}`, 400, "metrics: required: one or more of "+allMetrics)
	f(`{"site_id":"s","metrics":["visitors","views"],"date_range":"7d"}`, 400, `metrics[1]: unknown metric "views"; one of `+allMetrics)
	f(`{"site_id":"s","metrics":["visits","visits"],"date_range":"7d"}`, 400, `metrics[1]: "visits" given twice`)
	f(`{"site_id":"s","metrics":["conversion_rate"],"date_range":"7d"}`, 400, "metrics: conversion_rate needs the goal dimension or a filter on goal")
	f(`{"site_id":"s","metrics":["visitors","bounce_rate"],"date_range":"7d","dimensions":["event:page"]}`, 400,
		"metrics: bounce_rate is counted per visit and cannot be broken down by the event dimension event:page")
	f(`{"site_id":"s","metrics":["visits"],"date_range":"7d","dimensions":["goal"]}`, 400,
		"metrics: visits is counted per visit and cannot be broken down by the event dimension goal")

	const ranges = `must be one of "day", "7d", "30d", "month", "6mo", "12mo", "year", "all" or ["YYYY-MM-DD", "YYYY-MM-DD"]`
	f(`{"site_id":"s","metrics":["visitors"]}`, 400, `date_range: required: one of "day", "7d", "30d", "month", "6mo", "12mo", "year", "all" or ["YYYY-MM-DD", "YYYY-MM-DD"]`)
	f(`{"site_id":"s","metrics":["visitors"],"date_range":"28d"}`, 400, `date_range: "28d": `+ranges)
	f(`{"site_id":"s","metrics":["visitors"],"date_range":7}`, 400, "date_range: "+ranges)
	f(`{"site_id":"s","metrics":["visitors"],"date_range":["2026-01-01"]}`, 400, "date_range: "+ranges)
	f(`{"site_id":"s","metrics":["visitors"],"date_range":["2026-01-01","2026-02-30"]}`, 400, "date_range[1]: 2026-02-30 is not a calendar date")
	f(`{"site_id":"s","metrics":["visitors"],"date_range":["2026/01/01","2026-02-01"]}`, 400, `date_range[0]: "2026/01/01" must be YYYY-MM-DD`)
	f(`{"site_id":"s","metrics":["visitors"],"date_range":["2026-02-01","2026-01-31"]}`, 400, "date_range: starts on 2026-02-01, after its end 2026-01-31")
	f(`{`+ok+`,"date":"today"}`, 400, `date: "today" must be YYYY-MM-DD`)
	f(`{`+ok+`,"date":"2025-02-29"}`, 400, "date: 2025-02-29 is not a calendar date")

	f(`{`+ok+`,"dimensions":["event:page","visit:city"]}`, 400, `dimensions[1]: unknown dimension "visit:city"; one of event:page, event:name, event:hostname, visit:entry_page, visit:exit_page, visit:source, visit:referrer, visit:utm_source, visit:utm_medium, visit:utm_campaign, visit:utm_content, visit:utm_term, visit:browser, visit:os, visit:device, visit:country, goal, event:props:<key>, time:hour, time:day, time:week, time:month`)
	f(`{`+ok+`,"dimensions":["event:props:"]}`, 400, "dimensions[0]: a property key is 1-300 bytes of UTF-8")
	f(`{`+ok+`,"dimensions":["visit:os","visit:os"]}`, 400, `dimensions[1]: "visit:os" given twice`)
	f(`{`+ok+`,"dimensions":["time:day","time:hour"]}`, 400, "dimensions[1]: a second time dimension (time:day and time:hour): pick one")
	f(`{`+ok+`,"dimensions":["visit:os","visit:browser","visit:device","visit:country","visit:source","event:page"]}`, 400, "dimensions: 6 dimensions, more than 5")
	f(`{"site_id":"s","metrics":["visitors"],"date_range":["2025-01-01","2026-03-31"],"dimensions":["time:hour"]}`, 400,
		"dimensions: time:hour over 2025-01-01..2026-03-31 makes 10920 buckets, more than 10000: narrow date_range or pick a coarser time dimension")

	const shape = `must be [operator, dimension, [values...]], such as ["is", "visit:country", ["DE", "FR"]]`
	f(`{`+ok+`,"filters":[["is","visit:country"]]}`, 400, "filters[0]: "+shape)
	f(`{`+ok+`,"filters":["is"]}`, 400, "filters[0]: "+shape)
	f(`{`+ok+`,"filters":[["is","visit:country",["DE"],{"case_sensitive":false}]]}`, 400,
		"filters[0]: has more than three elements: neither modifiers nor and/or/not are supported; filters are all ANDed")
	f(`{`+ok+`,"filters":[["and",[["is","visit:country",["DE"]]]]]}`, 400, "filters[0]: "+shape)
	f(`{`+ok+`,"filters":[["equals","visit:country",["DE"]]]}`, 400, `filters[0][0]: unknown operator "equals"; one of is, is_not, contains, matches`)
	f(`{`+ok+`,"filters":[["is","country",["DE"]]]}`, 400, `filters[0][1]: unknown dimension "country"; one of event:page, event:name, event:hostname, visit:entry_page, visit:exit_page, visit:source, visit:referrer, visit:utm_source, visit:utm_medium, visit:utm_campaign, visit:utm_content, visit:utm_term, visit:browser, visit:os, visit:device, visit:country, goal, event:props:<key>, time:hour, time:day, time:week, time:month`)
	f(`{`+ok+`,"filters":[["is","time:day",["2026-01-01"]]]}`, 400, "filters[0][1]: time:day cannot be filtered on: set date_range instead")
	f(`{`+ok+`,"filters":[["is","visit:country",[]]]}`, 400, "filters[0][2]: must be a list of 1-100 strings")
	f(`{`+ok+`,"filters":[["is","visit:country","DE"]]}`, 400, "filters[0][2]: must be a list of 1-100 strings")
	f(`{`+ok+`,"filters":[["is","visit:country",[1]]]}`, 400, "filters[0][2]: must be a list of 1-100 strings")
	f(`{`+ok+`,"filters":[["is","visit:country",["DE",""]]]}`, 400, "filters[0][2][1]: is empty")
	f(`{`+ok+`,"filters":[["is","visit:country",["`+strings.Repeat("x", 2001)+`"]]]}`, 400, "filters[0][2][0]: longer than 2000 bytes")
	f(`{`+ok+`,"filters":[["matches","event:page",["^/blog/(\\d+$"]]]}`, 400,
		"filters[0][2][0]: not a regular expression (Go RE2 syntax): missing closing ): `^/blog/(\\d+$`")
	f(`{`+ok+`,"filters":[["matches","event:page",["(?<=x)y"]]]}`, 400,
		"filters[0][2][0]: not a regular expression (Go RE2 syntax): invalid named capture: `(?<=x)y`")
	f(`{`+ok+`,"filters":[["matches","event:page",["`+strings.Repeat("a", 513)+`"]]]}`, 400, "filters[0][2][0]: a pattern of more than 512 bytes")
	f(`{`+ok+`,"filters":[`+strings.Repeat(`["is","visit:os",["x"]],`, 20)+`["is","visit:os",["x"]]]}`, 400, "filters: 21 filters, more than 20")

	f(`{`+ok+`,"order_by":[["visits","desc"]]}`, 400, `order_by[0][0]: "visits" is neither among metrics nor among dimensions`)
	f(`{`+ok+`,"order_by":[["visitors","down"]]}`, 400, `order_by[0][1]: "down": must be "asc" or "desc"`)
	f(`{`+ok+`,"order_by":["visitors"]}`, 400, `order_by[0]: must be [metric or dimension, "asc" or "desc"]`)
	f(`{`+ok+`,"dimensions":["visit:os"],"order_by":[["visitors","asc"],["visitors","desc"]]}`, 400, `order_by[1]: orders by "visitors" twice`)
	f(`{`+ok+`,"order_by":[["visitors","asc"],["visitors","desc"]]}`, 400, "order_by: more terms than metrics and dimensions")

	const badLimit = "pagination.limit: must be an integer from 1 to 10000"
	f(`{`+ok+`,"pagination":{"limit":0}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":10001}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":-1}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":1.5}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":"10"}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":1e3}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"limit":99999999999999999999}}`, 400, badLimit)
	f(`{`+ok+`,"pagination":{"offset":-5}}`, 400, "pagination.offset: must be an integer from 0 to 1000000")
	f(`{`+ok+`,"pagination":{"offset":1000001}}`, 400, "pagination.offset: must be an integer from 0 to 1000000")
	f(`{`+ok+`,"pagination":{"page":2}}`, 400, `body: must be a JSON query object: unknown field "page"`)

	f(`{`+ok+`,"include":{"compare":"last_year"}}`, 400, `include.compare: "last_year" is not one of previous_period, year_over_year`)
	f(`{`+ok+`,"include":{"comparisons":{"mode":"previous_period"}}}`, 400, `body: must be a JSON query object: unknown field "comparisons"`)

	f(`{`+ok+`,"date_range":"day","x":`+strings.Repeat(" ", MaxQueryBody)+`1}`, 413, "body: larger than 65536 bytes")
}

// Wrong methods and paths under /api/v1 are JSON errors too.
func TestQueryRoute(t *testing.T) {
	h := newFixture(t, Config{})
	rec := get(h, "/api/v1/query")
	if rec.Code != 405 || !strings.Contains(rec.Body.String(), `"method not allowed: GET /api/v1/query (allowed: `) {
		t.Errorf("GET /api/v1/query = %d %s", rec.Code, rec.Body)
	}
}

func TestParseQuery(t *testing.T) {
	q, err := parseQuery([]byte(`{
		"site_id": "s",
		"metrics": ["visitors", "conversion_rate"],
		"date_range": ["2026-01-01", "2026-01-31"],
		"date": "2026-01-31",
		"dimensions": ["time:day", "event:goal"],
		"filters": [["matches", "event:page", ["^/blog/\\d+$"]], ["is_not", "visit:country", ["DE", "FR"]]],
		"order_by": [["event:goal", "asc"]],
		"pagination": {"limit": 50, "offset": 100},
		"include": {"compare": "year_over_year"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if q.site != "s" || q.from != "2026-01-01" || q.to != "2026-01-31" || q.period != "" || q.today != "2026-01-31" ||
		!reflect.DeepEqual(q.dims, []string{"time:day", "goal"}) || q.timeDim != "time:day" || q.timeIdx != 0 ||
		q.limit != 50 || q.offset != 100 || q.compare != "year_over_year" ||
		len(q.order) != 1 || q.order[0] != (orderTerm{name: "goal", metric: -1, dim: 1}) {
		t.Errorf("parsed %+v", q)
	}
	if len(q.filters) != 2 || !q.filters[0].match("/blog/12") || q.filters[0].match("/blog/x") ||
		!q.filters[1].match("US") || q.filters[1].match("DE") || q.filters[1].match("") {
		t.Errorf("filters %+v", q.filters)
	}

	q, err = parseQuery([]byte(`{"site_id":"s","metrics":["pageviews"],"date_range":"all","pagination":{}}`))
	if err != nil || q.limit != MaxQueryLimit || q.offset != 0 || q.period != "all" || q.timeIdx != -1 {
		t.Errorf("defaults: %+v, %v", q, err)
	}
}

func TestPlanQuery(t *testing.T) {
	f := func(body string, rollup bool, dim string) {
		t.Helper()
		q, err := parseQuery([]byte(`{"site_id":"s","date_range":"7d",` + body + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if p := planQuery(q); p.rollup != rollup || p.dim != dim {
			t.Errorf("%s: plan %+v, want rollup %v dim %q", body, p, rollup, dim)
		}
	}
	f(`"metrics":["visitors"]`, true, "")
	f(`"metrics":["visitors"],"dimensions":["time:day"]`, true, "")
	f(`"metrics":["visitors"],"dimensions":["time:hour"]`, true, "time:hour")
	f(`"metrics":["visitors"],"dimensions":["visit:source","time:week"]`, true, "visit:source")
	f(`"metrics":["visitors"],"dimensions":["visit:source"],"filters":[["is","visit:source",["Google"]]]`, true, "visit:source")
	f(`"metrics":["visits"],"filters":[["contains","visit:source",["o"]],["is_not","visit:source",["Bing"]]]`, true, "visit:source")
	f(`"metrics":["pageviews"],"filters":[["is","event:page",["/"]]]`, true, "event:page")
	f(`"metrics":["conversion_rate"],"dimensions":["goal"]`, true, "goal")
	f(`"metrics":["conversion_rate"],"filters":[["is","goal",["Signup"]]]`, true, "goal")
	// What no stats row holds: the raw events.
	f(`"metrics":["visits"],"filters":[["is","event:page",["/"]]]`, false, "")
	f(`"metrics":["visitors"],"dimensions":["visit:source","visit:country"]`, false, "")
	f(`"metrics":["visitors"],"dimensions":["visit:source"],"filters":[["is","visit:country",["DE"]]]`, false, "")
	f(`"metrics":["visitors"],"dimensions":["visit:source","time:hour"]`, false, "")
	f(`"metrics":["visitors"],"dimensions":["time:hour"],"filters":[["is","visit:country",["DE"]]]`, false, "")
}

func TestDateRanges(t *testing.T) {
	f := func(period, today, from, to string) {
		t.Helper()
		r := &queryRun{q: &apiQuery{period: period}}
		gotFrom, gotTo, err := r.dateRange(today)
		if err != nil || gotFrom != from || gotTo != to {
			t.Errorf("%s on %s = %s..%s, %v; want %s..%s", period, today, gotFrom, gotTo, err, from, to)
		}
	}
	f("day", "2026-03-01", "2026-03-01", "2026-03-01")
	f("7d", "2026-03-01", "2026-02-23", "2026-03-01")
	f("30d", "2026-03-01", "2026-01-31", "2026-03-01")
	f("month", "2026-03-15", "2026-03-01", "2026-03-15")
	f("6mo", "2026-03-15", "2025-10-01", "2026-03-15")
	f("12mo", "2026-03-15", "2025-04-01", "2026-03-15")
	f("year", "2026-03-15", "2026-01-01", "2026-03-15")

	c := func(mode, from, to, wantFrom, wantTo string) {
		t.Helper()
		if gotFrom, gotTo := compareRange(mode, from, to); gotFrom != wantFrom || gotTo != wantTo {
			t.Errorf("%s of %s..%s = %s..%s, want %s..%s", mode, from, to, gotFrom, gotTo, wantFrom, wantTo)
		}
	}
	c("previous_period", "2026-03-01", "2026-03-31", "2026-01-29", "2026-02-28")
	c("previous_period", "2026-03-29", "2026-03-29", "2026-03-28", "2026-03-28")
	c("year_over_year", "2024-02-01", "2024-02-29", "2023-02-01", "2023-02-28")
	c("year_over_year", "2026-03-01", "2026-03-31", "2025-03-01", "2025-03-31")
}

func TestTimeAxis(t *testing.T) {
	f := func(dim, from, to string, want ...string) {
		t.Helper()
		a, err := newTimeAxis(dim, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.labels, want) {
			t.Errorf("%s %s..%s = %q, want %q", dim, from, to, a.labels, want)
		}
	}
	f(timeDay, "2026-02-27", "2026-03-02", "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02")
	f(timeWeek, "2026-03-01", "2026-03-16", "2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16") // 1 March 2026 is a Sunday
	f(timeMonth, "2026-01-31", "2026-03-01", "2026-01-01", "2026-02-01", "2026-03-01")
	a, err := newTimeAxis(timeHour, "2026-03-29", "2026-03-30")
	if err != nil || len(a.labels) != 48 || a.labels[0] != "2026-03-29 00:00:00" || a.labels[47] != "2026-03-30 23:00:00" {
		t.Errorf("hours: %q, %v", a.labels, err)
	}
}

// FuzzParseQuery feeds arbitrary bodies to the query parser: it never
// panics, refuses with a *paramError only, and what it accepts obeys the
// documented limits.
func FuzzParseQuery(f *testing.F) {
	for _, q := range goldenQueries {
		f.Add(q.body)
	}
	for _, s := range []string{``, `{}`, `[]`, `{"site_id":"s","metrics":["visitors"],"date_range":["2026-01-02","2026-01-01"]}`,
		`{"site_id":"s","metrics":["visitors"],"date_range":"7d","filters":[["matches","event:page",["(a+)+$"]]]}`,
		`{"site_id":"s","metrics":["visitors"],"date_range":"7d","pagination":{"limit":1e400}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := parseQuery([]byte(body))
		if err != nil {
			if _, ok := err.(*paramError); !ok {
				t.Fatalf("parseQuery(%q): error of type %T, want *paramError", body, err)
			}
			return
		}
		switch {
		case !siteRE.MatchString(q.site):
			t.Fatalf("accepted site_id %q", q.site)
		case len(q.metrics) < 1 || len(q.metrics) > len(queryMetrics):
			t.Fatalf("accepted %d metrics", len(q.metrics))
		case len(q.dims) > MaxDimensions || len(q.filters) > MaxFilters:
			t.Fatalf("accepted %d dimensions, %d filters", len(q.dims), len(q.filters))
		case q.limit < 1 || q.limit > MaxQueryLimit || q.offset < 0 || q.offset > MaxQueryOffset:
			t.Fatalf("accepted limit %d offset %d", q.limit, q.offset)
		case q.period == "" && (q.from == "" || q.from > q.to):
			t.Fatalf("accepted range %q..%q", q.from, q.to)
		}
		for _, f := range q.filters {
			if f.op == "matches" && len(f.res) != len(f.values) {
				t.Fatalf("filter %+v without its patterns", f)
			}
		}
	})
}
