package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"sitelog/wal"
)

// TestCrashPoints kills the server at each named crash point of the log
// and the worker, in the middle of a concurrent load, restarts it, and
// checks that every event answered 202 is stored exactly once, that the
// rollups equal a recount of the raw events and that the database passes
// its integrity check.
func TestCrashPoints(t *testing.T) {
	trials := 3
	if testing.Short() {
		trials = 1
	}
	points := []struct {
		name  string
		count func() int // how many times the point is passed before the crash
	}{
		{wal.CrashAfterWrite, func() int { return 200 + rand.IntN(2000) }},
		{wal.CrashAfterFsync, func() int { return 200 + rand.IntN(2000) }},
		{wal.CrashAtRotation, func() int { return 1 + rand.IntN(10) }},
		{wal.CrashAfterDBCommit, func() int { return 20 + rand.IntN(100) }},
		{wal.CrashBeforeTruncate, func() int { return 1 + rand.IntN(5) }},
		{wal.CrashMidTruncate, func() int { return 1 + rand.IntN(5) }},
	}
	for _, p := range points {
		for trial := range trials {
			t.Run(fmt.Sprintf("%s-%d", p.name, trial), func(t *testing.T) {
				dir := t.TempDir()
				crashAt := fmt.Sprintf("SITELOG_TEST_CRASH_AT=%s:%d", p.name, p.count())
				// 64 KiB segments: rotation and truncation within a second.
				segment := "SITELOG_TEST_SEGMENT_BYTES=65536"
				// Batches of at most 256 events: commits come many a second
				// even where applying is slow (under the race detector, the
				// worker falls behind the load, and its batches would grow to
				// tens of seconds each).
				batch := "SITELOG_BATCH_SIZE=256"
				srv := startChildEnv(t, dir, []string{crashAt, segment, batch})
				stop := make(chan struct{})
				result := make(chan []string)
				go func() { result <- load(t, srv.ingest, 8, stop) }()
				select {
				case <-srv.exited:
				case <-time.After(2 * time.Minute):
					t.Fatalf("%s never reached", crashAt)
				}
				close(stop)
				acked := <-result
				if len(acked) == 0 {
					t.Fatal("no event was acknowledged before the crash")
				}
				if p.name == wal.CrashMidTruncate {
					// The crash must leave what an interrupted truncation
					// leaves, for the restart to resolve.
					if m, _ := filepath.Glob(filepath.Join(dir, "wal", "*.START")); len(m) != 1 {
						t.Fatalf("after the crash, .START files %v, want one", m)
					}
				}
				start := time.Now()
				srv = startChildEnv(t, dir, []string{segment})
				ready := time.Since(start)
				waitApplied(t, srv.ingest)
				srv.stop(t)
				checkStored(t, dir, acked)
				t.Logf("%s: %d events acknowledged, all stored once; restart to listening in %v", crashAt, len(acked), ready.Round(time.Millisecond))
			})
		}
	}
}
