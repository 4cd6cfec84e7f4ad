package rollup

import (
	"testing"
	"time"
)

// TestPacerYields checks that a pacer yields on the tick that reads the
// clock once yieldEvery has passed, and not before it, nor while the
// next reading is not due, nor while it is off. (What a yield does is
// runtime.Gosched's: another goroutine may run, or not if none waits.)
func TestPacerYields(t *testing.T) {
	yields := 0
	p := pacer{yield: func() { yields++ }}
	ticks := func(n int) {
		for range n {
			p.tick()
		}
	}

	ticks(paceStride - 1)
	if yields != 0 {
		t.Fatalf("%d yields before the pacer read the clock", yields)
	}
	p.tick() // reads the clock: yieldEvery has passed since the zero time
	if yields != 1 {
		t.Fatalf("%d yields on tick %d, want 1", yields, paceStride)
	}

	// Until the next reading is due, none yields.
	p.next = time.Now().Add(time.Hour)
	ticks(paceStride)
	if yields != 1 {
		t.Fatalf("%d yields before the next reading was due, want 1", yields)
	}
	p.next = time.Time{}
	ticks(paceStride)
	if yields != 2 {
		t.Fatalf("%d yields once yieldEvery had passed, want 2", yields)
	}

	// A batch in a hurry does not yield at all.
	p.off = true
	p.next = time.Time{}
	ticks(4 * paceStride)
	if yields != 2 {
		t.Fatalf("%d yields while off, want 2", yields)
	}
}
