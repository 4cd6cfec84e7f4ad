package rollup

import (
	"context"
	"path/filepath"
	"testing"
)

func TestBackupIsAConsistentCopy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sitelog.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.db.Exec(`INSERT INTO daily (site_id, day, views) VALUES ('s', '2025-11-14', 7)`); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := Backup(context.Background(), path, dest); err != nil {
		t.Fatal(err)
	}
	c, err := OpenReadOnly(dest)
	if err != nil {
		t.Fatalf("the copy does not open as a database of this schema: %v", err)
	}
	defer c.Close()
	var views int
	if err := c.QueryRow(`SELECT views FROM daily WHERE site_id = 's'`).Scan(&views); err != nil || views != 7 {
		t.Fatalf("copy holds views %d, %v; want 7", views, err)
	}
	if err := Backup(context.Background(), path, dest); err == nil {
		t.Fatal("backup over an existing file succeeded")
	}
}
