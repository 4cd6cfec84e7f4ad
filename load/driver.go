package load

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// clock is the time source of a run. Tests inject a fake one whose time
// moves only when told, which makes the schedule and the measured
// latencies exact.
type clock interface {
	Now() time.Time
	// SleepUntil returns when t has come, or earlier with ctx.Err() once
	// ctx is done.
	SleepUntil(ctx context.Context, t time.Time) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lateGrace is how long past the end of an open-loop run requests that
// were due within it are still sent, late, to a server that fell behind.
// What is still unsent then is reported as unsent.
const lateGrace = time.Second

// errorSampleBytes bounds the sample of an error answer kept for the
// summary.
const errorSampleBytes = 200

// driver sends one run's requests to one server.
type driver struct {
	client      *http.Client
	endpoint    string // URL of POST /event or POST /events
	gen         *generator
	batch       int
	events      uint64 // events to send in all; 0: until the duration ends
	concurrency int
	duration    time.Duration
	rate        float64 // requests per second (open loop); 0: closed loop
	clock       clock
}

// worker is the state of one of the driver's goroutines, merged into the
// result when the run ends.
type worker struct {
	hist      histogram
	requests  uint64
	events    uint64
	statuses  [1000]uint64 // by HTTP status, which net/http reads as three digits
	transport uint64
	firstErr  string
	sizeHint  int // capacity for the next body: the largest so far
}

// requests is how many requests the run sends at most: the event bound in
// batches, and in an open loop the requests due within the duration.
func (d *driver) requests() uint64 {
	n := uint64(math.MaxUint64)
	if d.events > 0 {
		n = (d.events + uint64(d.batch) - 1) / uint64(d.batch)
	}
	if d.rate > 0 {
		n = min(n, d.scheduled())
	}
	return n
}

// due is when request k of an open loop is to be sent, after the start.
func (d *driver) due(k uint64) time.Duration {
	return time.Duration(float64(k) * float64(time.Second) / d.rate)
}

// scheduled is the number of requests of an open loop due within the
// duration: the k with due(k) < duration.
func (d *driver) scheduled() uint64 {
	n := uint64(math.Ceil(d.duration.Seconds() * d.rate))
	// Correct the float estimate against due itself, which decides.
	for n > 0 && d.due(n-1) >= d.duration {
		n--
	}
	for d.due(n) < d.duration {
		n++
	}
	return n
}

// eventsIn is the number of events in request k.
func (d *driver) eventsIn(k uint64) int {
	if d.events == 0 {
		return d.batch
	}
	return int(min(uint64(d.batch), d.events-k*uint64(d.batch)))
}

// run sends the requests and returns what it measured.
//
// Closed loop (rate 0): each of the concurrency workers sends a request,
// waits for its answer and sends the next, until the duration ends or the
// events are sent; latency runs from the send to the end of the answer.
//
// Open loop (rate > 0): request k is due at start + k/rate. A free worker
// takes the next request, waits until it is due and sends it; latency runs
// from the time it was due, not the time it was sent, so when the server
// stalls and every worker waits on it, the requests that fall due meanwhile
// are counted with the time they waited. Without this (coordinated
// omission) a stalled server would show one slow request instead of many.
func (d *driver) run(ctx context.Context) *Result {
	tmpl, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, nil)
	if err != nil {
		panic("BUG: endpoint validated by Config.Validate does not parse: " + err.Error())
	}
	tmpl.Header.Set("Content-Type", "application/json")
	// One header per User-Agent, shared by the requests that send it.
	headers := make([]http.Header, len(d.gen.uas))
	for i, ua := range d.gen.uas {
		headers[i] = tmpl.Header.Clone()
		headers[i].Set("User-Agent", ua)
	}

	total := d.requests()
	var next atomic.Uint64
	start := d.clock.Now()
	end := start.Add(d.duration)
	stopLate := end.Add(lateGrace)
	workers := make([]worker, d.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= total {
					return
				}
				n := d.eventsIn(k)
				body := w.body(d.gen, k*uint64(d.batch), n)
				var sent time.Time
				if d.rate > 0 {
					if !d.clock.Now().Before(stopLate) {
						return
					}
					sent = start.Add(d.due(k))
					if d.clock.SleepUntil(ctx, sent) != nil {
						return
					}
				} else {
					if !d.clock.Now().Before(end) {
						return
					}
					sent = d.clock.Now()
				}
				// A batch goes with the User-Agent of its first event.
				status, err := w.send(d.client, tmpl, headers[d.gen.agent(k*uint64(d.batch))], body)
				if err != nil && ctx.Err() != nil {
					return // interrupted, not failed
				}
				w.count(d.clock.Now().Sub(sent), n, status, err)
			}
		})
	}
	wg.Wait()
	elapsed := d.clock.Now().Sub(start)

	res := &Result{URL: d.endpoint, Seconds: elapsed.Seconds(), Errors: map[string]uint64{}}
	var h histogram
	for i := range workers {
		w := &workers[i]
		h.merge(&w.hist)
		res.Requests += w.requests
		res.Events += w.events
		for status, c := range w.statuses {
			if c > 0 && (status < 200 || status >= 300) {
				res.Errors[strconv.Itoa(status)] += c
			}
		}
		if w.transport > 0 {
			res.Errors["transport"] += w.transport
		}
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	if elapsed > 0 {
		res.RequestsPerSecond = float64(res.Requests) / elapsed.Seconds()
		res.EventsPerSecond = float64(res.Events) / elapsed.Seconds()
	}
	res.Latency = summarize(&h)
	if d.rate > 0 {
		res.Scheduled = total
		res.Unsent = total - res.Requests
	}
	return res
}

// body returns the body of the request of the n events from first on, in
// one allocation of the right size. A buffer is not reused: the transport
// may still be sending a body after the answer has come (from a server
// that answers before reading it all), and knowing when it is done takes a
// Close hook, which would make the transport send headers and body in two
// writes (it sends them in one only for the in-memory readers it knows).
func (w *worker) body(g *generator, first uint64, n int) []byte {
	b := make([]byte, 0, w.sizeHint)
	if n == 1 {
		b = g.appendEvent(b, first)
	} else {
		b = g.appendBatch(b, first, n)
	}
	w.sizeHint = max(w.sizeHint, cap(b))
	return b
}

// count records the outcome of a request of n events.
func (w *worker) count(latency time.Duration, n, status int, err error) {
	w.hist.record(latency)
	w.requests++
	switch {
	case err != nil:
		w.transport++
		if w.firstErr == "" {
			w.firstErr = err.Error()
		}
		return
	case status >= 200 && status < 300:
		w.events += uint64(n)
	}
	if status < len(w.statuses) {
		w.statuses[status]++
	}
}

// send posts body as tmpl with header and reads the whole answer, so that
// the connection goes back to the pool for reuse.
func (w *worker) send(client *http.Client, tmpl *http.Request, header http.Header, body []byte) (int, error) {
	// A shallow copy shares tmpl's context and URL, and header, which
	// neither the client nor its transport modify.
	req := *tmpl
	req.Header = header
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := client.Do(&req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if (resp.StatusCode < 200 || resp.StatusCode >= 300) && w.firstErr == "" {
		sample, _ := io.ReadAll(io.LimitReader(resp.Body, errorSampleBytes))
		w.firstErr = resp.Status + ": " + string(bytes.TrimSpace(sample))
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
