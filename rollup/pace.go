package rollup

import (
	"cmp"
	"maps"
	"runtime"
	"slices"
	"time"
)

// The worker shares the machine's processors with ingest. A handler that
// a request wakes waits for a free processor, and Go's scheduler takes
// one back from a running goroutine only after 10 ms. A batch's long
// loops, on both of its goroutines, held woken handlers up that long,
// once or twice per request: at 70% of saturation on two cores the p99
// of POST /event was 40-60 ms with the worker and 5 ms without it. So
// the worker's loops tick a pacer, which gives the processor up to any
// goroutine waiting for one at most yieldEvery apart.
//
// Yielding makes a batch take longer, though, when ingest keeps both
// processors busy. A batch that took longer than hurryAfter means that
// the events behind it have waited that long already: the next batch
// does not pace itself, so that the queue lag stays bounded while ingest
// is saturated: at saturation (closed loop, 64 connections, current
// timestamps) sitelog_queue_lag_seconds averaged 1.85 s, at most 2.7-3.0
// s, against 2.5-3.1 s, at most 3.6-4.5 s, when every batch paced itself.
const (
	yieldEvery = 200 * time.Microsecond
	hurryAfter = time.Second
	// paceStride is how many ticks pass between readings of the clock:
	// a tick costs an increment, a reading about 25 ns.
	paceStride = 16
)

// pacer yields its goroutine's processor every yieldEvery of running.
// One goroutine owns each.
type pacer struct {
	ticks uint32
	next  time.Time
	off   bool   // the batch is in a hurry
	yield func() // runtime.Gosched when nil (tests count the calls)
}

// tick is called once per step of a long loop, a step being anything
// from one comparison to one event counted.
func (p *pacer) tick() {
	if p.ticks++; p.ticks%paceStride != 0 || p.off {
		return
	}
	if now := time.Now(); now.After(p.next) {
		if p.yield != nil {
			p.yield()
		} else {
			runtime.Gosched()
		}
		p.next = time.Now().Add(yieldEvery)
	}
}

// sortPaced sorts s by cmp, ticking p on every comparison: sorting a
// batch's rows takes milliseconds.
func sortPaced[E any](p *pacer, s []E, cmp func(E, E) int) {
	slices.SortFunc(s, func(a, b E) int {
		p.tick()
		return cmp(a, b)
	})
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[K interface {
	comparable
	compare(K) int
}, V any](p *pacer, m map[K]V) []K {
	keys := slices.AppendSeq(make([]K, 0, len(m)), maps.Keys(m))
	sortPaced(p, keys, K.compare)
	return keys
}

// sortedIDs returns the keys of m in ascending order.
func sortedIDs[V any](p *pacer, m map[int64]V) []int64 {
	ids := slices.AppendSeq(make([]int64, 0, len(m)), maps.Keys(m))
	sortPaced(p, ids, cmp.Compare[int64])
	return ids
}
