package dashboard

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"sitelog/internal/browsertest"
)

// update makes TestScreenshotForREADME write docs/dashboard.png:
//
//	go test ./dashboard -run TestScreenshotForREADME -update
var update = flag.Bool("update", false, "write docs/dashboard.png from the main view")

// tab is a browser tab on a server's dashboard that records every problem
// the page shows: uncaught exceptions, console errors and warnings, browser
// log errors (CSP violations, failed loads) and dialogs, which it dismisses.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *server

	mu       sync.Mutex
	problems []string
	requests []*network.Request // every request the page made
}

func openTab(t *testing.T, srv *server) *tab {
	t.Helper()
	ctx := browsertest.New(t)
	tb := &tab{t: t, ctx: ctx, srv: srv}
	if err := chromedp.Listen(ctx, tb.onEvent); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.EmulateViewport(1280, 900))
	return tb
}

func (tb *tab) onEvent(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, "exception: "+text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			tb.problems = append(tb.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning || e.Source == cdplog.EntrySourceSecurity || e.Source == cdplog.EntrySourceViolation {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL))
		}
	case *page.EventJavascriptDialogOpening:
		tb.problems = append(tb.problems, fmt.Sprintf("dialog %s: %q", ev.Type, ev.Message))
		// Listen's func must not run commands: dismiss from elsewhere.
		go chromedp.Run(tb.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			return err
		}))
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request)
	}
}

// takeProblems returns the problems recorded so far and forgets them.
func (tb *tab) takeProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	p := tb.problems
	tb.problems = nil
	return p
}

// noProblems fails the test if the page showed any problem.
func (tb *tab) noProblems() {
	tb.t.Helper()
	for _, p := range tb.takeProblems() {
		tb.t.Errorf("the page had a problem: %s", p)
	}
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v (problems: %q)", err, tb.takeProblems())
	}
}

// eval evaluates a JavaScript expression and decodes its value into v.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to the dashboard with the query string q and waits until
// every panel has its data.
func (tb *tab) open(q string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.srv.url + "/" + q))
	tb.settle()
}

// settle waits until every panel holds the data of the current state.
func (tb *tab) settle() {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](`(() => {
			const ps = document.querySelectorAll('[data-panel]');
			return ps.length > 0 && [...ps].every((p) => p.dataset.state !== 'loading');
		})()`, chromedp.WithPollingInterval(20*time.Millisecond))(ctx, t)
		return err
	}))
}

// query returns the dashboard's state as its URL says it.
func (tb *tab) query() url.Values {
	tb.t.Helper()
	q, err := url.ParseQuery(strings.TrimPrefix(eval[string](tb, `location.search`), "?"))
	if err != nil {
		tb.t.Fatal(err)
	}
	return q
}

// view is what the dashboard shows, read from the page.
type view struct {
	Panels map[string]struct {
		State string `json:"state"`
		Tab   string `json:"tab"`
		Rows  []struct {
			Value   string              `json:"value"`
			Text    string              `json:"text"`
			Metrics map[string]*float64 `json:"metrics"`
		} `json:"rows"`
	} `json:"panels"`
	Headline []struct {
		Metric string   `json:"metric"`
		N      *float64 `json:"n"`
		Text   string   `json:"text"`
		Prev   *float64 `json:"prev"`
	} `json:"headline"`
	Timeline []struct {
		Bucket string  `json:"bucket"`
		N      float64 `json:"n"`
	} `json:"timeline"`
	Heatmap  []float64  `json:"heatmap"`
	Raw      [][]string `json:"raw"`
	Realtime *float64   `json:"realtime"`
	Chips    []string   `json:"chips"`
}

const readView = `(() => {
	const num = (el) => (el && el.dataset.n !== '' ? Number(el.dataset.n) : null);
	const v = { panels: {}, headline: [], timeline: [], heatmap: [], raw: [], chips: [] };
	for (const p of document.querySelectorAll('[data-panel]')) {
		const tab = p.querySelector('[role=tab][aria-selected=true]');
		v.panels[p.dataset.panel] = {
			state: p.dataset.state,
			tab: tab ? tab.dataset.tab : '',
			rows: [...p.querySelectorAll('.bar-row')].map((r) => ({
				value: r.dataset.value,
				text: r.querySelector('.bar-label').textContent,
				metrics: Object.fromEntries([...r.querySelectorAll('[data-metric]')].map((c) => [c.dataset.metric, num(c)])),
			})),
		};
	}
	for (const s of document.querySelectorAll('.headline .stat')) {
		v.headline.push({ metric: s.dataset.metric, n: num(s.querySelector('.stat-value')),
			text: s.querySelector('.stat-value').textContent, prev: num(s.querySelector('.change')) });
	}
	for (const r of document.querySelectorAll('[data-panel=timeline] tr[data-bucket]')) {
		v.timeline.push({ bucket: r.dataset.bucket, n: num(r.querySelector('[data-n]')) });
	}
	v.heatmap = [...document.querySelectorAll('[data-panel=heatmap] td.heat')].map(num);
	v.raw = [...document.querySelectorAll('[data-panel=raw] tbody tr')].map((r) => [...r.cells].map((c) => c.textContent));
	v.realtime = num(document.querySelector('[data-panel=realtime-badge] [data-n]'));
	v.chips = [...document.querySelectorAll('.chip')].map((c) => c.dataset.dim + '=' + c.dataset.value);
	return v;
})()`

func (tb *tab) view() view {
	tb.t.Helper()
	return eval[view](tb, readView)
}

// clickTab shows a panel's tab and waits for its data.
func (tb *tab) clickTab(panel, key string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-panel=%s] [role=tab][data-tab=%s]`, panel, key))))
	tb.settle()
}

// setSelect picks an option of a select as a person would, firing change.
func (tb *tab) setSelect(id, value string) {
	tb.t.Helper()
	b, _ := json.Marshal(value)
	eval[bool](tb, fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %s;
		s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`, id, b))
	tb.settle()
}

// listTab is one tab of a ranked list, and the query the dashboard makes
// for it.
type listTab struct {
	panel, tab, dim string
	metrics         []string
	limit           int
}

var listTabs = []listTab{
	{"pages", "pages", "event:page", []string{"visitors", "pageviews"}, 10},
	{"pages", "entry", "visit:entry_page", []string{"visitors", "visits", "bounce_rate"}, 10},
	{"pages", "exit", "visit:exit_page", []string{"visitors", "visits"}, 10},
	{"sources", "source", "visit:source", []string{"visitors", "visits", "bounce_rate"}, 10},
	{"sources", "referrer", "visit:referrer", []string{"visitors", "visits"}, 10},
	{"sources", "utm_source", "visit:utm_source", []string{"visitors", "visits"}, 10},
	{"sources", "utm_medium", "visit:utm_medium", []string{"visitors", "visits"}, 10},
	{"sources", "utm_campaign", "visit:utm_campaign", []string{"visitors", "visits"}, 10},
	{"sources", "utm_content", "visit:utm_content", []string{"visitors", "visits"}, 10},
	{"sources", "utm_term", "visit:utm_term", []string{"visitors", "visits"}, 10},
	{"devices", "browser", "visit:browser", []string{"visitors", "visits"}, 10},
	{"devices", "os", "visit:os", []string{"visitors", "visits"}, 10},
	{"devices", "device", "visit:device", []string{"visitors", "visits"}, 10},
	{"countries", "", "visit:country", []string{"visitors", "visits"}, 10},
	{"goals", "", "goal", []string{"visitors", "events", "conversion_rate"}, 20},
}

var headlineMetrics = []string{"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"}

// scope is a dashboard view's site, range and filters as the API takes them.
type scope struct {
	site      string
	dateRange any
	filters   [][]any
	compare   string
}

func (s scope) body(extra map[string]any) map[string]any {
	b := map[string]any{"site_id": s.site, "date_range": s.dateRange}
	if len(s.filters) > 0 {
		b["filters"] = s.filters
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// checkView compares every panel of the page with the query API's answers
// for the same scope: the lists' first tabs, or with allTabs every tab.
func (tb *tab) checkView(sc scope, allTabs bool) {
	tb.t.Helper()
	t := tb.t
	srv := tb.srv
	v := tb.view()
	for name, p := range v.Panels {
		if p.State != "ready" {
			t.Errorf("panel %s is %s", name, p.State)
		}
	}

	// Headline numbers and their comparison.
	body := sc.body(map[string]any{"metrics": headlineMetrics})
	if sc.compare != "" {
		body["include"] = map[string]any{"compare": sc.compare}
	}
	total := srv.queryAPI(t, "", body)
	if len(v.Headline) != len(headlineMetrics) {
		t.Fatalf("headline has %d numbers, want %d", len(v.Headline), len(headlineMetrics))
	}
	for i, h := range v.Headline {
		want := total.Results[0].Metrics[i]
		if h.Metric != headlineMetrics[i] || h.N == nil || *h.N != want {
			t.Errorf("headline %s = %v (%q), API says %v", h.Metric, h.N, h.Text, want)
		}
		if got, wantText := h.Text, formatMetric(h.Metric, want); got != wantText {
			t.Errorf("headline %s shows %q, want %q", h.Metric, got, wantText)
		}
		if sc.compare != "" {
			prev := total.Results[0].Comparison.Metrics[i]
			if h.Prev == nil || *h.Prev != prev {
				t.Errorf("headline %s previous = %v, API says %v", h.Metric, h.Prev, prev)
			}
		}
	}

	// The timeline, by hour for one day and by day otherwise, of the
	// metric the URL names.
	metric := tb.query().Get("metric")
	if metric == "" {
		metric = "visitors"
	}
	dr := total.Query.DateRange
	dim := "time:day"
	if dr[0] == dr[1] {
		dim = "time:hour"
	}
	series := srv.queryAPI(t, "", sc.body(map[string]any{"metrics": []string{metric}, "dimensions": []string{dim}}))
	byBucket := map[string]float64{}
	for _, r := range series.Results {
		byBucket[r.Dimensions[0]] = r.Metrics[0]
	}
	if len(v.Timeline) != len(series.Meta.TimeLabels) {
		t.Errorf("timeline has %d points, want %d (%s..%s by %s)", len(v.Timeline), len(series.Meta.TimeLabels), dr[0], dr[1], dim)
	}
	for i, p := range v.Timeline {
		if i < len(series.Meta.TimeLabels) && (p.Bucket != series.Meta.TimeLabels[i] || p.N != byBucket[p.Bucket]) {
			t.Errorf("timeline point %d: %s = %v, API says %s = %v", i, p.Bucket, p.N, series.Meta.TimeLabels[i], byBucket[series.Meta.TimeLabels[i]])
		}
	}

	// The ranked lists, as shown, then every tab.
	shown := map[string]bool{}
	for _, lt := range listTabs {
		if !shown[lt.panel] {
			shown[lt.panel] = true
			tb.checkList(sc, lt, nil)
		}
	}
	if allTabs {
		for _, lt := range listTabs {
			if lt.tab != "" {
				tb.clickTab(lt.panel, lt.tab)
				tb.checkList(sc, lt, nil)
			}
		}
		tb.clickTab("pages", "pages")
		tb.clickTab("sources", "source")
		tb.clickTab("devices", "browser")
	}

	// Custom events leave page views out.
	events := srv.queryAPI(t, "", sc.body(map[string]any{"metrics": []string{"visitors", "events"}, "dimensions": []string{"event:name"},
		"order_by": [][]string{{"visitors", "desc"}}, "pagination": map[string]any{"limit": 11}}))
	events.Results = slices.DeleteFunc(events.Results, func(r resultRow) bool { return r.Dimensions[0] == "page_view" })
	tb.compareRows("events", events, []string{"visitors", "events"}, 10)

	// The raw events of the range, newest first: the first page.
	var raw struct {
		Events []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		} `json:"events"`
	}
	params := url.Values{"site_id": {sc.site}, "from": {dr[0]}, "to": {dr[1]}, "limit": {"25"}}
	if len(sc.filters) > 0 {
		f, _ := json.Marshal(sc.filters)
		params.Set("filters", string(f))
	}
	srv.getAPI(t, "/api/v1/events?"+params.Encode(), &raw)
	if len(v.Raw) != len(raw.Events) {
		t.Errorf("raw events: %d rows, API has %d", len(v.Raw), len(raw.Events))
	}
	for i := range min(len(v.Raw), len(raw.Events)) {
		if got, want := v.Raw[i][1]+" "+v.Raw[i][2], raw.Events[i].Type+" "+raw.Events[i].Path; got != want {
			t.Errorf("raw event %d: %q, API says %q", i, got, want)
		}
	}

	// The heatmap: page views by weekday and hour, from the hours of the
	// range.
	hours := srv.queryAPI(t, "", sc.body(map[string]any{"metrics": []string{"pageviews"}, "dimensions": []string{"time:hour"}}))
	want := make([]float64, 7*24)
	for _, r := range hours.Results {
		day, err := time.Parse("2006-01-02 15:04:05", r.Dimensions[0])
		if err != nil {
			t.Fatalf("time:hour value %q: %v", r.Dimensions[0], err)
		}
		want[(int(day.Weekday())+6)%7*24+day.Hour()] += r.Metrics[0]
	}
	if !slices.Equal(v.Heatmap, want) {
		t.Errorf("heatmap:\n got %v\nwant %v", v.Heatmap, want)
	}
}

type resultRow = struct {
	Dimensions []string  `json:"dimensions"`
	Metrics    []float64 `json:"metrics"`
	Comparison *struct {
		Metrics []float64 `json:"metrics"`
	} `json:"comparison"`
}

// checkList compares the shown tab of a ranked list with the API.
func (tb *tab) checkList(sc scope, lt listTab, _ []string) {
	tb.t.Helper()
	ans := tb.srv.queryAPI(tb.t, "", sc.body(map[string]any{"metrics": lt.metrics, "dimensions": []string{lt.dim},
		"order_by": [][]string{{lt.metrics[0], "desc"}}, "pagination": map[string]any{"limit": lt.limit}}))
	tb.compareRows(lt.panel, ans, lt.metrics, lt.limit)
}

func (tb *tab) compareRows(panel string, ans queryAnswer, metrics []string, limit int) {
	tb.t.Helper()
	p := tb.view().Panels[panel]
	want := ans.Results[:min(limit, len(ans.Results))]
	if len(p.Rows) != len(want) {
		tb.t.Errorf("%s/%s: %d rows, API has %d", panel, p.Tab, len(p.Rows), len(want))
		return
	}
	for i, r := range p.Rows {
		if r.Value != want[i].Dimensions[0] {
			tb.t.Errorf("%s/%s row %d: %q, API says %q", panel, p.Tab, i, r.Value, want[i].Dimensions[0])
		}
		for j, m := range metrics {
			if got := r.Metrics[m]; got == nil || *got != want[i].Metrics[j] {
				tb.t.Errorf("%s/%s row %d (%s) %s = %v, API says %v", panel, p.Tab, i, r.Value, m, got, want[i].Metrics[j])
			}
		}
	}
}

// formatMetric is how the headline writes a value (format.js).
func formatMetric(metric string, v float64) string {
	switch metric {
	case "bounce_rate":
		return roundDecimal(v, 1) + "%"
	case "views_per_visit":
		return roundDecimal(v, 2)
	case "visit_duration":
		s := int(math.Round(v))
		switch {
		case s >= 3600:
			return fmt.Sprintf("%dh %dm", s/3600, s%3600/60)
		case s >= 60:
			return fmt.Sprintf("%dm %ds", s/60, s%60)
		}
		return fmt.Sprintf("%ds", s)
	}
	if v >= 10000 {
		return "" // compact: not compared
	}
	n := int(v)
	if n >= 1000 {
		return fmt.Sprintf("%d,%03d", n/1000, n%1000)
	}
	return fmt.Sprint(n)
}

// roundDecimal rounds v to digits decimals as Intl.NumberFormat does: the
// shortest decimal that reads back as v, rounded half away from zero, with
// no trailing zeros.
func roundDecimal(v float64, digits int) string {
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'f', -1, 64))
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
	r.Mul(r, scale).Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom()) // v ≥ 0: floor
	s := new(big.Rat).SetFrac(n, scale.Num()).FloatString(digits)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// TestEveryPanelShowsTheAPIsNumbers opens the 30-day view of the demo site
// and compares each panel with the query API, and reports how long the
// first render took.
func TestEveryPanelShowsTheAPIsNumbers(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	// Twice: in a browser just started, and again with its caches warm.
	for _, when := range []string{"new browser", "reloaded"} {
		tb.open("?site=" + demoSite)
		ready := eval[float64](tb, `performance.getEntriesByName('sitelog:ready')[0].startTime`)
		t.Logf("first render of the 30-day view (%s): %.0f ms from navigation start to every panel filled (%d events in the database)", when, ready, srv.n)
	}

	if got := tb.query().Get("site"); got != demoSite {
		t.Errorf("site in the URL = %q, want %q", got, demoSite)
	}
	tb.checkView(scope{site: demoSite, dateRange: "30d", compare: "previous_period"}, true)

	// Properties: of the first key found on the latest events, then of
	// another one picked from the list.
	month := scope{site: demoSite, dateRange: "30d"}
	tb.checkList(month, listTab{"props", "", "event:props:billing", []string{"visitors", "events"}, 10}, nil)
	tb.setSelect("prop-key", "plan")
	tb.checkList(month, listTab{"props", "", "event:props:plan", []string{"visitors", "events"}, 10}, nil)

	// Realtime: the visitors of the last five minutes and their pages.
	var rt struct {
		Visitors float64 `json:"visitors"`
		TopPages []struct {
			Page      string  `json:"page"`
			Visitors  float64 `json:"visitors"`
			Pageviews float64 `json:"pageviews"`
		} `json:"top_pages"`
	}
	srv.getAPI(t, "/api/v1/realtime?site_id="+demoSite, &rt)
	v := tb.view()
	if v.Realtime == nil || *v.Realtime != rt.Visitors || rt.Visitors == 0 {
		t.Errorf("realtime visitors = %v, API says %v (want some)", v.Realtime, rt.Visitors)
	}
	var now []string
	for _, r := range v.Panels["realtime"].Rows {
		now = append(now, fmt.Sprintf("%s %v %v", r.Value, *r.Metrics["visitors"], *r.Metrics["pageviews"]))
	}
	var want []string
	for _, p := range rt.TopPages {
		want = append(want, fmt.Sprintf("%s %v %v", p.Page, p.Visitors, p.Pageviews))
	}
	if !slices.Equal(now, want) {
		t.Errorf("realtime pages %q, API says %q", now, want)
	}

	// Raw events: the next page is the one the API's cursor gives.
	dr := srv.queryAPI(t, "", month.body(map[string]any{"metrics": []string{"events"}})).Query.DateRange
	params := url.Values{"site_id": {demoSite}, "from": {dr[0]}, "to": {dr[1]}, "limit": {"25"}}
	var page struct {
		Events []struct {
			Time string `json:"time"`
			Type string `json:"type"`
		} `json:"events"`
		NextCursor string `json:"next_cursor"`
	}
	srv.getAPI(t, "/api/v1/events?"+params.Encode(), &page)
	params.Set("cursor", page.NextCursor)
	srv.getAPI(t, "/api/v1/events?"+params.Encode(), &page)
	tb.do(chromedp.Click(chromedp.CSS(`[data-panel=raw] .pager button:last-child`)))
	tb.settle()
	rows := tb.view().Raw
	if len(rows) != len(page.Events) || len(rows) == 0 {
		t.Errorf("second page of raw events: %d rows, API has %d", len(rows), len(page.Events))
	}
	for i := range min(len(rows), len(page.Events)) {
		if rows[i][1] != page.Events[i].Type {
			t.Errorf("second page, event %d: %q, API says %q", i, rows[i][1], page.Events[i].Type)
		}
	}
	if got := eval[string](tb, `document.querySelector('[data-panel=raw] .page-no').textContent`); got != "Page 2" {
		t.Errorf("pager says %q", got)
	}

	// The about box names the source of the country data.
	tb.do(chromedp.Click(chromedp.CSS(`.top button.about`)), chromedp.WaitVisible(chromedp.CSS(`dialog.modal[open]`)))
	about := eval[string](tb, `document.querySelector('dialog.modal').textContent`)
	if !strings.Contains(about, "This site or product includes IP2Location LITE data available from https://lite.ip2location.com.") {
		t.Errorf("the about box lacks the IP2Location LITE attribution: %q", about)
	}
	if n := eval[int](tb, `[...document.querySelectorAll('dialog a')].filter((a) => a.rel !== 'noopener noreferrer' || !/^https?:/.test(a.href)).length`); n != 0 {
		t.Errorf("%d links of the about box lack rel=noopener noreferrer", n)
	}
	tb.do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotPresent(chromedp.CSS(`dialog.modal`)))
	tb.noProblems()
	writeScreenshot(t, tb, "dashboard-30d.png")
}

// TestClickingARowFilters clicks list rows, with the mouse and with the
// keyboard, and checks the chip, the URL and the filtered numbers.
func TestClickingARowFilters(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	tb.open("?site=" + demoSite + "&period=7d")

	tb.do(chromedp.Click(chromedp.CSS(`[data-panel=sources] .bar-row[data-value="Hacker News"] .bar-label`)))
	tb.settle()
	if got := tb.query()["f"]; !slices.Equal(got, []string{"is,visit:source,Hacker News"}) {
		t.Errorf("URL filters = %q after clicking Hacker News", got)
	}
	if v := tb.view(); !slices.Equal(v.Chips, []string{"visit:source=Hacker News"}) {
		t.Errorf("chips = %q", v.Chips)
	}
	hn := scope{site: demoSite, dateRange: "7d", compare: "previous_period",
		filters: [][]any{{"is", "visit:source", []string{"Hacker News"}}}}
	tb.checkView(hn, true)

	// With the keyboard: focus a browser's row and press Enter.
	tb.do(chromedp.Focus(chromedp.CSS(`[data-panel=devices] .bar-row[data-value="Firefox"] .bar-label`)), chromedp.KeyEvent(kb.Enter))
	tb.settle()
	if got := tb.query()["f"]; !slices.Equal(got, []string{"is,visit:source,Hacker News", "is,visit:browser,Firefox"}) {
		t.Errorf("URL filters = %q after Enter on Firefox", got)
	}
	both := hn
	both.filters = append(slices.Clone(hn.filters), []any{"is", "visit:browser", []string{"Firefox"}})
	tb.checkView(both, false)

	// Removing the first chip leaves the second filter.
	tb.do(chromedp.Click(chromedp.CSS(`.chip[data-dim="visit:source"] button`)))
	tb.settle()
	if got := tb.query()["f"]; !slices.Equal(got, []string{"is,visit:browser,Firefox"}) {
		t.Errorf("URL filters = %q after removing the source chip", got)
	}
	firefox := scope{site: demoSite, dateRange: "7d", compare: "previous_period",
		filters: [][]any{{"is", "visit:browser", []string{"Firefox"}}}}
	tb.checkView(firefox, false)

	// Back in history restores both filters, as a bookmark would.
	tb.do(chromedp.NavigateBack())
	tb.settle()
	if v := tb.view(); len(v.Chips) != 2 {
		t.Errorf("after going back, chips = %q, want both", v.Chips)
	}
	tb.noProblems()
}

// TestChangingTheRangeUpdatesURLAndNumbers switches periods and the
// comparison from the controls and from the URL.
func TestChangingTheRangeUpdatesURLAndNumbers(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	tb.open("?site=" + demoSite)

	tb.setSelect("period", "7d")
	if got := tb.query().Get("period"); got != "7d" {
		t.Errorf("period in the URL = %q, want 7d", got)
	}
	tb.checkView(scope{site: demoSite, dateRange: "7d", compare: "previous_period"}, false)

	tb.setSelect("compare", "year_over_year")
	if got := tb.query().Get("compare"); got != "year_over_year" {
		t.Errorf("compare in the URL = %q", got)
	}
	tb.setSelect("period", "day")
	tb.checkView(scope{site: demoSite, dateRange: "day", compare: "year_over_year"}, false)

	// A metric chosen from the headline is charted, and kept in the URL.
	tb.do(chromedp.Click(chromedp.CSS(`.headline .stat[data-metric=pageviews]`)))
	tb.settle()
	if got := tb.query().Get("metric"); got != "pageviews" {
		t.Errorf("metric in the URL = %q", got)
	}

	// A custom range of one day from a bookmark: hours, as for today.
	loc, _ := time.LoadLocation(demoZone)
	day := srv.now.In(loc).AddDate(0, 0, -3).Format(time.DateOnly)
	tb.open(fmt.Sprintf("?site=%s&period=custom&from=%s&to=%s&compare=off&metric=visits", demoSite, day, day))
	v := tb.view()
	if len(v.Timeline) != 24 {
		t.Errorf("one day's timeline has %d points, want 24", len(v.Timeline))
	}
	tb.checkView(scope{site: demoSite, dateRange: []string{day, day}}, false)
	tb.noProblems()
}

// TestHostileValuesRenderAsText shows a site whose every outside value is a
// script payload: each must appear as literal text, and nothing may run.
func TestHostileValuesRenderAsText(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	tb.open("?site=" + evilSite)
	tb.checkView(scope{site: evilSite, dateRange: "30d", compare: "previous_period"}, true)

	seen := map[string]bool{}
	v := tb.view()
	for _, p := range v.Panels {
		for _, r := range p.Rows {
			seen[r.Text] = true
		}
	}
	for _, p := range payloads {
		for _, want := range []string{p, "/" + p} {
			if !seen[want] {
				t.Errorf("no row shows %q as text", want)
			}
		}
	}
	text := eval[string](tb, `document.querySelector('[data-panel=raw]').textContent`)
	for _, p := range payloads {
		if !strings.Contains(text, p) {
			t.Errorf("raw events do not show %q as text", p)
		}
	}
	// Filtering by a payload works like any value.
	tb.do(chromedp.Click(chromedp.CSS(`[data-panel=pages] .bar-row .bar-label`)))
	tb.settle()
	// Click every tab and the property picker, so every view renders.
	for _, lt := range listTabs {
		if lt.tab != "" {
			tb.clickTab(lt.panel, lt.tab)
		}
	}
	elems := eval[map[string]int](tb, `({
		img: document.querySelectorAll('img').length,
		svg: document.querySelectorAll('svg').length,
		handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
		badLinks: [...document.querySelectorAll('a[href]')].filter((a) => !/^https?:/.test(a.href) || a.rel !== 'noopener noreferrer').length,
	})`)
	for k, n := range elems {
		if n != 0 {
			t.Errorf("%d %s in the page", n, k)
		}
	}
	tb.noProblems()
}

// TestTheProblemDetectorSeesProblems makes sure the checks above would
// notice: a dialog, a console error and a CSP violation are all seen.
func TestTheProblemDetectorSeesProblems(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	tb.open("?site=" + demoSite + "&period=day")
	tb.noProblems()
	for _, c := range []struct{ js, want string }{
		{`setTimeout(() => alert(1)); true`, "dialog"},
		{`console.error('boom'); true`, "console.error"},
		{`document.body.setAttribute('style', 'color: red'); true`, "Content Security Policy"},
		{`(() => { const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s); return true; })()`, "Content Security Policy"},
	} {
		eval[bool](tb, c.js)
		deadline := time.Now().Add(5 * time.Second)
		var got []string
		for time.Now().Before(deadline) {
			got = append(got, tb.takeProblems()...)
			if strings.Contains(strings.Join(got, "\n"), c.want) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(strings.Join(got, "\n"), c.want) {
			t.Errorf("%s: problems %q, want one mentioning %q", c.js, got, c.want)
		}
	}
}

// TestLoginKeepsTheKeyOutOfURLs requires report keys: the page asks for
// one, refuses a wrong one, and sends a right one only as a header.
func TestLoginKeepsTheKeyOutOfURLs(t *testing.T) {
	srv := newServer(t, serverConfig{requireKeys: true})
	_, key, err := srv.store.CreateSiteKey(context.Background(), demoSite, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.reg.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	tb := openTab(t, srv)
	tb.do(chromedp.Navigate(srv.url+"/?site="+evilSite), chromedp.WaitVisible(chromedp.ID("key")))

	tb.do(chromedp.SendKeys(chromedp.ID("key"), "wrong"), chromedp.Click(chromedp.CSS(`.login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.login [role=alert]`)))
	if msg := eval[string](tb, `document.querySelector('.login [role=alert]').textContent`); !strings.Contains(msg, "unknown or revoked") {
		t.Errorf("wrong key: %q", msg)
	}
	eval[bool](tb, `(document.getElementById('key').value = '') === ''`)
	tb.do(chromedp.SendKeys(chromedp.ID("key"), key),
		chromedp.Click(chromedp.CSS(`.login button[type=submit]`)))
	tb.settle()

	// A site key reads its own site, whatever the URL asked for.
	if got := tb.query().Get("site"); got != demoSite {
		t.Errorf("site = %q, want the key's %q", got, demoSite)
	}
	tb.checkViewWithKey(key)
	if got := eval[string](tb, `sessionStorage.getItem('sitelog.key')`); got != key {
		t.Errorf("sessionStorage holds %q", got)
	}
	tb.mu.Lock()
	var sent int
	for _, r := range tb.requests {
		if strings.Contains(r.URL, key) || strings.Contains(r.URLFragment, key) {
			t.Errorf("the key is in the URL of a request: %s", r.URL)
		}
		if strings.Contains(r.URL, "/api/v1/") {
			if auth, _ := r.Headers["Authorization"].(string); auth == "Bearer "+key {
				sent++
			} else {
				t.Errorf("%s %s without the key: Authorization %q", r.Method, r.URL, auth)
			}
		}
	}
	tb.mu.Unlock()
	if sent == 0 {
		t.Error("no API request was made")
	}
	if loc := eval[string](tb, `location.href`); strings.Contains(loc, key) {
		t.Errorf("the key is in the address: %s", loc)
	}

	tb.do(chromedp.Click(chromedp.CSS(`.top button.signout`)), chromedp.WaitVisible(chromedp.ID("key")))
	if got := eval[*string](tb, `sessionStorage.getItem('sitelog.key')`); got != nil {
		t.Errorf("after signing out sessionStorage holds %q", *got)
	}
	// The only problems allowed are the refused requests of the login.
	for _, p := range tb.takeProblems() {
		if !strings.Contains(p, "401") {
			t.Errorf("the page had a problem: %s", p)
		}
	}
}

// checkViewWithKey checks the headline against the API asked with key.
func (tb *tab) checkViewWithKey(key string) {
	tb.t.Helper()
	total := tb.srv.queryAPI(tb.t, key, map[string]any{"site_id": demoSite, "date_range": "30d", "metrics": headlineMetrics})
	for i, h := range tb.view().Headline {
		if h.N == nil || *h.N != total.Results[0].Metrics[i] {
			tb.t.Errorf("headline %s = %v, API says %v", h.Metric, h.N, total.Results[0].Metrics[i])
		}
	}
}

// TestPhoneWidthAndDarkTheme checks that nothing overflows a phone's width
// and that the theme follows the system's.
func TestPhoneWidthAndDarkTheme(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	tb.open("?site=" + demoSite)
	if w := eval[map[string]float64](tb, `({ doc: document.documentElement.scrollWidth, win: window.innerWidth })`); w["doc"] > w["win"] {
		t.Errorf("the page is %v px wide on a %v px phone", w["doc"], w["win"])
	}
	light := eval[string](tb, `getComputedStyle(document.body).backgroundColor`)
	tb.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	dark := eval[string](tb, `getComputedStyle(document.body).backgroundColor`)
	if light == dark || dark != "rgb(15, 17, 21)" {
		t.Errorf("background light %s, dark %s", light, dark)
	}
	writeScreenshot(t, tb, "dashboard-phone-dark.png")
	tb.noProblems()
}

// TestScreenshotForREADME writes the main view's screenshot; with -update
// it replaces docs/dashboard.png.
func TestScreenshotForREADME(t *testing.T) {
	srv := newServer(t, serverConfig{})
	tb := openTab(t, srv)
	// The top of the page: headline, timeline and the first lists.
	tb.do(chromedp.EmulateViewport(1280, 1180))
	tb.open("?site=" + demoSite)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveArtefact(t, "dashboard.png", png)
	if *update {
		dst := filepath.Join("..", "docs", "dashboard.png")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", dst)
	}
	tb.noProblems()
}

// writeScreenshot saves a full-page PNG in the artefact directory.
func writeScreenshot(t *testing.T, tb *tab, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtefact(t, name, png)
}

// saveArtefact writes a file to the artefact directory: SITELOG_ARTIFACTS,
// or the test's temporary directory.
func saveArtefact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("SITELOG_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
