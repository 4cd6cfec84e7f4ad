package rollup

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOpenCreatesDirectoryAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "nested", "sitelog.db")
	s, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	if err := s.Apply(context.Background(), "log-a", entries(1, pv("s", "/", "u", at))); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s.db)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening applies no migration again and keeps the data.
	s = openStore(t, path, Options{})
	diffDumps(t, before, dump(t, s.db))
	if got, want := rowsOf(t, s.db, "SELECT version FROM schema_migrations"), []string{"1", "2", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	if got := rowsOf(t, s.db, "PRAGMA journal_mode"); !slices.Equal(got, []string{"wal"}) {
		t.Errorf("journal_mode = %v", got)
	}
	if got := rowsOf(t, s.db, "PRAGMA synchronous"); !slices.Equal(got, []string{"2"}) {
		t.Errorf("synchronous = %v, want 2 (FULL)", got)
	}
	if got := rowsOf(t, s.db, "PRAGMA foreign_keys"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("foreign_keys = %v", got)
	}
}

// A directory name with URI metacharacters must not cut the file name
// short or turn into parameters.
// TestCloseReleasesTheDatabase: Close finalizes the statements a batch
// prepared on the driver's connection (bulk.execRaw). SQLite keeps a
// connection with unfinalized statements open after its close, so its
// WAL file would outlive the Store instead of being checkpointed and
// removed.
func TestCloseReleasesTheDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sitelog.db")
	s, err := Open(path, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	if err := s.Apply(context.Background(), "log-a", entries(1, pv("s", "/", "u", at), pv("s", "/a", "v", at))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL file while the Store is open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("the WAL file outlived Close (stat: %v): a connection is still open", err)
	}
}

func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data?mode=memory#1 %20")
	path := filepath.Join(dir, "sitelog.db")
	s := openStore(t, path, Options{})
	if err := s.Apply(context.Background(), "log-a", entries(1, pv("s", "/", "u", testNow()))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := rowsOf(t, r, "SELECT views FROM sites"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("read back %v", got)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sitelog.db")
	s := openStore(t, path, Options{})
	if _, err := s.db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("Open of a newer schema: %v", err)
	}
	_, err = OpenReadOnly(path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("OpenReadOnly of a newer schema: %v", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()

	t.Run("missing database", func(t *testing.T) {
		path := filepath.Join(dir, "missing.db")
		_, err := OpenReadOnly(path)
		if err == nil || !strings.Contains(err.Error(), "no database at "+path+": start `sitelog serve` or `sitelog ingest` first") {
			t.Errorf("err = %v", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("OpenReadOnly created %s", path)
		}
	})

	t.Run("older schema", func(t *testing.T) {
		path := filepath.Join(dir, "old.db")
		db, err := sql.Open(driverName, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("CREATE TABLE something (x)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = OpenReadOnly(path)
		if err == nil || !strings.Contains(err.Error(), "schema version 0 is older than this binary's 4") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("reads while the writer writes, cannot write", func(t *testing.T) {
		path := filepath.Join(dir, "sitelog.db")
		s := openStore(t, path, Options{})
		at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
		if err := s.Apply(context.Background(), "log-a", entries(1, pv("s", "/", "u", at))); err != nil {
			t.Fatal(err)
		}
		r, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// A read transaction held open across a commit sees its snapshot.
		tx, err := r.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var before int
		if err := tx.QueryRow("SELECT views FROM sites WHERE site_id = 's'").Scan(&before); err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(context.Background(), "log-a", entries(2, pv("s", "/", "u", at))); err != nil {
			t.Fatal(err)
		}
		var during, after int
		if err := tx.QueryRow("SELECT views FROM sites WHERE site_id = 's'").Scan(&during); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if err := r.QueryRow("SELECT views FROM sites WHERE site_id = 's'").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if before != 1 || during != 1 || after != 2 {
			t.Errorf("views before, during, after = %d, %d, %d; want 1, 1, 2", before, during, after)
		}

		for _, stmt := range []string{
			"INSERT INTO logs (identity) VALUES ('x')",
			"UPDATE sites SET views = 0",
			"CREATE TABLE x (y)",
			"PRAGMA query_only = 0; DELETE FROM sites", // even past query_only, mode=ro holds
		} {
			if _, err := r.Exec(stmt); err == nil {
				t.Errorf("%s: no error on a read-only pool", stmt)
			}
		}
		if got := rowsOf(t, s.db, "SELECT views FROM sites"); !slices.Equal(got, []string{"2"}) {
			t.Errorf("after write attempts, sites.views = %v", got)
		}
	})
}

func TestCheckpointTruncatesSQLiteWAL(t *testing.T) {
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	f := func(name string, opts Options, wantEmpty bool) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "sitelog.db")
		s := openStore(t, path, opts)
		// A reader pool open beside the writer, as with a report process.
		r, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range uint64(3) {
			if err := s.Apply(context.Background(), "log-a", entries(i+1, pv("s", "/", "u", at))); err != nil {
				t.Fatal(err)
			}
			var views int
			if err := r.QueryRow("SELECT views FROM sites").Scan(&views); err != nil {
				t.Fatal(err)
			}
		}
		fi, err := os.Stat(walFile(path))
		if err != nil {
			t.Fatal(err)
		}
		if empty := fi.Size() == 0; empty != wantEmpty {
			t.Errorf("%s: WAL file is %d bytes, want empty: %v", name, fi.Size(), wantEmpty)
		}
	}
	f("no checkpoint due", Options{CheckpointInterval: time.Hour, CheckpointBytes: 1 << 30}, false)
	f("WAL over its size", Options{CheckpointInterval: time.Hour, CheckpointBytes: 1}, true)
	clock := testNow()
	f("interval passed", Options{CheckpointInterval: time.Minute, CheckpointBytes: 1 << 30, Now: func() time.Time {
		clock = clock.Add(time.Minute)
		return clock
	}}, true)
}

// TestVisitorDaysMigration opens a database at schema version 3, whose
// stats_visitors rows have no day, and checks that visitors counted before
// the migration are not counted again after it, while new ones are.
func TestVisitorDaysMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sitelog.db")
	db, err := sql.Open(driverName, path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, sqlCreateMigrations); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if err := applyMigration(ctx, db, m, testNow()); err != nil {
			t.Fatal(err)
		}
	}
	// Version 3's record of one page view of u on 2025-11-14: the site's
	// total row with its one visitor, and that visitor as a member.
	at := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	old := pv("s", "/", "u", at)
	total := statKey{"s", DimTotal, "2025-11-14", ""}
	member := memberKey{&row{key: total}, int64(old.Visitor)}.hash()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO stats (site_id, dim, day, value, pageviews, visitors, events) VALUES (?, ?, ?, ?, 1, 1, 1)`, []any{total.site, total.dim, total.day, total.value}},
		{`INSERT INTO stats_visitors (site_id, member) VALUES (?, ?)`, []any{"s", member}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openStore(t, path, Options{})
	if got := rowsOf(t, s.db, "SELECT name FROM pragma_table_info('stats_visitors') ORDER BY cid"); !slices.Equal(got, []string{"site_id", "day", "member"}) {
		t.Errorf("stats_visitors columns: %v", got)
	}
	// u again, and a new visitor v, on the same day; then u on the next,
	// which schema 3 never saw.
	next := at.Add(24 * time.Hour)
	if err := s.Apply(ctx, "log-a", entries(1, pv("s", "/b", "u", at.Add(time.Hour)), pv("s", "/", "v", at.Add(time.Hour)), pv("s", "/", "u", next))); err != nil {
		t.Fatal(err)
	}
	got := rowsOf(t, s.db, `SELECT day, pageviews, visitors FROM stats WHERE site_id = 's' AND dim = '' ORDER BY day`)
	if want := []string{"2025-11-14|3|2", "2025-11-15|1|1"}; !slices.Equal(got, want) {
		t.Errorf("site totals after the migration: %v, want %v (u counted once on the 14th)", got, want)
	}

	// A rebuild recounts from the raw events alone: the schema-3 members,
	// which the raw events here do not explain, are dropped with it.
	if _, err := s.Rebuild(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"stats_visitors_v3", "stats_visitors_v3_days"} {
		if got := rowsOf(t, s.db, "SELECT count(*) FROM "+table); !slices.Equal(got, []string{"0"}) {
			t.Errorf("%s after a rebuild: %v rows", table, got)
		}
	}
	got = rowsOf(t, s.db, `SELECT day, pageviews, visitors FROM stats WHERE site_id = 's' AND dim = '' ORDER BY day`)
	if want := []string{"2025-11-14|2|2", "2025-11-15|1|1"}; !slices.Equal(got, want) {
		t.Errorf("site totals after a rebuild: %v, want %v", got, want)
	}
}
