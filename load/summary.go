package load

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the report for a reader: the settings, then each
// server's figures, then the ratio.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	s := r.Settings
	loop := "closed loop"
	if s.Loop == "open" {
		loop = fmt.Sprintf("open loop at %g requests/s", s.Rate)
	}
	what := "single events"
	if s.Batch > 1 {
		what = fmt.Sprintf("%d events per request", s.Batch)
	}
	fmt.Fprintf(&b, "sitelog load: POST %s, %s, %s, concurrency %d, %gs",
		s.Endpoint, what, loop, s.Concurrency, s.DurationSeconds)
	if s.Events > 0 {
		fmt.Fprintf(&b, " or %d events", s.Events)
	}
	fmt.Fprintf(&b, "\nworkload: seed %d, %d sites, %d paths (Zipf s=%g), %d visitors, %g%% custom events, ",
		s.Seed, s.Sites, s.Paths, s.ZipfExponent, s.Visitors, 100*s.CustomShare)
	if s.Browsers {
		b.WriteString("browsers' User-Agents, ")
	}
	fmt.Fprintf(&b, "referrers on %g%% of page views, ", 100*s.ReferrerShare)
	if s.Days > 0 {
		fmt.Fprintf(&b, "timestamps over the %d days to %s\n", s.Days, s.End)
	} else {
		b.WriteString("no timestamps (time of receipt)\n")
	}
	if r.Reference != nil {
		writeResult(&b, "reference", r.Reference)
	}
	if r.Target != nil {
		writeResult(&b, "target", r.Target)
	}
	if r.Ratio != nil {
		fmt.Fprintf(&b, "\nratio target / reference: requests/s %.2f, events/s %.2f\n",
			r.Ratio.RequestsPerSecond, r.Ratio.EventsPerSecond)
	}
	if r.Interrupted {
		b.WriteString("\ninterrupted: the figures cover the run up to the interruption\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// minDrainForRate is the shortest drain whose rate the summary quotes: at
// a poll every drainPoll, a shorter one is mostly rounding.
const minDrainForRate = 10 * drainPoll

func writeResult(b *strings.Builder, name string, r *Result) {
	fmt.Fprintf(b, "\n%s %s\n", name, r.URL)
	fmt.Fprintf(b, "  requests  %d in %.2fs: %.0f/s\n", r.Requests, r.Seconds, r.RequestsPerSecond)
	fmt.Fprintf(b, "  events    %d accepted: %.0f/s\n", r.Events, r.EventsPerSecond)
	l := r.Latency
	fmt.Fprintf(b, "  latency   p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean))
	if r.Scheduled > 0 {
		fmt.Fprintf(b, "  schedule  %d requests due, %d unsent", r.Scheduled, r.Unsent)
		if r.Unsent > 0 {
			b.WriteString(": the server did not keep up with the rate")
		}
		b.WriteByte('\n')
	}
	b.WriteString("  errors    ")
	if len(r.Errors) == 0 {
		b.WriteString("none\n")
	} else {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "%s: %d", k, r.Errors[k])
		}
		fmt.Fprintf(b, " (first: %s)\n", r.FirstError)
	}
	if m := r.ServerMemory; m != nil {
		b.WriteString("  memory    ")
		switch {
		case m.Skipped != "":
			fmt.Fprintf(b, "not measured: %s\n", m.Skipped)
		case m.Samples == 0:
			b.WriteString("not measured: the run ended before the first read\n")
		default:
			fmt.Fprintf(b, "server resident memory peaked at %.0f MB (%d reads, one every %s)\n",
				m.PeakBytes/1e6, m.Samples, memoryPoll)
		}
	}
	if d := r.Drain; d != nil {
		b.WriteString("  drain     ")
		switch {
		case d.Skipped != "":
			fmt.Fprintf(b, "not measured: %s\n", d.Skipped)
		case !d.Drained:
			fmt.Fprintf(b, "queue lag %.0f events at the end, still %.0f after %.1fs: %.0f events/s applied\n",
				d.LagEvents, d.RemainingEvents, d.Seconds, d.EventsPerSecond)
		case d.LagEvents == 0:
			b.WriteString("queue lag already 0 at the end\n")
		case d.Seconds < minDrainForRate.Seconds():
			fmt.Fprintf(b, "queue lag %.0f events at the end, 0 after %.2fs: too soon to tell the worker's rate\n",
				d.LagEvents, d.Seconds)
		default:
			fmt.Fprintf(b, "queue lag %.0f events at the end, 0 after %.2fs: %.0f events/s applied\n",
				d.LagEvents, d.Seconds, d.EventsPerSecond)
		}
	}
}

// ms formats milliseconds to about three significant digits.
func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}
