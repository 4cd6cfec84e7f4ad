package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackupAndRestore backs up the database of a running server under
// load, then restores it two ways. Restored beside its log, the events
// appended after the backup are applied again from the log, so nothing is
// lost or counted twice. Restored alone in a new data directory, it holds
// exactly what it held at the backup.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	srv := startChild(t, dir)
	stop := make(chan struct{})
	result := make(chan []string)
	go func() { result <- load(t, srv.ingest, 4, stop) }()
	time.Sleep(300 * time.Millisecond)
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	var out, errOut bytes.Buffer
	if c := run(context.Background(), []string{"backup", "--data-dir", dir, copyPath}, func(string) string { return "" }, &out, &errOut); c != 0 {
		t.Fatalf("backup exited %d: %s", c, errOut.String())
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	acked := <-result
	srv.stop(t)

	// Alone in a new data directory: a consistent database on its own.
	fresh := t.TempDir()
	copyFile(t, copyPath, filepath.Join(fresh, "sitelog.db"))
	backedUp := storedIDs(t, fresh)
	if len(backedUp) == 0 || len(backedUp) >= len(acked) {
		t.Fatalf("backup holds %d events of %d acknowledged: not a copy taken mid-load", len(backedUp), len(acked))
	}
	db := openDB(t, fresh)
	checkRecount(t, db)
	db.Close()

	// Beside its log: the log still holds every event since the backup's
	// checkpoint, and they are applied again, exactly once.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "sitelog.db"+suffix))
	}
	copyFile(t, copyPath, filepath.Join(dir, "sitelog.db"))
	srv = startChild(t, dir)
	waitApplied(t, srv.ingest)
	srv.stop(t)
	checkStored(t, dir, acked)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
