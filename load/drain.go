package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The lag is events appended to the server's log and not yet applied to
// its database, read from GET /metrics on the ingest address. The server
// refreshes LagMetric every 100 ms, so right after a short run it may still
// read 0; the two indexes it is computed from are set the moment they move,
// so the lag is their difference where the server exposes both.
const (
	LagMetric          = "sitelog_queue_lag_events"
	LastIndexMetric    = "sitelog_wal_last_index"
	AppliedIndexMetric = "sitelog_wal_applied_index"
)

// drainPoll is how often the lag is read while it drains, and so the
// resolution of the drain time: the figure means something when the drain
// takes a second or more. Each read is a scrape of /metrics, which costs
// the server little at this rate.
const drainPoll = 50 * time.Millisecond

// maxMetricsBody bounds what is read of a /metrics answer.
const maxMetricsBody = 16 << 20

// Drain is how the server's queue lag went back to 0 after a run: the
// rate at which its worker applies events when it has a backlog.
type Drain struct {
	// Skipped says why the drain was not measured; the other fields are
	// then zero, or what was measured before a read failed.
	Skipped string `json:"skipped,omitempty"`
	// LagEvents is the lag when the run ended.
	LagEvents float64 `json:"lag_events"`
	// Seconds is the time from the end of the run until the lag read 0,
	// or until the last read before the drain timeout if it never did.
	Seconds float64 `json:"seconds"`
	// Drained is false when the lag was still above 0 at the timeout.
	Drained bool `json:"drained"`
	// RemainingEvents is the lag at the last read: 0 once drained.
	RemainingEvents float64 `json:"remaining_events"`
	// EventsPerSecond is (LagEvents - RemainingEvents) / Seconds: the
	// rate at which the worker applied its backlog, while no new events
	// came in.
	EventsPerSecond float64 `json:"events_per_second"`
}

// measureDrain reads the lag at base/metrics until it is 0 or timeout has
// passed. A target without the metrics is reported as skipped, not failed.
func measureDrain(ctx context.Context, client *http.Client, base string, clk clock, timeout time.Duration) *Drain {
	start := clk.Now()
	lag, err := readLag(ctx, client, base)
	if err != nil {
		return &Drain{Skipped: err.Error()}
	}
	d := &Drain{LagEvents: lag, RemainingEvents: lag}
	for next := start; lag > 0; {
		next = next.Add(drainPoll)
		if next.Sub(start) > timeout || clk.SleepUntil(ctx, next) != nil {
			break
		}
		if lag, err = readLag(ctx, client, base); err != nil {
			d.Skipped = err.Error()
			break
		}
		d.RemainingEvents = lag
		d.Seconds = clk.Now().Sub(start).Seconds()
	}
	d.Drained = d.RemainingEvents == 0 && d.Skipped == ""
	if d.Seconds > 0 {
		d.EventsPerSecond = (d.LagEvents - d.RemainingEvents) / d.Seconds
	}
	return d
}

// readLag reads the lag from base/metrics, in the Prometheus text format.
func readLag(ctx context.Context, client *http.Client, base string) (float64, error) {
	m, err := scrape(ctx, client, base, LagMetric, LastIndexMetric, AppliedIndexMetric)
	if err != nil {
		return 0, err
	}
	last, okLast := m[LastIndexMetric]
	applied, okApplied := m[AppliedIndexMetric]
	if okLast && okApplied {
		return max(last-applied, 0), nil
	}
	if lag, ok := m[LagMetric]; ok {
		return lag, nil
	}
	return 0, fmt.Errorf("GET /metrics has no %s", LagMetric)
}

// parseMetrics returns the value of the first sample of each of the named
// metrics that the Prometheus text exposition format in r holds: lines
// "name value" or "name{labels} value", optionally followed by a
// timestamp.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	found := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() && len(found) < len(names) {
		line := sc.Text()
		for _, name := range names {
			rest, ok := strings.CutPrefix(line, name)
			if _, seen := found[name]; seen || !ok || rest == "" {
				continue
			}
			switch rest[0] {
			case '{':
				end := strings.LastIndexByte(rest, '}')
				if end < 0 {
					return nil, fmt.Errorf("%s: unterminated labels", name)
				}
				rest = rest[end+1:]
			case ' ', '\t':
			default:
				continue // another metric whose name starts with this one
			}
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return nil, fmt.Errorf("%s: no value", name)
			}
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", name, fields[0], err)
			}
			found[name] = v
		}
	}
	return found, sc.Err()
}
