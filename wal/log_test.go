package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openT(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func rec(i int) []byte { return []byte(fmt.Sprintf("record-%04d", i)) }

// fill appends records 1..n one by one and closes the log.
func fill(t *testing.T, dir string, opts Options, n int, data func(int) []byte) {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		idx, err := l.Append(context.Background(), data(i))
		if err != nil || idx != uint64(i) {
			t.Fatalf("append %d: index %d, %v", i, idx, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every entry from 1 to the log's end.
func readAll(t *testing.T, l *Log) []Entry {
	t.Helper()
	var all []Entry
	for from := uint64(1); from <= l.LastIndex(); {
		es, err := l.Read(context.Background(), from, 1000, nil)
		if err != nil {
			t.Fatalf("read from %d: %v", from, err)
		}
		all = append(all, es...)
		from += uint64(len(es))
	}
	return all
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	starts, err := segments(dir)
	if err != nil || len(starts) == 0 {
		t.Fatalf("segments of %s: %v %v", dir, starts, err)
	}
	return segmentPath(dir, starts[len(starts)-1])
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, Options{}, 50, rec)
	l := openT(t, dir, Options{})
	all := readAll(t, l)
	if len(all) != 50 {
		t.Fatalf("read %d entries, want 50", len(all))
	}
	for i, e := range all {
		if e.Index != uint64(i+1) || !bytes.Equal(e.Data, rec(i+1)) {
			t.Fatalf("entry %d = %d %q", i, e.Index, e.Data)
		}
	}
	idx, err := l.Append(context.Background(), rec(51), rec(52))
	if err != nil || idx != 51 || l.LastIndex() != 52 {
		t.Fatalf("append after reopen: first %d last %d err %v", idx, l.LastIndex(), err)
	}
}

// TestGroupCommit has many goroutines append at once, singly and in
// batches, and checks that each was told the index its records really got.
func TestGroupCommit(t *testing.T) {
	for _, mode := range []FsyncMode{FsyncAlways, FsyncInterval} {
		t.Run(mode.String(), func(t *testing.T) {
			l := openT(t, t.TempDir(), Options{Fsync: mode, SegmentSize: 8 << 10})
			const writers, each = 16, 50
			got := make(map[uint64]string)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						n := 1 + i%3 // one, two or three records per append
						recs := make([][]byte, n)
						for k := range recs {
							recs[k] = fmt.Appendf(nil, "w%d-i%d-k%d", w, i, k)
						}
						first, err := l.Append(context.Background(), recs...)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						for k, r := range recs {
							got[first+uint64(k)] = string(r)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			all := readAll(t, l)
			if len(all) != len(got) {
				t.Fatalf("log has %d entries, appenders were given %d indexes", len(all), len(got))
			}
			for _, e := range all {
				if got[e.Index] != string(e.Data) {
					t.Fatalf("entry %d holds %q, its appender was told %q", e.Index, e.Data, got[e.Index])
				}
			}
			// The mirror of tidwall/wal's segment cycling must match the files.
			var starts []uint64
			l.do(context.Background(), func() { starts = append(starts, l.segStarts...) })
			onDisk, _ := segments(l.Dir())
			if fmt.Sprint(starts) != fmt.Sprint(onDisk) {
				t.Fatalf("segment starts: tracked %v, on disk %v", starts, onDisk)
			}
			if len(onDisk) < 2 {
				t.Fatalf("expected several segments, got %v", onDisk)
			}
		})
	}
}

// TestGroupWait checks when the owner waits for more appends before a
// group's fsync: with FsyncAlways, after a group of several appends, and
// never for a lone appender or with FsyncInterval.
func TestGroupWait(t *testing.T) {
	for _, c := range []struct {
		mode  FsyncMode
		waits []float64 // after the concurrent group, the first and the second lone append
	}{
		{FsyncAlways, []float64{0, 1, 1}},
		{FsyncInterval, []float64{0, 0, 0}},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			m := NewMetrics(newRegistry())
			l := openT(t, t.TempDir(), Options{Fsync: c.mode, Metrics: m})
			ctx := context.Background()
			// Hold the owner while three appends queue, so that they make
			// one group.
			release, held := make(chan struct{}), make(chan struct{})
			go l.do(ctx, func() { close(held); <-release })
			<-held
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() {
					if _, err := l.Append(ctx, rec(i)); err != nil {
						t.Error(err)
					}
				})
			}
			for len(l.appends) < 3 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			wg.Wait()
			got := []float64{counterValue(t, m.groupWaits)}
			for i := range 2 {
				if _, err := l.Append(ctx, rec(10+i)); err != nil {
					t.Fatal(err)
				}
				got = append(got, counterValue(t, m.groupWaits))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.waits) {
				t.Errorf("group waits after the group of 3 and two lone appends: %v, want %v", got, c.waits)
			}
			if l.LastIndex() != 5 {
				t.Errorf("last index %d, want 5", l.LastIndex())
			}
		})
	}
}

// TestDamagedTail damages a closed log in each way a crash or the disk can,
// then checks that open succeeds and exactly which records survive.
func TestDamagedTail(t *testing.T) {
	const n = 20
	long := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 200) } // two-byte length prefix
	cases := []struct {
		name      string
		data      func(int) []byte
		damage    func(t *testing.T, seg string, size int64)
		survivors int   // entries 1..survivors are present after reopen
		skipped   []int // of those, entries that read back as damaged no-ops
		repaired  bool
	}{
		{
			name:      "torn-last-record",
			data:      rec,
			damage:    func(t *testing.T, seg string, size int64) { truncateFile(t, seg, size-3) },
			survivors: n - 1, repaired: true,
		},
		{
			name: "partial-length-prefix",
			data: long,
			// The last entry is 2 prefix bytes + 4 checksum + 200 data: keep one prefix byte.
			damage:    func(t *testing.T, seg string, size int64) { truncateFile(t, seg, size-205) },
			survivors: n - 1, repaired: true,
		},
		{
			name:      "zeros-appended",
			data:      rec,
			damage:    func(t *testing.T, seg string, size int64) { appendFile(t, seg, make([]byte, 4096)) },
			survivors: n, repaired: true,
		},
		{
			name:      "flipped-byte-in-last-record",
			data:      rec,
			damage:    func(t *testing.T, seg string, size int64) { flipByte(t, seg, size-2) },
			survivors: n - 1, repaired: true,
		},
		{
			name: "flipped-byte-in-older-record",
			data: rec,
			// Each entry is 1 + 4 + 11 bytes; byte 16*4+10 lies in entry 5's data.
			damage:    func(t *testing.T, seg string, size int64) { flipByte(t, seg, 16*4+10) },
			survivors: n, skipped: []int{5},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, Options{}, n, c.data)
			seg := lastSegment(t, dir)
			fi, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			c.damage(t, seg, fi.Size())

			m := NewMetrics(newRegistry())
			l := openT(t, dir, Options{Metrics: m})
			if got := l.LastIndex(); got != uint64(c.survivors) {
				t.Fatalf("last index after repair = %d, want %d", got, c.survivors)
			}
			skipped := map[uint64]bool{}
			for _, s := range c.skipped {
				skipped[uint64(s)] = true
			}
			for _, e := range readAll(t, l) {
				want := c.data(int(e.Index))
				if skipped[e.Index] {
					want = nil
				}
				if !bytes.Equal(e.Data, want) {
					t.Fatalf("entry %d = %q, want %q", e.Index, e.Data, want)
				}
			}
			if got := counterValue(t, m.repairs); got != boolFloat(c.repaired) {
				t.Fatalf("repairs counted %v, want %v", got, boolFloat(c.repaired))
			}
			if got := counterValue(t, m.damaged); got != float64(len(c.skipped)) {
				t.Fatalf("damaged records counted %v, want %d", got, len(c.skipped))
			}
			saved, _ := filepath.Glob(filepath.Join(dir, corruptDir, "*.corrupt"))
			if c.repaired != (len(saved) == 1) {
				t.Fatalf("saved tails %v, repaired %v", saved, c.repaired)
			}
			// New entries continue right after the survivors and read back.
			idx, err := l.Append(context.Background(), []byte("after"))
			if err != nil || idx != uint64(c.survivors+1) {
				t.Fatalf("append after repair: %d %v", idx, err)
			}
			es, err := l.Read(context.Background(), idx, 1, nil)
			if err != nil || string(es[0].Data) != "after" {
				t.Fatalf("read after repair: %v %v", es, err)
			}
		})
	}
}

// TestDamageInOlderSegment flips a byte in a segment that is not the last:
// only that record is lost, and only when it is read.
func TestDamageInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 256}
	fill(t, dir, opts, 100, rec)
	starts, _ := segments(dir)
	if len(starts) < 3 {
		t.Fatalf("want several segments, got %v", starts)
	}
	flipByte(t, segmentPath(dir, starts[1]), 10) // inside entry starts[1]
	l := openT(t, dir, opts)
	all := readAll(t, l)
	if len(all) != 100 {
		t.Fatalf("read %d entries, want 100", len(all))
	}
	for _, e := range all {
		if want := rec(int(e.Index)); e.Index == starts[1] && e.Data != nil || e.Index != starts[1] && !bytes.Equal(e.Data, want) {
			t.Fatalf("entry %d = %q", e.Index, e.Data)
		}
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, Options{}, 1, rec)
	l := openT(t, dir, Options{})
	id := l.Identity()
	l.Close()
	if other := openT(t, t.TempDir(), Options{}).Identity(); other == id || len(id) != 32 {
		t.Fatalf("identities %q and %q", id, other)
	}
	if again := openT(t, dir, Options{}).Identity(); again != id {
		t.Fatalf("identity changed on reopen: %q then %q", id, again)
	}
	// Segments without their identity are refused, not silently renamed.
	dir2 := t.TempDir()
	fill(t, dir2, Options{}, 1, rec)
	os.Remove(filepath.Join(dir2, identityFile))
	if _, err := Open(dir2, Options{}); err == nil {
		t.Fatal("open of segments without identity succeeded")
	}
}

func TestPrepare(t *testing.T) {
	t.Run("pads a log that ends a little behind", func(t *testing.T) {
		dir := t.TempDir()
		fill(t, dir, Options{}, 10, rec)
		l := openT(t, dir, Options{})
		if err := l.Prepare(15); err != nil {
			t.Fatal(err)
		}
		all := readAll(t, l)
		for _, e := range all[10:] {
			if e.Data != nil {
				t.Fatalf("padding entry %d holds %q", e.Index, e.Data)
			}
		}
		if idx, err := l.Append(context.Background(), rec(16)); err != nil || idx != 16 {
			t.Fatalf("first append after padding: %d %v, want 16", idx, err)
		}
	})
	t.Run("refuses a log far behind", func(t *testing.T) {
		l := openT(t, t.TempDir(), Options{})
		if err := l.Prepare(MaxPadding + 1); !errors.Is(err, ErrBehind) {
			t.Fatalf("got %v, want ErrBehind", err)
		}
	})
	t.Run("refuses a log that starts after the checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		opts := Options{SegmentSize: 128}
		l := openT(t, dir, opts)
		for i := 1; i <= 40; i++ {
			l.Append(context.Background(), rec(i))
		}
		l.SetApplied(40)
		waitFor(t, func() bool { s, _ := segments(dir); return s[0] > 1 })
		l.Close()
		l = openT(t, dir, opts)
		if err := l.Prepare(0); !errors.Is(err, ErrGap) {
			t.Fatalf("got %v, want ErrGap", err)
		}
	})
}

func TestTruncatesAppliedSegments(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 256})
	for i := 1; i <= 200; i++ {
		if _, err := l.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := segments(dir)
	l.SetApplied(120)
	waitFor(t, func() bool { s, _ := segments(dir); return s[0] != before[0] })
	after, _ := segments(dir)
	if after[0] > 121 {
		t.Fatalf("truncated to %d, past the first unapplied entry 121", after[0])
	}
	if len(after) >= len(before) {
		t.Fatalf("segments before %v after %v", before, after)
	}
	es, err := l.Read(context.Background(), 121, 80, nil)
	if err != nil || len(es) != 80 || string(es[0].Data) != string(rec(121)) {
		t.Fatalf("read after truncation: %d entries, %v", len(es), err)
	}
	if _, err := l.Read(context.Background(), 1, 1, nil); err == nil {
		t.Fatal("read of a truncated entry succeeded")
	}
}

func TestBacklogBound(t *testing.T) {
	l := openT(t, t.TempDir(), Options{MaxBacklog: 5})
	ctx := context.Background()
	if _, err := l.Append(ctx, rec(1), rec(2), rec(3), rec(4), rec(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, rec(6)); !errors.Is(err, ErrBacklog) {
		t.Fatalf("append over the bound: %v, want ErrBacklog", err)
	}
	l.SetApplied(3)
	if _, err := l.Append(ctx, rec(6)); err != nil {
		t.Fatalf("append after apply: %v", err)
	}
}

func TestBacklogBytesBound(t *testing.T) {
	l := openT(t, t.TempDir(), Options{MaxBacklogBytes: 100})
	ctx := context.Background()
	big := make([]byte, 60)
	if _, err := l.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, big); !errors.Is(err, ErrBacklog) {
		t.Fatalf("append over the byte bound: %v, want ErrBacklog", err)
	}
	l.SetApplied(1)
	// Applied bytes are seen at the owner's next housekeeping.
	waitFor(t, func() bool { _, err := l.Append(ctx, big); return err == nil })
}

func TestReadWaitsAndClose(t *testing.T) {
	l := openT(t, t.TempDir(), Options{Fsync: FsyncInterval})
	got := make(chan []Entry)
	go func() {
		es, _ := l.Read(context.Background(), 1, 10, nil)
		got <- es
	}()
	if _, err := l.Append(context.Background(), rec(1)); err != nil {
		t.Fatal(err)
	}
	if es := <-got; len(es) != 1 || string(es[0].Data) != string(rec(1)) {
		t.Fatalf("woken read returned %v", es)
	}

	blocked := make(chan error)
	go func() {
		_, err := l.Read(context.Background(), 2, 10, nil)
		blocked <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Fatalf("read blocked at close: %v, want ErrClosed", err)
	}
	if _, err := l.Append(context.Background(), rec(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if l.Ready() {
		t.Fatal("closed log reports ready")
	}
}

func TestReadCancelled(t *testing.T) {
	l := openT(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Read(ctx, 1, 1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
}

// waitFor polls cond until it holds; the owner's housekeeping runs every
// SyncInterval. The bound only keeps a broken build from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition never held")
}

func truncateFile(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
