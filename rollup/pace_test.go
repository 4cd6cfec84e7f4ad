package rollup

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPacerYields checks that a pacer gives the processor up on the tick
// that reads the clock once yieldEvery has passed, and not before it nor
// while it is off: on one processor, a goroutine made runnable meanwhile
// runs only then.
func TestPacerYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var p pacer
	ran := func() *atomic.Bool {
		var b atomic.Bool
		done := make(chan struct{})
		go func() { b.Store(true); close(done) }()
		t.Cleanup(func() { <-done })
		return &b
	}

	other := ran()
	for range paceStride - 1 {
		p.tick()
	}
	if other.Load() {
		t.Fatalf("another goroutine ran before the pacer read the clock")
	}
	p.tick() // reads the clock: yieldEvery has passed since the zero time
	if !other.Load() {
		t.Fatalf("the pacer did not yield on tick %d", paceStride)
	}

	// Right after a yield, the next reading finds yieldEvery not passed.
	p.next = time.Now().Add(time.Hour)
	other = ran()
	for range paceStride {
		p.tick()
	}
	if other.Load() {
		t.Fatalf("the pacer yielded before yieldEvery had passed")
	}
	p.next = time.Time{}
	for range paceStride {
		p.tick()
	}
	if !other.Load() {
		t.Fatalf("the pacer did not yield once yieldEvery had passed")
	}

	// A batch in a hurry does not yield at all.
	p.off = true
	p.next = time.Time{}
	other = ran()
	for range 4 * paceStride {
		p.tick()
	}
	if other.Load() {
		t.Fatalf("the pacer yielded while off")
	}
}
