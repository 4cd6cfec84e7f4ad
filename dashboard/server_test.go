package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"sitelog/event"
	"sitelog/report"
	"sitelog/rollup"
	"sitelog/sites"
	"sitelog/wal"
)

// The sites of the generated dataset: demo has ordinary traffic over the
// last ten weeks in Berlin time, evil has events whose every outside value
// is a script payload.
const (
	demoSite = "demo"
	evilSite = "evil"
	demoZone = "Europe/Berlin"
)

// Script payloads put wherever a value comes from outside.
var payloads = []string{
	`<img src=x onerror=alert(1)>`,
	`"><svg onload=alert(1)>`,
	`javascript:alert(1)`,
}

// server is the report address as main wires it, over a real database
// that a real rollup.Store filled with the generated dataset.
type server struct {
	url   string
	store *sites.Store // registry writes (keys)
	reg   *sites.Registry
	now   time.Time // when the dataset was made: "now" for its times
	n     int       // events in the dataset
}

// serverConfig says how to build a server.
type serverConfig struct {
	requireKeys bool
}

// newServer builds the dataset around the current time and serves the
// report and the dashboard on an httptest server.
func newServer(t testing.TB, cfg serverConfig) *server {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitelog.db")
	admin, err := rollup.OpenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	regStore := sites.NewStore(admin, sites.StoreOptions{})
	if _, _, err := regStore.PutSite(ctx, demoSite, []string{"example.com"}, demoZone); err != nil {
		t.Fatal(err)
	}
	if _, _, err := regStore.PutSite(ctx, evilSite, nil, ""); err != nil {
		t.Fatal(err)
	}
	// Goals, counted from the first event applied.
	for _, g := range [][3]string{{"Signup", "signup", ""}, {"Visit pricing", "", "/pricing"}, {payloads[0], payloads[1], ""}} {
		site := demoSite
		if g[0] == payloads[0] {
			site = evilSite
		}
		if _, err := admin.ExecContext(ctx, `INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES (?, ?, ?, ?, ?)`,
			site, g[0], g[1], g[2], 0); err != nil {
			t.Fatal(err)
		}
	}

	readers, err := rollup.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { readers.Close() })
	reg, err := sites.Load(ctx, readers, sites.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}

	store, err := rollup.Open(path, rollup.Options{
		Logger: slog.New(slog.DiscardHandler),
		Zone: func(site string) *time.Location {
			if s, ok := reg.Snapshot().Site(site); ok {
				return s.Location()
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	now := time.Now().UTC()
	evs := dataset(now)
	const batch = 2000
	for i := 0; i < len(evs); i += batch {
		entries := make([]wal.Entry, 0, batch)
		for j, e := range evs[i:min(i+batch, len(evs))] {
			entries = append(entries, wal.Entry{Index: uint64(i + j + 1), Data: e.AppendBinary(nil)})
		}
		if err := store.Apply(ctx, "dashboard-test", entries); err != nil {
			t.Fatal(err)
		}
	}

	r := httprouter.New()
	report.New(readers, report.Config{
		Keys:        reg,
		RequireKeys: cfg.requireKeys,
		Logger:      slog.New(slog.DiscardHandler),
		// The page asks for a score of queries at once; under the race
		// detector the raw-event ones take seconds each.
		QueryTimeout: time.Minute,
	}).Register(r)
	New(Config{
		Keys:        reg,
		RequireKeys: cfg.requireKeys,
		Sites:       func() []sites.Site { return reg.Snapshot().Sites() },
	}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, store: regStore, reg: reg, now: now, n: len(evs)}
}

// dataset generates the events of both sites up to now, oldest first, as
// ingest would have derived them: ten weeks of visits on demo, a few of
// them in the last minute (for realtime), and the hostile events of evil.
func dataset(now time.Time) []event.Event {
	rng := rand.New(rand.NewPCG(6, 6))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	type client struct{ browser, os, device, country string }
	clients := []client{
		{"Chrome", "Windows", "Desktop", "DE"}, {"Firefox", "Linux", "Desktop", "DE"}, {"Safari", "iOS", "Mobile", "US"},
		{"Chrome", "Android", "Mobile", "IN"}, {"Edge", "Windows", "Desktop", "GB"}, {"Safari", "Mac", "Desktop", "FR"},
		{"Chrome", "Android", "Tablet", "BR"}, {"Firefox", "Windows", "Desktop", "NL"}, {"Samsung Internet", "Android", "Mobile", "JP"},
	}
	type origin struct{ source, referrer, utmSource, utmMedium, utmCampaign string }
	origins := []origin{
		{}, {}, {},
		{"Google", "www.google.com", "", "", ""},
		{"Google", "www.google.com", "", "", ""},
		{"Hacker News", "news.ycombinator.com/item", "", "", ""},
		{"DuckDuckGo", "duckduckgo.com", "", "", ""},
		{"GitHub", "github.com/sitelog/sitelog", "", "", ""},
		{"newsletter", "", "newsletter", "email", "launch"},
		{"Twitter", "t.co", "twitter", "social", "launch"},
	}
	pages := []string{"/", "/", "/", "/pricing", "/docs", "/docs/install", "/docs/api", "/blog", "/blog/launch", "/about"}

	var evs []event.Event
	start := now.Add(-70 * 24 * time.Hour)
	for v := range 1000 {
		visitor := event.HashVisitor([]byte("dashboard-test"), demoSite, fmt.Sprint(v))
		c := clients[rng.IntN(len(clients))]
		width := map[string]int{"Desktop": 1440, "Mobile": 390, "Tablet": 820}[c.device]
		for range 1 + rng.IntN(3) {
			// Visits lean to the recent weeks, so that periods differ.
			age := time.Duration(rng.Float64() * rng.Float64() * float64(now.Sub(start)-time.Hour))
			at := now.Add(-age - 10*time.Minute)
			o := origins[rng.IntN(len(origins))]
			for p := range 1 + rng.IntN(5) {
				e := event.Event{
					SiteID: demoSite, Type: event.PageView, Path: pick(pages...), Time: at.Truncate(time.Microsecond),
					Visitor: visitor, Hostname: "example.com", Browser: c.browser, OS: c.os, Device: c.device,
					Country: c.country, ScreenWidth: width,
				}
				if p == 0 {
					e.Source, e.Referrer = o.source, o.referrer
					e.UTMSource, e.UTMMedium, e.UTMCampaign = o.utmSource, o.utmMedium, o.utmCampaign
				}
				evs = append(evs, e)
				if rng.IntN(8) == 0 {
					plan := pick("free", "pro", "team")
					props, _ := event.EncodeProps([]event.Prop{{Key: "plan", Value: plan}, {Key: "billing", Value: pick("monthly", "yearly")}})
					ev := e
					ev.Type, ev.Props, ev.Time = "signup", props, e.Time.Add(5*time.Second)
					ev.Source, ev.Referrer, ev.UTMSource, ev.UTMMedium, ev.UTMCampaign = "", "", "", "", ""
					evs = append(evs, ev)
				}
				if rng.IntN(10) == 0 {
					props, _ := event.EncodeProps([]event.Prop{{Key: "file", Value: pick("sitelog.tar.gz", "sitelog.zip")}})
					ev := e
					ev.Type, ev.Props, ev.Time = "download", props, e.Time.Add(7*time.Second)
					ev.Source, ev.Referrer, ev.UTMSource, ev.UTMMedium, ev.UTMCampaign = "", "", "", "", ""
					evs = append(evs, ev)
				}
				at = at.Add(time.Duration(10+rng.IntN(240)) * time.Second)
			}
		}
	}
	// Visitors on the site right now.
	for v := range 4 {
		evs = append(evs, event.Event{
			SiteID: demoSite, Type: event.PageView, Path: pages[v], Time: now.Add(-time.Minute).Truncate(time.Microsecond),
			Visitor: event.HashVisitor([]byte("dashboard-test-now"), fmt.Sprint(v)), Hostname: "example.com",
			Browser: "Firefox", OS: "Linux", Device: "Desktop", Country: "DE", ScreenWidth: 1280,
		})
	}
	// Hostile values, on every day of the last week so each period has them.
	props, _ := event.EncodeProps([]event.Prop{{Key: payloads[0], Value: payloads[2]}, {Key: "note", Value: payloads[1]}})
	for d := range 7 {
		for i, p := range payloads {
			at := now.Add(-time.Duration(d)*24*time.Hour - time.Duration(i+1)*time.Hour).Truncate(time.Microsecond)
			visitor := event.HashVisitor([]byte("dashboard-test-evil"), fmt.Sprint(d, i))
			base := event.Event{
				SiteID: evilSite, Visitor: visitor, Hostname: p, Time: at,
				Source: p, Referrer: p, UTMSource: p, UTMMedium: p, UTMCampaign: p, UTMContent: p, UTMTerm: p,
				Browser: p, OS: p, Device: p, Country: p,
			}
			pv := base
			pv.Type, pv.Path = event.PageView, "/"+p
			custom := base
			custom.Type, custom.Path, custom.Props, custom.Time = payloads[1], "/"+p, props, at.Add(time.Second)
			evs = append(evs, pv, custom)
		}
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	return evs
}

// queryAPI posts a query to the server's query API (with key, if not
// empty) and returns the decoded answer.
func (s *server) queryAPI(t testing.TB, key string, body map[string]any) queryAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/query", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	var ans queryAnswer
	s.do(t, req, &ans)
	return ans
}

// queryAnswer is the part of the query API's answer the tests compare.
type queryAnswer struct {
	Results []struct {
		Dimensions []string  `json:"dimensions"`
		Metrics    []float64 `json:"metrics"`
		Comparison *struct {
			Metrics []float64 `json:"metrics"`
		} `json:"comparison"`
	} `json:"results"`
	Meta struct {
		TimeLabels []string `json:"time_labels"`
	} `json:"meta"`
	Query struct {
		DateRange [2]string `json:"date_range"`
	} `json:"query"`
}

// getAPI fetches a GET API's answer into v.
func (s *server) getAPI(t testing.TB, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	s.do(t, req, v)
}

func (s *server) do(t testing.TB, req *http.Request, v any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, body)
	}
}
