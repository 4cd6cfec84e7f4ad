package load

import (
	"math"
	"math/bits"
	"sort"
	"strconv"
	"time"
)

// ZipfExponent is the exponent s of the path popularity: the path of rank k
// (from 1) is drawn with probability proportional to 1/k^s. With s = 1,
// near what page-view logs show, the top path of 5000 takes about 11% of
// the views and the top ten about a third.
const ZipfExponent = 1.0

// Workload describes the events a run sends. Event i of a workload is a
// pure function of its fields and i, so the same workload sends the same
// events in the same order whatever the concurrency or timing of the run.
type Workload struct {
	// Seed selects the events; runs with the same seed send the same ones.
	Seed uint64
	// Sites is the number of sites, named site-1 … site-N. Each visitor
	// belongs to one site, so the sites get equal shares of the traffic.
	Sites int
	// Paths is the number of distinct paths, drawn by a Zipf law of
	// exponent ZipfExponent: "/" is the most visited, then
	// /blog/1, /docs/2, … in decreasing popularity.
	Paths int
	// Visitors is the size of the pool of user_ids. Each event's visitor
	// is drawn uniformly from it, so over a run of E events each visitor
	// comes back about E/Visitors times, on different days.
	Visitors int
	// CustomShare is the fraction of events that are custom events
	// (signup, download, outbound_click, purchase) rather than page views.
	CustomShare float64
	// Days spreads the timestamps uniformly over this many days before
	// End, at one-second resolution. 0 sends no timestamp, so the server
	// stamps each event with its time of receipt.
	Days int
	// End is the end of the timestamps' span (excluded). Zero means the
	// start of the run.
	End time.Time
}

// generator writes the JSON bodies of a workload's events with appends of
// precomputed strings into the caller's buffer: no fmt, no encoding/json
// and no allocation per event, so the load tool leaves the CPU to the
// server it measures.
type generator struct {
	w      Workload
	first  int64  // Unix seconds of the earliest timestamp
	span   uint64 // seconds the timestamps are spread over
	cdf    []float64
	paths  []string
	sites  []string
	custom []string
}

func newGenerator(w Workload) *generator {
	g := &generator{
		w:      w,
		span:   uint64(w.Days) * 24 * 60 * 60,
		cdf:    make([]float64, w.Paths),
		paths:  make([]string, w.Paths),
		sites:  make([]string, w.Sites),
		custom: []string{"signup", "download", "outbound_click", "purchase"},
	}
	g.first = w.End.Unix() - int64(g.span)
	sections := [...]string{"blog", "docs", "products", "pricing", "news", "help", "shop", "about"}
	var total float64
	for k := range g.paths {
		total += 1 / math.Pow(float64(k+1), ZipfExponent)
		g.cdf[k] = total
		g.paths[k] = "/" + sections[k%len(sections)] + "/" + strconv.Itoa(k)
	}
	g.paths[0] = "/"
	for k := range g.cdf {
		g.cdf[k] /= total
	}
	// Rounding could leave the last entry a hair under 1; a draw in that
	// gap must still find a path.
	g.cdf[len(g.cdf)-1] = 1
	for s := range g.sites {
		g.sites[s] = "site-" + strconv.Itoa(s+1)
	}
	return g
}

// sample is the random choices that make up one event.
type sample struct {
	site, path, visitor int
	custom              int // index into generator.custom; -1 for a page view
	unix                int64
}

// sample draws event i: a splitmix64 stream keyed by the seed and i, so
// that any event can be drawn alone, by any worker, in any order.
func (g *generator) sample(i uint64) sample {
	state := mix64(g.w.Seed) ^ mix64(i+0x632be59bd9b4e019)
	var s sample
	s.visitor = int(below(splitmix64(&state), uint64(g.w.Visitors)))
	s.site = s.visitor % g.w.Sites
	u := unit(splitmix64(&state))
	// Path k takes the draws in [cdf[k-1], cdf[k]); cdf ends at 1 > u.
	s.path = sort.Search(len(g.cdf), func(k int) bool { return g.cdf[k] > u })
	s.custom = -1
	if unit(splitmix64(&state)) < g.w.CustomShare {
		s.custom = int(below(splitmix64(&state), uint64(len(g.custom))))
	}
	if g.span > 0 {
		s.unix = g.first + int64(below(splitmix64(&state), g.span))
	}
	return s
}

// appendEvent appends the JSON object of event i to dst.
func (g *generator) appendEvent(dst []byte, i uint64) []byte {
	s := g.sample(i)
	dst = append(dst, `{"site_id":"`...)
	dst = append(dst, g.sites[s.site]...)
	dst = append(dst, `","event_type":"`...)
	if s.custom < 0 {
		dst = append(dst, "page_view"...)
	} else {
		dst = append(dst, g.custom[s.custom]...)
	}
	dst = append(dst, `","path":"`...)
	dst = append(dst, g.paths[s.path]...)
	dst = append(dst, `","user_id":"u`...)
	dst = strconv.AppendUint(dst, uint64(s.visitor), 36)
	if g.span > 0 {
		dst = append(dst, `","timestamp":"`...)
		dst = time.Unix(s.unix, 0).UTC().AppendFormat(dst, time.RFC3339)
	}
	return append(dst, `"}`...)
}

// appendBatch appends a JSON array of the n events from first on to dst.
func (g *generator) appendBatch(dst []byte, first uint64, n int) []byte {
	dst = append(dst, '[')
	for j := range uint64(n) {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = g.appendEvent(dst, first+j)
	}
	return append(dst, ']')
}

// splitmix64 advances the state and returns its next output (Steele,
// Lea and Flood, 2014): statistically sound and a handful of instructions.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	return mix64(*state)
}

// mix64 is splitmix64's finaliser, a bijection that scatters nearby inputs.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// unit maps a random word to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// below maps a random word to [0, n) by Lemire's multiply-shift; its bias
// (n/2^64) is far below anything a load test can see.
func below(x, n uint64) uint64 {
	hi, _ := bits.Mul64(x, n)
	return hi
}
