package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cli runs the sitelog command line with SITELOG_DATA_DIR set to dataDir
// and returns its exit code and output.
func cli(t *testing.T, dataDir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "SITELOG_DATA_DIR" {
			return dataDir
		}
		return ""
	}
	code = run(context.Background(), args, env, &out, &errOut)
	return code, out.String(), errOut.String()
}

// request sends a request with an optional bearer token and JSON body.
func request(t *testing.T, method, url, token, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond until it holds. Servers re-read the registry every
// second; the bound only ends a test that would otherwise hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func TestSitesCommands(t *testing.T) {
	dir := t.TempDir()
	f := func(args string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		code, out, errOut := cli(t, dir, strings.Fields(args)...)
		if code != wantCode || out != wantOut || !strings.Contains(errOut, wantErr) {
			t.Errorf("sitelog %s: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout %q, stderr containing %q", args, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	f("sites list", 0, "ID  HOSTNAMES  TIME ZONE\n", "")
	f("sites add site-123 --hostnames example.com,WWW.example.com --tz Europe/Berlin", 0,
		"added site site-123: hostnames example.com,www.example.com, time zone Europe/Berlin\n", "")
	f("sites add --tz Asia/Tokyo blog", 0, "added site blog: hostnames -, time zone Asia/Tokyo\n", "")
	// Adding a registered site changes what the flags give, and only that.
	f("sites add site-123 --tz UTC", 0, "updated site site-123: hostnames example.com,www.example.com, time zone UTC\n", "")
	f("sites add blog --hostnames blog.example,", 0, "updated site blog: hostnames blog.example, time zone Asia/Tokyo\n", "")
	f("sites list", 0, ""+
		"ID        HOSTNAMES                    TIME ZONE\n"+
		"blog      blog.example                 Asia/Tokyo\n"+
		"site-123  example.com,www.example.com  UTC\n", "")
	code, out, _ := cli(t, dir, "sites", "list", "--json")
	var list []struct {
		ID        string   `json:"id"`
		Hostnames []string `json:"hostnames"`
		TimeZone  string   `json:"time_zone"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 || list[0].ID != "blog" || list[1].Hostnames[1] != "www.example.com" {
		t.Errorf("sites list --json: exit %d, %v: %s", code, err, out)
	}
	f("sites remove blog", 0, "removed site blog (its events and reports stay)\n", "")
	f("sites remove blog", 1, "", `sitelog sites remove: sites: remove site "blog": not found`)
	f("sites list", 0, "ID        HOSTNAMES                    TIME ZONE\nsite-123  example.com,www.example.com  UTC\n", "")

	// --data-dir beats SITELOG_DATA_DIR.
	f("sites list --data-dir "+t.TempDir(), 0, "ID  HOSTNAMES  TIME ZONE\n", "")

	// Mistakes: exit 2, and nothing changes.
	f("sites", 2, "", "usage: sitelog sites")
	f("sites frob", 2, "", `unknown command "frob"`)
	f("sites add", 2, "", "sitelog sites add: give one site ID")
	f("sites add a b", 2, "", "sitelog sites add: give one site ID")
	f("sites add bad/id", 2, "", "site_id: must be 1-100 characters")
	f("sites add x --tz Mars/Base", 2, "", `time_zone: "Mars/Base" is not an IANA time zone name`)
	f("sites add x --hostnames https://x.example", 2, "", "without scheme or path")
	f("sites list extra", 2, "", `unexpected arguments ["extra"]`)
	f("sites remove", 2, "", "give one site ID")
	f("sites add x --nope", 2, "", "flag provided but not defined: -nope")
	f("sites list", 0, "ID        HOSTNAMES                    TIME ZONE\nsite-123  example.com,www.example.com  UTC\n", "")
	f("sites help", 0, sitesUsage, "")
}

func TestAccessConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	f := func(args []string, vars map[string]string, strict, require bool) {
		t.Helper()
		cfg, err := parseConfig(modeServe, args, env(vars), io.Discard)
		if err != nil || cfg.StrictSites != strict || cfg.RequireKeys != require {
			t.Errorf("parseConfig(%q, %v) = strict %v, require %v, %v; want %v, %v", args, vars, cfg.StrictSites, cfg.RequireKeys, err, strict, require)
		}
	}
	f(nil, nil, false, false)
	f([]string{"--strict-sites"}, nil, true, false)
	f([]string{"--strict-sites=false"}, map[string]string{"SITELOG_STRICT_SITES": "true"}, false, false)
	f(nil, map[string]string{"SITELOG_STRICT_SITES": "true", "SITELOG_REPORT_AUTH": "required"}, true, true)
	f([]string{"--report-auth", "auto"}, map[string]string{"SITELOG_REPORT_AUTH": "required"}, false, false)
	f([]string{"--report-auth=required"}, nil, false, true)
	for _, c := range []struct {
		args []string
		vars map[string]string
	}{
		{[]string{"--report-auth", "sometimes"}, nil},
		{nil, map[string]string{"SITELOG_STRICT_SITES": "maybe"}},
		{[]string{"--strict-sites=maybe"}, nil},
	} {
		if _, err := parseConfig(modeServe, c.args, env(c.vars), io.Discard); err == nil {
			t.Errorf("parseConfig(%q, %v) accepted", c.args, c.vars)
		}
	}
}

var tokenRE = regexp.MustCompile(`^sl_[A-Za-z0-9_-]{43}\n$`)

// TestKeysCommands runs `sitelog report` in this process and changes its
// keys with the keys command: each change is seen without a restart.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := cli(t, dir, "sites", "add", "site-123"); code != 0 {
		t.Fatalf("sites add: %s", errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"report", "--data-dir", dir, "--report-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, pw)
		pw.Close()
	}()
	logs := &syncBuffer{}
	base := waitListening(t, pr, logs, 1)["report"]
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	}()
	stats := base + "/stats?site_id=site-123"

	if code, body := request(t, "GET", stats, "", ""); code != http.StatusOK {
		t.Fatalf("without keys: %d %s", code, body)
	}
	code, token, errOut := cli(t, dir, "keys", "create", "--site", "site-123", "--label", "ci")
	if code != 0 || !tokenRE.MatchString(token) || !strings.Contains(errOut, "created key 1 (site:site-123); its token is shown only this once") {
		t.Fatalf("keys create: exit %d, stdout %q, stderr %q", code, token, errOut)
	}
	token = strings.TrimSpace(token)
	waitUntil(t, "reports need the new key", func() bool {
		code, _ := request(t, "GET", stats, "", "")
		return code == http.StatusUnauthorized
	})
	if code, body := request(t, "GET", stats, token, ""); code != http.StatusOK {
		t.Errorf("with the key: %d %s", code, body)
	}
	if code, body := request(t, "GET", base+"/stats?site_id=other", token, ""); code != http.StatusForbidden {
		t.Errorf("another site with the key: %d %s", code, body)
	}

	// The admin API of a report process writes through a database it opens
	// on demand; the sites command sees the write.
	_, admin, _ := cli(t, dir, "keys", "create", "--admin")
	admin = strings.TrimSpace(admin)
	waitUntil(t, "the admin key works", func() bool {
		code, _ := request(t, "GET", base+"/api/sites", admin, "")
		return code == http.StatusOK
	})
	if code, body := request(t, "PUT", base+"/api/sites/shop", admin, `{"hostnames":["shop.example"],"time_zone":"Asia/Tokyo"}`); code != http.StatusCreated {
		t.Errorf("PUT /api/sites/shop: %d %s", code, body)
	}
	if _, out, _ := cli(t, dir, "sites", "list"); !strings.Contains(out, "shop      shop.example  Asia/Tokyo") {
		t.Errorf("sites list after the admin API's PUT:\n%s", out)
	}

	// keys list shows what a key is, never its token.
	code, out, _ := cli(t, dir, "keys", "list")
	listRE := regexp.MustCompile(`^ID  SCOPE          LABEL  CREATED\n1   site:site-123  ci     \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n2   admin                 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$`)
	if code != 0 || !listRE.MatchString(out) {
		t.Errorf("keys list: exit %d\n%s", code, out)
	}
	_, jsonOut, _ := cli(t, dir, "keys", "list", "--json")
	var keys []map[string]any
	if err := json.Unmarshal([]byte(jsonOut), &keys); err != nil || len(keys) != 2 || keys[0]["scope"] != "site:site-123" || keys[1]["scope"] != "admin" {
		t.Errorf("keys list --json: %v\n%s", err, jsonOut)
	}
	for _, o := range []string{out, jsonOut, logs.String()} {
		if strings.Contains(o, token) || strings.Contains(o, admin) || strings.Contains(o, "hash") {
			t.Errorf("a token or hash is shown:\n%s", o)
		}
	}

	if code, out, _ := cli(t, dir, "keys", "revoke", "1"); code != 0 || out != "revoked key 1\n" {
		t.Errorf("keys revoke 1: exit %d %q", code, out)
	}
	waitUntil(t, "the revoked key is refused", func() bool {
		code, _ := request(t, "GET", stats, token, "")
		return code == http.StatusUnauthorized
	})
	if code, body := request(t, "GET", stats, admin, ""); code != http.StatusOK {
		t.Errorf("admin key after revoking another: %d %s", code, body)
	}

	for _, c := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"keys", "revoke", "1"}, 1, `sitelog keys revoke: sites: revoke key 1: not found`},
		{[]string{"keys", "revoke", "one"}, 2, `"one" is not a key ID`},
		{[]string{"keys", "revoke"}, 2, "give one key ID"},
		{[]string{"keys", "create"}, 2, "give --site ID or --admin"},
		{[]string{"keys", "create", "--site", "s", "--admin"}, 2, "give --site ID or --admin"},
		{[]string{"keys", "create", "--site", "bad id"}, 2, "site_id: must be 1-100 characters"},
		{[]string{"keys", "create", "--admin", "--label", strings.Repeat("x", 101)}, 2, "label: must be at most 100 bytes"},
		{[]string{"keys"}, 2, "usage: sitelog keys"},
		{[]string{"keys", "frob"}, 2, `unknown command "frob"`},
	} {
		code, out, errOut := cli(t, dir, c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.contains) {
			t.Errorf("sitelog %q: exit %d, stdout %q, stderr %q; want exit %d, stderr containing %q", c.args, code, out, errOut, c.code, c.contains)
		}
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("report exited %d", code)
	}
}

// TestAccessWhileServing: the sites and keys commands, run beside a real
// server process on the same data directory, change what it accepts and
// who may read its reports, without a restart.
func TestAccessWhileServing(t *testing.T) {
	dir := t.TempDir()
	srv := startChild(t, dir, "--strict-sites")
	event := `{"site_id":"live","path":"/","user_id":"u1","timestamp":"2025-11-14T10:00:00Z"}`
	fromPage := "Origin: https://live.example"

	if code, body := request(t, "POST", srv.ingest+"/event", "", event, fromPage); code != http.StatusForbidden || body != `{"error":"site_id: unknown site \"live\""}`+"\n" {
		t.Fatalf("event for an unregistered site: %d %s", code, body)
	}
	if code, _, errOut := cli(t, dir, "sites", "add", "live", "--hostnames", "live.example"); code != 0 {
		t.Fatalf("sites add while serving: %s", errOut)
	}
	waitUntil(t, "the server takes the new site's events", func() bool {
		code, _ := request(t, "POST", srv.ingest+"/event", "", event, fromPage)
		return code == http.StatusAccepted
	})
	if code, body := request(t, "POST", srv.ingest+"/event", "", event, "Origin: https://elsewhere.example"); code != http.StatusForbidden {
		t.Errorf("event from another origin: %d %s", code, body)
	}
	waitApplied(t, srv.ingest)

	stats := srv.report + "/stats?site_id=live&date=2025-11-14"
	const want = `{"site_id":"live","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/","views":1}]}`
	if code, body := request(t, "GET", stats, "", ""); code != http.StatusOK || body != want {
		t.Fatalf("reports before any key: %d %s", code, body)
	}
	code, token, errOut := cli(t, dir, "keys", "create", "--site", "live")
	if code != 0 {
		t.Fatalf("keys create while serving: %s", errOut)
	}
	token = strings.TrimSpace(token)
	waitUntil(t, "reports need a key", func() bool {
		code, _ := request(t, "GET", stats, "", "")
		return code == http.StatusUnauthorized
	})
	if code, body := request(t, "GET", stats, token, ""); code != http.StatusOK || body != want {
		t.Errorf("with the key: %d %s", code, body)
	}
	// Health and metrics stay open.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := request(t, "GET", srv.report+path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without a key: %d", path, code)
		}
	}
	_, metrics := get(t, srv.ingest+"/metrics")
	if !strings.Contains(metrics, `sitelog_events_received_total{outcome="refused"}`) {
		t.Error("no refused outcome in the metrics")
	}
	srv.stop(t)
}
