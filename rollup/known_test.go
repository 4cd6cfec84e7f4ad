package rollup

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sitelog/event"
)

func TestKnownKeepsTwoGenerations(t *testing.T) {
	k := newKnown(2)
	const a, b, c, d = 0, 1, 2, 3 // 0 is a hash like any other
	has := func(key uint64, want bool) {
		t.Helper()
		if got := k.has(key); got != want {
			t.Errorf("has(%d) = %v, want %v", key, got, want)
		}
	}
	has(a, false)
	k.add(a)
	k.add(b) // the first generation is full: a, b
	has(a, true)
	k.add(c)     // a new generation: c; a and b are old
	has(b, true) // found in the old generation: moves to the current, c, b
	k.add(d)     // a new generation again: d; c and b are old, a is gone
	has(a, false)
	has(b, true)
	has(c, true)
	has(d, true)
}

// TestHashSet compares the set with a map through growth, with hashes
// that share their low or high bits and 0, which has no slot.
func TestHashSet(t *testing.T) {
	s := newHashSet()
	want := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var h uint64
		switch i % 4 {
		case 0:
			h = rng.Uint64()
		case 1:
			h = uint64(rng.IntN(5000)) << 40 // equal low bits
		case 2:
			h = uint64(rng.IntN(5000)) // equal high bits
		default:
			h = 0
		}
		if i%3 == 0 {
			s.add(h)
			want[h] = true
		}
		if got := s.has(h); got != want[h] {
			t.Fatalf("step %d: has(%#x) = %v, want %v", i, h, got, want[h])
		}
	}
	if s.n != len(want) {
		t.Errorf("n = %d, want %d", s.n, len(want))
	}
	if 2*s.n > len(s.slots) {
		t.Errorf("%d hashes in %d slots: more than half full", s.n, len(s.slots))
	}
	s.clear()
	for h := range want {
		if s.has(h) {
			t.Fatalf("has(%#x) after clear", h)
		}
	}
}

// TestApplyAfterAFailedBatch makes a batch fail inside its transaction,
// after its visitors were inserted and the paths of its days read, then
// applies it again: the Store must have learnt nothing from the failed
// attempt, or it would leave out visitors and paths that were never
// committed.
func TestApplyAfterAFailedBatch(t *testing.T) {
	day := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	first := entries(1,
		pv("s", "/a", "u1", day),
		pv("s", "/b", "u2", day),
	)
	second := entries(3,
		pv("s", "/a", "u3", day),
		pv("s", "/c", "u4", day),
		pv("s", "/boom", "u5", day), // makes the first attempt fail
		pv("s", "/d", "u1", day),    // over the cap of 4 paths
		pv("s", "/c", "u6", day.Add(24*time.Hour)),
	)
	for _, c := range []struct {
		name, table string
		chunk       int
	}{
		// site_paths is written last, after every read of the batch.
		{"last rollup", "site_paths", rawChunk},
		// The raw events of the second chunk of two entries fail on
		// another goroutine while the third chunk is counted.
		{"raw events of a chunk", "events", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openStore(t, filepath.Join(dir, "sitelog.db"), Options{PathsPerDay: 4})
			s.chunk = c.chunk
			if err := s.Apply(ctx, "log-a", first); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Exec(`CREATE TRIGGER boom BEFORE INSERT ON ` + c.table + ` WHEN NEW.path = '/boom'
				BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(ctx, "log-a", second); err == nil || !strings.Contains(err.Error(), "boom") {
				t.Fatalf("Apply with the trigger in place: %v, want the trigger's error", err)
			}
			if applied, err := s.Applied("log-a"); err != nil || applied != 2 {
				t.Fatalf("after the failed batch Applied = %d, %v; want 2", applied, err)
			}
			if got := rowsOf(t, s.db, "SELECT COUNT(*) FROM events"); !slices.Equal(got, []string{"2"}) {
				t.Fatalf("after the failed batch %v raw events, want 2", got)
			}
			if _, err := s.db.Exec(`DROP TRIGGER boom`); err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(ctx, "log-a", second); err != nil {
				t.Fatal(err)
			}

			once := openStore(t, filepath.Join(dir, "once.db"), Options{PathsPerDay: 4})
			if err := once.Apply(ctx, "log-a", append(first, second...)); err != nil {
				t.Fatal(err)
			}
			diffDumps(t, dump(t, once.db), dump(t, s.db))
			if got, want := rowsOf(t, s.db, "SELECT day, users, paths FROM daily ORDER BY day"),
				[]string{"2025-11-14|5|4", "2025-11-15|1|1"}; !slices.Equal(got, want) {
				t.Errorf("daily = %v, want %v", got, want)
			}
		})
	}
}

// TestRollupsWithLittleMemory applies random logs in random splits with
// bounds so small that the Store keeps forgetting what it knew, and
// reopens it halfway, so that it starts over knowing nothing of days that
// have paths: the database must be the same as with one batch.
func TestRollupsWithLittleMemory(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 3))
		log := randomLog(rng, 1000)
		dir := t.TempDir()
		opts := Options{PathsPerDay: 5}
		whole := openStore(t, filepath.Join(dir, "whole.db"), opts)
		if err := whole.Apply(context.Background(), "log-a", log); err != nil {
			t.Fatal(err)
		}

		path := filepath.Join(dir, "split.db")
		split := openStore(t, path, opts)
		split.known = newKnownKeys(3, 4)
		applySplit(t, split, "log-a", rng, log[:500])
		split.Close()
		split = openStore(t, path, opts)
		split.known = newKnownKeys(3, 4)
		applySplit(t, split, "log-a", rng, log[500:])

		diffDumps(t, dump(t, whole.db), dump(t, split.db))
		for table, q := range recounts() {
			if table == "daily_paths" || table == "site_paths" || table == "daily" || table == "stats pages" ||
				table == "visits by entry page" || table == "visits by exit page" {
				continue // capped: compared with the whole log's database above
			}
			got, want := rowsOf(t, split.db, q[0]), rowsOf(t, split.db, q[1])
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: %s: rollup\n%v\nrecount\n%v", seed, table, got, want)
			}
		}
	}
}

// TestKnownDaysAreForgotten checks the bound on the paths remembered: the
// days least recently applied to go first.
func TestKnownDaysAreForgotten(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	s.known = newKnownKeys(100, 4)
	day := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	next := uint64(1)
	apply := func(evs ...*event.Event) {
		t.Helper()
		batch := entries(next, evs...)
		next += uint64(len(batch))
		if err := s.Apply(context.Background(), "log-a", batch); err != nil {
			t.Fatal(err)
		}
	}
	remembered := func(want ...string) {
		t.Helper()
		var got []string
		for k := range s.known.days {
			got = append(got, k.site+" "+k.day)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("days remembered: %v, want %v", got, want)
		}
	}
	apply(pv("a", "/1", "u", day), pv("a", "/2", "u", day))
	apply(pv("b", "/1", "u", day))
	apply(pv("a", "/3", "u", day)) // a holds 3 paths, b 1: at the bound
	remembered("a 2025-11-14", "b 2025-11-14")
	apply(pv("c", "/1", "u", day)) // 5 paths: b goes first, then a, down to 2
	remembered("c 2025-11-14")
}

// The page size must be set before the database switches to WAL; this
// fails if the driver ever applies the parameters in another order.
func TestWriterPragmas(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "sitelog.db"), Options{})
	for pragma, want := range map[string]string{
		"page_size":          "16384",
		"journal_mode":       "wal",
		"synchronous":        "2", // FULL
		"temp_store":         "2", // MEMORY
		"cache_size":         "-16384",
		"wal_autocheckpoint": "8192",
		"foreign_keys":       "1",
	} {
		if got := rowsOf(t, s.db, "PRAGMA "+pragma); !slices.Equal(got, []string{want}) {
			t.Errorf("%s = %v, want %s", pragma, got, want)
		}
	}
}
