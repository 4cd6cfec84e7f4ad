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
	// Browsers gives each visitor the User-Agent of one of the common
	// browsers in agentPool, drawn by their weights and kept for all its
	// requests, so that its visits count under a browser, an OS and a
	// device as real ones do. Without it every request says sitelog-load.
	Browsers bool
	// ReferrerShare is the fraction of page views that carry a referrer,
	// drawn from referrerPool by their weights. A visit's source is its
	// first event's referrer.
	ReferrerShare float64
}

// weighted is a string drawn with a probability proportional to weight.
type weighted struct {
	weight float64
	value  string
}

// agentPool holds the User-Agents a visitor's browser may send, weighted
// roughly as desktop and mobile browsers share the web's page views.
var agentPool = []weighted{
	{30, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{20, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
	{17, "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"},
	{9, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{6, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"},
	{6, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"},
	{4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"},
	{3, "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"},
	{3, "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
	{2, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
}

// referrerPool holds the pages a page view may come from: search engines,
// aggregators and social sites, weighted roughly as they send traffic.
var referrerPool = []weighted{
	{45, "https://www.google.com/"},
	{8, "https://www.bing.com/"},
	{6, "https://duckduckgo.com/"},
	{10, "https://news.ycombinator.com/"},
	{9, "https://www.reddit.com/r/programming/"},
	{7, "https://t.co/"},
	{5, "https://www.linkedin.com/"},
	{6, "https://github.com/"},
	{4, "https://lobste.rs/"},
}

// AgentLoad is the User-Agent of every request without Browsers.
const AgentLoad = "sitelog-load"

// generator writes the JSON bodies of a workload's events with appends of
// precomputed strings into the caller's buffer: no fmt, no encoding/json
// and no allocation per event, so the load tool leaves the CPU to the
// server it measures.
type generator struct {
	w           Workload
	first       int64  // Unix seconds of the earliest timestamp
	span        uint64 // seconds the timestamps are spread over
	cdf         []float64
	paths       []string
	sites       []string
	custom      []string
	agentCDF    []float64 // cumulative weights of agentPool, ending at 1
	referrerCDF []float64 // cumulative weights of referrerPool, ending at 1
	// uas are the User-Agents the requests are sent with: agentPool's with
	// Browsers, else AgentLoad alone.
	uas []string
}

func newGenerator(w Workload) *generator {
	g := &generator{
		w:           w,
		span:        uint64(w.Days) * 24 * 60 * 60,
		cdf:         make([]float64, w.Paths),
		paths:       make([]string, w.Paths),
		sites:       make([]string, w.Sites),
		custom:      []string{"signup", "download", "outbound_click", "purchase"},
		agentCDF:    cumulative(agentPool),
		referrerCDF: cumulative(referrerPool),
		uas:         []string{AgentLoad},
	}
	if w.Browsers {
		g.uas = g.uas[:0]
		for _, a := range agentPool {
			g.uas = append(g.uas, a.value)
		}
	}
	g.first = w.End.Unix() - int64(g.span)
	sections := [...]string{"blog", "docs", "products", "pricing", "news", "help", "shop", "about"}
	for k := range g.paths {
		g.cdf[k] = 1 / math.Pow(float64(k+1), ZipfExponent)
		g.paths[k] = "/" + sections[k%len(sections)] + "/" + strconv.Itoa(k)
	}
	g.paths[0] = "/"
	normalize(g.cdf)
	for s := range g.sites {
		g.sites[s] = "site-" + strconv.Itoa(s+1)
	}
	return g
}

// cumulative returns the cumulative weights of ws, normalized to end at 1.
func cumulative(ws []weighted) []float64 {
	c := make([]float64, len(ws))
	for i, w := range ws {
		c[i] = w.weight
	}
	normalize(c)
	return c
}

// normalize turns weights into their cumulative distribution.
func normalize(c []float64) {
	var total float64
	for i, w := range c {
		total += w
		c[i] = total
	}
	for i := range c {
		c[i] /= total
	}
	// Rounding could leave the last entry a hair under 1; a draw in that
	// gap must still find an index.
	c[len(c)-1] = 1
}

// draw returns the index k whose share of [0, 1) in the cumulative
// distribution c holds u: c[k-1] <= u < c[k].
func draw(c []float64, u float64) int {
	return sort.Search(len(c), func(k int) bool { return c[k] > u })
}

// sample is the random choices that make up one event.
type sample struct {
	site, path, visitor int
	custom              int // index into generator.custom; -1 for a page view
	referrer            int // index into referrerPool; -1 for none
	unix                int64
}

// sample draws event i: a splitmix64 stream keyed by the seed and i, so
// that any event can be drawn alone, by any worker, in any order.
func (g *generator) sample(i uint64) sample {
	state := g.stream(i)
	var s sample
	s.visitor = g.visitor(&state)
	s.site = s.visitor % g.w.Sites
	s.path = draw(g.cdf, unit(splitmix64(&state)))
	s.custom = -1
	if unit(splitmix64(&state)) < g.w.CustomShare {
		s.custom = int(below(splitmix64(&state), uint64(len(g.custom))))
	}
	if g.span > 0 {
		s.unix = g.first + int64(below(splitmix64(&state), g.span))
	}
	s.referrer = -1
	// Drawn last, so that the choices above are those of a workload
	// without referrers.
	if s.custom < 0 && unit(splitmix64(&state)) < g.w.ReferrerShare {
		s.referrer = draw(g.referrerCDF, unit(splitmix64(&state)))
	}
	return s
}

// agent returns the index in g.uas of the User-Agent that event i is sent
// with: its visitor's.
func (g *generator) agent(i uint64) int {
	if !g.w.Browsers {
		return 0
	}
	state := g.stream(i)
	return g.agentOf(g.visitor(&state))
}

// agentOf returns the index in agentPool of the visitor's User-Agent.
func (g *generator) agentOf(visitor int) int {
	state := mix64(g.w.Seed^0x5851f42d4c957f2d) ^ mix64(uint64(visitor))
	return draw(g.agentCDF, unit(splitmix64(&state)))
}

// stream returns the start of event i's stream of random words.
func (g *generator) stream(i uint64) uint64 {
	return mix64(g.w.Seed) ^ mix64(i+0x632be59bd9b4e019)
}

// visitor draws an event's visitor, the first word of its stream.
func (g *generator) visitor(state *uint64) int {
	return int(below(splitmix64(state), uint64(g.w.Visitors)))
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
	if s.referrer >= 0 {
		dst = append(dst, `","referrer":"`...)
		dst = append(dst, referrerPool[s.referrer].value...)
	}
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
