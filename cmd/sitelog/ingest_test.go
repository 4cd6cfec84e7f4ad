package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDerivedEndToEnd runs the real run() behind a trusted proxy
// (--trusted-proxies, from its variable), sends a browser's page view to
// POST /event and to Plausible's POST /api/event, and checks what the
// database holds: every derived value, and nowhere under the data
// directory (log, database, salts) the client's address or User-Agent.
func TestDerivedEndToEnd(t *testing.T) {
	const (
		clientIP = "81.2.69.160" // a GB address in the embedded IP2Location LITE data
		marker   = "SitelogE2EMarker"
		ua       = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 " + marker + "/1.0"
	)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	dir := t.TempDir()
	env := map[string]string{"SITELOG_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "--data-dir", dir, "--ingest-addr", "127.0.0.1:0", "--report-addr", "127.0.0.1:0", "--fsync", "interval"},
			func(k string) string { return env[k] }, io.Discard, pw)
		pw.Close()
	}()
	logs := &syncBuffer{}
	addrs := waitListening(t, pr, logs, 2)
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	}()

	send := func(path, body, wantBody string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, addrs["ingest"]+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("User-Agent", ua)
		req.Header.Set("X-Forwarded-For", clientIP)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || string(got) != wantBody {
			t.Fatalf("POST %s: %d %q, want 202 %q", path, resp.StatusCode, got, wantBody)
		}
	}
	send("/event", `{"site_id":"shop","url":"https://Shop.Example/cart?utm_source=mail","referrer":"https://news.ycombinator.com/item?id=7","screen_width":1440,"props":{"items":3}}`,
		`{"status":"queued"}`+"\n")
	send("/api/event", `{"n":"pageview","u":"https://shop.example/","d":"shop","r":null,"w":1440}`, "ok")
	waitApplied(t, addrs["ingest"])
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("run exited %d after cancel", c)
	}

	db := openDB(t, dir)
	defer db.Close()
	rows, err := db.Query(`SELECT path, hostname, source, referrer, utm_source, browser, os, device, country, screen_width, props, visitor
		FROM events ORDER BY log_index`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	var visitors []int64
	for rows.Next() {
		var path, host, source, ref, utm, browser, os, device, country, props string
		var width int
		var visitor int64
		if err := rows.Scan(&path, &host, &source, &ref, &utm, &browser, &os, &device, &country, &width, &props, &visitor); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{path, host, source, ref, utm, browser, os, device, country, props}, "|"))
		visitors = append(visitors, visitor)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`/cart|shop.example|Hacker News|news.ycombinator.com/item|mail|Chrome|Windows|Desktop|GB|{"items":"3"}`,
		`/|shop.example||||Chrome|Windows|Desktop|GB|`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// One browser at one address on one site and day: one visitor.
	if len(visitors) != 2 || visitors[0] == 0 || visitors[0] != visitors[1] {
		t.Errorf("visitors %v, want one, twice", visitors)
	}

	if _, err := os.Stat(filepath.Join(dir, "salts", "salts.json")); err != nil {
		t.Errorf("no salts file: %v", err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{clientIP, marker} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds %q", path, secret)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
