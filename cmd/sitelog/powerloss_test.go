package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"sitelog/event"
)

// record is one entry of a log segment, as this test reads the format on
// its own: uvarint(length) ‖ crc32c ‖ encoded event.
type record struct {
	start, end int64
	id         string
}

func lastSegmentRecords(t *testing.T, walDir string) (string, []record) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(walDir, "[0-9]*"))
	sort.Strings(names)
	path := names[len(names)-1]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for pos := 0; pos < len(data); {
		n, k := binary.Uvarint(data[pos:])
		if k <= 0 || int(n) > len(data)-pos-k || n < 4 {
			t.Fatalf("segment %s does not parse at %d before any damage", path, pos)
		}
		r := record{start: int64(pos), end: int64(pos + k + int(n))}
		if payload := data[pos+k+4 : r.end]; len(payload) > 0 {
			var ev event.Event
			if err := event.Decode(payload, &ev); err != nil {
				t.Fatal(err)
			}
			r.id = ev.Query
		}
		recs = append(recs, r)
		pos = int(r.end)
	}
	return path, recs
}

// TestPowerLossTail approximates a power loss: after kill -9 under load,
// the log's tail is damaged the ways a lost or torn write leaves it. The
// restart succeeds, every whole record before the damage is stored once,
// and nothing that was never sent appears.
func TestPowerLossTail(t *testing.T) {
	damages := []struct {
		name string
		// damage changes the segment and returns how many of its records
		// stay whole
		damage func(t *testing.T, path string, recs []record) int
	}{
		{"cut-inside-last-batch", func(t *testing.T, path string, recs []record) int {
			i := len(recs) - 1 - rand.IntN(min(20, len(recs)))
			r := recs[i]
			cut := r.start + 1 + rand.Int64N(r.end-r.start-1) // inside record i
			if err := os.Truncate(path, cut); err != nil {
				t.Fatal(err)
			}
			return i
		}},
		{"zeros-appended", func(t *testing.T, path string, recs []record) int {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 4096))
			f.Close()
			return len(recs)
		}},
		{"flipped-byte-in-last-record", func(t *testing.T, path string, recs []record) int {
			data, _ := os.ReadFile(path)
			last := recs[len(recs)-1]
			data[last.end-2] ^= 0x20
			os.WriteFile(path, data, 0o644)
			return len(recs) - 1
		}},
	}
	idRE := regexp.MustCompile(`^w\d+-\d+$`)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := startChild(t, dir)
			stop := make(chan struct{})
			result := make(chan []string)
			go func() { result <- load(t, srv.ingest, 8, stop) }()
			time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
			srv.kill(t)
			close(stop)
			<-result

			path, recs := lastSegmentRecords(t, filepath.Join(dir, "wal"))
			if len(recs) < 20 {
				t.Fatalf("only %d records before the damage", len(recs))
			}
			whole := d.damage(t, path, recs)

			srv = startChild(t, dir)
			waitApplied(t, srv.ingest)
			srv.stop(t)
			stored := storedIDs(t, dir)
			for _, r := range recs[:whole] {
				if r.id != "" && stored[r.id] != 1 {
					t.Fatalf("whole record of %s before the damage stored %d times", r.id, stored[r.id])
				}
			}
			for id, n := range stored {
				if !idRE.MatchString(id) || n != 1 {
					t.Fatalf("stored %q %d times: a phantom or a duplicate", id, n)
				}
			}
			t.Logf("%d whole records before the damage, all stored once; %d events stored", whole, len(stored))
		})
	}
}

// storedIDs counts the stored events of the load, by id: the query of
// their page URL.
func storedIDs(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	db := openDB(t, dataDir)
	defer db.Close()
	rows, err := db.Query(`SELECT query FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(fmt.Errorf("reading events: %w", err))
	}
	return ids
}
