package report

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/rollup"
	"sitelog/wal"
)

// A generated dataset for the query API: visits of a seeded random crowd
// to one site, applied through the real worker's Store, so that the
// rollups, sketches, visits and raw events the queries read are exactly
// what production writes.

// genSite is the generated site; its days are Berlin's, and the data
// crosses the change to summer time on 29 March 2026.
const (
	genSite = "demo"
	genZone = "Europe/Berlin"
)

// genConfig says how much to generate.
type genConfig struct {
	seed          uint64
	from, to      string // local days with visits
	visitsPerDay  int
	returningRate float64 // share of visits by a visitor seen before
	bounceOnly    bool    // every visit is one page view, for many visitors in few events
	extra         []genSpan
}

// genSpan adds visits over more days, such as a year earlier.
type genSpan struct {
	from, to     string
	visitsPerDay int
}

// genGoals are the site's goals, made before any event is applied so that
// the rollups count every completion.
var genGoals = []struct{ name, event, path string }{
	{"Signup", "signup", ""},
	{"Pricing", "", "/pricing"},
	{"Blog", "", "/blog/*"},
}

type pick struct {
	weight int
	value  string
}

func choose(rng *rand.Rand, ps []pick) string {
	total := 0
	for _, p := range ps {
		total += p.weight
	}
	n := rng.IntN(total)
	for _, p := range ps {
		if n < p.weight {
			return p.value
		}
		n -= p.weight
	}
	panic("unreachable")
}

var (
	genSources = []pick{{40, ""}, {25, "Google"}, {10, "Twitter"}, {8, "Hacker News"}, {7, "example.org"}, {5, "DuckDuckGo"}, {5, "utm"}}
	genRefs    = map[string]string{"Google": "www.google.com", "Twitter": "t.co/x1", "Hacker News": "news.ycombinator.com/item",
		"example.org": "example.org/links", "DuckDuckGo": "duckduckgo.com"}
	genBrowsers  = []pick{{50, "Chrome"}, {20, "Safari"}, {15, "Firefox"}, {10, "Edge"}, {5, ""}}
	genOS        = []pick{{35, "Windows"}, {25, "iOS"}, {20, "Android"}, {15, "Mac"}, {5, "GNU/Linux"}}
	genDevices   = []pick{{55, "Desktop"}, {38, "Mobile"}, {7, "Tablet"}}
	genCountries = []pick{{25, "US"}, {20, "DE"}, {10, "FR"}, {10, "GB"}, {8, "IN"}, {7, "BR"}, {5, "JP"}, {5, ""}, {10, "NL"}}
	genPages     = []pick{{30, "/"}, {15, "/pricing"}, {12, "/docs/start"}, {8, "/docs/api"}, {6, "/about"}, {20, "blog"}, {3, "/a=b&c"}}
	genCampaigns = []pick{{3, "launch"}, {2, "spring_sale"}, {1, "=cmd|' /C calc'!A0"}}
)

// genVisit is one visit's attributes.
type genVisit struct {
	visitor                               uint64
	source, referrer, utmSource, utmMed   string
	utmCampaign, browser, os, device, cty string
}

// generate makes the events of cfg, sorted by time.
func generate(cfg genConfig) []*event.Event {
	loc, err := time.LoadLocation(genZone)
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x5eed))
	var visitors []uint64
	var evs []*event.Event
	spans := append([]genSpan{{cfg.from, cfg.to, cfg.visitsPerDay}}, cfg.extra...)
	for _, sp := range spans {
		for day := sp.from; day <= sp.to; day = addDays(day, 1) {
			midnight := localStart(day, loc)
			for range sp.visitsPerDay {
				v := genVisit{visitor: rng.Uint64() | 1}
				if len(visitors) > 0 && rng.Float64() < cfg.returningRate {
					v.visitor = visitors[rng.IntN(len(visitors))]
				} else {
					visitors = append(visitors, v.visitor)
				}
				v.source = choose(rng, genSources)
				if v.source == "utm" {
					v.source = ""
					v.utmSource, v.utmMed = "newsletter", "email"
					v.utmCampaign = choose(rng, genCampaigns)
				}
				v.referrer = genRefs[v.source]
				v.browser, v.os = choose(rng, genBrowsers), choose(rng, genOS)
				v.device, v.cty = choose(rng, genDevices), choose(rng, genCountries)
				start := midnight.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
				evs = append(evs, genVisitEvents(rng, v, start, cfg.bounceOnly)...)
			}
		}
	}
	// A visitor nobody can identify, and a crawler, now and then.
	for i := range len(evs) / 50 {
		e := *evs[rng.IntN(len(evs))]
		e.Visitor, e.Time = 0, e.Time.Add(time.Second)
		if i%2 == 1 {
			e.Bot = true
		}
		e.Type, e.Props = event.PageView, ""
		if e.Path == "" {
			e.Path = "/"
		}
		evs = append(evs, &e)
	}
	slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Time.Compare(b.Time) })
	return evs
}

// genVisitEvents makes one visit of 1 to 6 page views (one if
// bounceOnly), some with a custom event, starting at start.
func genVisitEvents(rng *rand.Rand, v genVisit, start time.Time, bounceOnly bool) []*event.Event {
	n := 1
	if !bounceOnly && rng.Float64() > 0.35 {
		n = 2 + rng.IntN(5)
	}
	var evs []*event.Event
	t := start
	for i := range n {
		path := choose(rng, genPages)
		if path == "blog" {
			path = fmt.Sprintf("/blog/post-%02d", 1+rng.IntN(12))
		}
		host := "example.com"
		if len(path) > 5 && path[:5] == "/docs" {
			host = "docs.example.com"
		}
		e := &event.Event{SiteID: genSite, Type: event.PageView, Path: path, Time: t.UTC().Truncate(time.Microsecond),
			Visitor: v.visitor, Hostname: host, Browser: v.browser, OS: v.os, Device: v.device, Country: v.cty}
		if i == 0 {
			e.Source, e.Referrer = v.source, v.referrer
			e.UTMSource, e.UTMMedium, e.UTMCampaign = v.utmSource, v.utmMed, v.utmCampaign
		}
		evs = append(evs, e)
		t = t.Add(time.Duration(10+rng.IntN(600)) * time.Second)
		switch r := rng.Float64(); {
		case r < 0.08:
			c := *e
			c.Type, c.Time = "signup", t.UTC().Truncate(time.Microsecond)
			c.Props, _ = event.EncodeProps([]event.Prop{{Key: "plan", Value: []string{"free", "pro", "team"}[rng.IntN(3)]}})
			evs = append(evs, &c)
			t = t.Add(time.Duration(5+rng.IntN(60)) * time.Second)
		case r < 0.14:
			c := *e
			c.Type, c.Time = "download", t.UTC().Truncate(time.Microsecond)
			c.Props, _ = event.EncodeProps([]event.Prop{{Key: "file", Value: []string{"sitelog.tar.gz", "guide.pdf"}[rng.IntN(2)]},
				{Key: "plan", Value: "free"}})
			evs = append(evs, &c)
			t = t.Add(time.Duration(5+rng.IntN(60)) * time.Second)
		}
	}
	return evs
}

// dataset is a database built from generated events.
type dataset struct {
	path   string
	events []*event.Event
	h      *Handler
}

// buildDataset generates cfg's events and applies them through a real
// Store, with the site registered in its zone and its goals made first.
func buildDataset(tb testing.TB, cfg genConfig) *dataset {
	tb.Helper()
	ds := &dataset{path: filepath.Join(tb.TempDir(), "sitelog.db"), events: generate(cfg)}
	loc, err := time.LoadLocation(genZone)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := rollup.Open(ds.path, rollup.Options{
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) },
		Zone: func(site string) *time.Location {
			if site == genSite {
				return loc
			}
			return nil
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	admin, err := rollup.OpenAdmin(ds.path)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = admin.Exec(`INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES (?, ?, 0, 0)`, genSite, genZone)
	for _, g := range genGoals {
		if err == nil {
			_, err = admin.Exec(`INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES (?, ?, ?, ?, 0)`,
				genSite, g.name, g.event, g.path)
		}
	}
	admin.Close()
	if err != nil {
		tb.Fatal(err)
	}
	const batch = 2000
	for i := 0; i < len(ds.events); i += batch {
		var entries []wal.Entry
		for j, e := range ds.events[i:min(i+batch, len(ds.events))] {
			entries = append(entries, wal.Entry{Index: uint64(i + j + 1), Data: e.AppendBinary(nil)})
		}
		if err := store.Apply(context.Background(), "log", entries); err != nil {
			tb.Fatal(err)
		}
	}
	ro, err := rollup.OpenReadOnly(ds.path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ro.Close() })
	ds.h = New(ro, Config{Logger: quietLogger()})
	return ds
}

// goldenData is the dataset of the golden answers: three months of a
// small site, and a March a year earlier for year-over-year comparisons.
var goldenData = genConfig{
	seed: 20260331, from: "2026-01-01", to: "2026-03-31", visitsPerDay: 30, returningRate: 0.3,
	extra: []genSpan{{"2025-03-01", "2025-03-31", 10}},
}
