package ingest

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	"sitelog/derive"
)

// userAgent is what ingest derives from a User-Agent alone.
type userAgent struct {
	ua    string
	bot   bool
	agent derive.Agent
}

// uaCache remembers what recent User-Agents derived, since real traffic
// sends a few hundred of them over and over, and the bot check and the
// parse cost about half a microsecond for each request otherwise.
//
// It is a fixed table of slots, each holding the last User-Agent whose
// hash chose it: a User-Agent seen again finds its answer with one hash
// and one comparison, a new one replaces whatever its slot held. A flood of
// distinct User-Agents therefore only keeps replacing entries: the table
// never holds more than its slots, nor User-Agents longer than maxUALen
// bytes (longer ones are derived afresh each time). The slots are atomic
// pointers to entries that never change, so handlers share the table
// without a lock. The User-Agents it holds stay in memory, with nothing of
// who sent them.
type uaCache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[userAgent]
	fresh func(ua string) userAgent // derives without the cache
}

// uaCacheSlots is the number of slots: about 1 MiB when each holds a
// browser's User-Agent, at most ~2.5 MiB with User-Agents of maxUALen
// bytes.
const uaCacheSlots = 1 << 12

// newUACache returns a cache of size slots (a power of two) in front of
// fresh.
func newUACache(size int, fresh func(ua string) userAgent) *uaCache {
	if size <= 0 || size&(size-1) != 0 {
		panic("BUG: uaCache size must be a power of two")
	}
	return &uaCache{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[userAgent], size), fresh: fresh}
}

// get returns what ua derives, from the cache when it holds ua. The
// result must not be changed.
func (c *uaCache) get(ua string) *userAgent {
	if len(ua) > maxUALen {
		u := c.fresh(ua)
		return &u
	}
	slot := &c.slots[maphash.String(c.seed, ua)&uint64(len(c.slots)-1)]
	if u := slot.Load(); u != nil && u.ua == ua {
		return u
	}
	u := c.fresh(ua)
	// A copy, so that the entry keeps only the User-Agent's own bytes
	// alive, not whatever buffer the server read it into.
	u.ua = strings.Clone(ua)
	slot.Store(&u)
	return &u
}
