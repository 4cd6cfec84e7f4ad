package main

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var lagRE = regexp.MustCompile(`(?m)^sitelog_queue_lag_events (\S+)$`)

// TestDatabaseLocked has another process's connection hold the database's
// write lock during a load: ingest keeps acknowledging, the queue lag
// rises, reports still answer (200, or 503 within their timeout, never a
// hang), and once the lock is released the lag drains to 0 with every
// acknowledged event stored once.
func TestDatabaseLocked(t *testing.T) {
	hold := 10 * time.Second
	if testing.Short() {
		hold = 3 * time.Second
	}
	dir := t.TempDir()
	srv := startChild(t, dir)
	// The server has created the database; take its write lock.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "sitelog.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()

	stop := make(chan struct{})
	result := make(chan []string)
	go func() { result <- load(t, srv.ingest, 4, stop) }()
	var maxLag float64
	reports := map[int]int{}
	client := &http.Client{Timeout: 30 * time.Second} // far past the report's 5 s query timeout
	for time.Since(locked) < hold {
		_, m := get(t, srv.ingest+"/metrics")
		if v := lagRE.FindStringSubmatch(m); v != nil {
			lag, _ := strconv.ParseFloat(v[1], 64)
			maxLag = max(maxLag, lag)
		}
		resp, err := client.Get(srv.report + "/stats?site_id=load")
		if err != nil {
			t.Fatalf("report during the lock: %v", err)
		}
		resp.Body.Close()
		reports[resp.StatusCode]++
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	acked := <-result
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if len(acked) == 0 {
		t.Fatal("ingest acknowledged nothing while the database was locked")
	}
	if maxLag == 0 {
		t.Fatal("the queue lag never rose while the database was locked")
	}
	for code := range reports {
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Fatalf("reports during the lock answered %v", reports)
		}
	}
	waitApplied(t, srv.ingest)
	srv.stop(t)
	checkStored(t, dir, acked)
	t.Logf("lock held %v: %d events acknowledged meanwhile, lag peaked at %.0f, reports %v; all applied after", hold, len(acked), maxLag, reports)
}
