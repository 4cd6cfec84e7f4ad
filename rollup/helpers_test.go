package rollup

import (
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"sitelog/event"
	"sitelog/wal"
)

// testNow is the clock of every test store, so that dumps compare exactly.
func testNow() time.Time { return time.Date(2025, 11, 14, 12, 0, 0, 0, time.UTC) }

func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = testNow
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// entries encodes evs as consecutive log entries from index first. A nil
// event becomes a no-op entry.
func entries(first uint64, evs ...*event.Event) []wal.Entry {
	out := make([]wal.Entry, len(evs))
	for i, e := range evs {
		out[i].Index = first + uint64(i)
		if e != nil {
			out[i].Data = e.AppendBinary(nil)
		}
	}
	return out
}

func pv(site, path, user string, at time.Time) *event.Event {
	e := &event.Event{SiteID: site, Type: event.PageView, Path: path, UserID: user, Time: at}
	if user != "" {
		e.Visitor = event.UserVisitor(site, user)
	}
	return e
}

// rowsOf runs query and returns each row's values joined by "|".
func rowsOf(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			fields[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(fields, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tables are every table of the schema.
func tables() []string {
	return []string{"logs", "events", "daily", "daily_types", "daily_users", "daily_paths",
		"sites", "site_types", "site_users", "site_paths", "schema_migrations",
		"sessions", "session_clock", "stats", "stats_visitors", "stats_sketches", "goals", "rebuilds"}
}

// dump returns every row of every table, sorted, by table.
func dump(t testing.TB, db *sql.DB) map[string][]string {
	t.Helper()
	d := make(map[string][]string)
	for _, table := range tables() {
		var rows []string
		if table == "stats_sketches" {
			rows = sketchEstimates(t, db)
		} else {
			rows = rowsOf(t, db, "SELECT * FROM "+table)
		}
		slices.Sort(rows)
		d[table] = rows
	}
	return d
}

// diffDumps reports the tables in which a and b differ.
func diffDumps(t testing.TB, a, b map[string][]string) {
	t.Helper()
	for _, table := range tables() {
		if !slices.Equal(a[table], b[table]) {
			t.Errorf("table %s differs:\n%s\nvs\n%s", table, strings.Join(a[table], "\n"), strings.Join(b[table], "\n"))
		}
	}
}

// sketchEstimates returns each sketch's key and estimate: how the same
// visitors were inserted (in which batches) may change a sketch's bytes,
// never what it counts.
func sketchEstimates(t testing.TB, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT site_id, dim, day, value, sketch FROM stats_sketches")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var site, dim, day, value string
		var data []byte
		if err := rows.Scan(&site, &dim, &day, &value, &data); err != nil {
			t.Fatal(err)
		}
		sk := hyperloglog.New14()
		if err := sk.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%d", site, dim, day, value, sk.Estimate()))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
