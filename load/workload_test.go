package load

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// testEnd is the end of the timestamps of every test workload.
var testEnd = time.Date(2025, 11, 14, 12, 0, 0, 0, time.UTC)

func testWorkload() Workload {
	return Workload{
		Seed:          1,
		Sites:         10,
		Paths:         5000,
		Visitors:      100_000,
		CustomShare:   0.1,
		Days:          30,
		End:           testEnd,
		Browsers:      true,
		ReferrerShare: 0.3,
	}
}

// wireEvent is a generated event as a JSON decoder sees it; a pointer
// field tells absent from empty.
type wireEvent struct {
	SiteID    string  `json:"site_id"`
	EventType string  `json:"event_type"`
	Path      string  `json:"path"`
	UserID    string  `json:"user_id"`
	Timestamp *string `json:"timestamp"`
	Referrer  *string `json:"referrer"`
}

func decodeEvent(t *testing.T, body []byte) wireEvent {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var ev wireEvent
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("generated body %s: %v", body, err)
	}
	return ev
}

func TestWorkloadIsDeterministic(t *testing.T) {
	a, b := newGenerator(testWorkload()), newGenerator(testWorkload())
	other := testWorkload()
	other.Seed = 2
	c := newGenerator(other)
	same := 0
	for i := range uint64(1000) {
		ea, eb, ec := a.appendEvent(nil, i), b.appendEvent(nil, i), c.appendEvent(nil, i)
		if !bytes.Equal(ea, eb) {
			t.Fatalf("event %d differs between two generators of one workload:\n%s\n%s", i, ea, eb)
		}
		if bytes.Equal(ea, ec) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("seeds 1 and 2 give %d identical events of 1000", same)
	}
	// Any event can be drawn alone and in any order: the batch from 500
	// holds the very events drawn one by one above.
	var parts []string
	for i := range uint64(3) {
		parts = append(parts, string(a.appendEvent(nil, 500+i)))
	}
	if got, want := string(a.appendBatch(nil, 500, 3)), "["+strings.Join(parts, ",")+"]"; got != want {
		t.Errorf("batch =\n%s\nwant\n%s", got, want)
	}
	// Referrers are drawn after everything else: without them the
	// workload sends the same events, less their referrers.
	bare := testWorkload()
	bare.ReferrerShare = 0
	d := newGenerator(bare)
	for i := range uint64(1000) {
		ea, ed := decodeEvent(t, a.appendEvent(nil, i)), decodeEvent(t, d.appendEvent(nil, i))
		if ed.Referrer != nil {
			t.Fatalf("event %d has referrer %q at share 0", i, *ed.Referrer)
		}
		ea.Referrer = nil
		ja, _ := json.Marshal(ea)
		jd, _ := json.Marshal(ed)
		if !bytes.Equal(ja, jd) {
			t.Fatalf("event %d is %s with referrers, %s without", i, ja, jd)
		}
	}
}

func TestWorkloadDistributions(t *testing.T) {
	w := testWorkload()
	g := newGenerator(w)
	const n = 100_000
	paths := map[string]int{}
	users := map[string]string{} // user_id → site_id
	agents := map[string]int{}   // user_id → index in agentPool
	sites := map[string]int{}
	referrers := map[string]int{}
	custom, referred := 0, 0
	first, end := w.End.Add(-time.Duration(w.Days)*24*time.Hour), w.End
	var buf []byte
	for i := range uint64(n) {
		buf = g.appendEvent(buf[:0], i)
		ev := decodeEvent(t, buf)
		sites[ev.SiteID]++
		if site, ok := users[ev.UserID]; ok && site != ev.SiteID {
			t.Fatalf("user %s seen on %s and %s: a visitor belongs to one site", ev.UserID, site, ev.SiteID)
		}
		users[ev.UserID] = ev.SiteID
		if a, ok := agents[ev.UserID]; ok && a != g.agent(i) {
			t.Fatalf("user %s sends User-Agents %d and %d: a visitor keeps its browser", ev.UserID, a, g.agent(i))
		}
		agents[ev.UserID] = g.agent(i)
		if ev.Referrer != nil {
			if ev.EventType != "page_view" {
				t.Fatalf("custom event %s has referrer %q", buf, *ev.Referrer)
			}
			referrers[*ev.Referrer]++
			referred++
		}
		switch ev.EventType {
		case "page_view":
			paths[ev.Path]++
		case "signup", "download", "outbound_click", "purchase":
			custom++
		default:
			t.Fatalf("event type %q", ev.EventType)
		}
		if !strings.HasPrefix(ev.Path, "/") {
			t.Fatalf("path %q", ev.Path)
		}
		if ev.Timestamp == nil {
			t.Fatalf("no timestamp in %s", buf)
		}
		ts, err := time.Parse(time.RFC3339, *ev.Timestamp)
		if err != nil || ts.Before(first) || !ts.Before(end) {
			t.Fatalf("timestamp %s (%v) outside [%s, %s)", *ev.Timestamp, err, first, end)
		}
	}

	// Custom events: 10% ± 1% (ten standard deviations at this n).
	if share := float64(custom) / n; math.Abs(share-w.CustomShare) > 0.01 {
		t.Errorf("custom share %.4f, want %.2f ± 0.01", share, w.CustomShare)
	}
	// Referrers: 30% ± 1% of page views, by their weights.
	views := n - custom
	if share := float64(referred) / float64(views); math.Abs(share-w.ReferrerShare) > 0.01 {
		t.Errorf("referrer share %.4f of page views, want %.2f ± 0.01", share, w.ReferrerShare)
	}
	checkShares(t, "referrer", referrerPool, referrers, referred)
	// Browsers: each visitor's drawn by their weights.
	byAgent := map[string]int{}
	for _, a := range agents {
		byAgent[g.uas[a]]++
	}
	checkShares(t, "User-Agent", agentPool, byAgent, len(agents))
	// Sites: equal shares, each 10% ± 1%.
	if len(sites) != w.Sites {
		t.Errorf("%d sites, want %d", len(sites), w.Sites)
	}
	for s, c := range sites {
		if share := float64(c) / n; math.Abs(share-0.1) > 0.01 {
			t.Errorf("site %s has share %.4f, want 0.1 ± 0.01", s, share)
		}
	}
	// Visitors: drawn uniformly from the pool, n draws from V visitors
	// meet about V·(1 - e^(-n/V)) of them (63,212 here): a third of the
	// events are repeat visits.
	if want := float64(w.Visitors) * (1 - math.Exp(-float64(n)/float64(w.Visitors))); math.Abs(float64(len(users))-want) > 0.01*want {
		t.Errorf("%d distinct users in %d events from a pool of %d, want %.0f ± 1%%", len(users), n, w.Visitors, want)
	}
	// Zipf: "/" (rank 1) takes 1/H(5000) ≈ 11.1% of views; rank 2 half of
	// that; the top ten together outweigh the bottom 4000.
	var h float64
	for k := 1; k <= w.Paths; k++ {
		h += 1 / float64(k)
	}
	if share, want := float64(paths["/"])/float64(views), 1/h; math.Abs(share-want) > 0.01 {
		t.Errorf(`share of "/" %.4f, want %.4f ± 0.01`, share, want)
	}
	rank := func(k int) string { return g.paths[k-1] }
	if r1, r2 := paths[rank(1)], paths[rank(2)]; math.Abs(float64(r2)/float64(r1)-0.5) > 0.05 {
		t.Errorf("rank 2 has %d views, rank 1 %d: want a ratio of 0.5 ± 0.05", r2, r1)
	}
	head, tail := 0, 0
	for k := 1; k <= 10; k++ {
		head += paths[rank(k)]
	}
	for k := 1001; k <= w.Paths; k++ {
		tail += paths[rank(k)]
	}
	if head <= tail {
		t.Errorf("top 10 paths have %d views, bottom 4000 %d: want the head heavier", head, tail)
	}
	if len(paths) < 3000 {
		t.Errorf("%d distinct paths seen of %d: want thousands", len(paths), w.Paths)
	}
}

// checkShares checks that the values drawn from ws, counted in got out of
// n draws, came each with its weight's share, within 1.5 percentage points.
func checkShares(t *testing.T, what string, ws []weighted, got map[string]int, n int) {
	t.Helper()
	var total float64
	for _, w := range ws {
		total += w.weight
	}
	for _, w := range ws {
		if share, want := float64(got[w.value])/float64(n), w.weight/total; math.Abs(share-want) > 0.015 {
			t.Errorf("%s %s: share %.4f of %d, want %.4f ± 0.015", what, w.value, share, n, want)
		}
		delete(got, w.value)
	}
	if len(got) > 0 {
		t.Errorf("%ss drawn that are not in the pool: %v", what, got)
	}
}

func TestWorkloadWithoutBrowsers(t *testing.T) {
	w := testWorkload()
	w.Browsers = false
	g := newGenerator(w)
	for i := range uint64(100) {
		if ua := g.uas[g.agent(i)]; ua != AgentLoad {
			t.Fatalf("event %d sent with User-Agent %q without browsers, want %q", i, ua, AgentLoad)
		}
	}
}

func TestWorkloadWithoutDays(t *testing.T) {
	w := testWorkload()
	w.Days = 0
	w.End = time.Time{}
	g := newGenerator(w)
	for i := range uint64(100) {
		if ev := decodeEvent(t, g.appendEvent(nil, i)); ev.Timestamp != nil {
			t.Fatalf("days 0 sent timestamp %q", *ev.Timestamp)
		}
	}
}

func TestWorkloadSmallPools(t *testing.T) {
	// One path, site and visitor: every event is the same but for type
	// and time.
	w := Workload{Seed: 7, Sites: 1, Paths: 1, Visitors: 1, CustomShare: 0, Days: 1, End: testEnd, Browsers: true}
	g := newGenerator(w)
	for i := range uint64(100) {
		ev := decodeEvent(t, g.appendEvent(nil, i))
		if ev.SiteID != "site-1" || ev.Path != "/" || ev.UserID != "u0" || ev.EventType != "page_view" {
			t.Fatalf("event %d = %+v", i, ev)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	g := newGenerator(testWorkload())
	var buf []byte
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		buf = g.appendEvent(buf[:0], i)
		i++
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendBatch100(b *testing.B) {
	g := newGenerator(testWorkload())
	var buf []byte
	var i uint64
	b.ReportAllocs()
	for b.Loop() {
		buf = g.appendBatch(buf[:0], i, 100)
		i += 100
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/event")
}
