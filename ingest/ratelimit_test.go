package ingest

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"sitelog/wal"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(2, func() time.Time { return now })
	f := func(addr string, want bool) {
		t.Helper()
		ip, _ := netip.ParseAddr(addr) // invalid for "not an address"
		if got := l.allow(ip); got != want {
			t.Fatalf("allow(%s) at %v = %v, want %v", addr, now.Unix(), got, want)
		}
	}
	// A burst of twice the rate, then nothing until tokens come back.
	for range 4 {
		f("192.0.2.10", true)
	}
	f("192.0.2.10", false)
	f("192.0.2.99", false) // the same /24
	f("198.51.100.1", true)
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	f("192.0.2.10", true)
	f("192.0.2.10", false)

	// IPv6 shares a bucket per /64; a mapped IPv4 address is the IPv4 one.
	for range 4 {
		f("2001:db8:1:2::1", true)
	}
	f("2001:db8:1:2:ffff::9", false)
	f("2001:db8:1:3::1", true)
	f("::ffff:192.0.2.7", false)
	f("not an address", true)

	// Idle networks are forgotten once their bucket would be full again.
	now = now.Add(time.Hour)
	f("203.0.113.1", true)
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after an hour idle, want the 1 just used", n)
	}
}

func TestRateLimitedRequests(t *testing.T) {
	s := newServerConfig(t, wal.Options{Fsync: wal.FsyncInterval}, Config{Now: testNow, RateLimit: 1})
	codes := map[int]int{}
	var last response
	for range 3 {
		last = s.do(t, http.MethodPost, "/event", strings.NewReader(`{"site_id":"s","path":"/"}`))
		codes[last.code]++
	}
	if codes[http.StatusAccepted] != 2 || codes[http.StatusTooManyRequests] != 1 {
		t.Fatalf("answers %v, want two 202 (the burst) and one 429", codes)
	}
	if last.hdr.Get("Retry-After") == "" || !strings.Contains(last.body["error"].(string), "too many requests") {
		t.Fatalf("429 answer: %v %v", last.hdr, last.body)
	}
	if got := s.received("rate_limited"); got != 1 {
		t.Fatalf("rate_limited counted %v, want 1", got)
	}
	if got := len(s.appended(t)); got != 2 {
		t.Fatalf("%d events appended, want the 2 accepted", got)
	}
}
