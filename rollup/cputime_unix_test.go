//go:build unix

package rollup

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time, user and system, that the process has used
// so far. Benchmarks report it per event beside events/s because it does
// not depend on what else the machine is running.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
