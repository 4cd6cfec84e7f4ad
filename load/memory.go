package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// RSSMetric is the resident memory of the server's process, from the
// Prometheus process collector that sitelog registers.
const RSSMetric = "process_resident_memory_bytes"

// memoryPoll is how often the server's memory is read during a run and
// its drain: often enough to catch the peak of a worker's batch, which
// lives for a second or more, at the cost of a few /metrics scrapes a
// second.
const memoryPoll = 250 * time.Millisecond

// Memory is the server's resident memory as sampled through a run.
type Memory struct {
	// Skipped says why it was not measured (a server without the
	// metric, such as the reference); the other fields are then zero.
	Skipped string `json:"skipped,omitempty"`
	// PeakBytes is the largest sample; Samples how many were read.
	PeakBytes float64 `json:"peak_bytes"`
	Samples   int     `json:"samples"`
}

// memorySampler reads the server's RSS every memoryPoll until finished.
type memorySampler struct {
	cancel context.CancelFunc
	done   chan struct{}
	m      Memory // the sampler's goroutine's until done is closed
}

// sampleMemory starts reading RSSMetric at base/metrics. A server without
// the metric is read once.
func sampleMemory(ctx context.Context, client *http.Client, base string, clk clock) *memorySampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &memorySampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for next := clk.Now(); clk.SleepUntil(ctx, next) == nil; next = next.Add(memoryPoll) {
			rss, err := readMetric(ctx, client, base, RSSMetric)
			switch {
			case ctx.Err() != nil:
				return // finished during the read
			case err != nil && s.m.Samples == 0:
				s.m.Skipped = err.Error()
				return
			case err == nil:
				s.m.Samples++
				s.m.PeakBytes = max(s.m.PeakBytes, rss)
			}
		}
	}()
	return s
}

// finish stops the sampler and returns what it read.
func (s *memorySampler) finish() *Memory {
	s.cancel()
	<-s.done
	m := s.m
	return &m
}

// readMetric reads the first sample of name at base/metrics.
func readMetric(ctx context.Context, client *http.Client, base, name string) (float64, error) {
	m, err := scrape(ctx, client, base, name)
	if err != nil {
		return 0, err
	}
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("GET /metrics has no %s", name)
	}
	return v, nil
}

// scrape reads the first sample of each of names at base/metrics.
func scrape(ctx context.Context, client *http.Client, base string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	defer io.Copy(io.Discard, io.LimitReader(resp.Body, maxMetricsBody))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics answered %s", resp.Status)
	}
	m, err := parseMetrics(io.LimitReader(resp.Body, maxMetricsBody), names...)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	return m, nil
}
