package pgstore

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"sitelog/derive"
	"sitelog/internal/pgtest"
)

// TestSharedSalts opens the salts of several nodes at once on one
// database: they agree on each day's salt, so a visitor has one id on
// every node; a day's salt survives a restart; two days on it is gone.
func TestSharedSalts(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	day1 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := day1
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ip := netip.MustParseAddr("192.0.2.7")

	nodes := make([]*derive.Salts, 4)
	for i := range nodes {
		salts, err := derive.NewSalts(open(t, dsn).Salts(), clock)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = salts
	}
	ids := make([]uint64, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { ids[i] = n.Visitor("example.com", ip, "Firefox") })
	}
	wg.Wait()
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("node %d hashes the visitor as %x, node 0 as %x", i, id, ids[0])
		}
	}

	// A restarted node takes the day's salt from the database.
	restarted, err := derive.NewSalts(open(t, dsn).Salts(), clock)
	if err != nil {
		t.Fatal(err)
	}
	if id := restarted.Visitor("example.com", ip, "Firefox"); id != ids[0] {
		t.Errorf("after a restart the visitor is %x, before %x", id, ids[0])
	}

	// The next day: a new salt, the same on every node; two days on, the
	// first day's salt is deleted.
	mu.Lock()
	now = day1.Add(24 * time.Hour)
	mu.Unlock()
	next := nodes[0].Visitor("example.com", ip, "Firefox")
	if next == ids[0] {
		t.Error("the visitor has the same id on the next day")
	}
	if id := nodes[3].Visitor("example.com", ip, "Firefox"); id != next {
		t.Errorf("on the next day node 3 hashes the visitor as %x, node 0 as %x", id, next)
	}
	mu.Lock()
	now = day1.Add(48 * time.Hour)
	mu.Unlock()
	nodes[1].Visitor("example.com", ip, "Firefox")
	s := open(t, dsn)
	first := day1.Unix() / 86400
	if n := count(t, s, "SELECT count(*) FROM salts WHERE day <= $1", first); n != 0 {
		t.Errorf("%d salts of the first day left two days on", n)
	}
	if n := count(t, s, "SELECT count(*) FROM salts"); n != 2 {
		t.Errorf("%d salts kept, want 2 (today's and yesterday's)", n)
	}
}
