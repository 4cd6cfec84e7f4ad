package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"sitelog/internal/pgtest"
	"sitelog/wal"
)

// clusterSite is the site of the cluster tests' events.
const clusterSite = "cluster"

// clusterDays are the days of the cluster tests' events.
var clusterDays = []string{"2025-11-14", "2025-11-15"}

// startNode runs `sitelog ingest` on dataDir as a node of the PostgreSQL
// database at dsn.
func startNode(t *testing.T, dataDir, dsn string, extra ...string) *instance {
	t.Helper()
	return startArgs(t, append([]string{"ingest", "--data-dir", dataDir, "--db", dsn, "--ingest-addr", "127.0.0.1:0"}, extra...), nil)
}

// clusterEvent is the body of the i-th event of load worker w, with its
// id in the page URL's query (stored, counted in no rollup). Users and
// paths repeat across workers, so one user reaches the site through
// every node.
func clusterEvent(w, i int) (id, body string) {
	id = fmt.Sprintf("w%d-%d", w, i)
	typ := "page_view"
	if i%7 == 3 {
		typ = "signup"
	}
	body = fmt.Sprintf(`{"site_id":%q,"event_type":%q,"url":"http://cluster.test/p/%d?%s","user_id":"u%d","timestamp":"%sT10:%02d:00Z"}`,
		clusterSite, typ, (i*7+w)%40, id, (i+w)%30, clusterDays[i%2], i%60)
	return id, body
}

// clusterLoad posts events from several goroutines, each to the nodes in
// turn (their addresses are read at every request, as a node restarts on
// a new port), until stop is closed. It returns the bodies answered 202,
// by id.
func clusterLoad(nodes *atomic.Pointer[[]string], workers int, stop <-chan struct{}) map[string]string {
	var mu sync.Mutex
	acked := map[string]string{}
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
				urls := *nodes.Load()
				id, body := clusterEvent(w, i)
				resp, err := client.Post(urls[(i+w)%len(urls)]+"/event", "application/json", strings.NewReader(body))
				if err != nil {
					time.Sleep(5 * time.Millisecond) // a node down: not acknowledged
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked[id] = body
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return acked
}

// pollStats reads /stats of clusterSite on the report node until stop is
// closed, and fails t if an answer ever goes back (totals down) or shows
// half a batch (top paths, all of them, not adding up to the total).
func pollStats(t *testing.T, reportURL string, stop <-chan struct{}) (polls int) {
	var last int64
	for {
		select {
		case <-stop:
			return polls
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(reportURL + "/stats?site_id=" + clusterSite + "&limit=100")
		if err != nil {
			continue
		}
		var st struct {
			TotalViews int64 `json:"total_views"`
			TopPaths   []struct {
				Views int64 `json:"views"`
			} `json:"top_paths"`
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			continue // while PostgreSQL restarts
		}
		if err := json.Unmarshal(body, &st); resp.StatusCode != http.StatusOK || err != nil {
			t.Errorf("GET /stats: %d %s", resp.StatusCode, body)
			continue
		}
		polls++
		var sum int64
		for _, p := range st.TopPaths {
			sum += p.Views
		}
		if st.TotalViews < last {
			t.Errorf("total views went down from %d to %d", last, st.TotalViews)
		}
		if sum != st.TotalViews {
			t.Errorf("top paths add up to %d views, the total says %d: a half-applied batch", sum, st.TotalViews)
		}
		last = st.TotalViews
	}
}

// TestCluster runs three ingest nodes and a report process on one
// PostgreSQL, with a load spread over the nodes during which one node is
// killed with SIGKILL and restarted and PostgreSQL restarts in immediate
// mode (a crash). Afterwards every acknowledged event is stored exactly
// once, the checkpoints account for every raw event, the rollups equal a
// recount, the report process answers what a single SQLite server answers
// for the same events, and PostgreSQL broke no deadlock.
func TestCluster(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	nodes := make([]*instance, len(dirs))
	urls := make([]string, len(dirs))
	for i, dir := range dirs {
		nodes[i] = startNode(t, dir, dsn)
		urls[i] = nodes[i].ingest
	}
	var current atomic.Pointer[[]string]
	current.Store(&urls)
	rep := startArgs(t, []string{"report", "--data-dir", t.TempDir(), "--db", dsn, "--report-addr", "127.0.0.1:0"}, nil)

	stopPoll := make(chan struct{})
	polled := make(chan int)
	go func() { polled <- pollStats(t, rep.report, stopPoll) }()
	stop := make(chan struct{})
	result := make(chan map[string]string)
	go func() { result <- clusterLoad(&current, 6, stop) }()

	time.Sleep(600 * time.Millisecond)
	nodes[1].kill(t)
	time.Sleep(200 * time.Millisecond)
	nodes[1] = startNode(t, dirs[1], dsn)
	restarted := append([]string(nil), urls...)
	restarted[1] = nodes[1].ingest
	current.Store(&restarted)
	time.Sleep(400 * time.Millisecond)
	srv.Restart(t, "immediate")
	time.Sleep(600 * time.Millisecond)
	close(stop)
	acked := <-result
	for _, n := range nodes {
		waitApplied(t, n.ingest)
	}
	close(stopPoll)
	if n := <-polled; n == 0 {
		t.Error("the report poller never had an answer")
	}
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged")
	}

	conn := pgConnect(t, dsn)
	stored := checkClusterStored(t, conn, acked)
	checkClusterRecount(t, conn)

	// The same events through one SQLite server: every report the
	// PostgreSQL store serves answers the same. The same events are those
	// stored, which may include one a node logged but whose 202 the kill
	// cut off.
	single := startChild(t, t.TempDir())
	for id := range stored {
		var w, i int
		if _, err := fmt.Sscanf(id, "w%d-%d", &w, &i); err != nil {
			t.Fatalf("stored id %q: %v", id, err)
		}
		_, body := clusterEvent(w, i)
		if status, resp := post(t, single.ingest+"/event", body); status != http.StatusAccepted {
			t.Fatalf("POST to the SQLite server: %d %s", status, resp)
		}
	}
	waitApplied(t, single.ingest)
	for _, q := range []string{"/stats?site_id=cluster&limit=100", "/stats/events?site_id=cluster"} {
		for _, day := range append([]string{""}, clusterDays...) {
			url := q
			if day != "" {
				url += "&date=" + day
			}
			_, want := get(t, single.report+url)
			status, got := get(t, rep.report+url)
			if status != http.StatusOK || got != want {
				t.Errorf("GET %s: PostgreSQL answers %d\n%s\nSQLite answers\n%s", url, status, got, want)
			}
		}
	}
	if log := srv.Log(t); strings.Contains(log, "deadlock detected") || strings.Contains(log, "could not serialize") {
		t.Errorf("PostgreSQL broke a deadlock or a serialization conflict:\n%s", log)
	}
	t.Logf("%d events acknowledged through 3 nodes, one killed, PostgreSQL restarted; all stored once", len(acked))
}

// pgConnect connects to dsn for the test's own queries.
func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// pgCount runs a query returning one number.
func pgCount(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// checkClusterStored asserts that every acknowledged event is stored
// exactly once, nothing twice, and that the nodes' checkpoints account
// for every raw event. It returns the ids stored.
func checkClusterStored(t *testing.T, conn *pgx.Conn, acked map[string]string) map[string]int64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT query, count(*) FROM events GROUP BY query")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		stored[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	for id := range acked {
		if stored[id] != 1 {
			t.Errorf("acknowledged event %s stored %d times", id, stored[id])
		}
	}
	// Every log entry is an event here (fsync=always pads no log), so the
	// checkpoints sum to the raw events.
	raw := pgCount(t, conn, "SELECT count(*) FROM events")
	if sum := pgCount(t, conn, "SELECT sum(applied_index)::bigint FROM nodes"); sum != raw {
		t.Errorf("checkpoints sum to %d, raw events are %d", sum, raw)
	}
	if raw != int64(len(stored)) || len(stored) < len(acked) {
		t.Errorf("%d raw events, %d ids, %d acknowledged", raw, len(stored), len(acked))
	}
	return stored
}

// checkClusterRecount asserts that every rollup, summed over its nodes'
// rows, equals a recount of the raw events.
func checkClusterRecount(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	day := `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	for _, q := range []string{
		`SELECT count(*) FROM ((SELECT site_id, day, sum(views), sum(events), sum(users), sum(bots) FROM daily GROUP BY 1, 2) EXCEPT
		   (SELECT site_id, ` + day + `, count(*) FILTER (WHERE event_type = 'page_view' AND NOT bot), count(*) FILTER (WHERE NOT bot),
		     count(DISTINCT nullif(user_id, '')) FILTER (WHERE NOT bot), count(*) FILTER (WHERE bot) FROM events GROUP BY 1, 2)) d`,
		`SELECT count(*) FROM ((SELECT site_id, day, path, sum(views) FROM daily_paths GROUP BY 1, 2, 3) EXCEPT
		   (SELECT site_id, ` + day + `, path, count(*) FROM events WHERE NOT bot AND event_type = 'page_view' GROUP BY 1, 2, 3)) d`,
		`SELECT count(*) FROM ((SELECT site_id, day, event_type, sum(events) FROM daily_types GROUP BY 1, 2, 3) EXCEPT
		   (SELECT site_id, ` + day + `, event_type, count(*) FROM events WHERE NOT bot GROUP BY 1, 2, 3)) d`,
		`SELECT count(*) FROM ((SELECT site_id, sum(views), sum(events), sum(users) FROM sites GROUP BY 1) EXCEPT
		   (SELECT site_id, count(*) FILTER (WHERE event_type = 'page_view'), count(*), count(DISTINCT nullif(user_id, ''))
		     FROM events WHERE NOT bot GROUP BY 1)) d`,
		// The analytics model: each day's totals (visitors exact across
		// nodes), visits against the visits table, each visit against
		// its raw events.
		`SELECT count(*) FROM ((SELECT site_id, day, sum(pageviews), sum(visitors), sum(events) FROM stats WHERE dim = '' GROUP BY 1, 2) EXCEPT
		   (SELECT site_id, ` + day + `, count(*) FILTER (WHERE event_type = 'page_view'), count(DISTINCT nullif(visitor, 0)), count(*)
		     FROM events WHERE NOT bot GROUP BY 1, 2)) d`,
		`SELECT count(*) FROM ((SELECT site_id, day, sum(visits), sum(bounces) FROM stats WHERE dim = '' GROUP BY 1, 2 HAVING sum(visits) <> 0) EXCEPT
		   (SELECT site_id, day, count(*), count(*) FILTER (WHERE pageviews = 1) FROM sessions GROUP BY 1, 2)) d`,
		`SELECT count(*) FROM ((SELECT id, pageviews, events FROM sessions) EXCEPT
		   (SELECT session, count(*) FILTER (WHERE event_type = 'page_view'), count(*) FROM events WHERE session <> 0 GROUP BY 1)) d`,
	} {
		if bad := pgCount(t, conn, q); bad != 0 {
			t.Errorf("%d rollup rows differ from a recount of raw events:\n%s", bad, q)
		}
	}
}

// TestClusterSecondProcess starts a second process as an existing node:
// on the same data directory the log's lock refuses it; on a copy of the
// data directory it starts and fences the first off, which stops; with
// the node's id but a new log it is refused. A node is then retired, and
// a retired node never starts again.
func TestClusterSecondProcess(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	dirA := t.TempDir()
	a := startNode(t, dirA, dsn)
	event := func(n *instance, i int) {
		t.Helper()
		_, body := clusterEvent(0, i)
		if status, resp := post(t, n.ingest+"/event", body); status != http.StatusAccepted {
			t.Fatalf("POST /event: %d %s", status, resp)
		}
	}
	event(a, 1)
	waitApplied(t, a.ingest)
	_, m := get(t, a.ingest+"/metrics")
	for _, name := range []string{"sitelog_node_id 1", "sitelog_node_checkpoint_age_seconds 0", "sitelog_node_clock_offset_seconds",
		"sitelog_queue_lag_events", "sitelog_worker_batch_events_count 1"} {
		if !strings.Contains(m, name) {
			t.Errorf("a node's /metrics lacks %q", name)
		}
	}

	// Same data directory: the log's lock.
	code, out := runCapture(t, "ingest", "--data-dir", dirA, "--db", dsn, "--ingest-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "another sitelog process") {
		t.Errorf("second process on the same data directory: exit %d\n%s", code, out)
	}

	// A copy of the data directory: the copy attaches and the original,
	// at its next batch, finds itself fenced off and stops.
	a.stop(t)
	dirB := t.TempDir()
	copyDir(t, dirA, dirB)
	a = startNode(t, dirA, dsn)
	b := startNode(t, dirB, dsn)
	event(a, 2)
	select {
	case err := <-a.exited:
		if err == nil || !strings.Contains(a.stderr.String(), "fenced") {
			t.Errorf("fenced node exited with %v\n%s", err, a.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the fenced node is still running\n%s", a.stderr)
	}
	event(b, 3)
	waitApplied(t, b.ingest)

	// The node's id with a new log.
	dirC := t.TempDir()
	copyFile(t, filepath.Join(dirA, nodeIDFile), filepath.Join(dirC, nodeIDFile))
	code, out = runCapture(t, "ingest", "--data-dir", dirC, "--db", dsn, "--ingest-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "identity does not match") {
		t.Errorf("the node's id with a new log: exit %d\n%s", code, out)
	}

	// Retire: refused while the node runs, then done once it stopped.
	code, out = runCapture(t, "node", "retire", "--data-dir", dirB, "--db", dsn)
	if code != 1 || !strings.Contains(out, "the node is running") {
		t.Errorf("retire a running node: exit %d\n%s", code, out)
	}
	b.stop(t)
	code, out = runCapture(t, "node", "retire", "--data-dir", dirB, "--db", dsn)
	if code != 0 || !strings.Contains(out, "retired") {
		t.Fatalf("retire: exit %d\n%s", code, out)
	}
	conn := pgConnect(t, dsn)
	if n := pgCount(t, conn, "SELECT count(*) FROM events"); n != 2 {
		t.Errorf("%d raw events stored, want 2 (the fenced node's event was never applied)", n)
	}
	if n := pgCount(t, conn, "SELECT count(*) FROM nodes WHERE status = 'retired'"); n != 1 {
		t.Errorf("%d nodes retired, want 1", n)
	}
	code, out = runCapture(t, "ingest", "--data-dir", dirB, "--db", dsn, "--ingest-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(out, "retired") {
		t.Errorf("start a retired node: exit %d\n%s", code, out)
	}
	// A new data directory joins as a new node, with a new id.
	c := startNode(t, t.TempDir(), dsn)
	event(c, 4)
	waitApplied(t, c.ingest)
	if n := pgCount(t, conn, "SELECT max(id) FROM nodes"); n != 2 {
		t.Errorf("the new node has id %d, want 2", n)
	}
}

// runCapture runs sitelog in this process until it exits, and returns its
// exit code and what it wrote.
func runCapture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, func(string) string { return "" }, &out, &out)
	return code, out.String()
}

// copyDir copies the directory tree from to to, as an operator would.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	// The copy is of a stopped node: its lock file is free, and stays
	// the copy's own.
	if _, err := os.Stat(filepath.Join(to, "wal")); err != nil {
		t.Fatal(err)
	}
}

// TestClusterCrashPoints kills one of two nodes at the named crash points
// of a node's path, in the middle of a load over both, and restarts it:
// after the log's fsync before the 202, after the batch's rows are
// written before its COMMIT, and after the COMMIT before the log learns
// of it. Every acknowledged event is stored exactly once and the rollups
// equal a recount.
func TestClusterCrashPoints(t *testing.T) {
	points := []struct {
		name  string
		count func() int // how many times the point is passed before the crash
	}{
		{wal.CrashAfterFsync, func() int { return 100 + rand.IntN(500) }},
		{wal.CrashBeforeDBCommit, func() int { return 5 + rand.IntN(20) }},
		{wal.CrashAfterDBCommit, func() int { return 5 + rand.IntN(20) }},
	}
	srv := pgtest.Start(t)
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			dsn := srv.NewDatabase(t)
			dirs := []string{t.TempDir(), t.TempDir()}
			// Batches of at most 256 events: commits come many a second,
			// under the race detector too.
			batch := "SITELOG_BATCH_SIZE=256"
			crashAt := fmt.Sprintf("SITELOG_TEST_CRASH_AT=%s:%d", p.name, p.count())
			nodeArgs := func(dir string) []string {
				return []string{"ingest", "--data-dir", dir, "--db", dsn, "--ingest-addr", "127.0.0.1:0"}
			}
			crashing := startArgs(t, nodeArgs(dirs[0]), []string{batch, crashAt})
			other := startArgs(t, nodeArgs(dirs[1]), []string{batch})
			urls := []string{crashing.ingest, other.ingest}
			var current atomic.Pointer[[]string]
			current.Store(&urls)
			stop := make(chan struct{})
			result := make(chan map[string]string)
			go func() { result <- clusterLoad(&current, 6, stop) }()
			select {
			case <-crashing.exited:
			case <-time.After(2 * time.Minute):
				t.Fatalf("%s never reached", crashAt)
			}
			close(stop)
			acked := <-result
			restarted := startArgs(t, nodeArgs(dirs[0]), []string{batch})
			waitApplied(t, restarted.ingest)
			waitApplied(t, other.ingest)
			conn := pgConnect(t, dsn)
			checkClusterStored(t, conn, acked)
			checkClusterRecount(t, conn)
			if !strings.Contains(crashing.stderr.String(), "crash point reached") {
				t.Errorf("the node did not stop at its crash point:\n%s", crashing.stderr)
			}
			t.Logf("%s: %d events acknowledged, all stored once", crashAt, len(acked))
		})
	}
}

// TestClusterLateEventAfterRetention has a node crash holding an event
// five days old that it logged but never applied, while another node's
// retention drops that day's raw events: when the node comes back, it
// applies the event into a new partition of the day, and the day's
// rollups count both events.
func TestClusterLateEventAfterRetention(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	nodeArgs := func(dir string, extra ...string) []string {
		return append([]string{"ingest", "--data-dir", dir, "--db", dsn, "--ingest-addr", "127.0.0.1:0"}, extra...)
	}
	old := time.Now().UTC().AddDate(0, 0, -5)
	day := old.Format(time.DateOnly)
	body := func(id string) string {
		return fmt.Sprintf(`{"site_id":%q,"url":"http://cluster.test/late?%s","user_id":%q,"timestamp":%q}`,
			clusterSite, id, id, old.Format(time.RFC3339))
	}
	a := startArgs(t, nodeArgs(dirA), []string{"SITELOG_TEST_CRASH_AT=" + wal.CrashBeforeDBCommit})
	b := startArgs(t, nodeArgs(dirB, "--retain-raw", "1"), nil)
	if status, resp := post(t, b.ingest+"/event", body("b1")); status != http.StatusAccepted {
		t.Fatalf("POST to B: %d %s", status, resp)
	}
	waitApplied(t, b.ingest)
	if status, resp := post(t, a.ingest+"/event", body("a1")); status != http.StatusAccepted {
		t.Fatalf("POST to A: %d %s", status, resp)
	}
	select {
	case <-a.exited:
	case <-time.After(time.Minute):
		t.Fatal("A never reached its crash point")
	}

	// B's retention runs as it starts: the day goes.
	b.stop(t)
	b = startArgs(t, nodeArgs(dirB, "--retain-raw", "1"), nil)
	waitUntil(t, "B's retention to drop the day", func() bool {
		return strings.Contains(b.stderr.String(), "dropped days of raw events")
	})
	conn := pgConnect(t, dsn)
	if n := pgCount(t, conn, "SELECT count(*) FROM events"); n != 0 {
		t.Fatalf("%d raw events left after retention, want 0", n)
	}

	a = startArgs(t, nodeArgs(dirA), nil)
	waitApplied(t, a.ingest)
	var id string
	if err := conn.QueryRow(context.Background(), "SELECT string_agg(query, ',') FROM events").Scan(&id); err != nil || id != "a1" {
		t.Errorf("raw events after the late apply: %q (%v), want a1", id, err)
	}
	if n := pgCount(t, conn, "SELECT sum(views)::bigint FROM daily WHERE site_id = $1 AND day = $2", clusterSite, day); n != 2 {
		t.Errorf("the day's rollups count %d views, want 2", n)
	}
}

// TestClusterRegistry: with --db, the sites registry, report keys and
// goals live in PostgreSQL, one registry for every process on it. A key
// made by `sitelog keys create --db` is required and honoured by a report
// process started before it, whose data directory gets no database of its
// own; a zone given by `sitelog sites add` (SITELOG_DB set) moves the day
// a running node counts an event in; and what the admin API of a report
// process writes, the commands read.
func TestClusterRegistry(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	// The commands are run with a data directory, so that a command that
	// wrongly used it would leave a database there.
	cliDir := t.TempDir()
	pgCLI := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		env := func(k string) string {
			switch k {
			case "SITELOG_DATA_DIR":
				return cliDir
			case "SITELOG_DB":
				return dsn
			}
			return ""
		}
		code = run(context.Background(), args, env, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	reportArgs := []string{"report", "--data-dir", t.TempDir(), "--db", dsn, "--report-addr", "127.0.0.1:0", "--report-auth", "required"}
	if code, out := runCapture(t, reportArgs...); code != 1 || !strings.Contains(out, "no sitelog schema yet") {
		t.Errorf("report on a database no node has made: exit %d\n%s", code, out)
	}
	node := startNode(t, t.TempDir(), dsn)
	rep := startArgs(t, reportArgs, nil)
	if _, err := os.Stat(filepath.Join(reportArgs[2], "sitelog.db")); !os.IsNotExist(err) {
		t.Errorf("the report process on PostgreSQL made a database in its data directory: %v", err)
	}

	// A key made by the command, read by the report process.
	stats := rep.report + "/stats?site_id=paris&date="
	if code, body := request(t, "GET", stats+"2025-11-15", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("/stats without any key: %d %s", code, body)
	}
	code, token, errOut := pgCLI("keys", "create", "--db", dsn, "--admin", "--label", "ops")
	token = strings.TrimSpace(token)
	if code != 0 || !strings.HasPrefix(token, "sl_") {
		t.Fatalf("keys create --db: exit %d, %q\n%s", code, token, errOut)
	}
	waitUntil(t, "the report process to honour the new key", func() bool {
		code, _ := request(t, "GET", stats+"2025-11-15", token, "")
		return code == http.StatusOK
	})
	if code, body := request(t, "GET", stats+"2025-11-15", "", ""); code != http.StatusUnauthorized {
		t.Errorf("/stats without the key: %d %s", code, body)
	}
	if code, body := request(t, "GET", stats+"2025-11-15", "sl_"+strings.Repeat("x", 43), ""); code != http.StatusUnauthorized {
		t.Errorf("/stats with an unknown key: %d %s", code, body)
	}

	// 23:30 UTC on 14 November is 00:30 on the 15th in Paris. Unregistered,
	// the site counts in UTC's days; once the command gives it its zone,
	// the node counts the next such event on the 15th.
	const late = `{"site_id":"paris","url":"http://paris.test/late","timestamp":"2025-11-14T23:30:00Z"}`
	views := func(day string) int64 {
		t.Helper()
		code, body := request(t, "GET", stats+day, token, "")
		var st struct {
			TotalViews int64 `json:"total_views"`
		}
		if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
			t.Fatalf("/stats of %s: %d %s", day, code, body)
		}
		return st.TotalViews
	}
	if code, body := post(t, node.ingest+"/event", late); code != http.StatusAccepted {
		t.Fatalf("POST /event: %d %s", code, body)
	}
	waitApplied(t, node.ingest)
	if utc, paris := views("2025-11-14"), views("2025-11-15"); utc != 1 || paris != 0 {
		t.Fatalf("an unregistered site's event at 23:30 UTC: %d views on the 14th, %d on the 15th; want 1 and 0", utc, paris)
	}
	code, out, errOut := pgCLI("sites", "add", "paris", "--tz", "Europe/Paris")
	if code != 0 || out != "added site paris: hostnames -, time zone Europe/Paris\n" {
		t.Fatalf("sites add with SITELOG_DB: exit %d\n%s%s", code, out, errOut)
	}
	// The node sees the change within its poll: until then such events
	// still count on the 14th, from then on on the 15th.
	posted := int64(1)
	postLate := func() {
		t.Helper()
		if code, body := post(t, node.ingest+"/event", late); code != http.StatusAccepted {
			t.Fatalf("POST /event: %d %s", code, body)
		}
		posted++
		waitApplied(t, node.ingest)
	}
	waitUntil(t, "the node to count in Paris's days", func() bool {
		postLate()
		return views("2025-11-15") > 0
	})
	utc, paris := views("2025-11-14"), views("2025-11-15")
	postLate()
	if utc2, paris2 := views("2025-11-14"), views("2025-11-15"); utc2 != utc || paris2 != paris+1 || utc2+paris2 != posted {
		t.Errorf("after the zone was seen: %d views on the 14th (was %d), %d on the 15th (was %d), of %d posted; want the next on the 15th",
			utc2, utc, paris2, paris, posted)
	}

	// The admin API of the report process writes to the shared registry.
	if code, body := request(t, "PUT", rep.report+"/api/sites/shop", token, `{"time_zone":"Asia/Tokyo"}`); code != http.StatusCreated {
		t.Fatalf("PUT /api/sites/shop: %d %s", code, body)
	}
	code, out, errOut = pgCLI("sites", "list")
	if want := "ID     HOSTNAMES  TIME ZONE\nparis  -          Europe/Paris\nshop   -          Asia/Tokyo\n"; code != 0 || out != want {
		t.Errorf("sites list with SITELOG_DB: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}
	if code, out, errOut := pgCLI("goals", "add", "--site", "shop", "--event", "purchase"); code != 0 {
		t.Fatalf("goals add with SITELOG_DB: exit %d\n%s%s", code, out, errOut)
	}
	if code, body := request(t, "GET", rep.report+"/api/sites/shop/goals", token, ""); code != http.StatusOK || !strings.Contains(body, `"name":"purchase","event_name":"purchase"`) {
		t.Errorf("GET /api/sites/shop/goals: %d %s", code, body)
	}

	// Without --db, the commands keep to the data directory, which those
	// with it never touched.
	if _, err := os.Stat(filepath.Join(cliDir, "sitelog.db")); !os.IsNotExist(err) {
		t.Errorf("a command given --db made a database in the data directory: %v", err)
	}
	if code, out, errOut := cli(t, cliDir, "sites", "list"); code != 0 || out != "ID  HOSTNAMES  TIME ZONE\n" {
		t.Errorf("sites list of the data directory: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := pgCLI("keys", "list", "--db", "mysql://x"); code != 2 || !strings.Contains(errOut, "postgres:// URL") {
		t.Errorf("keys list --db mysql://x: exit %d\n%s", code, errOut)
	}
}

// visitClient is one client of TestClusterVisits: its address and its
// events in order.
type visitClient struct {
	ip     string
	bodies []string
}

// visitClients returns 36 clients of clusterSite with their events: page
// views and signups a few minutes apart in two visits a day, on both
// cluster days.
func visitClients() []visitClient {
	cs := make([]visitClient, 36)
	for c := range cs {
		cs[c] = visitClient{ip: fmt.Sprintf("10.0.%d.%d", c/8, c%8+1)}
		for d, day := range clusterDays {
			start, _ := time.Parse(time.DateOnly, day)
			ts := start.Add(time.Duration(8+c%5) * time.Hour).Add(time.Duration(c) * time.Minute)
			for k := range 10 {
				if k == 5 {
					ts = ts.Add(2 * time.Hour) // a second visit
				}
				ts = ts.Add(time.Duration(1+(c+k)%9) * time.Minute)
				id := fmt.Sprintf("c%d-%d-%d", c, d, k)
				typ := "page_view"
				if (c+k)%6 == 5 {
					typ = "signup"
				}
				cs[c].bodies = append(cs[c].bodies, fmt.Sprintf(
					`{"site_id":%q,"event_type":%q,"url":"http://cluster.test/p/%d?%s","timestamp":%q}`,
					clusterSite, typ, (c*3+k)%7, id, ts.Format(time.RFC3339)))
			}
		}
	}
	return cs
}

// postFrom posts body to url/event as a client at ip behind a trusted
// proxy, with a browser's User-Agent.
func postFrom(t *testing.T, url, ip, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/event", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s/event: %d", url, resp.StatusCode)
	}
}

// TestClusterVisits sends clients to three nodes at once in two ways.
// Sticky: each client to one node by its address, as a balancer hashing
// addresses does (nginx's `hash $remote_addr consistent`); each visitor's
// visits are then whole on its node, and the query API on PostgreSQL
// answers what one SQLite server answers for the same events, visits,
// bounces and durations included. Spread: each event to the next node;
// the nodes share the daily salts, so a visitor has one id on every node
// and the visitors, page views and events stay those of one server.
func TestClusterVisits(t *testing.T) {
	visits := `["visitors","visits","pageviews","events","bounce_rate","visit_duration","views_per_visit"]`
	events := `["visitors","pageviews","events"]`
	for _, c := range []struct {
		name    string
		route   func(client, k int) int
		queries []struct{ metrics, dims string }
	}{
		{"sticky", func(client, _ int) int { return client % 3 }, []struct{ metrics, dims string }{
			{visits, `[]`}, {visits, `["visit:entry_page"]`}, {visits, `["visit:exit_page"]`}, {visits, `["time:hour"]`},
			{events, `["event:page"]`},
		}},
		{"spread", func(client, k int) int { return (client + k) % 3 }, []struct{ metrics, dims string }{
			{events, `[]`}, {events, `["event:page"]`},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clusterVisits(t, c.route, c.queries)
		})
	}
}

func clusterVisits(t *testing.T, route func(client, k int) int, queries []struct{ metrics, dims string }) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	proxy := []string{"--trusted-proxies", "127.0.0.1/32"}
	nodes := make([]*instance, 3)
	for i := range nodes {
		nodes[i] = startNode(t, t.TempDir(), dsn, proxy...)
	}
	rep := startArgs(t, []string{"report", "--data-dir", t.TempDir(), "--db", dsn, "--report-addr", "127.0.0.1:0"}, nil)
	clients := visitClients()
	ipOf := make(map[string]string)   // event id → its client's address
	bodyOf := make(map[string]string) // event id → its body
	for _, c := range clients {
		for _, b := range c.bodies {
			var ev struct{ URL string }
			json.Unmarshal([]byte(b), &ev)
			id := ev.URL[strings.IndexByte(ev.URL, '?')+1:]
			ipOf[id], bodyOf[id] = c.ip, b
		}
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for k, b := range c.bodies {
				postFrom(t, nodes[route(i, k)].ingest, c.ip, b)
			}
		})
	}
	wg.Wait()
	for _, n := range nodes {
		waitApplied(t, n.ingest)
	}

	// One SQLite server gets the same events in the order the nodes
	// applied them.
	single := startChild(t, t.TempDir(), proxy...)
	conn := pgConnect(t, dsn)
	rows, err := conn.Query(context.Background(), "SELECT query FROM events ORDER BY node_id, log_index")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		postFrom(t, single.ingest, ipOf[id], bodyOf[id])
	}
	waitApplied(t, single.ingest)
	if n := pgCount(t, conn, "SELECT count(DISTINCT node_id) FROM sessions"); n != 3 {
		t.Errorf("visits on %d nodes, want 3", n)
	}
	for _, day := range clusterDays {
		for _, c := range queries {
			q := fmt.Sprintf(`{"site_id":%q,"metrics":%s,"date_range":[%q,%q],"dimensions":%s}`, clusterSite, c.metrics, day, day, c.dims)
			_, want := postJSON(t, single.report+"/api/v1/query", q)
			status, got := postJSON(t, rep.report+"/api/v1/query", q)
			if status != http.StatusOK || got != want {
				t.Errorf("query %s: PostgreSQL answers %d\n%s\nSQLite answers\n%s", q, status, got, want)
			}
		}
	}

	// Over both days, visitors are merged from each day's sketches (the
	// nodes' merged on PostgreSQL), of visitor ids under other salts than
	// the SQLite server's: equal within the documented error of 2%.
	q := fmt.Sprintf(`{"site_id":%q,"metrics":["visitors"],"date_range":[%q,%q],"dimensions":["event:page"]}`,
		clusterSite, clusterDays[0], clusterDays[len(clusterDays)-1])
	want, got := queryRows(t, single.report, q), queryRows(t, rep.report, q)

	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("query %s: %d rows on PostgreSQL, %d on SQLite", q, len(got), len(want))
	}
	for page, w := range want {
		if g := got[page]; math.Abs(g-w) > 0.02*w {
			t.Errorf("visitors of %s over both days: PostgreSQL %v, SQLite %v", page, g, w)
		}
	}
}

// queryRows posts a query with one dimension and one metric and returns
// the metric by the dimension's value.
func queryRows(t *testing.T, reportURL, q string) map[string]float64 {
	t.Helper()
	status, body := postJSON(t, reportURL+"/api/v1/query", q)
	var ans struct {
		Results []struct {
			Dimensions []string  `json:"dimensions"`
			Metrics    []float64 `json:"metrics"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &ans); status != http.StatusOK || err != nil {
		t.Fatalf("query %s: %d %v\n%s", q, status, err, body)
	}
	rows := make(map[string]float64)
	for _, r := range ans.Results {
		rows[r.Dimensions[0]] = r.Metrics[0]
	}
	return rows
}

// postJSON posts body to url and returns the status and the answer.
func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterSIGTERM stops a node with SIGTERM in the middle of a load over
// two nodes: it exits 0 having applied its whole log (its checkpoint in
// the database is its log's last entry), and after it restarts every
// acknowledged event is stored exactly once.
func TestClusterSIGTERM(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	a, b := startNode(t, dirs[0], dsn), startNode(t, dirs[1], dsn)
	urls := []string{a.ingest, b.ingest}
	var current atomic.Pointer[[]string]
	current.Store(&urls)
	stop := make(chan struct{})
	result := make(chan map[string]string)
	go func() { result <- clusterLoad(&current, 6, stop) }()
	time.Sleep(500 * time.Millisecond)
	a.stop(t) // requires exit 0
	conn := pgConnect(t, dsn)
	applied := pgCount(t, conn, "SELECT applied_index FROM nodes WHERE id = 1")
	close(stop)
	acked := <-result

	a = startNode(t, dirs[0], dsn)
	_, m := get(t, a.ingest+"/metrics")
	if want := fmt.Sprintf("sitelog_wal_last_index %d\n", applied); !strings.Contains(m, want) {
		t.Errorf("after SIGTERM the node's checkpoint is %d, but its log goes further:\n%s", applied, m)
	}
	if applied == 0 {
		t.Error("the node had applied nothing before SIGTERM")
	}
	waitApplied(t, a.ingest)
	waitApplied(t, b.ingest)
	checkClusterStored(t, conn, acked)
	checkClusterRecount(t, conn)
}
