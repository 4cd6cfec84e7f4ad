// Package load drives a running sitelog server over HTTP with a seeded,
// realistic workload and measures what it sustains: requests and events per
// second, latency quantiles, errors by status, the server's peak resident
// memory through the run, and after the run how fast the server's worker
// drained the queue lag. It can run the same workload
// against a bare net/http + encoding/json server in the same process, the
// reference, and report the ratio of the two.
//
// It is meant for a server of your own, usually on 127.0.0.1: it sends
// traffic to the one URL it is given and nowhere else, and it stops by
// itself: a run takes at most its duration plus one request timeout (and a
// second of grace for late requests in an open loop), the drain at most its
// own timeout.
//
// Two ways to send:
//
//   - Closed loop (the default): Concurrency workers each send a request and
//     wait for its answer before the next. This finds the saturation rate.
//   - Open loop (Rate > 0): requests are due at fixed times, Rate per
//     second, whatever the server does; latency is measured from the time a
//     request was due, so a server that stalls shows it in every request
//     that waited, not in one (no coordinated omission).
package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sitelog/ingest"
)

// Defaults for Config, chosen for a laptop-sized server on 127.0.0.1.
const (
	DefaultURL           = "http://127.0.0.1:3001"
	DefaultSeed          = 1
	DefaultSites         = 10
	DefaultPaths         = 5000
	DefaultVisitors      = 100_000
	DefaultCustomShare   = 0.1
	DefaultReferrerShare = 0.3
	DefaultDays          = 30
	DefaultBatch         = 1
	DefaultConcurrency   = 64
	DefaultDuration      = 10 * time.Second
	DefaultTimeout       = 10 * time.Second
	DefaultDrainTimeout  = 2 * time.Minute
)

// Bounds that Validate enforces, so that a typo cannot start a run that
// never ends or exhausts the machine it runs on.
const (
	MaxConcurrency = 4096
	MaxDuration    = time.Hour
	MaxPaths       = 1_000_000
	MaxSites       = 100_000
	MaxDays        = 3650
)

// Config configures a run.
type Config struct {
	// URL is the server's base URL: events go to URL/event or URL/events,
	// the lag is read from URL/metrics.
	URL      string
	Workload Workload
	// Batch is the number of events per request: 1 sends POST /event,
	// more send POST /events with a JSON array.
	Batch int
	// Concurrency is the number of requests in flight at most, each on
	// its own kept-alive connection.
	Concurrency int
	// Duration bounds the run. With Rate, requests are due during it.
	Duration time.Duration
	// Events, if not 0, ends the run once that many events are sent
	// (or the duration ends, whichever comes first).
	Events uint64
	// Rate, if not 0, makes an open loop of Rate requests per second.
	Rate float64
	// Timeout bounds each request.
	Timeout time.Duration
	// Reference also runs the workload against the reference server, before
	// the target so that the target's queue drain cannot overlap it.
	Reference bool
	// NoDrain skips the measurement of the queue drain after the run.
	NoDrain bool
	// DrainTimeout bounds the wait for the queue lag to reach 0.
	DrainTimeout time.Duration

	clock clock // nil: the wall clock; tests inject a fake one
}

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("url %q: %w", c.URL, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("url %q: must be http:// or https:// and a host, such as %s", c.URL, DefaultURL)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("url %q: must be a base URL without query or fragment", c.URL)
	}
	w := c.Workload
	switch {
	case w.Sites < 1 || w.Sites > MaxSites:
		return fmt.Errorf("sites %d: must be 1 to %d", w.Sites, MaxSites)
	case w.Paths < 1 || w.Paths > MaxPaths:
		return fmt.Errorf("paths %d: must be 1 to %d", w.Paths, MaxPaths)
	case w.Visitors < 1:
		return fmt.Errorf("visitors %d: must be at least 1", w.Visitors)
	case !(w.CustomShare >= 0 && w.CustomShare <= 1):
		return fmt.Errorf("custom share %g: must be 0 to 1", w.CustomShare)
	case !(w.ReferrerShare >= 0 && w.ReferrerShare <= 1):
		return fmt.Errorf("referrer share %g: must be 0 to 1", w.ReferrerShare)
	case w.Days < 0 || w.Days > MaxDays:
		return fmt.Errorf("days %d: must be 0 to %d", w.Days, MaxDays)
	case c.Batch < 1 || c.Batch > ingest.MaxBatchEvents:
		return fmt.Errorf("batch %d: must be 1 to %d", c.Batch, ingest.MaxBatchEvents)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d: must be 1 to %d", c.Concurrency, MaxConcurrency)
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("duration %s: must be above 0 and at most %s", c.Duration, MaxDuration)
	case !(c.Rate >= 0) || c.Rate > 1e7:
		return fmt.Errorf("rate %g: must be 0 (closed loop) or a number of requests per second up to 1e7", c.Rate)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %s: must be above 0", c.Timeout)
	case !c.NoDrain && c.DrainTimeout <= 0:
		return fmt.Errorf("drain timeout %s: must be above 0", c.DrainTimeout)
	}
	return nil
}

// Loopback reports whether the URL's host is a loopback address or
// localhost: the only targets the tool is meant for without a second
// thought.
func (c Config) Loopback() bool {
	u, err := url.Parse(c.URL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// endpoint is the path the run posts to: /event for single events, /events
// for batches.
func (c Config) endpoint() string {
	if c.Batch == 1 {
		return "/event"
	}
	return "/events"
}

// Report is the outcome of a run: its settings, the target's figures, and
// with Config.Reference the reference's figures and the ratio.
type Report struct {
	Settings  Settings `json:"settings"`
	Target    *Result  `json:"target"`
	Reference *Result  `json:"reference,omitempty"`
	// Ratio is target / reference.
	Ratio       *Ratio `json:"ratio,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

// Settings are the settings of a run, as reported.
type Settings struct {
	URL             string  `json:"url"`
	Endpoint        string  `json:"endpoint"`
	Loop            string  `json:"loop"` // "closed" or "open"
	Rate            float64 `json:"rate,omitempty"`
	Concurrency     int     `json:"concurrency"`
	Batch           int     `json:"batch"`
	DurationSeconds float64 `json:"duration_seconds"`
	Events          uint64  `json:"events,omitempty"`
	Seed            uint64  `json:"seed"`
	Sites           int     `json:"sites"`
	Paths           int     `json:"paths"`
	ZipfExponent    float64 `json:"zipf_exponent"`
	Visitors        int     `json:"visitors"`
	CustomShare     float64 `json:"custom_share"`
	Browsers        bool    `json:"browsers"`
	ReferrerShare   float64 `json:"referrer_share"`
	Days            int     `json:"days"`
	End             string  `json:"end,omitempty"` // end of the timestamps' span
}

// Result is what a run measured against one server.
type Result struct {
	URL string `json:"url"` // the endpoint posted to
	// Requests counts the requests sent and answered or failed.
	Requests uint64 `json:"requests"`
	// Events counts the events in requests answered 2xx.
	Events uint64 `json:"events"`
	// Seconds runs from the start to the last answer.
	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	EventsPerSecond   float64 `json:"events_per_second"`
	// Latency covers every request, whatever its outcome.
	Latency Latency `json:"latency_ms"`
	// Errors counts requests answered other than 2xx, by status ("503"),
	// and requests that got no answer ("transport").
	Errors map[string]uint64 `json:"errors"`
	// FirstError is a sample: the first error seen by a worker.
	FirstError string `json:"first_error,omitempty"`
	// Scheduled (open loop) is the number of requests due within the run;
	// Unsent of them were not sent by lateGrace past its end, because
	// the server did not keep up with the rate.
	Scheduled uint64 `json:"scheduled,omitempty"`
	Unsent    uint64 `json:"unsent,omitempty"`
	// Drain is nil for the reference and with Config.NoDrain.
	Drain *Drain `json:"drain,omitempty"`
	// ServerMemory is the target's resident memory through the run and
	// the drain; nil for the reference.
	ServerMemory *Memory `json:"server_memory,omitempty"`
}

// Latency holds quantiles in milliseconds, each at most 0.79% above the
// true value (see histogram) except Max and Mean, which are exact.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func summarize(h *histogram) Latency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Latency{
		P50:  ms(h.quantile(0.50)),
		P90:  ms(h.quantile(0.90)),
		P99:  ms(h.quantile(0.99)),
		Max:  ms(h.quantile(1)),
		Mean: ms(h.mean()),
	}
}

// Ratio is the target's figures divided by the reference's.
type Ratio struct {
	RequestsPerSecond float64 `json:"requests_per_second"`
	EventsPerSecond   float64 `json:"events_per_second"`
}

// Run sends the workload to cfg.URL (after the reference, with
// cfg.Reference) and measures it. It returns early, with what it measured
// so far and Interrupted set, when ctx is done.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	clk := cfg.clock
	if clk == nil {
		clk = realClock{}
	}
	w := cfg.Workload
	if w.Days > 0 && w.End.IsZero() {
		w.End = clk.Now().Truncate(time.Second)
	}
	rep := &Report{Settings: settings(cfg, w)}
	client := newClient(cfg.Concurrency, cfg.Timeout)
	defer client.CloseIdleConnections()
	base := strings.TrimSuffix(cfg.URL, "/")
	d := &driver{
		client:      client,
		gen:         newGenerator(w),
		batch:       cfg.Batch,
		events:      cfg.Events,
		concurrency: cfg.Concurrency,
		duration:    cfg.Duration,
		rate:        cfg.Rate,
		clock:       clk,
	}

	if cfg.Reference {
		ref, err := startReference()
		if err != nil {
			return nil, err
		}
		d.endpoint = ref.URL + cfg.endpoint()
		rep.Reference = d.run(ctx)
		if err := ref.close(); err != nil {
			return nil, err
		}
	}
	if ctx.Err() == nil {
		d.endpoint = base + cfg.endpoint()
		mem := sampleMemory(ctx, client, base, clk)
		rep.Target = d.run(ctx)
		if ctx.Err() == nil && !cfg.NoDrain {
			rep.Target.Drain = measureDrain(ctx, client, base, clk, cfg.DrainTimeout)
		}
		rep.Target.ServerMemory = mem.finish()
	}
	if rep.Target != nil && rep.Reference != nil {
		rep.Ratio = &Ratio{
			RequestsPerSecond: ratio(rep.Target.RequestsPerSecond, rep.Reference.RequestsPerSecond),
			EventsPerSecond:   ratio(rep.Target.EventsPerSecond, rep.Reference.EventsPerSecond),
		}
	}
	if rep.Target == nil {
		return nil, fmt.Errorf("load: interrupted before the target's run: %w", ctx.Err())
	}
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func settings(cfg Config, w Workload) Settings {
	s := Settings{
		URL:             cfg.URL,
		Endpoint:        cfg.endpoint(),
		Loop:            "closed",
		Rate:            cfg.Rate,
		Concurrency:     cfg.Concurrency,
		Batch:           cfg.Batch,
		DurationSeconds: cfg.Duration.Seconds(),
		Events:          cfg.Events,
		Seed:            w.Seed,
		Sites:           w.Sites,
		Paths:           w.Paths,
		ZipfExponent:    ZipfExponent,
		Visitors:        w.Visitors,
		CustomShare:     w.CustomShare,
		Browsers:        w.Browsers,
		ReferrerShare:   w.ReferrerShare,
		Days:            w.Days,
	}
	if cfg.Rate > 0 {
		s.Loop = "open"
	}
	if w.Days > 0 {
		s.End = w.End.UTC().Format(time.RFC3339)
	}
	return s
}

// newClient returns the one client of a run. Its transport keeps a
// connection per worker alive between requests, so that the run measures
// the server rather than TCP handshakes, and ignores proxy settings of the
// environment, so that traffic goes to the URL given and nowhere else.
func newClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		// A redirect would send the events somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
