package ingest

import (
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per client network: the /24 of an IPv4
// address, the /64 of an IPv6 one, since one client commonly holds a whole
// IPv6 /64 and a flood from one IPv4 host rarely stays on one address. It
// counts requests, not events: a batch is one request.
type limiter struct {
	rate  float64 // tokens added per second
	burst float64 // tokens a bucket holds at most
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the memory of the limiter. Past it, after a sweep of
// the buckets that are full again, requests from new networks are let
// through untracked: a limiter that refused everyone would be the outage.
const maxBuckets = 100000

// newLimiter returns a limiter of rate requests per second per network,
// with bursts of up to twice that (at least one request).
func newLimiter(rate float64, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: max(2*rate, 1), now: now, buckets: map[netip.Prefix]*bucket{}}
}

// allow takes a token from the bucket of addr's network, and reports
// whether there was one. An invalid addr is allowed: the request did not
// come over an IP connection.
func (l *limiter) allow(addr netip.Addr) bool {
	if !addr.IsValid() {
		return true
	}
	addr = addr.Unmap()
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	prefix, _ := addr.Prefix(bits)

	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b, ok := l.buckets[prefix]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			return true
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[prefix] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the buckets that have filled up again: a new one would be
// the same.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for p, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, p)
		}
	}
	l.lastSweep = now
}
