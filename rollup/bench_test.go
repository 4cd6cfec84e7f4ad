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

// realisticRecords returns n encoded events shaped like a real site's
// traffic: 10 sites, Zipf-distributed paths and returning users, mostly
// page views, a few custom events and bots, over one day.
func realisticRecords(rng *rand.Rand, n int) [][]byte {
	paths := rand.NewZipf(rng, 1.1, 1, 4999)
	users := rand.NewZipf(rng, 1.05, 1, 49999)
	day := time.Date(2025, 11, 14, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		e := event.Event{
			SiteID: fmt.Sprintf("site-%d", rng.IntN(10)),
			Type:   event.PageView,
			Path:   fmt.Sprintf("/blog/%d", paths.Uint64()),
			UserID: fmt.Sprintf("user-%d", users.Uint64()),
			Time:   day.Add(time.Duration(i) * time.Second),
			Bot:    rng.IntN(50) == 0,
		}
		if rng.IntN(10) == 0 {
			e.Type = "signup"
		}
		out[i] = e.AppendBinary(nil)
	}
	return out
}

// BenchmarkApply applies batches of realistic events, each in its own
// transaction with its fsync, to a database that grows as it runs.
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1000, 4096} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "sitelog.db"), Options{})
			records := realisticRecords(rand.New(rand.NewPCG(1, 1)), 64*size)
			batch := make([]wal.Entry, size)
			next := uint64(1)
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = wal.Entry{Index: next, Data: records[int(next-1)%len(records)]}
					next++
				}
				if err := s.Apply(context.Background(), "log-a", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
