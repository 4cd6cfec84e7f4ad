package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGoalsCommands(t *testing.T) {
	dir := t.TempDir()
	f := func(args []string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		code, out, errOut := cli(t, dir, args...)
		if code != wantCode || out != wantOut || !strings.Contains(errOut, wantErr) {
			t.Errorf("sitelog %q: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout %q, stderr containing %q", args, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	args := strings.Fields
	f(args("goals list"), 0, "SITE  NAME  GOAL  CREATED\n", "")
	f(args("goals add --site s --path /blog/*"), 0, "added goal \"Visit /blog/*\" of site s: page /blog/*\n", "")
	f(args("goals add --site s --event signup"), 0, "added goal \"signup\" of site s: event signup\n", "")
	f([]string{"goals", "add", "--site", "t", "--event", "purchase", "--name", "Bought something"}, 0,
		"added goal \"Bought something\" of site t: event purchase\n", "")
	// Flags may follow one another in any order; the same goal again is
	// no change.
	f(args("goals add --event signup --site s"), 0, "goal \"signup\" of site s exists already: event signup\n", "")

	code, out, _ := cli(t, dir, "goals", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[1], "s     Visit /blog/*     page /blog/*    20") ||
		!strings.HasPrefix(lines[2], "s     signup            event signup    20") ||
		!strings.HasPrefix(lines[3], "t     Bought something  event purchase  20") {
		t.Errorf("goals list: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, dir, "goals", "list", "--site", "t", "--json")
	var listed []struct {
		ID        int64  `json:"id"`
		Site      string `json:"site_id"`
		Name      string `json:"name"`
		EventName string `json:"event_name"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 1 ||
		listed[0].Site != "t" || listed[0].Name != "Bought something" || listed[0].EventName != "purchase" {
		t.Errorf("goals list --site t --json: exit %d, %v\n%s", code, err, out)
	}

	// Mistakes the user must fix: exit 2.
	f(args("goals add --site s"), 2, "", "give --site ID and either --event NAME or --path PATTERN")
	f(args("goals add --event signup"), 2, "", "give --site ID and either --event NAME or --path PATTERN")
	f(args("goals add --site s --event a --path /a"), 2, "", "give --site ID and either --event NAME or --path PATTERN")
	f(args("goals add --site s --path pricing"), 2, "", "page_path: must start with /")
	f(args("goals add --site bad/id --event a"), 2, "", "site_id: must be 1-100 characters")
	f(args("goals add --site s --event x extra"), 2, "", `unexpected arguments ["extra"]`)
	f(args("goals remove --site s"), 2, "", "give --site ID and --name NAME")
	f(args("goals nope"), 2, "", `unknown command "nope"`)
	f(args("goals"), 2, "", "usage: sitelog goals")
	// Conflicts and absences: exit 1.
	f(args("goals add --site s --path /signup --name signup"), 1, "",
		`site s has a goal named "signup" already (event signup); remove it first`)
	f([]string{"goals", "remove", "--site", "s", "--name", "Visit /blog/*"}, 0, "removed goal \"Visit /blog/*\" of site s (what it counted stays)\n", "")
	f([]string{"goals", "remove", "--site", "s", "--name", "Visit /blog/*"}, 1, "", "not found")
	f(args("goals help"), 0, goalsUsage, "")
}

// Goals added while the server runs count from the next batch the worker
// applies, and the raw events list filters on them.
func TestGoalsWhileServing(t *testing.T) {
	dir := t.TempDir()
	srv := startChild(t, dir)
	if code, _, errOut := cli(t, dir, "goals", "add", "--site", "live", "--event", "signup", "--name", "Signed up"); code != 0 {
		t.Fatalf("goals add while serving: %s", errOut)
	}
	if code, _, errOut := cli(t, dir, "goals", "add", "--site", "live", "--path", "/docs/*"); code != 0 {
		t.Fatalf("goals add while serving: %s", errOut)
	}
	body := `[{"site_id":"live","path":"/docs/intro","user_id":"u1"},{"site_id":"live","event_type":"signup","user_id":"u1"},` +
		`{"site_id":"live","path":"/","user_id":"u2"}]`
	if code, resp := request(t, "POST", srv.ingest+"/events", "", body); code != http.StatusAccepted {
		t.Fatalf("POST /events: %d %s", code, resp)
	}
	waitApplied(t, srv.ingest)

	query := `{"site_id":"live","metrics":["events"],"date_range":"all","dimensions":["goal"],"order_by":[["goal","asc"]]}`
	code, resp := request(t, "POST", srv.report+"/api/v1/query", "", query)
	if code != http.StatusOK || !strings.Contains(resp, `{"dimensions":["Signed up"],"metrics":[1]}`) ||
		!strings.Contains(resp, `{"dimensions":["Visit /docs/*"],"metrics":[1]}`) {
		t.Errorf("goal conversions: %d %s", code, resp)
	}
	filters := url.QueryEscape(`[["is","goal",["Visit /docs/*","Signed up"]]]`)
	code, resp = request(t, "GET", srv.report+"/api/v1/events?site_id=live&filters="+filters, "", "")
	if code != http.StatusOK || strings.Count(resp, `"type":`) != 2 || strings.Contains(resp, `"path":"/"`) {
		t.Errorf("events completing a goal: %d %s", code, resp)
	}
	srv.stop(t)
}
