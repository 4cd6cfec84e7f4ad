package rollup

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/wal"
)

// traffic generates events shaped like real sites' traffic, never the
// same twice: 10 sites, Zipf-distributed paths (5000) and returning users
// (50 000), mostly page views, one in ten a custom event, one in fifty from
// a bot, one event a second from 2025-11-14 on. At that rate a day ends
// every 86 400 events, so the benchmarks also cross many day boundaries,
// where every visitor and path of a site is new again.
type traffic struct {
	rng          *rand.Rand
	paths, users *rand.Zipf
	sites        []string
	pathNames    []string
	userNames    []string
	at           time.Time
	next         uint64 // log index of the next entry
}

func newTraffic(seed uint64) *traffic {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := &traffic{
		rng:   rng,
		paths: rand.NewZipf(rng, 1.1, 1, 4999),
		users: rand.NewZipf(rng, 1.05, 1, 49999),
		at:    time.Date(2025, 11, 14, 0, 0, 0, 0, time.UTC),
		next:  1,
	}
	for i := range 10 {
		g.sites = append(g.sites, fmt.Sprintf("site-%d", i))
	}
	for i := range 5000 {
		g.pathNames = append(g.pathNames, fmt.Sprintf("/blog/%d", i))
	}
	for i := range 50000 {
		g.userNames = append(g.userNames, fmt.Sprintf("user-%d", i))
	}
	return g
}

// fill makes entries the log's next len(entries) entries, encoding them
// into buf, which it returns for reuse.
func (g *traffic) fill(entries []wal.Entry, buf []byte) []byte {
	buf = buf[:0]
	ends := make([]int, len(entries))
	for i := range entries {
		e := event.Event{
			SiteID: g.sites[g.rng.IntN(len(g.sites))],
			Type:   event.PageView,
			Path:   g.pathNames[g.paths.Uint64()],
			UserID: g.userNames[g.users.Uint64()],
			Time:   g.at,
			Bot:    g.rng.IntN(50) == 0,
		}
		if g.rng.IntN(10) == 0 {
			e.Type = "signup"
		}
		// What ingest derives: the visitor, and a few dimension values.
		e.Visitor = event.UserVisitor(e.SiteID, e.UserID)
		e.Source = benchSources[g.rng.IntN(len(benchSources))]
		e.Browser = benchBrowsers[g.rng.IntN(len(benchBrowsers))]
		e.Country = benchCountries[g.rng.IntN(len(benchCountries))]
		buf = e.AppendBinary(buf)
		ends[i] = len(buf)
		g.at = g.at.Add(time.Second)
	}
	start := 0
	for i := range entries {
		entries[i] = wal.Entry{Index: g.next, Data: buf[start:ends[i]:ends[i]]}
		start = ends[i]
		g.next++
	}
	return buf
}

// records returns the next n events as log records.
func (g *traffic) records(n int) [][]byte {
	entries := make([]wal.Entry, n)
	g.fill(entries, nil)
	out := make([][]byte, n)
	for i, e := range entries {
		out[i] = e.Data
	}
	return out
}

// benchPrefill is how many events a benchmark's database holds before the
// timer starts: sustained apply is measured on a database that has grown
// for a while, not on an empty file whose tables fit in a few pages.
const benchPrefill = 1 << 20

// BenchmarkApply applies batches of events, each in its own transaction
// with its fsync, to a database that already holds benchPrefill events and
// grows as it runs. Each iteration is one batch; events/s is the figure to
// compare, and cpu-µs/event the one that does not depend on what else the
// machine runs. Run with -benchtime 100x or more so that the timed part
// covers many batches and several day boundaries.
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{4096, 8192, 16384, 32768} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "sitelog.db"), Options{})
			g := newTraffic(1)
			prefill(b, s, g, size)
			batch := make([]wal.Entry, size)
			var buf []byte
			timed := 0
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer() // generating and encoding events is the log's part
				buf = g.fill(batch, buf)
				b.StartTimer()
				before := cpuTime(b)
				if err := s.Apply(context.Background(), "log-a", batch); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime(b) - before
				timed += size
			}
			b.ReportMetric(float64(timed)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(timed), "cpu-µs/event")
		})
	}
}

// prefill applies benchPrefill events from g to s in batches of size,
// under the log identity "log-a".
func prefill(b *testing.B, s *Store, g *traffic, size int) {
	b.Helper()
	batch := make([]wal.Entry, size)
	var buf []byte
	for range benchPrefill / size {
		buf = g.fill(batch, buf)
		if err := s.Apply(context.Background(), "log-a", batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWorker runs the whole worker loop, reading a real log and
// applying it, for several batch sizes: each iteration appends
// benchWorkerEvents events to a fresh log (not timed) and times the worker
// from its start until it has applied the last of them. The database
// holds benchPrefill events before the first iteration and keeps growing.
func BenchmarkWorker(b *testing.B) {
	const benchWorkerEvents = 1 << 18
	for _, size := range []int{4096, 16384, 32768} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "sitelog.db"), Options{})
			g := newTraffic(1)
			prefill(b, s, g, size)
			total := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				l, err := wal.Open(b.TempDir(), wal.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Prepare(0); err != nil {
					b.Fatal(err)
				}
				g.next = 1 // each log numbers its entries from 1
				records := g.records(benchWorkerEvents)
				for len(records) > 0 {
					n := min(4096, len(records))
					if _, err := l.Append(context.Background(), records[:n]...); err != nil {
						b.Fatal(err)
					}
					records = records[n:]
				}
				src := watched{Log: l, applied: make(chan uint64, benchWorkerEvents/size+1)}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()

				go func() { done <- NewWorker(s, src, WorkerConfig{BatchSize: size}).Run(ctx) }()
				for applied := range src.applied {
					if applied == benchWorkerEvents {
						break
					}
				}

				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				total += benchWorkerEvents
				b.StartTimer()
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

var (
	benchSources   = []string{"", "", "Google", "Bing", "news.example", "Hacker News"}
	benchBrowsers  = []string{"Chrome", "Firefox", "Safari", "Edge"}
	benchCountries = []string{"US", "DE", "FR", "GB", "JP", "BR", ""}
)
