package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sitelog/metrics"
)

// TestMemoryPeak reads a server whose RSS rises and falls: the peak is the
// largest value read, whatever came after it.
func TestMemoryPeak(t *testing.T) {
	values := []int{100, 300, 200}
	var reads atomic.Int64
	srv := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		i := min(int(reads.Add(1)-1), len(values)-1)
		fmt.Fprintf(w, "# TYPE %s gauge\n%s %d\n", RSSMetric, RSSMetric, values[i])
	})
	s := sampleMemory(context.Background(), newClient(1, 10*time.Second), srv.URL, newFakeClock())
	for reads.Load() < int64(len(values))+1 {
		time.Sleep(time.Millisecond)
	}
	m := s.finish()
	if m.PeakBytes != 300 || m.Samples < len(values) || m.Skipped != "" {
		t.Errorf("memory %+v, want a peak of 300 over at least %d reads", *m, len(values))
	}
}

// TestMemoryOfARealServer reads the resident memory that sitelog's own
// metrics registry reports for this process.
func TestMemoryOfARealServer(t *testing.T) {
	srv := httptest.NewServer(metrics.Handler(metrics.NewRegistry()))
	t.Cleanup(srv.Close)
	s := sampleMemory(context.Background(), newClient(1, 10*time.Second), srv.URL, realClock{})
	time.Sleep(2 * memoryPoll)
	m := s.finish()
	if m.Skipped != "" || m.Samples == 0 || m.PeakBytes < 1<<20 {
		t.Errorf("memory %+v, want at least one read of a resident size of a megabyte or more", *m)
	}
}

func TestMemoryWithoutTheMetric(t *testing.T) {
	var reads atomic.Int64
	srv := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "go_goroutines 12")
		reads.Add(1)
	})
	s := sampleMemory(context.Background(), newClient(1, 10*time.Second), srv.URL, newFakeClock())
	<-s.done // a server without the metric is read once
	m := s.finish()
	if reads.Load() != 1 || m.Samples != 0 || !strings.Contains(m.Skipped, RSSMetric) {
		t.Errorf("memory %+v after %d reads, want one read, skipped for want of %s", *m, reads.Load(), RSSMetric)
	}
}
