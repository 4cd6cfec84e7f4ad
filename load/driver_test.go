package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock whose time moves only when a sleeper sleeps past it
// or a test handler advances it: with one worker, every send time and
// latency of a run is then known exactly.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: testEnd} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err()
}

// testServer serves fn for each request, numbered from 0 in order of
// arrival, after reading the body.
func testServer(t *testing.T, fn func(n int, w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(count.Add(1) - 1)
		io.Copy(io.Discard, r.Body)
		fn(n, w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func accept(w http.ResponseWriter) {
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"queued"}`)
}

func testDriver(url string, clk clock) *driver {
	return &driver{
		client:      newClient(1, 10*time.Second),
		endpoint:    url + "/event",
		gen:         newGenerator(testWorkload()),
		batch:       1,
		concurrency: 1,
		duration:    time.Hour,
		clock:       clk,
	}
}

func TestOpenLoopCountsTheStall(t *testing.T) {
	// Request 10 stalls the server for 100 ms, ten intervals at 100/s. A
	// closed loop sees one slow request; the open loop also charges the
	// nine requests that fell due during the stall with the time they
	// waited: 90, 80, … 10 ms.
	stallAt, stall := 10, 100*time.Millisecond
	run := func(rate float64) *Result {
		clk := newFakeClock()
		srv := testServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == stallAt {
				clk.Advance(stall)
			}
			accept(w)
		})
		d := testDriver(srv.URL, clk)
		d.events, d.rate = 40, rate
		return d.run(context.Background())
	}
	ms := time.Millisecond

	var open []time.Duration
	for k := range 40 {
		var lat time.Duration
		if k >= stallAt && k < stallAt+10 {
			lat = stall - time.Duration(k-stallAt)*10*ms
		}
		open = append(open, lat)
	}
	got := run(100)
	if want := summarize(histOf(open...)); got.Latency != want {
		t.Errorf("open loop latency %+v, want %+v", got.Latency, want)
	}
	if got.Latency.P90 < 50 || got.Latency.Max != 100 {
		t.Errorf("open loop p90 %gms, max %gms: want the stall in p90 and max 100ms", got.Latency.P90, got.Latency.Max)
	}
	// The last request is due at 390 ms; the stall ended long before.
	if got.Requests != 40 || got.Events != 40 || got.Seconds != 0.39 || got.Scheduled != 40 || got.Unsent != 0 {
		t.Errorf("open loop: %d requests, %d events in %gs, %d scheduled, %d unsent; want 40, 40 in 0.39s, 40, 0",
			got.Requests, got.Events, got.Seconds, got.Scheduled, got.Unsent)
	}

	closed := make([]time.Duration, 40)
	closed[stallAt] = stall
	got = run(0)
	if want := summarize(histOf(closed...)); got.Latency != want {
		t.Errorf("closed loop latency %+v, want %+v", got.Latency, want)
	}
	if got.Latency.P90 != 0 || got.Latency.P99 != 100 {
		t.Errorf("closed loop p90 %gms, p99 %gms; want 0 and 100: the stall hides in one request", got.Latency.P90, got.Latency.P99)
	}
}

func TestOpenLoopSendsOnSchedule(t *testing.T) {
	clk := newFakeClock()
	start := clk.Now()
	var mu sync.Mutex
	var arrivals []time.Duration
	srv := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, clk.Now().Sub(start))
		mu.Unlock()
		accept(w)
	})
	d := testDriver(srv.URL, clk)
	d.rate, d.duration = 100, time.Second
	got := d.run(context.Background())

	if len(arrivals) != 100 {
		t.Fatalf("%d requests arrived in 1s at 100/s, want 100", len(arrivals))
	}
	for k, at := range arrivals {
		if want := time.Duration(k) * 10 * time.Millisecond; at != want {
			t.Errorf("request %d arrived at %s, want %s", k, at, want)
		}
	}
	if got.Requests != 100 || got.Scheduled != 100 || got.Unsent != 0 || got.Latency.Max != 0 {
		t.Errorf("result %+v: want 100 requests sent on time", got)
	}
}

func TestOpenLoopUnsent(t *testing.T) {
	// Each request takes the server 30 ms and 100/s are due for one
	// second: the requests it still answers by lateGrace past the end
	// (request k is sent at k·30 ms, so k = 0…66) are sent, the rest are
	// reported unsent.
	clk := newFakeClock()
	srv := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		clk.Advance(30 * time.Millisecond)
		accept(w)
	})
	d := testDriver(srv.URL, clk)
	d.rate, d.duration = 100, time.Second
	got := d.run(context.Background())
	if got.Scheduled != 100 || got.Requests != 67 || got.Unsent != 33 {
		t.Errorf("%d scheduled, %d sent, %d unsent; want 100, 67, 33", got.Scheduled, got.Requests, got.Unsent)
	}
	// The last one, request 66, was due at 660 ms and answered at 2010 ms.
	if got.Latency.Max != 1350 {
		t.Errorf("max latency %gms, want 1350ms", got.Latency.Max)
	}
}

func TestScheduled(t *testing.T) {
	f := func(rate float64, duration time.Duration, want uint64) {
		t.Helper()
		d := &driver{rate: rate, duration: duration}
		if got := d.scheduled(); got != want {
			t.Errorf("%g/s for %s: %d requests due, want %d", rate, duration, got, want)
		}
	}
	f(100, time.Second, 100)
	f(300, time.Second, 300)
	f(3, time.Second, 3)             // 0, 333 and 666 ms
	f(0.5, 10*time.Second, 5)        // 0, 2, 4, 6, 8 s
	f(1, 2500*time.Millisecond, 3)   // 0, 1, 2 s
	f(1000, time.Millisecond, 1)     // 0; 1 ms is the end, excluded
	f(1e6, 10*time.Microsecond, 10)  // every µs
	f(7, 24*time.Hour, 7*24*60*60)   // long runs are not off by one
	f(1, time.Nanosecond, 1)         // the first request is due at once
	f(1e7, time.Hour, 1e7*60*60)     // the largest allowed
	f(12.5, 80*time.Millisecond, 1)  // 0; the next at 80 ms is the end
	f(12.5, 81*time.Millisecond, 2)  // 0 and 80 ms
	f(1e9/3, time.Microsecond, 334)  // due(k) = ⌊3k⌋ ns < 1000 for k ≤ 333
	f(100, 10*time.Millisecond+1, 2) // 0 and 10 ms
}

func TestOpenLoopRealClockShowsTheStall(t *testing.T) {
	// The wall clock, one worker, 200 requests/s, and request 20 stalled
	// for 100 ms: requests 21…30 fell due within 50 ms of its due time
	// and could not be sent before it was answered, so at least 11 of the
	// 60 latencies are ≥ 50 ms, whatever the speed of this machine, and
	// p90 (rank 54 of 60) shows them. A closed loop would see one.
	srv := testServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 20 {
			time.Sleep(100 * time.Millisecond)
		}
		accept(w)
	})
	d := testDriver(srv.URL, realClock{})
	d.rate, d.events = 200, 60
	got := d.run(context.Background())
	if got.Requests != 60 {
		t.Fatalf("%d requests, want 60", got.Requests)
	}
	if got.Latency.P90 < 50 || got.Latency.Max < 100 {
		t.Errorf("p90 %gms, max %gms; want at least 50ms and 100ms", got.Latency.P90, got.Latency.Max)
	}
}

func TestErrorsByStatus(t *testing.T) {
	// Of every four requests one is refused 503 and one gets its
	// connection closed without an answer.
	srv := testServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n % 4 {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"busy"}`)
		case 3:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
		default:
			accept(w)
		}
	})
	d := testDriver(srv.URL, realClock{})
	d.client = newClient(4, 10*time.Second)
	d.concurrency, d.events, d.batch = 4, 200, 5
	d.endpoint = srv.URL + "/events"
	got := d.run(context.Background())
	if got.Requests != 40 || got.Events != 100 {
		t.Errorf("%d requests, %d events accepted; want 40 and 100", got.Requests, got.Events)
	}
	if len(got.Errors) != 2 || got.Errors["503"] != 10 || got.Errors["transport"] != 10 {
		t.Errorf("errors %v, want 503: 10, transport: 10", got.Errors)
	}
	if got.FirstError == "" {
		t.Error("no sample of the first error")
	}
}

func TestInterruptedRunStopsAndCountsNoErrors(t *testing.T) {
	arrived := make(chan struct{}, 64)
	release := make(chan struct{})
	srv := testServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
		accept(w)
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	d := testDriver(srv.URL, realClock{})
	d.client = newClient(4, time.Hour)
	d.concurrency = 4
	got := d.run(ctx)
	if got.Requests != 0 || len(got.Errors) != 0 {
		t.Errorf("interrupted run: %d requests, errors %v; want none: requests cut short are not failures", got.Requests, got.Errors)
	}
}

func BenchmarkBody(b *testing.B) {
	g := newGenerator(testWorkload())
	for _, n := range []int{1, 100} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var w worker
			var i uint64
			b.ReportAllocs()
			for b.Loop() {
				w.body(g, i, n)
				i += uint64(n)
			}
		})
	}
}
