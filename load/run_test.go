package load

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"sitelog/event"
	"sitelog/ingest"
	"sitelog/metrics"
	"sitelog/rollup"
	"sitelog/wal"
)

// sitelog is the ingest side of a real server, wired as main wires it: the
// ingest handler over a real log in a temporary directory, the rollup
// worker applying it to a real database, and /metrics, served over HTTP.
type sitelog struct {
	url string
	log *wal.Log
}

func startSitelog(t *testing.T) *sitelog {
	t.Helper()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	reg := metrics.NewRegistry()
	store, err := rollup.Open(filepath.Join(dir, "sitelog.db"), rollup.Options{Logger: logger, Metrics: rollup.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{Fsync: wal.FsyncInterval, Logger: logger, Metrics: wal.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if err := log.Prepare(0); err != nil {
		t.Fatal(err)
	}
	worker := rollup.NewWorker(store, log, rollup.WorkerConfig{Logger: logger})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { worker.Run(ctx) })
	t.Cleanup(func() { stop(); wg.Wait() })

	r := httprouter.New()
	ingest.New(ingest.Config{Logger: logger}, log, ingest.NewMetrics(reg)).Register(r)
	r.Handler(http.MethodGet, "/metrics", metrics.Handler(reg))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &sitelog{url: srv.URL, log: log}
}

// entries reads back every event the log holds.
func (s *sitelog) entries(t *testing.T) []event.Event {
	t.Helper()
	var evs []event.Event
	var buf []wal.Entry
	for from := uint64(1); from <= s.log.LastIndex(); {
		var err error
		if buf, err = s.log.Read(context.Background(), from, 1000, buf); err != nil {
			t.Fatal(err)
		}
		for _, e := range buf {
			var ev event.Event
			if err := event.Decode(e.Data, &ev); err != nil {
				t.Fatalf("entry %d: %v", e.Index, err)
			}
			evs = append(evs, ev)
		}
		from += uint64(len(buf))
	}
	return evs
}

func TestRunAgainstSitelog(t *testing.T) {
	f := func(name string, batch int, events uint64, reference bool) {
		t.Helper()
		s := startSitelog(t)
		cfg := Config{
			URL:          s.url,
			Workload:     testWorkload(),
			Batch:        batch,
			Concurrency:  8,
			Duration:     time.Hour, // the events end the run
			Events:       events,
			Timeout:      10 * time.Second,
			Reference:    reference,
			DrainTimeout: time.Minute,
		}
		cfg.Workload.End = time.Time{} // up to now: ingest refuses the far future
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := rep.Target
		wantRequests := (events + uint64(batch) - 1) / uint64(batch)
		if got.Requests != wantRequests || got.Events != events || len(got.Errors) != 0 {
			t.Errorf("%s: %d requests, %d events accepted, errors %v (%s); want %d, %d, none",
				name, got.Requests, got.Events, got.Errors, got.FirstError, wantRequests, events)
		}
		// Every event acknowledged is in the log, and nothing else.
		evs := s.entries(t)
		if uint64(len(evs)) != got.Events {
			t.Errorf("%s: %d events accepted, the log holds %d", name, got.Events, len(evs))
		}
		// ... the very events of the workload, in some order.
		g := newGenerator(testWorkload())
		wantCustom, gotCustom, wantSourced, gotSourced := 0, 0, 0, 0
		for i := range events {
			s := g.sample(i)
			if s.custom >= 0 {
				wantCustom++
			}
			if s.referrer >= 0 {
				wantSourced++
			}
		}
		browsers := map[string]bool{}
		// For single events, what the server parsed from each pool
		// User-Agent, and back: every event of a visitor whose browser
		// is agentPool[k] reads as the same browser, OS and device, and
		// no two of the pool's read alike. (A batch goes with its first
		// event's User-Agent, which the log does not tell.)
		type client struct{ browser, os, device string }
		parsed, sentAs := map[int]client{}, map[client]int{}
		for _, ev := range evs {
			if ev.Type != event.PageView {
				gotCustom++
			}
			if ev.Source != "" {
				gotSourced++
			}
			if ev.Browser == "" || ev.OS == "" || ev.Device == "" || ev.Bot {
				t.Fatalf("%s: event %+v: want a browser, an OS and a device, and no bot", name, ev)
			}
			browsers[ev.Browser] = true
			if batch > 1 {
				continue
			}
			visitor, err := strconv.ParseUint(strings.TrimPrefix(ev.UserID, "u"), 36, 64)
			if err != nil {
				t.Fatalf("%s: user_id %q is not the workload's", name, ev.UserID)
			}
			k, c := g.agentOf(int(visitor)), client{ev.Browser, ev.OS, ev.Device}
			if p, ok := parsed[k]; ok && p != c {
				t.Fatalf("%s: User-Agent %d read as %+v and %+v", name, k, p, c)
			}
			if j, ok := sentAs[c]; ok && j != k {
				t.Fatalf("%s: User-Agents %d and %d both read as %+v", name, j, k, c)
			}
			parsed[k], sentAs[c] = c, k
		}
		if gotCustom != wantCustom {
			t.Errorf("%s: the log holds %d custom events, the workload sent %d", name, gotCustom, wantCustom)
		}
		if len(browsers) < 3 {
			t.Errorf("%s: browsers %v, want several", name, slices.Sorted(maps.Keys(browsers)))
		}
		if gotSourced != wantSourced || wantSourced == 0 {
			t.Errorf("%s: the log holds %d events with a source, the workload sent %d referrers", name, gotSourced, wantSourced)
		}
		if d := got.Drain; d == nil || d.Skipped != "" || !d.Drained {
			t.Errorf("%s: drain %+v, want the queue lag measured back to 0", name, d)
		}
		if reference {
			if r := rep.Reference; r == nil || r.Events != events || len(r.Errors) != 0 || r.Drain != nil {
				t.Errorf("%s: reference %+v, want %d events, no errors, no drain", name, r, events)
			}
			if rep.Ratio == nil || rep.Ratio.RequestsPerSecond <= 0 || rep.Ratio.EventsPerSecond <= 0 {
				t.Errorf("%s: ratio %+v, want both above 0", name, rep.Ratio)
			}
		}
		// Both summaries are complete.
		var text strings.Builder
		if err := rep.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"target " + s.url, "latency", "errors    none", "drain"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("%s: summary lacks %q:\n%s", name, want, text.String())
			}
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil || back.Target.Events != events {
			t.Errorf("%s: JSON report does not round-trip: %v\n%s", name, err, b)
		}
	}
	f("single events", 1, 500, false)
	f("batches of 100", 100, 2050, false)
	f("single events with the reference", 1, 300, true)
}

func TestRunWithoutMetrics(t *testing.T) {
	// A target without the lag metric is measured all the same; the drain
	// is reported skipped, with the reason.
	srv := testServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			http.NotFound(w, r)
			return
		}
		accept(w)
	})
	cfg := Config{URL: srv.URL, Workload: testWorkload(), Batch: 1, Concurrency: 2, Duration: time.Hour, Events: 10,
		Timeout: 10 * time.Second, DrainTimeout: time.Minute}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Target.Events != 10 || rep.Target.Drain == nil || rep.Target.Drain.Skipped != "GET /metrics answered 404 Not Found" {
		t.Errorf("target %+v, drain %+v", rep.Target, rep.Target.Drain)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := Config{URL: DefaultURL, Workload: testWorkload(), Batch: 1, Concurrency: 1, Duration: time.Second,
		Timeout: time.Second, DrainTimeout: time.Second}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	f := func(change func(*Config), want string) {
		t.Helper()
		c := valid
		change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want an error about %q", err, want)
		}
	}
	f(func(c *Config) { c.URL = "127.0.0.1:3001" }, "url")
	f(func(c *Config) { c.URL = "ftp://127.0.0.1" }, "url")
	f(func(c *Config) { c.URL = "http://127.0.0.1:3001/?x=1" }, "url")
	f(func(c *Config) { c.Workload.Sites = 0 }, "sites")
	f(func(c *Config) { c.Workload.Paths = 0 }, "paths")
	f(func(c *Config) { c.Workload.Visitors = 0 }, "visitors")
	f(func(c *Config) { c.Workload.CustomShare = 1.5 }, "custom share")
	f(func(c *Config) { c.Workload.ReferrerShare = -0.1 }, "referrer share")
	f(func(c *Config) { c.Workload.ReferrerShare = math.NaN() }, "referrer share")
	f(func(c *Config) { c.Workload.Days = -1 }, "days")
	f(func(c *Config) { c.Batch = 0 }, "batch")
	f(func(c *Config) { c.Batch = ingest.MaxBatchEvents + 1 }, "batch")
	f(func(c *Config) { c.Concurrency = 0 }, "concurrency")
	f(func(c *Config) { c.Duration = 0 }, "duration")
	f(func(c *Config) { c.Duration = 2 * MaxDuration }, "duration")
	f(func(c *Config) { c.Rate = -1 }, "rate")
	f(func(c *Config) { c.Timeout = 0 }, "timeout")
	f(func(c *Config) { c.DrainTimeout = 0 }, "drain timeout")

	loop := func(url string, want bool) {
		t.Helper()
		if got := (Config{URL: url}).Loopback(); got != want {
			t.Errorf("Loopback(%s) = %v, want %v", url, got, want)
		}
	}
	loop("http://127.0.0.1:3001", true)
	loop("http://[::1]:3001", true)
	loop("http://localhost:3001", true)
	loop("http://example.com", false)
	loop("http://10.0.0.1:3001", false)
}
