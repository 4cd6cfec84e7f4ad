package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"sitelog/event"
	"sitelog/internal/browsertest"
	"sitelog/wal"
)

// sent is what a test asserts of an event the tracker sent.
type sent struct {
	Type, Hostname, Path, Query, Fragment, Props string
	ScreenWidth                                  int
}

func (s sent) String() string {
	return fmt.Sprintf("%s %s%s?%s#%s %s w=%d", s.Type, s.Hostname, s.Path, s.Query, s.Fragment, s.Props, s.ScreenWidth)
}

func sentOf(ev event.Event) sent {
	return sent{ev.Type, ev.Hostname, ev.Path, ev.Query, ev.Fragment, ev.Props, ev.ScreenWidth}
}

// arrivals collects the events that reach the log.
type arrivals struct {
	s   *server
	got []event.Event
}

// waitFor polls the log until the nth event like want has arrived, and
// returns it. The deadline only turns a lost event into a failure that
// lists what did arrive, rather than a hang until the test binary's
// timeout.
func (a *arrivals) waitFor(t *testing.T, want sent, nth int) event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.got = append(a.got, a.s.appended(t)...)
		n := 0
		for _, ev := range a.got {
			if n += boolInt(sentOf(ev) == want); n == nth {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %v (number %d); arrived:\n%s", want, nth, a)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *arrivals) String() string {
	var b strings.Builder
	for _, ev := range a.got {
		fmt.Fprintf(&b, "\t%v\n", sentOf(ev))
	}
	return b.String()
}

// trackerPage is a site's page that loads the tracker from the ingest
// server, after queueing a call as the README shows. Its links marked
// data-stay do not navigate, as a router's would not.
const trackerPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>A site</title>
<script>
window.sitelog = window.sitelog || function () { (sitelog.q = sitelog.q || []).push(arguments) };
sitelog('Queued', {n: 1});
</script>
<script defer src="INGEST/sitelog.js" data-site="example.com" ATTRS></script>
<script>
function stay(e) { if (e.target.closest('[data-stay]')) e.preventDefault() }
document.addEventListener('click', stay);
document.addEventListener('auxclick', stay);
</script>
</head><body>
<p><a id="download" data-stay href="/files/Report.PDF?v=2">report</a>
<p><a id="outbound" data-stay href="https://example.org/pricing">elsewhere</a>
<p><a id="inside" data-stay href="/about">about</a>
<p><a id="mail" data-stay href="mailto:hi@example.com">mail</a>
<p><a id="leave" href="LEAVE">leave</a>
</body></html>
`

// TestTrackerInBrowser loads the tracker in Chromium on a page of another
// origin, as sites do, and checks each event it sends against what
// arrives in the log, through the real handler.
func TestTrackerInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	a := &arrivals{s: s}

	// The site: 127.0.0.1 for its pages, localhost as the other site
	// that a link leaves to. /quiet leaves out data-allow-localhost, so
	// the tracker must treat it as the developer's machine it is; /done
	// has no options but that.
	site := httptest.NewServer(nil)
	t.Cleanup(site.Close)
	other := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)
	site.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attrs := "data-allow-localhost data-hash data-outbound-links data-file-downloads"
		switch r.URL.Path {
		case "/app", "/optout":
		case "/done":
			attrs = "data-allow-localhost"
		case "/quiet":
			attrs = "data-hash data-outbound-links data-file-downloads"
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		strings.NewReplacer("INGEST", s.srv.URL, "ATTRS", attrs, "LEAVE", other+"/done").WriteString(w, trackerPage)
	})

	const width = 1234
	at := func(typ, path, query, fragment, props string) sent {
		return sent{typ, "127.0.0.1", path, query, fragment, props, width}
	}
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	js := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](expr+"; true")(ctx, tg)
			return err
		})
	}
	click := func(id string, button ...chromedp.MouseOption) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			nodes, err := chromedp.Nodes(chromedp.ID(id), chromedp.NodeVisible)(ctx, tg)
			if err == nil {
				_, err = chromedp.MouseClickNode(nodes[0], button...)(ctx, tg)
			}
			return err
		})
	}
	// expect adds w to what the test wants to arrive, and waits for it.
	var want []sent
	expect := func(w sent) event.Event {
		t.Helper()
		want = append(want, w)
		nth := 0
		for _, x := range want {
			nth += boolInt(x == w)
		}
		return a.waitFor(t, w, nth)
	}

	do(chromedp.EmulateViewport(width, 800))
	// Arrive from a Hacker News thread, the whole referrer kept.
	do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{
			URL:            site.URL + "/app?utm_source=newsletter",
			Referrer:       "https://news.ycombinator.com/item?id=42",
			ReferrerPolicy: page.ReferrerPolicyUnsafeURL,
		})
		if err == nil && res.ErrorText != "" {
			err = fmt.Errorf("navigate: %s", res.ErrorText)
		}
		return err
	}))
	view := expect(at(event.PageView, "/app", "utm_source=newsletter", "", ""))
	if view.Source != "Hacker News" || view.Referrer != "news.ycombinator.com/item" {
		t.Errorf("page view from Hacker News: source %q, referrer %q", view.Source, view.Referrer)
	}
	// The call queued before the script loaded, sent after the view.
	expect(at("Queued", "/app", "utm_source=newsletter", "", `{"n":"1"}`))

	// SPA navigation: pushState counts; replaceState on the same path
	// does not; a fragment counts with data-hash; going back counts,
	// over a fragment (popstate and hashchange, one view) and over a
	// pushState (popstate alone).
	do(js(`history.pushState({}, '', '/app/settings')`))
	expect(at(event.PageView, "/app/settings", "", "", ""))
	do(js(`history.replaceState({}, '', '/app/settings?tab=2')`))
	do(js(`location.hash = 'billing'`))
	expect(at(event.PageView, "/app/settings", "tab=2", "billing", ""))
	do(js(`history.back()`))
	expect(at(event.PageView, "/app/settings", "tab=2", "", ""))
	do(js(`history.back()`))
	expect(at(event.PageView, "/app", "utm_source=newsletter", "", ""))

	// Custom events: props of any JSON scalar arrive as strings.
	do(js(`sitelog.track('Signup', {plan: 'pro', seats: 3, annual: true})`))
	expect(at("Signup", "/app", "utm_source=newsletter", "", `{"annual":"true","plan":"pro","seats":"3"}`))
	do(js(`sitelog('Plain')`))
	expect(at("Plain", "/app", "utm_source=newsletter", "", ""))

	// Clicks: a download (by extension, any case), an outbound link; a
	// link inside the site and a mailto: link send nothing.
	do(click("download"), click("inside"), click("mail"))
	expect(at("File Download", "/app", "utm_source=newsletter", "", `{"url":"`+site.URL+`/files/Report.PDF?v=2"}`))
	do(click("outbound"))
	expect(at("Outbound Link: Click", "/app", "utm_source=newsletter", "", `{"url":"https://example.org/pricing"}`))
	// A middle click opens a link too; a right click does not.
	do(click("outbound", chromedp.ButtonRight), click("outbound", chromedp.ButtonMiddle))
	expect(at("Outbound Link: Click", "/app", "utm_source=newsletter", "", `{"url":"https://example.org/pricing"}`))
	// A click that leaves the page still arrives: sendBeacon outlives it.
	do(click("leave"))
	expect(at("Outbound Link: Click", "/app", "utm_source=newsletter", "", `{"url":"`+other+`/done"}`))
	for _, w := range []sent{at(event.PageView, "/done", "", "", ""), at("Queued", "/done", "", "", `{"n":"1"}`)} {
		w.Hostname = "localhost"
		expect(w)
	}

	// Opted out: nothing, queued calls included, until the flag goes.
	do(chromedp.Navigate(site.URL+"/no-tracker-here"), js(`localStorage.sitelog_ignore = 'true'`))
	do(chromedp.Navigate(site.URL+"/optout"),
		js(`history.pushState({}, '', '/optout/next')`),
		js(`sitelog.track('Opted out')`),
		click("download"), click("outbound"))
	do(js(`localStorage.removeItem('sitelog_ignore'); sitelog.track('Opted in')`))
	expect(at("Opted in", "/optout/next", "", "", ""))

	// On localhost without data-allow-localhost: nothing either.
	do(chromedp.Navigate(site.URL+"/quiet"),
		js(`history.pushState({}, '', '/quiet/next')`),
		js(`sitelog.track('Quiet')`),
		click("download"), click("outbound"))

	// Without data-hash a fragment is no new view. Anything sent before
	// would have arrived by the time this last event has.
	do(chromedp.Navigate(site.URL + "/done"))
	expect(at(event.PageView, "/done", "", "", ""))
	expect(at("Queued", "/done", "", "", `{"n":"1"}`))
	do(js(`location.hash = 'top'`), js(`sitelog('End')`))
	expect(at("End", "/done", "", "top", ""))

	got := make([]sent, len(a.got))
	for i, ev := range a.got {
		got[i] = sentOf(ev)
	}
	cmp := func(x, y sent) int { return strings.Compare(x.String(), y.String()) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("arrived:\n%s\nwant (sorted):\n%s", a, sentList(want))
	}
}

func sentList(l []sent) string {
	var b strings.Builder
	for _, s := range l {
		fmt.Fprintf(&b, "\t%v\n", s)
	}
	return b.String()
}
