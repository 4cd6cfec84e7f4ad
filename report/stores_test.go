package report

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"sitelog/event"
)

// Every report reads either store, and must answer the same for the same
// events. TestStores runs each case of storeCases on a store built through
// its own write side; the answers of SQLite's are the golden ones.

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
// of fixture.
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
	// The golden dataset, whose answers are the golden ones.
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
}

// firstVisit is 1: visits are numbered in the order of the log.
func (d *rawDB) firstVisit(uint64) string { return "1" }

// addGoal adds a goal through the sites registry.
func (d *rawDB) addGoal(t *testing.T, site, name, eventName, pagePath string) {
	t.Helper()
	if _, _, err := d.sites.AddGoal(context.Background(), site, name, eventName, pagePath); err != nil {
		t.Fatal(err)
	}
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
