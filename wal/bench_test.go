package wal

import (
	"context"
	"testing"
)

// BenchmarkAppend measures Append under parallel load: many goroutines
// appending one event-sized record each, so group commit gathers them.
// With FsyncAlways the figure is bound by fsync latency divided by the
// group size; with FsyncInterval by the owner goroutine's write path.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncInterval} {
		b.Run(mode.String(), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Fsync: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rec := make([]byte, 80)
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(context.Background(), rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRead measures the worker's side: reading durable entries in
// batches of 4096.
func BenchmarkRead(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Fsync: FsyncInterval})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := make([][]byte, 1000)
	for i := range recs {
		recs[i] = make([]byte, 80)
	}
	for range 100 {
		if _, err := l.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.do(context.Background(), func() { l.sync() }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var dst []Entry
	from, read := uint64(1), 0
	for b.Loop() {
		if dst, err = l.Read(context.Background(), from, 4096, dst); err != nil {
			b.Fatal(err)
		}
		read += len(dst)
		if from += uint64(len(dst)); from > l.LastIndex() {
			from = 1
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "entries/s")
}
