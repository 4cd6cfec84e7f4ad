package derive

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sitelog/event"
)

// clock is a settable time for Salts.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

var (
	day1    = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	alice   = netip.MustParseAddr("203.0.113.9")
	aliceUA = uaFirefoxLinux
)

func openSalts(t *testing.T, dir string, c *clock) *Salts {
	t.Helper()
	s, err := OpenSalts(dir, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// savedDays returns the days salts.json holds, in order.
func savedDays(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "salts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f saltsJSON
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	var days []string
	for d := range f.Salts {
		days = append(days, d)
	}
	slices.Sort(days)
	return days
}

func TestSaltsSameVisitorWithinADay(t *testing.T) {
	c := newClock(day1)
	s := openSalts(t, t.TempDir(), c)
	first := s.Visitor("site", alice, aliceUA)
	c.set(day1.Add(24*time.Hour - time.Nanosecond))
	if got := s.Visitor("site", alice, aliceUA); got != first {
		t.Errorf("Visitor at 23:59:59.999999999 = %x, want %x as at 00:00", got, first)
	}
	if first == 0 {
		t.Error("Visitor = 0, which means unknown")
	}
	// The id is event.HashVisitor under the day's salt of site, ip, ua.
	if want := event.HashVisitor(s.salt(dayOf(day1)), "site", alice.String(), aliceUA); first != want {
		t.Errorf("Visitor = %x, want event.HashVisitor(salt, site, ip, ua) = %x", first, want)
	}
}

func TestSaltsVisitorsDiffer(t *testing.T) {
	c := newClock(day1.Add(12 * time.Hour))
	s := openSalts(t, t.TempDir(), c)
	base := s.Visitor("site", alice, aliceUA)
	others := map[string]uint64{
		"other site": s.Visitor("other", alice, aliceUA),
		"other ip":   s.Visitor("site", netip.MustParseAddr("203.0.113.10"), aliceUA),
		"other ua":   s.Visitor("site", alice, uaChromeLinux),
	}
	c.set(day1.Add(24 * time.Hour))
	others["next day"] = s.Visitor("site", alice, aliceUA)
	for what, v := range others {
		if v == base {
			t.Errorf("%s: same visitor %x", what, v)
		}
	}
}

func TestSaltsPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	c := newClock(day1.Add(9 * time.Hour))
	before := openSalts(t, dir, c).Visitor("site", alice, aliceUA)

	fi, err := os.Stat(filepath.Join(dir, "salts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("salts.json mode = %v, want 0600", mode)
	}
	if _, err := os.Stat(filepath.Join(dir, "salts.json.tmp")); !os.IsNotExist(err) {
		t.Errorf("salts.json.tmp left behind: %v", err)
	}

	c.add(8 * time.Hour) // a restart later that day
	if after := openSalts(t, dir, c).Visitor("site", alice, aliceUA); after != before {
		t.Errorf("Visitor after reopening = %x, want %x as before", after, before)
	}
}

func TestSaltsNeverStoreAddressOrUserAgent(t *testing.T) {
	dir := t.TempDir()
	s := openSalts(t, dir, newClock(day1))
	s.Visitor("site", alice, aliceUA)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), alice.String()) || strings.Contains(string(data), "Firefox") {
			t.Errorf("%s holds the address or the User-Agent: %s", e.Name(), data)
		}
	}
}

func TestSaltsOldDeleted(t *testing.T) {
	dir := t.TempDir()
	c := newClock(day1.Add(time.Hour))
	s := openSalts(t, dir, c)
	s.Visitor("site", alice, aliceUA)
	c.add(24 * time.Hour)
	s.Visitor("site", alice, aliceUA)
	if got, want := savedDays(t, dir), []string{"2026-03-01", "2026-03-02"}; !slices.Equal(got, want) {
		t.Fatalf("salts.json days = %v, want %v", got, want)
	}

	// The third day's salt deletes the first's.
	c.add(24 * time.Hour)
	s.Visitor("site", alice, aliceUA)
	if got, want := savedDays(t, dir), []string{"2026-03-02", "2026-03-03"}; !slices.Equal(got, want) {
		t.Fatalf("salts.json days = %v, want %v", got, want)
	}

	// Opened days later without a visitor since, the file loses them all.
	c.add(10 * 24 * time.Hour)
	openSalts(t, dir, c)
	if got := savedDays(t, dir); len(got) != 0 {
		t.Fatalf("salts.json days = %v after ten idle days, want none", got)
	}
}

func TestSaltsClockBack(t *testing.T) {
	dir := t.TempDir()
	c := newClock(day1.Add(24*time.Hour + time.Minute))
	s := openSalts(t, dir, c)
	day2 := s.Visitor("site", alice, aliceUA)
	c.set(day1.Add(23 * time.Hour)) // the clock steps back over midnight
	day1Visitor := s.Visitor("site", alice, aliceUA)
	c.set(day1.Add(24*time.Hour + 2*time.Minute))
	if got := s.Visitor("site", alice, aliceUA); got != day2 || got == day1Visitor {
		t.Errorf("Visitor after the clock stepped back and forth = %x, want %x again", got, day2)
	}
	if got, want := savedDays(t, dir), []string{"2026-03-01", "2026-03-02"}; !slices.Equal(got, want) {
		t.Fatalf("salts.json days = %v, want %v", got, want)
	}
}

func TestSaltsConcurrent(t *testing.T) {
	dir := t.TempDir()
	c := newClock(day1.Add(23*time.Hour + 59*time.Minute))
	s := openSalts(t, dir, c)
	const workers, calls = 8, 200
	seen := make([]map[uint64]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		seen[w] = map[uint64]bool{}
		wg.Go(func() {
			for i := range calls {
				if w == 0 && i == calls/2 {
					c.set(day1.Add(24 * time.Hour)) // midnight passes meanwhile
				}
				seen[w][s.Visitor("site", alice, aliceUA)] = true
			}
		})
	}
	wg.Wait()
	want := map[uint64]bool{
		event.HashVisitor(s.salt(dayOf(day1)), "site", alice.String(), aliceUA):                   true,
		event.HashVisitor(s.salt(dayOf(day1.Add(24*time.Hour))), "site", alice.String(), aliceUA): true,
	}
	for w, ids := range seen {
		for id := range ids {
			if !want[id] {
				t.Errorf("worker %d got visitor %x, neither day's", w, id)
			}
		}
	}
	if got := savedDays(t, dir); len(got) != 2 {
		t.Errorf("salts.json days = %v, want both days", got)
	}
}

func TestOpenSaltsDamaged(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":   `{"salts":`,
		"bad date":   `{"salts":{"yesterday":"` + strings.Repeat("00", SaltSize) + `"}}`,
		"bad hex":    `{"salts":{"2026-03-01":"zz"}}`,
		"short salt": `{"salts":{"2026-03-01":"0011"}}`,
		"wrong type": `{"salts":["2026-03-01"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "salts.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenSalts(dir, newClock(day1).now); err == nil || !strings.Contains(err.Error(), "salts.json") {
				t.Errorf("OpenSalts = %v, want an error naming salts.json", err)
			}
		})
	}
}

func TestOpenSaltsCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "salts")
	s := openSalts(t, dir, newClock(day1))
	s.Visitor("site", alice, aliceUA)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o700 {
		t.Errorf("salts dir mode = %v, want 0700", mode)
	}
}

func BenchmarkVisitor(b *testing.B) {
	s, err := OpenSalts(b.TempDir(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	s.Visitor("site", alice, aliceUA) // today's salt made and written
	b.ReportAllocs()
	for b.Loop() {
		s.Visitor("site", alice, aliceUA)
	}
}
