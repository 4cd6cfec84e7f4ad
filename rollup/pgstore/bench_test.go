package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"sitelog/event"
	"sitelog/internal/pgtest"
	"sitelog/wal"
)

// BenchmarkApply applies 1000-event batches from 1, 2 and 3 nodes at
// once into one database, raw events and rollups. Each iteration is one
// batch per node; events/s counts the events of all nodes.
func BenchmarkApply(b *testing.B) {
	const size = 1000
	srv := pgtest.Start(b)
	for _, nodes := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dsn := srv.NewDatabase(b)
			ns := make([]*Node, nodes)
			logs := make([][][]wal.Entry, nodes)
			for i := range ns {
				s, err := Open(context.Background(), dsn, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ns[i], err = s.Attach(context.Background(), Local{Identity: fmt.Sprintf("log-%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				logs[i] = traffic(uint64(i), b.N, size)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, nodes)
			for i, n := range ns {
				wg.Go(func() {
					for _, batch := range logs[i] {
						if errs[i] = n.Apply(context.Background(), batch, time.Time{}); errs[i] != nil {
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nodes*size*b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// traffic returns batches of a node's log as a site's traffic looks:
// three sites, the first with most of it; paths by a Zipf law over 2000;
// users (and their visitors) from a pool of 5000, a fifth of events
// without a user and from a visitor seen once; a page view in ten a
// custom event and one in twenty from a bot; the time moving on by a
// second an event.
func traffic(seed uint64, batches, size int) [][]wal.Entry {
	r := rand.New(rand.NewPCG(seed, 1))
	paths := rand.NewZipf(r, 1.1, 1, 1999)
	sites := []string{"shop.example", "shop.example", "shop.example", "blog.example", "docs.example"}
	ts := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	out := make([][]wal.Entry, batches)
	idx := uint64(0)
	for i := range out {
		es := make([]wal.Entry, size)
		for j := range es {
			idx++
			ts = ts.Add(time.Second)
			e := event.Event{
				SiteID:  sites[r.IntN(len(sites))],
				Type:    event.PageView,
				Path:    fmt.Sprintf("/page/%d", paths.Uint64()),
				Time:    ts,
				Bot:     r.IntN(20) == 0,
				Browser: "Firefox",
				Country: "DE",
			}
			if r.IntN(5) != 0 {
				u := r.IntN(5000)
				e.UserID, e.Visitor = fmt.Sprintf("user-%d", u), uint64(u+1)
			} else {
				e.Visitor = 1_000_000 + r.Uint64N(1_000_000) // a visitor seen once
			}
			if r.IntN(10) == 0 {
				e.Type = "signup"
			}
			es[j] = wal.Entry{Index: idx, Data: e.AppendBinary(nil)}
		}
		out[i] = es
	}
	return out
}
