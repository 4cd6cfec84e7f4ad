package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sitelog/event"
)

// listAt is the time of the events list tests' events: a Saturday
// morning in Berlin (UTC+1 in January).
var listAt = time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)

// page fetches one page of the events list and decodes it.
func page(t *testing.T, h http.Handler, target string, headers ...string) EventsPage {
	t.Helper()
	rec := serve(h, target, headers...)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	checkJSONHeaders(t, rec)
	var p EventsPage
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return p
}

// paths lists the events' paths (or types, for custom events).
func paths(p EventsPage) []string {
	out := []string{}
	for _, e := range p.Events {
		if e.Path == "" {
			out = append(out, e.Type)
			continue
		}
		out = append(out, e.Path)
	}
	return out
}

func testEventsListFields(t *testing.T, d testStore) {
	d.addSite(t, "s", "Europe/Berlin")
	props, err := event.EncodeProps([]event.Prop{{Key: "plan", Value: "pro"}, {Key: "=cmd", Value: "-1+1"}})
	if err != nil {
		t.Fatal(err)
	}
	full := &event.Event{
		SiteID: "s", Type: event.PageView, Path: "/pricing", Query: "utm_source=news&x=1", Fragment: "top", UserID: "u1",
		Time: listAt.Add(123456 * time.Microsecond), Visitor: math.MaxUint64 - 1, Hostname: "example.com",
		Referrer: "news.ycombinator.com/item", Source: "Hacker News",
		UTMSource: "news", UTMMedium: "social", UTMCampaign: "launch", UTMContent: "c", UTMTerm: "t",
		Browser: "Firefox", OS: "Linux", Device: "Desktop", Country: "DE", ScreenWidth: 1440, Props: props,
	}
	d.apply(t, full, ev("s", "signup", "", 0, listAt.Add(time.Second)))
	h := d.handler(t, Config{})

	rec := serve(h, "/api/v1/events?site_id=s")
	visit := d.firstVisit(full.Visitor)
	want := `{"site_id":"s","time_zone":"Europe/Berlin","from":null,"to":null,"events":[` +
		`{"time":"2026-01-10T08:00:01Z","local_time":"2026-01-10T09:00:01+01:00","type":"signup","path":"","query":"","hostname":"","referrer":"","source":"",` +
		`"utm_source":"","utm_medium":"","utm_campaign":"","utm_content":"","utm_term":"","browser":"","os":"","device":"","country":"",` +
		`"screen_width":0,"props":{},"session":null,"visitor":null},` +
		`{"time":"2026-01-10T08:00:00.123456Z","local_time":"2026-01-10T09:00:00.123456+01:00","type":"page_view","path":"/pricing","query":"utm_source=news&x=1",` +
		`"hostname":"example.com","referrer":"news.ycombinator.com/item","source":"Hacker News",` +
		`"utm_source":"news","utm_medium":"social","utm_campaign":"launch","utm_content":"c","utm_term":"t",` +
		`"browser":"Firefox","os":"Linux","device":"Desktop","country":"DE","screen_width":1440,` +
		`"props":{"=cmd":"-1+1","plan":"pro"},"session":` + visit + `,"visitor":"18446744073709551614"}` +
		`],"next_cursor":null}`
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("got  %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
	// Neither the user_id nor the fragment, nor anything that was never
	// stored (the client's address, its User-Agent), is shown.
	for _, secret := range []string{"u1", "top", "user_id", "ip"} {
		if strings.Contains(rec.Body.String(), `"`+secret+`"`) {
			t.Errorf("the answer shows %q", secret)
		}
	}

	csvRec := serve(h, "/api/v1/events?site_id=s", "Accept: text/csv")
	wantCSV := "time,local_time,type,path,query,hostname,referrer,source,utm_source,utm_medium,utm_campaign,utm_content,utm_term,browser,os,device,country,screen_width,props,session,visitor\r\n" +
		"2026-01-10T08:00:01Z,2026-01-10T09:00:01+01:00,signup,,,,,,,,,,,,,,,0,{},,\r\n" +
		"2026-01-10T08:00:00.123456Z,2026-01-10T09:00:00.123456+01:00,page_view,/pricing,utm_source=news&x=1,example.com,news.ycombinator.com/item,Hacker News,news,social,launch,c,t,Firefox,Linux,Desktop,DE,1440," +
		`"{""=cmd"":""-1+1"",""plan"":""pro""}"` + "," + visit + ",18446744073709551614\r\n"
	if csvRec.Code != http.StatusOK || csvRec.Body.String() != wantCSV {
		t.Errorf("CSV: got %d\n%s\nwant\n%s", csvRec.Code, csvRec.Body, wantCSV)
	}
}

// Pages follow each other without a gap or a repeat, newest first, ties
// in time in log order; events added meanwhile, newer or older, change
// nothing of the pages still to come but the older ones they add.
func testEventsListPages(t *testing.T, d testStore) {
	var evs []*event.Event
	for i := range 7 {
		// Two events share each second: ties broken by the log. The
		// visitors are odd, so that on PostgreSQL one node (one log)
		// applies them all; ties across nodes are below.
		evs = append(evs, ev("s", "", fmt.Sprintf("/%d", i), uint64(2*i+1), listAt.Add(time.Duration(i/2)*time.Second)))
	}
	d.apply(t, evs...)
	h := d.handler(t, Config{})

	all := page(t, h, "/api/v1/events?site_id=s")
	if got, want := paths(all), []string{"/6", "/5", "/4", "/3", "/2", "/1", "/0"}; !slices.Equal(got, want) {
		t.Fatalf("all events: %q, want %q", got, want)
	}
	if all.NextCursor != nil {
		t.Errorf("a page holding every event has next_cursor %q", *all.NextCursor)
	}

	p1 := page(t, h, "/api/v1/events?site_id=s&limit=3")
	if got, want := paths(p1), []string{"/6", "/5", "/4"}; !slices.Equal(got, want) || p1.NextCursor == nil {
		t.Fatalf("page 1: %q, next %v; want %q and a cursor", got, p1.NextCursor, want)
	}
	// Meanwhile: a newer event, one as old as the last of page 1 but later
	// in the log, and one older than everything.
	d.apply(t,
		ev("s", "", "/new", 9, listAt.Add(time.Hour)),
		ev("s", "", "/tie", 9, listAt.Add(2*time.Second)),
		ev("s", "", "/old", 9, listAt.Add(-time.Hour)),
	)
	p2 := page(t, h, "/api/v1/events?site_id=s&limit=3&cursor="+*p1.NextCursor)
	if got, want := paths(p2), []string{"/3", "/2", "/1"}; !slices.Equal(got, want) || p2.NextCursor == nil {
		t.Fatalf("page 2: %q, next %v; want %q and a cursor", got, p2.NextCursor, want)
	}
	p3 := page(t, h, "/api/v1/events?site_id=s&limit=3&cursor="+*p2.NextCursor)
	if got, want := paths(p3), []string{"/0", "/old"}; !slices.Equal(got, want) || p3.NextCursor != nil {
		t.Fatalf("page 3: %q, next %v; want %q and none", got, p3.NextCursor, want)
	}

	// A page that ends exactly at the last event says there is more only
	// if there is.
	exact := page(t, h, "/api/v1/events?site_id=s&limit=10")
	if len(exact.Events) != 10 || exact.NextCursor != nil {
		t.Errorf("10 of 10 events: %d events, next %v", len(exact.Events), exact.NextCursor)
	}

	// The Link header is the next page's address.
	rec := serve(h, "/api/v1/events?site_id=s&limit=3")
	link := rec.Header().Get("Link")
	target, ok := strings.CutSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
	if !ok {
		t.Fatalf("Link %q", link)
	}
	// Page 1 is now /new, /6, /tie.
	if got := paths(page(t, h, target)); !slices.Equal(got, []string{"/5", "/4", "/3"}) {
		t.Errorf("the Link's page: %q", got)
	}

	// Events of one microsecond from several visitors (on PostgreSQL,
	// through both nodes), walked one a page: each comes once.
	var tied []*event.Event
	for i := range 4 {
		tied = append(tied, ev("s", "", fmt.Sprintf("/tied%d", i), uint64(10+i), listAt.Add(-2*time.Hour)))
	}
	d.apply(t, tied...)
	var walked []string
	target = "/api/v1/events?site_id=s&limit=1"
	for {
		p := page(t, h, target)
		walked = append(walked, paths(p)...)
		if p.NextCursor == nil {
			break
		}
		target = "/api/v1/events?site_id=s&limit=1&cursor=" + *p.NextCursor
	}
	slices.Sort(walked)
	want := []string{"/0", "/1", "/2", "/3", "/4", "/5", "/6", "/new", "/old", "/tie", "/tied0", "/tied1", "/tied2", "/tied3"}
	if !slices.Equal(walked, want) {
		t.Errorf("walked one a page: %q, want %q", walked, want)
	}
}

// from and to are the site's local days.
func testEventsListRange(t *testing.T, d testStore) {
	d.addSite(t, "berlin", "Europe/Berlin")
	at := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	d.apply(t,
		ev("berlin", "", "/a", 1, at("2026-01-08T23:00:00Z")), // 9 January, 00:00 in Berlin
		ev("berlin", "", "/b", 1, at("2026-01-09T22:59:59.999999Z")),
		ev("berlin", "", "/c", 1, at("2026-01-09T23:00:00Z")), // 10 January
		ev("berlin", "", "/d", 1, at("2026-01-08T22:59:59Z")), // 8 January
		ev("utc", "", "/a", 1, at("2026-01-08T23:00:00Z")),
		ev("utc", "", "/b", 1, at("2026-01-09T00:00:00Z")),
	)
	h := d.handler(t, Config{})
	f := func(query string, want ...string) {
		t.Helper()
		p := page(t, h, "/api/v1/events?"+query)
		if got := paths(p); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", query, got, want)
		}
	}
	f("site_id=berlin&from=2026-01-09&to=2026-01-09", "/b", "/a")
	f("site_id=berlin&from=2026-01-09", "/c", "/b", "/a")
	f("site_id=berlin&to=2026-01-09", "/b", "/a", "/d")
	f("site_id=berlin&from=2026-01-11")
	// A site that is not registered counts in UTC.
	f("site_id=utc&from=2026-01-09&to=2026-01-09", "/b")
	p := page(t, h, "/api/v1/events?site_id=berlin&from=2026-01-09&to=2026-01-10")
	if p.TimeZone != "Europe/Berlin" || *p.From != "2026-01-09" || *p.To != "2026-01-10" {
		t.Errorf("time_zone %q, from %v, to %v", p.TimeZone, *p.From, *p.To)
	}
}

func testEventsListFilters(t *testing.T, d testStore) {
	d.addGoal(t, "s", "Visit /blog/*", "", "/blog/*")
	d.addGoal(t, "s", "Signed up", "signup", "")
	pro, _ := event.EncodeProps([]event.Prop{{Key: "plan", Value: "pro"}})
	free, _ := event.EncodeProps([]event.Prop{{Key: "plan", Value: "free"}})
	at := func(i int) time.Time { return listAt.Add(time.Duration(i) * time.Second) }
	google := ev("s", "", "/", 1, at(1)) // visitor 1's visit comes from Google
	google.Source, google.Referrer = "Google", "google.com"
	signupPro := ev("s", "signup", "", 1, at(3))
	signupPro.Props = pro
	signupFree := ev("s", "signup", "", 2, at(6))
	signupFree.Props = free
	d.apply(t,
		google,
		ev("s", "", "/blog/hello", 1, at(2)),
		signupPro,
		ev("s", "", "/", 2, at(4)), // visitor 2's is direct
		ev("s", "", "/blog/", 2, at(5)),
		signupFree,
		ev("s", "", "/blog", 0, at(7)), // an unknown visitor, in no visit
		bot(ev("s", "", "/blog/x", 3, at(8))),
	)
	h := d.handler(t, Config{})
	f := func(filters string, want ...string) {
		t.Helper()
		p := page(t, h, "/api/v1/events?site_id=s&filters="+url.QueryEscape(filters))
		if got := paths(p); !slices.Equal(got, want) {
			t.Errorf("filters %s: %q, want %q", filters, got, want)
		}
	}
	f(`[]`, "/blog", "signup", "/blog/", "/", "signup", "/blog/hello", "/")
	f(`[["is","event:page",["/","/blog"]]]`, "/blog", "/", "/")
	f(`[["is_not","event:page",["/"]]]`, "/blog", "/blog/", "/blog/hello") // custom events have no page
	f(`[["contains","event:page",["blog/"]]]`, "/blog/", "/blog/hello")
	f(`[["matches","event:page",["^/blog/.+"]]]`, "/blog/hello")
	f(`[["is","event:name",["signup"]]]`, "signup", "signup")
	f(`[["is","event:props:plan",["pro"]]]`, "signup")
	f(`[["is_not","event:props:plan",["pro"]]]`, "signup")
	f(`[["is","visit:source",["Google"]]]`, "signup", "/blog/hello", "/")
	f(`[["is","visit:source",["Direct / None"]]]`, "signup", "/blog/", "/")
	f(`[["is","visit:entry_page",["/"]],["is","event:name",["page_view"]]]`, "/blog/", "/", "/blog/hello", "/")
	f(`[["is","goal",["Visit /blog/*"]]]`, "/blog/", "/blog/hello")
	f(`[["is","event:goal",["Signed up"]],["is","visit:source",["Google"]]]`, "signup")
	f(`[["is","goal",["nothing"]]]`)
}

// A filter that matches little stops after the scan budget, with a cursor
// to go on from, so no request reads more rows than that.
func testEventsListScanBudget(t *testing.T, d testStore) {
	var evs []*event.Event
	for i := range 10 {
		evs = append(evs, ev("s", "", fmt.Sprintf("/%d", i), 1, listAt.Add(time.Duration(i)*time.Second)))
	}
	d.apply(t, evs...)
	h := d.handler(t, Config{})
	filter := "&filters=" + url.QueryEscape(`[["is","event:page",["/1","/8"]]]`)
	var got []string
	query := "site_id=s" + filter
	pages := 0
	for {
		lq, err := parseListQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		p, err := h.d.readEventsPage(context.Background(), h.db, lq, 4)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, paths(p)...)
		if p.NextCursor == nil {
			break
		}
		query = "site_id=s" + filter + "&cursor=" + *p.NextCursor
	}
	// 10 rows at 4 a request: 3 requests, of which one finds nothing.
	if want := []string{"/8", "/1"}; !slices.Equal(got, want) || pages != 3 {
		t.Errorf("%q in %d pages, want %q in 3", got, pages, want)
	}
}

func testEventsListErrors(t *testing.T, d testStore) {
	d.apply(t, ev("s", "", "/a", 1, listAt))
	h := d.handler(t, Config{})
	f := func(query string, code int, want string) {
		t.Helper()
		rec := serve(h, "/api/v1/events?"+query, "Accept: text/csv")
		if rec.Code != code || errorOf(t, rec) != want {
			t.Errorf("GET ?%s = %d %s, want %d %q", query, rec.Code, rec.Body, code, want)
		}
		checkJSONHeaders(t, rec)
	}
	const limit = "limit: must be an integer from 1 to 1000"
	const cursor = "cursor: not a cursor of this API: pass next_cursor back unchanged"
	f("", 400, "site_id: required")
	f("site_id=s&site_id=s", 400, "site_id: given more than once")
	f("site_id=s&from=2026-1-1", 400, "from: must be YYYY-MM-DD")
	f("site_id=s&to=2026-02-30", 400, "to: 2026-02-30 is not a calendar date")
	f("site_id=s&from=2026-01-02&to=2026-01-01", 400, "to: must not be before from")
	f("site_id=s&limit=0", 400, limit)
	f("site_id=s&limit=1001", 400, limit)
	f("site_id=s&limit=010", 400, limit)
	f("site_id=s&limit=-1", 400, limit)
	f("site_id=s&cursor=", 400, cursor)
	f("site_id=s&cursor=abc", 400, cursor)
	f("site_id=s&cursor=AQID%2B", 400, cursor)
	f("site_id=s&cursor="+strings.Repeat("A", 65), 400, cursor)
	f("site_id=s&cursor="+listCursor{1, 2, 3}.encode()+"AA", 400, cursor)
	f("site_id=s&cursor=a&cursor=b", 400, "cursor: given more than once")
	f("site_id=s&filters=x", 400, `filters: must be a JSON array of filters, such as [["is","event:page",["/pricing"]]]`)
	f("site_id=s&filters="+url.QueryEscape(`[["is","event:nope",["x"]]]`), 400,
		`filters[0][1]: unknown dimension "event:nope"; one of event:page, event:name, event:hostname, visit:entry_page, visit:exit_page, visit:source, visit:referrer, visit:utm_source, visit:utm_medium, visit:utm_campaign, visit:utm_content, visit:utm_term, visit:browser, visit:os, visit:device, visit:country, goal, event:props:<key>, time:hour, time:day, time:week, time:month`)
	f("site_id=s&filters="+url.QueryEscape(`[["matches","event:page",["("]]]`), 400,
		"filters[0][2][0]: not a regular expression (Go RE2 syntax): missing closing ): `(`")
	f("site_id=s&filters="+url.QueryEscape("["+strings.Repeat(`["is","event:page",["/"]],`, MaxFilters)+`["is","event:page",["/"]]]`), 400,
		fmt.Sprintf("filters: %d filters, more than %d", MaxFilters+1, MaxFilters))
	f("site_id=nobody", 404, `unknown site "nobody"`)
}

// A cursor is read back as written, and every other string is refused.
func TestListCursor(t *testing.T) {
	for _, c := range []listCursor{
		{0, 0, 0}, {1, 2, 3}, {-1, 0, 0}, {math.MinInt64, 0, 0},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64}, {listAt.UnixMicro(), 1, 1 << 40},
	} {
		s := c.encode()
		got, err := decodeListCursor(s)
		if err != nil || got != c {
			t.Errorf("decode(encode(%v)) = %v, %v", c, got, err)
		}
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q needs escaping in a URL", s)
		}
	}
}

func FuzzListCursor(f *testing.F) {
	f.Add(listCursor{listAt.UnixMicro(), 1, 42}.encode())
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeListCursor(s)
		if err != nil {
			return
		}
		// Whatever decodes is a cursor that encodes to a string that
		// decodes to the same.
		back, err := decodeListCursor(c.encode())
		if err != nil || back != c {
			t.Errorf("%q decodes to %v, which round-trips to %v, %v", s, c, back, err)
		}
	})
}

func TestWildcardMatch(t *testing.T) {
	f := func(pattern, s string, want bool) {
		t.Helper()
		if got := wildcardMatch(pattern, s); got != want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	}
	f("/pricing", "/pricing", true)
	f("/pricing", "/pricing/", false)
	f("/pricing", "/Pricing", false)
	f("/blog/*", "/blog/", true)
	f("/blog/*", "/blog/a/b", true)
	f("/blog/*", "/blog", false)
	f("/*/done", "/signup/step/done", true)
	f("/*/done", "/done", false)
	f("*", "", true)
	f("/a*b*c", "/aXbYc", true)
	f("/a*b*c", "/aXbYcZ", false)
	f("/a*a*a*a*b", "/"+strings.Repeat("a", 1000), false)
	f("/?.+", "/?.+", true) // only * is special
	f("/?.+", "/x.+", false)
}

// The list reads events through events_site_ts in its own order and
// position: no scan of the table, no sort.
func TestEventsListPlan(t *testing.T) {
	d := newRawDB(t)
	d.apply(t, ev("s", "", "/a", 1, listAt))
	db := openRO(t, d.path, "5000")
	args := []any{"s", int64(0), int64(math.MaxInt64), int64(math.MaxInt64), int64(0), int64(0), 10}
	for name, q := range map[string]string{"list": listEventsSQL, "with visits": listEventsWithVisitsSQL} {
		plan := strings.Join(queryPlan(t, db, q, args...), "\n")
		if !strings.Contains(plan, "SEARCH e USING INDEX events_site_ts (site_id=? AND ts>? AND ts<?)") &&
			!strings.Contains(plan, "SEARCH e USING INDEX events_site_ts (site_id=? AND ts<?)") {
			t.Errorf("%s: plan\n%s\ndoes not search events_site_ts by site and time", name, plan)
		}
		if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN e") {
			t.Errorf("%s: plan\n%s\nsorts or scans", name, plan)
		}
	}
	for name, q := range map[string]string{"totals": realtimeTotalsSQL, "pages": realtimePagesSQL} {
		a := []any{"s", int64(0), int64(1)}
		if name == "pages" {
			a = append(a, 10)
		}
		plan := strings.Join(queryPlan(t, db, q, a...), "\n")
		if !strings.Contains(plan, "USING INDEX events_site_ts (site_id=? AND ts>? AND ts<?)") {
			t.Errorf("realtime %s: plan\n%s\ndoes not search events_site_ts", name, plan)
		}
	}
}

// Every dimension the query API filters on filters the events list too.
func testEventsListFiltersEveryDimension(t *testing.T, d testStore) {
	d.apply(t, ev("s", "", "/a", 1, listAt))
	h := d.handler(t, Config{})
	dims := append(slices.Clone(statsDims), "event:props:plan", "event:goal")
	for _, dim := range dims {
		for _, op := range filterOps {
			filters := url.QueryEscape(fmt.Sprintf(`[[%q,%q,["x"]]]`, op, dim))
			if rec := serve(h, "/api/v1/events?site_id=s&filters="+filters); rec.Code != http.StatusOK {
				t.Errorf("%s %s: %d %s", op, dim, rec.Code, rec.Body)
			}
		}
	}
}

// Whatever the query string, parsing it answers a query within bounds or
// a parameter error, and never panics.
func FuzzListQuery(f *testing.F) {
	f.Add("site_id=s&from=2026-01-01&to=2026-01-31&limit=10")
	f.Add("site_id=s&cursor=" + listCursor{1, 2, 3}.encode())
	f.Add("site_id=s&filters=" + url.QueryEscape(`[["matches","event:page",["^/a"]],["is","goal",["x"]]]`))
	f.Fuzz(func(t *testing.T, raw string) {
		lq, err := parseListQuery(raw)
		if err != nil {
			var pe *paramError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: %v is not a parameter error", raw, err)
			}
			return
		}
		if lq.limit < 1 || lq.limit > MaxRawLimit || !event.ValidSiteID(lq.site) || lq.from != "" && lq.to != "" && lq.from > lq.to {
			t.Fatalf("%q: parsed to %+v", raw, lq)
		}
	})
}
