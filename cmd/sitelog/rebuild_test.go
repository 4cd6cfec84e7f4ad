package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestRebuildCommand changes a site's time zone and rebuilds, beside a
// running server and then without one: the site's page view moves to the
// day it had in its new zone.
func TestRebuildCommand(t *testing.T) {
	dir := t.TempDir()
	srv := startChild(t, dir)
	// 03:30 UTC on the 14th is 22:30 on the 13th in New York.
	ev := `{"site_id":"tz","path":"/","user_id":"u1","timestamp":"2025-11-14T03:30:00Z"}`
	if code, body := request(t, "POST", srv.ingest+"/event", "", ev); code != http.StatusAccepted {
		t.Fatalf("event: %d %s", code, body)
	}
	waitApplied(t, srv.ingest)
	views := func(day string) string {
		t.Helper()
		code, body := request(t, "GET", srv.report+"/stats?site_id=tz&date="+day, "", "")
		if code != http.StatusOK {
			t.Fatalf("stats: %d %s", code, body)
		}
		_, rest, _ := strings.Cut(body, `"total_views":`)
		v, _, _ := strings.Cut(rest, ",")
		return v
	}
	if v13, v14 := views("2025-11-13"), views("2025-11-14"); v13 != "0" || v14 != "1" {
		t.Fatalf("in UTC: views on the 13th %s, on the 14th %s", v13, v14)
	}
	if code, _, errOut := cli(t, dir, "sites", "add", "tz", "--tz", "America/New_York"); code != 0 {
		t.Fatalf("sites add: %s", errOut)
	}
	code, out, errOut := cli(t, dir, "rebuild", "--site", "tz")
	if code != 0 || !strings.Contains(out, "a server is running") || !strings.Contains(out, "rebuilt site tz") {
		t.Fatalf("rebuild beside the server: %d %q %q", code, out, errOut)
	}
	if v13, v14 := views("2025-11-13"), views("2025-11-14"); v13 != "1" || v14 != "0" {
		t.Errorf("in New York: views on the 13th %s, on the 14th %s", v13, v14)
	}
	srv.stop(t)

	code, out, errOut = cli(t, dir, "rebuild")
	if code != 0 || !strings.Contains(out, "rebuilt every site from 1 raw events") {
		t.Fatalf("rebuild without a server: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, dir, "rebuild", "--site", "bad site"); code != 2 {
		t.Errorf("rebuild of an invalid site id: %d %s", code, errOut)
	}
}
