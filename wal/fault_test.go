package wal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteOrFsyncFailurePoisons injects a failure into the write or the
// fsync of one group commit: that group and every later append are
// refused, the log reports unready, the fsync is never tried again, and
// after a restart the log opens consistent with every acknowledged entry.
func TestWriteOrFsyncFailurePoisons(t *testing.T) {
	for _, op := range []string{"write", "fsync"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := 1; i <= 10; i++ {
				if _, err := l.Append(ctx, rec(i)); err != nil {
					t.Fatal(err)
				}
			}
			eio := errors.New("injected EIO")
			calls := map[string]int{}
			l.do(ctx, func() {
				l.fault = func(o string) error {
					calls[o]++
					if o == op {
						return eio
					}
					return nil
				}
			})
			if _, err := l.Append(ctx, rec(11)); !errors.Is(err, ErrPoisoned) {
				t.Fatalf("append during the failure: %v, want ErrPoisoned", err)
			}
			if _, err := l.Append(ctx, rec(12)); !errors.Is(err, ErrPoisoned) {
				t.Fatalf("append after the failure: %v, want ErrPoisoned", err)
			}
			if l.Ready() {
				t.Fatal("poisoned log reports ready")
			}
			var n map[string]int
			l.do(ctx, func() { l.housekeep(); n = map[string]int{"write": calls["write"], "fsync": calls["fsync"]} })
			if n[op] != 1 {
				t.Fatalf("%s tried %d times, want exactly once", op, n[op])
			}
			l.Close()

			l = openT(t, dir, Options{})
			all := readAll(t, l)
			if len(all) < 10 {
				t.Fatalf("after restart %d entries, want the 10 acknowledged", len(all))
			}
			for _, e := range all[:10] {
				if !bytes.Equal(e.Data, rec(int(e.Index))) {
					t.Fatalf("entry %d = %q", e.Index, e.Data)
				}
			}
			if _, err := l.Append(ctx, []byte("again")); err != nil {
				t.Fatalf("append after restart: %v", err)
			}
		})
	}
}

// TestDiskFullReserve drives a log on a small tmpfs to its free-space
// reserve: appends are refused with ErrDiskFull before the disk is full,
// nothing refused is stored, and appends resume without a restart when
// space returns.
func TestDiskFullReserve(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).Run(); err != nil {
		msg := "mounting a tmpfs needs root (run the tests as root, or in CI): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "wal")
	l := openT(t, logDir, Options{SegmentSize: 1 << 20, MinFreeBytes: 3 << 20})
	ctx := context.Background()
	payload := bytes.Repeat([]byte("x"), 1000)
	var acked uint64
	for i := 0; ; i++ {
		if i > 20000 {
			t.Fatal("never reached the reserve")
		}
		idx, err := l.Append(ctx, payload)
		if errors.Is(err, ErrDiskFull) {
			break
		}
		if err != nil {
			t.Fatalf("append %d: %v (a write must never hit a full disk)", i, err)
		}
		acked = idx
	}
	if !l.Ready() {
		t.Fatal("a log refusing for lack of space must not be poisoned")
	}
	var st syscall.Statfs_t
	syscall.Statfs(dir, &st)
	if free := st.Bavail * uint64(st.Bsize); free < 1<<20 {
		t.Fatalf("only %d bytes left: the reserve did not hold", free)
	}
	if l.LastIndex() != acked {
		t.Fatalf("log holds %d entries, %d were acknowledged", l.LastIndex(), acked)
	}

	os.Remove(filler)
	waitFor(t, func() bool {
		_, err := l.Append(ctx, payload)
		return err == nil
	})
	if got := len(readAll(t, l)); uint64(got) != acked+1 {
		t.Fatalf("after space returned the log holds %d entries, want %d", got, acked+1)
	}
}
