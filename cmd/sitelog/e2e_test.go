package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sitelog/rollup"
)

// childEnv names the variable that turns the test binary into sitelog
// itself, so end-to-end tests can run, kill -9 and restart the real
// program as a child process without a separate build.
const childEnv = "SITELOG_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		main2(strings.Fields(args))
	}
	os.Exit(m.Run())
}

// main2 is main with the given arguments.
func main2(args []string) {
	os.Args = append([]string{"sitelog"}, args...)
	main()
}

var listenRE = regexp.MustCompile(`msg="sitelog (ingest|report) listening" addr=(\S+)`)

// instance is a running sitelog, in this process or as a child.
type instance struct {
	ingest, report string // base URLs
	cmd            *exec.Cmd
	exited         chan error
	stderr         *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitListening reads the log lines from r until every address in want is
// announced.
func waitListening(t *testing.T, r io.Reader, copyTo io.Writer, want int) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	sc := bufio.NewScanner(r)
	for len(addrs) < want && sc.Scan() {
		fmt.Fprintln(copyTo, sc.Text())
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			addrs[m[1]] = "http://" + m[2]
		}
	}
	if len(addrs) < want {
		t.Fatalf("server exited before listening: %v", sc.Err())
	}
	go io.Copy(copyTo, r)
	return addrs
}

// startChild runs `sitelog serve` on dataDir as a child process.
func startChild(t *testing.T, dataDir string, extra ...string) *instance {
	t.Helper()
	return startChildEnv(t, dataDir, nil, extra...)
}

// startChildEnv is startChild with extra environment variables.
func startChildEnv(t *testing.T, dataDir string, env []string, extra ...string) *instance {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--ingest-addr", "127.0.0.1:0", "--report-addr", "127.0.0.1:0"}, extra...)
	return startArgs(t, args, env)
}

// startArgs runs sitelog with args as a child process and waits until it
// listens on each address its command serves.
func startArgs(t *testing.T, args, env []string) *instance {
	t.Helper()
	listeners := 1
	if args[0] == "serve" {
		listeners = 2
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+strings.Join(args, " "))
	pr, pw := io.Pipe()
	inst := &instance{cmd: cmd, exited: make(chan error, 1), stderr: &syncBuffer{}}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { err := cmd.Wait(); pw.Close(); inst.exited <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-inst.exited
		}
		if t.Failed() {
			t.Logf("child %s stderr:\n%s", args[0], inst.stderr)
		}
	})
	addrs := waitListening(t, pr, inst.stderr, listeners)
	inst.ingest, inst.report = addrs["ingest"], addrs["report"]
	return inst
}

func (in *instance) kill(t *testing.T) {
	t.Helper()
	in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.exited
}

// stop sends SIGTERM and requires a clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, in.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM\n%s", in.stderr)
	}
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var gaugeRE = regexp.MustCompile(`(?m)^(sitelog_wal_last_index|sitelog_wal_applied_index) (\S+)$`)

// waitApplied waits until the worker has applied everything in the log,
// as /metrics tells.
func waitApplied(t *testing.T, ingestURL string) {
	t.Helper()
	// The bound only ends a test that would hang: under the race detector
	// a backlog of tens of thousands of events takes a minute to apply.
	for range 7200 {
		_, body := get(t, ingestURL+"/metrics")
		v := map[string]string{}
		for _, m := range gaugeRE.FindAllStringSubmatch(body, -1) {
			v[m[1]] = m[2]
		}
		if v["sitelog_wal_last_index"] != "" && v["sitelog_wal_last_index"] == v["sitelog_wal_applied_index"] {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("worker never caught up with the log")
}

// TestSeedFlow runs the real run() on 127.0.0.1:0 and makes the README's
// curl calls.
func TestSeedFlow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	dir := t.TempDir()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "--data-dir", dir, "--ingest-addr", "127.0.0.1:0", "--report-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, pw)
		pw.Close()
	}()
	logs := &syncBuffer{}
	addrs := waitListening(t, pr, logs, 2)
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	}()

	status, body := post(t, addrs["ingest"]+"/event", `{"site_id":"site-123","event_type":"page_view","path":"/home","user_id":"u10","timestamp":"2025-11-14T10:00:00Z"}`)
	if status != http.StatusAccepted || body != `{"status":"queued"}`+"\n" {
		t.Fatalf("POST /event: %d %q", status, body)
	}
	waitApplied(t, addrs["ingest"])
	for _, c := range []struct{ query, want string }{
		{"site_id=site-123&date=2025-11-14", `{"site_id":"site-123","date":"2025-11-14","total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}`},
		{"site_id=site-123", `{"site_id":"site-123","date":null,"total_views":1,"unique_users":1,"top_paths":[{"path":"/home","views":1}]}`},
	} {
		status, body := get(t, addrs["report"]+"/stats?"+c.query)
		if status != http.StatusOK || strings.TrimSpace(body) != c.want {
			t.Errorf("GET /stats?%s: %d\n got %s\nwant %s", c.query, status, body, c.want)
		}
	}
	for _, base := range []string{addrs["ingest"], addrs["report"]} {
		for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "sitelog_http_request_duration_seconds"} {
			if status, body := get(t, base+path); status != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("GET %s%s: %d %.200s", base, path, status, body)
			}
		}
	}
	_, m := get(t, addrs["ingest"]+"/metrics")
	for _, name := range []string{"sitelog_events_received_total", "sitelog_wal_last_index", "sitelog_wal_applied_index",
		"sitelog_queue_lag_events", "sitelog_queue_lag_seconds", "sitelog_wal_fsync_seconds",
		"sitelog_worker_batch_events", "sitelog_worker_apply_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(m, name) {
			t.Errorf("ingest /metrics lacks %s", name)
		}
	}

	// A second server on the same data directory is refused at start.
	var errOut bytes.Buffer
	if c := run(context.Background(), []string{"ingest", "--data-dir", dir, "--ingest-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, &errOut); c != 1 || !strings.Contains(errOut.String(), "another sitelog process") {
		t.Errorf("second ingest on one data dir: exit %d, %s", c, errOut.String())
	}

	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("run exited %d after cancel", c)
	}
}

// load posts single events, each with a unique id (see storedIDs), from
// several goroutines until stop is closed, and returns the ids answered
// 202.
func load(t *testing.T, ingestURL string, workers int, stop <-chan struct{}) []string {
	t.Helper()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				// The id travels as the page URL's query, which is stored
				// but counted in no rollup; the visitors are few and
				// return, as a site's do, so that visits go on and the
				// worker keeps up even under the race detector.
				body := fmt.Sprintf(`{"site_id":"load","url":"http://load.test/p/%d?%s","user_id":"u%d-%d","timestamp":"2025-11-%02dT10:%02d:00Z"}`,
					i%50, id, w, i%20, 14+i%2, i%60)
				resp, err := client.Post(ingestURL+"/event", "text/plain", strings.NewReader(body))
				if err != nil {
					continue // the server died mid-request: not acknowledged
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return acked
}

// checkStored asserts the end-to-end invariant: every acknowledged event is
// stored exactly once, and the rollups equal a recount of the raw events.
func checkStored(t *testing.T, dataDir string, acked []string) {
	t.Helper()
	stored := storedIDs(t, dataDir)
	for id, n := range stored {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	for _, id := range acked {
		if stored[id] != 1 {
			t.Fatalf("acknowledged event %s stored %d times (of %d acknowledged, %d stored)", id, stored[id], len(acked), len(stored))
		}
	}
	db := openDB(t, dataDir)
	defer db.Close()
	checkRecount(t, db)
}

// openDB opens the database of a stopped server read-only.
func openDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := rollup.OpenReadOnly(filepath.Join(dataDir, "sitelog.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func checkRecount(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		`SELECT count(*) FROM (SELECT site_id, day, views FROM daily EXCEPT
		   SELECT site_id, strftime('%Y-%m-%d', ts/1000000, 'unixepoch'), count(*) FILTER (WHERE event_type = 'page_view')
		   FROM events WHERE NOT bot GROUP BY 1, 2)`,
		`SELECT count(*) FROM (SELECT site_id, day, path, views FROM daily_paths EXCEPT
		   SELECT site_id, strftime('%Y-%m-%d', ts/1000000, 'unixepoch'), path, count(*)
		   FROM events WHERE NOT bot AND event_type = 'page_view' GROUP BY 1, 2, 3)`,
		`SELECT count(*) FROM (SELECT site_id, views, users FROM sites EXCEPT
		   SELECT site_id, count(*) FILTER (WHERE event_type = 'page_view'), count(DISTINCT nullif(user_id, ''))
		   FROM events WHERE NOT bot GROUP BY 1)`,
		// The analytics model: totals per day, visits against the visits
		// table, and each visit against its raw events.
		`SELECT count(*) FROM (SELECT site_id, day, pageviews, visitors, events FROM stats WHERE dim = '' EXCEPT
		   SELECT site_id, strftime('%Y-%m-%d', ts/1000000, 'unixepoch'), count(*) FILTER (WHERE event_type = 'page_view'),
		     count(DISTINCT nullif(visitor, 0)), count(*)
		   FROM events WHERE NOT bot GROUP BY 1, 2)`,
		`SELECT count(*) FROM (SELECT site_id, day, visits, bounces FROM stats WHERE dim = '' AND visits > 0 EXCEPT
		   SELECT site_id, day, count(*), count(*) FILTER (WHERE pageviews = 1) FROM sessions GROUP BY 1, 2)`,
		`SELECT count(*) FROM (SELECT id, pageviews, events FROM sessions EXCEPT
		   SELECT session, count(*) FILTER (WHERE event_type = 'page_view'), count(*) FROM events WHERE session <> 0 GROUP BY 1)`,
	} {
		var bad int
		if err := db.QueryRow(q).Scan(&bad); err != nil {
			t.Fatal(err)
		}
		if bad != 0 {
			t.Fatalf("%d rollup rows differ from a recount of raw events:\n%s", bad, q)
		}
	}
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// TestKill9UnderLoad kills the server with SIGKILL at a random moment of a
// concurrent load, restarts it, and checks that every event answered 202
// is counted exactly once.
func TestKill9UnderLoad(t *testing.T) {
	trials := 10 // per fsync mode: 20 in all
	if testing.Short() {
		trials = 1
	}
	for trial := range trials {
		for _, fsync := range []string{"always", "interval"} {
			t.Run(fmt.Sprintf("%s-%d", fsync, trial), func(t *testing.T) {
				dir := t.TempDir()
				srv := startChild(t, dir, "--fsync", fsync)
				stop := make(chan struct{})
				result := make(chan []string)
				go func() { result <- load(t, srv.ingest, 8, stop) }()
				time.Sleep(time.Duration(200+rand.IntN(800)) * time.Millisecond)
				srv.kill(t)
				close(stop)
				acked := <-result
				if len(acked) == 0 {
					t.Fatal("no event was acknowledged before the kill")
				}
				srv = startChild(t, dir, "--fsync", fsync)
				waitApplied(t, srv.ingest)
				srv.stop(t)
				checkStored(t, dir, acked)
				t.Logf("%d events acknowledged before kill -9, all stored once", len(acked))
			})
		}
	}
}

// TestSIGTERMUnderLoad stops the server with SIGTERM during a load: it
// exits 0 having applied its whole log, and nothing it acknowledged is
// lost.
func TestSIGTERMUnderLoad(t *testing.T) {
	dir := t.TempDir()
	srv := startChild(t, dir)
	stop := make(chan struct{})
	result := make(chan []string)
	go func() { result <- load(t, srv.ingest, 8, stop) }()
	time.Sleep(500 * time.Millisecond)
	srv.stop(t)
	close(stop)
	acked := <-result
	// The worker applied the whole log before the exit: the checkpoint is
	// the log's last entry, which the next start reports before anything
	// is appended.
	db := openDB(t, dir)
	var applied int64
	if err := db.QueryRow(`SELECT applied_index FROM logs`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	db.Close()
	srv = startChild(t, dir)
	if _, m := get(t, srv.ingest+"/metrics"); !strings.Contains(m, fmt.Sprintf("sitelog_wal_last_index %d\n", applied)) {
		t.Errorf("after SIGTERM the checkpoint is %d, but the log goes further", applied)
	}
	waitApplied(t, srv.ingest)
	srv.stop(t)
	checkStored(t, dir, acked)
	if !strings.Contains(srv.stderr.String(), "shutting down") {
		t.Errorf("no shutdown message in log:\n%s", srv.stderr)
	}
}

// TestSIGTERMClosesUnusedConnections: a connection that never sent a
// request (a browser's preconnect, a load balancer's TCP check) does not
// hold the shutdown. net/http alone waits 5 s for it, longer than this
// shutdown timeout, and then logs the shutdown as failed.
func TestSIGTERMClosesUnusedConnections(t *testing.T) {
	srv := startChild(t, t.TempDir(), "--shutdown-timeout", "2s")
	var conns []net.Conn
	for _, base := range []string{srv.ingest, srv.report} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		// A request on another connection: the server has accepted the
		// unused one by the time it answers.
		if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
			t.Fatalf("GET %s/healthz: %d", base, code)
		}
	}
	srv.stop(t)
	if strings.Contains(srv.stderr.String(), "http shutdown") {
		t.Errorf("the shutdown waited for a connection that sent nothing:\n%s", srv.stderr)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // bounds a hang
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("unused connection after SIGTERM: read %d bytes, %v; want EOF", n, err)
		}
	}
}

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	f := func(args []string, vars map[string]string, check func(config) bool) {
		t.Helper()
		cfg, err := parseConfig(modeServe, args, env(vars), io.Discard)
		if err != nil || !check(cfg) {
			t.Errorf("parseConfig(%q, %v) = %+v, %v", args, vars, cfg, err)
		}
	}
	f(nil, nil, func(c config) bool {
		return c.DataDir == "./data" && c.IngestAddr == ":3001" && c.ReportAddr == ":3002" && c.Fsync.String() == "always"
	})
	f(nil, map[string]string{"SITELOG_DATA_DIR": "/env", "SITELOG_FSYNC": "interval"}, func(c config) bool {
		return c.DataDir == "/env" && c.Fsync.String() == "interval"
	})
	f([]string{"--pprof-addr", "127.0.0.1:6060"}, nil, func(c config) bool { return c.PprofAddr == "127.0.0.1:6060" })
	f([]string{"--data-dir", "/flag"}, map[string]string{"SITELOG_DATA_DIR": "/env"}, func(c config) bool { return c.DataDir == "/flag" })
	f([]string{"--trusted-proxies", "10.0.0.0/8, ::1"}, map[string]string{"SITELOG_TRUSTED_PROXIES": "192.0.2.1"}, func(c config) bool {
		return fmt.Sprint(c.TrustedProxies) == "[10.0.0.0/8 ::1/128]"
	})
	f(nil, map[string]string{"SITELOG_TRUSTED_PROXIES": "192.0.2.1"}, func(c config) bool { return fmt.Sprint(c.TrustedProxies) == "[192.0.2.1/32]" })
	f(nil, nil, func(c config) bool { return c.BatchSize == rollup.DefaultBatchSize })
	f([]string{"--batch-size", "4096"}, map[string]string{"SITELOG_BATCH_SIZE": "256"}, func(c config) bool { return c.BatchSize == 4096 })
	f(nil, map[string]string{"SITELOG_BATCH_SIZE": "256"}, func(c config) bool { return c.BatchSize == 256 })

	for _, args := range [][]string{{"--fsync", "sometimes"}, {"--max-backlog", "-1"}, {"--paths-per-day", "0"}, {"stray"}, {"--rate-limit", "-5"}, {"--rate-limit", "lots"}, {"--retain-raw", "-1"}, {"--retain-raw", "7d"}, {"--pprof-addr", "0.0.0.0:6060"}, {"--pprof-addr", ":6060"}, {"--trusted-proxies", "10.0.0.0/33"}, {"--trusted-proxies", "proxy.internal"}, {"--batch-size", "0"}, {"--batch-size", "2000000"}} {
		if _, err := parseConfig(modeServe, args, env(nil), io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted", args)
		}
	}
	var out bytes.Buffer
	if c := run(context.Background(), []string{"version"}, env(nil), &out, io.Discard); c != 0 || !strings.HasPrefix(out.String(), "sitelog ") {
		t.Errorf("version: %d %q", c, out.String())
	}
	if c := run(context.Background(), []string{"frobnicate"}, env(nil), io.Discard, io.Discard); c != 2 {
		t.Errorf("unknown command exited %d, want 2", c)
	}
}

func TestReportWithoutDatabase(t *testing.T) {
	var errOut bytes.Buffer
	c := run(context.Background(), []string{"report", "--data-dir", t.TempDir(), "--report-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, &errOut)
	if c != 1 || !strings.Contains(errOut.String(), "no database") {
		t.Fatalf("report without a database: exit %d, %s", c, errOut.String())
	}
}
