package report

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // production gets its pool from rollup; tests open the file themselves
)

// newDB creates a database file in a temporary directory with the rollup
// schema applied, in the given journal mode ("wal" as the worker runs it, or
// "delete" for a rollback journal), runs the fixture statements on it and
// returns a writer pool on it and its path.
func newDB(tb testing.TB, journalMode, fixture string) (*sql.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sitelog.db")
	rw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode("+journalMode+")")
	if err != nil {
		tb.Fatal(err)
	}
	// One connection: the pragma and the fixture see one session, and a
	// test that locks the database holds the only writer.
	rw.SetMaxOpenConns(1)
	tb.Cleanup(func() { rw.Close() })
	schema, err := os.ReadFile("../rollup/migrations/0001_init.sql")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := rw.Exec(string(schema)); err != nil {
		tb.Fatalf("apply schema: %v", err)
	}
	if fixture != "" {
		if _, err := rw.Exec(fixture); err != nil {
			tb.Fatalf("fixture: %v", err)
		}
	}
	return rw, path
}

// openRO opens the read-only pool that main hands to New, with the given
// busy timeout in milliseconds.
func openRO(tb testing.TB, path, busyTimeoutMS string) *sql.DB {
	tb.Helper()
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout("+busyTimeoutMS+")")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ro.Close() })
	if err := ro.PingContext(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return ro
}

// fixture is a small, self-consistent set of rollups, as the worker would
// have written them:
//   - site-123 on 2025-11-14 holds exactly the seed's one view of /home;
//     on 2025-11-15 ties of views and of event counts;
//   - site.b:2 has twelve paths on one day, for the limits;
//   - ties has five paths of equal views, ordered by path bytes.
const fixture = `
INSERT INTO daily (site_id, day, views, events, users, bots, paths) VALUES
	('site-123', '2025-11-14', 1, 1, 1, 0, 1),
	('site-123', '2025-11-15', 5, 9, 3, 4, 3),
	('site.b:2', '2025-11-14', 78, 78, 20, 0, 12),
	('ties',     '2025-11-14', 35, 35, 7, 0, 5);

INSERT INTO daily_paths (site_id, day, path, views) VALUES
	('site-123', '2025-11-14', '/home', 1),
	('site-123', '2025-11-15', '/pricing', 2),
	('site-123', '2025-11-15', '/home', 2),
	('site-123', '2025-11-15', '/about', 1),
	('site.b:2', '2025-11-14', '/p01', 1),
	('site.b:2', '2025-11-14', '/p02', 2),
	('site.b:2', '2025-11-14', '/p03', 3),
	('site.b:2', '2025-11-14', '/p04', 4),
	('site.b:2', '2025-11-14', '/p05', 5),
	('site.b:2', '2025-11-14', '/p06', 6),
	('site.b:2', '2025-11-14', '/p07', 7),
	('site.b:2', '2025-11-14', '/p08', 8),
	('site.b:2', '2025-11-14', '/p09', 9),
	('site.b:2', '2025-11-14', '/p10', 10),
	('site.b:2', '2025-11-14', '/p11', 11),
	('site.b:2', '2025-11-14', '/p12', 12),
	('ties', '2025-11-14', '/apple/', 7),
	('ties', '2025-11-14', '/a&b<c>', 7),
	('ties', '2025-11-14', '/Zebra', 7),
	('ties', '2025-11-14', '/café', 7),
	('ties', '2025-11-14', '/apple', 7);

INSERT INTO daily_types (site_id, day, event_type, events) VALUES
	('site-123', '2025-11-14', 'page_view', 1),
	('site-123', '2025-11-15', 'page_view', 5),
	('site-123', '2025-11-15', 'signup', 2),
	('site-123', '2025-11-15', 'click', 2),
	('site.b:2', '2025-11-14', 'page_view', 78),
	('ties', '2025-11-14', 'page_view', 35);

INSERT INTO sites (site_id, views, events, users, bots) VALUES
	('site-123', 6, 10, 3, 4),
	('site.b:2', 78, 78, 20, 0),
	('ties', 35, 35, 7, 0);

INSERT INTO site_paths (site_id, path, views) VALUES
	('site-123', '/home', 3),
	('site-123', '/pricing', 2),
	('site-123', '/about', 1),
	('site.b:2', '/p01', 1),
	('site.b:2', '/p12', 12),
	('ties', '/apple', 7);

INSERT INTO site_types (site_id, event_type, events) VALUES
	('site-123', 'page_view', 6),
	('site-123', 'signup', 2),
	('site-123', 'click', 2),
	('site.b:2', 'page_view', 78),
	('ties', 'page_view', 35);
`

// newFixture returns a Handler over the fixture in a WAL-mode database, the
// way the worker keeps it, read through a read-only pool.
func newFixture(t *testing.T, cfg Config) *Handler {
	t.Helper()
	_, path := newDB(t, "wal", fixture)
	return New(openRO(t, path, "5000"), cfg)
}
