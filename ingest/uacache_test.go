package ingest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sitelog/derive"
)

// testUAs returns User-Agents of people's browsers and of crawlers, an
// empty one, and one longer than the part the bot check looks at.
func testUAs(t testing.TB) []string {
	uas := append(peoplesBrowsers(), "", browserUA, strings.Repeat("Mozilla/5.0 ", 60)+"Googlebot/2.1")
	for _, e := range testCrawlerList(t) {
		uas = append(uas, e.Instances...)
	}
	return uas
}

// freshUA derives what a User-Agent tells without a cache.
func freshUA(bots *botDetector) func(string) userAgent {
	return func(ua string) userAgent {
		return userAgent{bot: bots.isBot(ua), agent: derive.ParseAgent(ua)}
	}
}

// TestUACache checks that the cache answers as a fresh bot check and parse
// do, on a first sight and on a second, in a table large enough to hold
// them all and in one so small that they keep replacing each other.
func TestUACache(t *testing.T) {
	bots := testBots(t)
	fresh := freshUA(bots)
	uas := testUAs(t)
	for _, size := range []int{1, 4, uaCacheSlots} {
		c := newUACache(size, fresh)
		for round := range 2 {
			for _, ua := range uas {
				got, want := c.get(ua), fresh(ua)
				if got.bot != want.bot || got.agent != want.agent {
					t.Fatalf("size %d, round %d: get(%.80q) = %v %+v, a fresh one %v %+v",
						size, round, ua, got.bot, got.agent, want.bot, want.agent)
				}
			}
		}
	}
}

// TestUACacheHits checks that a User-Agent seen again is not derived again,
// and one over maxUALen bytes always is, without being kept.
func TestUACacheHits(t *testing.T) {
	var derived int
	c := newUACache(64, func(ua string) userAgent {
		derived++
		return userAgent{bot: strings.Contains(ua, "bot")}
	})
	c.get(browserUA)
	c.get(browserUA)
	if derived != 1 {
		t.Errorf("a User-Agent seen twice was derived %d times, want 1", derived)
	}
	long := strings.Repeat("x", maxUALen+1)
	c.get(long)
	c.get(long)
	if derived != 3 {
		t.Errorf("a User-Agent of %d bytes seen twice was derived %d times, want 2", len(long), derived-1)
	}
	for i := range c.slots {
		if u := c.slots[i].Load(); u != nil && u.ua == long {
			t.Errorf("slot %d keeps a User-Agent of %d bytes", i, len(long))
		}
	}
}

// TestUACacheBounded sends a flood of distinct User-Agents, as a hostile
// client may: the table keeps at most one entry per slot, none longer than
// maxUALen bytes, and still answers each of them right.
func TestUACacheBounded(t *testing.T) {
	const size = 256
	c := newUACache(size, func(ua string) userAgent {
		return userAgent{bot: strings.HasSuffix(ua, "bot")}
	})
	for i := range 20000 {
		ua := fmt.Sprintf("Mozilla/5.0 flood/%d %s", i, strings.Repeat("y", i%(2*maxUALen)))
		if i%2 == 0 {
			ua += "bot"
		}
		if got := c.get(ua).bot; got != (i%2 == 0) {
			t.Fatalf("get(flood %d).bot = %v", i, got)
		}
	}
	if len(c.slots) != size {
		t.Fatalf("the table grew to %d slots, want %d", len(c.slots), size)
	}
	kept, bytes := 0, 0
	for i := range c.slots {
		u := c.slots[i].Load()
		if u == nil {
			continue
		}
		kept++
		bytes += len(u.ua)
		if len(u.ua) > maxUALen {
			t.Errorf("slot %d keeps a User-Agent of %d bytes", i, len(u.ua))
		}
	}
	if kept > size || bytes > size*maxUALen {
		t.Errorf("after the flood the table keeps %d User-Agents of %d bytes, want at most %d of %d", kept, bytes, size, size*maxUALen)
	}
}

// TestUACacheConcurrent looks up User-Agents from several goroutines at
// once in a table small enough that they keep replacing each other's
// entries, for the race detector to see, checking every answer.
func TestUACacheConcurrent(t *testing.T) {
	bots := testBots(t)
	fresh := freshUA(bots)
	uas := testUAs(t)[:200]
	want := make([]userAgent, len(uas))
	for i, ua := range uas {
		want[i] = fresh(ua)
	}
	c := newUACache(16, fresh)
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 3 * len(uas) {
				i := (n*7 + g*31) % len(uas)
				if u := c.get(uas[i]); u.bot != want[i].bot || u.agent != want[i].agent {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Errorf("%d wrong answers from concurrent lookups", n)
	}
}

func BenchmarkUACache(b *testing.B) {
	bots := testBots(b)
	c := newUACache(uaCacheSlots, freshUA(bots))
	uas := peoplesBrowsers()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.get(uas[i%len(uas)])
	}
}
