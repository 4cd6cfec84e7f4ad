//go:build unix

package ingest

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time, user and system, that the process has used
// so far, the garbage collector's and the log's goroutines included.
// Benchmarks report it per request beside ns/op because, unlike wall time,
// it does not depend on what else the machine's cores are running.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
