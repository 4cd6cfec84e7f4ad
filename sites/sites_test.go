package sites

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	// The zone database compiled in, as the binary has it.
	_ "time/tzdata"

	"sitelog/internal/pgtest"
	"sitelog/rollup"
	"sitelog/rollup/pgstore"
)

// testNow is the clock of every Store in the tests.
func testNow() time.Time { return time.Date(2025, 11, 14, 12, 0, 0, 0, time.UTC) }

// testDB is a fresh database holding the registry, in one dialect.
type testDB struct {
	dialect Dialect
	// store writes through the database's writable pool, on testNow.
	store *Store
	// readers is the read-only pool a serving process reads through.
	readers *sql.DB
	// openAdmin opens another writable pool, as the admin API and the
	// commands of other processes do.
	openAdmin func() (*sql.DB, error)
}

// eachDialect runs test as a subtest on a fresh database of each dialect:
// SQLite in a temporary directory, PostgreSQL on a throwaway server of
// its own (skipped without one, as pgtest says).
func eachDialect(t *testing.T, test func(t *testing.T, db *testDB)) {
	for _, d := range []struct {
		name    string
		dialect Dialect
	}{{"SQLite", SQLite}, {"PostgreSQL", PostgreSQL}} {
		t.Run(d.name, func(t *testing.T) { test(t, openDB(t, d.dialect)) })
	}
}

// openDB opens a fresh database of dialect d, its schema made as the
// commands make it, with the pools a server has on it.
func openDB(t testing.TB, d Dialect) *testDB {
	t.Helper()
	var openAdmin, openReaders func() (*sql.DB, error)
	switch d {
	case SQLite:
		path := filepath.Join(t.TempDir(), "sitelog.db")
		openAdmin = func() (*sql.DB, error) { return rollup.OpenAdmin(path) }
		openReaders = func() (*sql.DB, error) { return rollup.OpenReadOnly(path) }
	case PostgreSQL:
		dsn := pgtest.Start(t).NewDatabase(t)
		ctx := context.Background()
		openAdmin = func() (*sql.DB, error) { return pgstore.OpenAdmin(ctx, dsn) }
		openReaders = func() (*sql.DB, error) { return pgstore.OpenReaders(ctx, dsn) }
	}
	// The writer first: it makes the schema, without which readers are
	// refused.
	w := mustOpen(t, openAdmin)
	return &testDB{
		dialect:   d,
		store:     NewStore(w, StoreOptions{Now: testNow, Dialect: d}),
		readers:   mustOpen(t, openReaders),
		openAdmin: openAdmin,
	}
}

// mustOpen opens a pool, closed when t ends.
func mustOpen(t testing.TB, open func() (*sql.DB, error)) *sql.DB {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewSite(t *testing.T) {
	ok := func(id string, hosts []string, zone string, want Site) {
		t.Helper()
		got, err := NewSite(id, hosts, zone)
		if err != nil {
			t.Errorf("NewSite(%q, %q, %q): %v", id, hosts, zone, err)
			return
		}
		got.loc = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("NewSite(%q, %q, %q) = %+v, want %+v", id, hosts, zone, got, want)
		}
	}
	bad := func(id string, hosts []string, zone string, msg string) {
		t.Helper()
		_, err := NewSite(id, hosts, zone)
		var ie *InvalidError
		if !errors.As(err, &ie) || err.Error() != msg {
			t.Errorf("NewSite(%q, %q, %q) = %v, want %q", id, hosts, zone, err, msg)
		}
	}
	ok("site-123", nil, "", Site{ID: "site-123", Hostnames: []string{}, TimeZone: "UTC"})
	ok("a.b:c_d-1", nil, "Europe/Berlin", Site{ID: "a.b:c_d-1", Hostnames: []string{}, TimeZone: "Europe/Berlin"})
	ok("s", nil, "UTC", Site{ID: "s", Hostnames: []string{}, TimeZone: "UTC"})
	// Host names are lower-cased, trimmed, sorted and deduplicated.
	ok("s", []string{" WWW.Example.com. ", "example.com", "www.example.com", "*.example.org"}, "America/New_York",
		Site{ID: "s", Hostnames: []string{"*.example.org", "example.com", "www.example.com"}, TimeZone: "America/New_York"})
	ok("s", []string{"localhost", "127.0.0.1", "[::1]", "xn--bcher-kva.de"}, "",
		Site{ID: "s", Hostnames: []string{"127.0.0.1", "::1", "localhost", "xn--bcher-kva.de"}, TimeZone: "UTC"})

	bad("", nil, "", "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad("bad id", nil, "", "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad(strings.Repeat("x", 101), nil, "", "site_id: must be 1-100 characters of letters, digits and ._:-")
	bad("s", []string{""}, "", "hostnames: empty host name")
	bad("s", []string{"https://example.com"}, "", `hostnames: "https://example.com" is not a host name: give one like example.com, without scheme or path`)
	bad("s", []string{"example.com/blog"}, "", `hostnames: "example.com/blog" is not a host name: give one like example.com, without scheme or path`)
	bad("s", []string{"example.com:8080"}, "", `hostnames: "example.com:8080" is not a host name: give it without port (ports are not compared)`)
	bad("s", []string{"exa mple.com"}, "", `hostnames: "exa mple.com" is not a host name: letters, digits, inner hyphens and dots only`)
	bad("s", []string{"-example.com"}, "", `hostnames: "-example.com" is not a host name: letters, digits, inner hyphens and dots only`)
	bad("s", []string{"a..com"}, "", `hostnames: "a..com" is not a host name: labels between dots are 1-63 characters`)
	bad("s", []string{strings.Repeat("a", 64) + ".com"}, "", `hostnames: "`+strings.Repeat("a", 64)+`.com" is not a host name: labels between dots are 1-63 characters`)
	bad("s", []string{"bücher.de"}, "", `hostnames: "bücher.de" is not ASCII: give its xn-- form, as browsers send it`)
	bad("s", []string{"*.com"}, "", `hostnames: "*.com" is too wide: a wildcard needs a domain with a dot, like *.example.com`)
	bad("s", []string{"a.*.com"}, "", `hostnames: "a.*.com" is not a host name: letters, digits, inner hyphens and dots only`)
	bad("s", make([]string, MaxHostnames+1), "", "hostnames: more than 100")
	bad("s", nil, "Mars/Olympus_Mons", `time_zone: "Mars/Olympus_Mons" is not an IANA time zone name such as Europe/Berlin or UTC`)
	bad("s", nil, "Local", `time_zone: "Local" is not an IANA time zone name such as Europe/Berlin or UTC`)
	bad("s", nil, "../../etc/passwd", `time_zone: "../../etc/passwd" is not an IANA time zone name such as Europe/Berlin or UTC`)
	bad("s", nil, "europe/berlin"+strings.Repeat("x", 60), `time_zone: "europe/berlin`+strings.Repeat("x", 60)+`" is not an IANA time zone name such as Europe/Berlin or UTC`)

	s, err := NewSite("s", nil, "Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Date(2025, 11, 14, 20, 0, 0, 0, time.UTC).In(s.Location()).Format(time.DateOnly); got != "2025-11-15" {
		t.Errorf("20:00 UTC in Asia/Tokyo is on %s, want 2025-11-15", got)
	}
}

func TestCheck(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		for _, s := range []struct {
			id    string
			hosts []string
		}{
			{"site-123", []string{"example.com", "www.example.com", "*.preview.example.net", "127.0.0.1", "::1"}},
			{"bare", nil},
		} {
			if _, _, err := store.PutSite(ctx, s.id, s.hosts, ""); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := store.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f := func(site, origin, want string) {
			t.Helper()
			err := snap.Check(site, origin)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("Check(%q, %q) = %q, want %q", site, origin, got, want)
			}
		}
		// Allowed: a listed host, whatever the scheme, port, case, path or
		// user information; a subdomain of a wildcard; no origin at all.
		f("site-123", "https://example.com", "")
		f("site-123", "http://example.com:8080", "")
		f("site-123", "https://WWW.Example.COM", "")
		f("site-123", "https://example.com./", "")
		f("site-123", "https://example.com/blog/post?x=1#top", "") // a Referer
		f("site-123", "https://user:pw@example.com/", "")
		f("site-123", "https://pr-12.preview.example.net", "")
		f("site-123", "https://a.b.preview.example.net", "")
		f("site-123", "http://127.0.0.1:3000", "")
		f("site-123", "http://[::1]:3000", "")
		f("site-123", "", "")
		f("bare", "", "")

		// Refused.
		f("nope", "", `site_id: unknown site "nope"`)
		f("nope", "https://example.com", `site_id: unknown site "nope"`)
		f("site-123", "https://evil.example", `origin not allowed: "https://evil.example" is not a host name of site "site-123"`)
		f("site-123", "https://example.com.evil.example", `origin not allowed: "https://example.com.evil.example" is not a host name of site "site-123"`)
		f("site-123", "https://notexample.com", `origin not allowed: "https://notexample.com" is not a host name of site "site-123"`)
		f("site-123", "https://preview.example.net", `origin not allowed: "https://preview.example.net" is not a host name of site "site-123"`)
		f("site-123", "https://evil.example/p?q=1", `origin not allowed: "https://evil.example" is not a host name of site "site-123"`)
		f("site-123", "https://example.com@evil.example/", `origin not allowed: "https://evil.example" is not a host name of site "site-123"`)
		f("site-123", "null", `origin not allowed: "null" is not a host name of site "site-123"`)
		f("site-123", "example.com", `origin not allowed: "example.com" is not a host name of site "site-123"`)
		f("site-123", "http://[::1", `origin not allowed: "http://[::1" is not a host name of site "site-123"`)
		f("bare", "https://example.com", `origin not allowed: "https://example.com" is not a host name of site "bare", which lists none`)
		long := "https://" + strings.Repeat("a", 300) + ".com"
		f("site-123", long, `origin not allowed: "`+long[:maxShownOrigin]+`" is not a host name of site "site-123"`)

		if err := snap.Check("nope", ""); !errors.Is(err, ErrUnknownSite) {
			t.Errorf("unknown site: %v, want ErrUnknownSite", err)
		}
		if err := snap.Check("site-123", "https://evil.example"); !errors.Is(err, ErrOriginRefused) {
			t.Errorf("foreign origin: %v, want ErrOriginRefused", err)
		}
	})
}

func TestStoreSites(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		put := func(id string, hosts []string, zone string, wantCreated bool) {
			t.Helper()
			if _, created, err := store.PutSite(ctx, id, hosts, zone); err != nil || created != wantCreated {
				t.Fatalf("PutSite(%q) = created %v, %v; want created %v", id, created, err, wantCreated)
			}
		}
		list := func(want ...Site) {
			t.Helper()
			snap, err := store.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := snap.Sites()
			for i := range got {
				got[i].loc = nil
			}
			if want == nil {
				want = []Site{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("sites = %+v\nwant %+v", got, want)
			}
		}
		list()
		put("b", []string{"b.example"}, "Europe/Berlin", true)
		put("a", nil, "", true)
		list(Site{ID: "a", Hostnames: []string{}, TimeZone: "UTC"}, Site{ID: "b", Hostnames: []string{"b.example"}, TimeZone: "Europe/Berlin"})
		// A put replaces the host names and the time zone.
		put("b", []string{"www.b.example", "b.example"}, "UTC", false)
		put("a", []string{"a.example"}, "Asia/Tokyo", false)
		list(Site{ID: "a", Hostnames: []string{"a.example"}, TimeZone: "Asia/Tokyo"}, Site{ID: "b", Hostnames: []string{"b.example", "www.b.example"}, TimeZone: "UTC"})
		if _, _, err := store.PutSite(ctx, "a", nil, "Nowhere/Else"); err == nil {
			t.Fatal("PutSite with a bad time zone succeeded")
		}
		list(Site{ID: "a", Hostnames: []string{"a.example"}, TimeZone: "Asia/Tokyo"}, Site{ID: "b", Hostnames: []string{"b.example", "www.b.example"}, TimeZone: "UTC"})

		if err := store.RemoveSite(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if err := store.RemoveSite(ctx, "b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second RemoveSite: %v, want ErrNotFound", err)
		}
		list(Site{ID: "a", Hostnames: []string{"a.example"}, TimeZone: "Asia/Tokyo"})
		// The removed site's host names went with it.
		var n int
		if err := store.db.QueryRow(`SELECT count(*) FROM site_hostnames WHERE site_id = 'b'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("host names of a removed site: %d, %v", n, err)
		}
	})
}

func TestKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		// A fixed source of randomness makes the token exact.
		store.rand = bytes.NewReader(bytes.Repeat([]byte{0xfb}, 64))
		k1, t1, err := store.CreateSiteKey(ctx, "site-123", "ci")
		if err != nil {
			t.Fatal(err)
		}
		if want := "sl_" + strings.Repeat("-_v7", 10) + "-_s"; t1 != want {
			t.Errorf("token = %q, want %q", t1, want)
		}
		store.rand = rand.Reader
		k2, t2, err := store.CreateAdminKey(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		_, t3, err := store.CreateSiteKey(ctx, "other", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(t2) != len("sl_")+43 || !strings.HasPrefix(t2, "sl_") || t2 == t3 {
			t.Errorf("tokens %q and %q: want distinct sl_ and 43 base64url characters", t2, t3)
		}
		wantKeys := []Key{
			{ID: 1, Site: "site-123", Label: "ci", Created: testNow()},
			{ID: 2, Admin: true, Label: "ops", Created: testNow()},
			{ID: 3, Site: "other", Created: testNow()},
		}
		if k1 != wantKeys[0] || k2 != wantKeys[1] {
			t.Errorf("created %+v, %+v; want %+v, %+v", k1, k2, wantKeys[0], wantKeys[1])
		}
		if k1.Scope() != "site:site-123" || k2.Scope() != "admin" {
			t.Errorf("scopes %q, %q", k1.Scope(), k2.Scope())
		}

		// Only the SHA-256 of a token is stored: no column holds the token.
		dump := dumpKeys(t, store.db)
		for _, tok := range []string{t1, t2, t3} {
			if strings.Contains(dump, tok) || strings.Contains(dump, strings.TrimPrefix(tok, "sl_")) {
				t.Errorf("the database holds a token: %s", dump)
			}
		}
		var hash []byte
		if err := store.db.QueryRow(`SELECT hash FROM report_keys WHERE id = 1`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256([]byte(t1)); !bytes.Equal(hash, sum[:]) {
			t.Errorf("stored hash %x, want SHA-256 of the token %x", hash, sum)
		}

		snap, err := store.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.Keys(); !reflect.DeepEqual(got, wantKeys) {
			t.Errorf("keys = %+v\nwant %+v", got, wantKeys)
		}
		lookup := func(snap *Snapshot, token, wantSite string, wantAdmin, wantOK bool) {
			t.Helper()
			site, admin, ok := snap.Lookup(token)
			if site != wantSite || admin != wantAdmin || ok != wantOK {
				t.Errorf("Lookup(%.12q…) = %q, %v, %v; want %q, %v, %v", token, site, admin, ok, wantSite, wantAdmin, wantOK)
			}
		}
		lookup(snap, t1, "site-123", false, true)
		lookup(snap, t2, "", true, true)
		lookup(snap, t3, "other", false, true)
		lookup(snap, "", "", false, false)
		lookup(snap, t1+"x", "", false, false)
		lookup(snap, t1[:len(t1)-1], "", false, false)
		if !snap.HasKeys() {
			t.Error("HasKeys = false with three keys")
		}

		if err := store.RevokeKey(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeKey(ctx, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("second revoke: %v, want ErrNotFound", err)
		}
		if snap, err = store.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
		lookup(snap, t1, "", false, false)
		lookup(snap, t2, "", true, true)
		// The id of a revoked key is never reused.
		if k, _, err := store.CreateSiteKey(ctx, "site-123", ""); err != nil || k.ID != 4 {
			t.Errorf("key after a revoke: id %d, %v; want 4", k.ID, err)
		}

		for _, c := range []struct {
			site, label, msg string
		}{
			{"bad id", "", "site_id: must be 1-100 characters of letters, digits and ._:-"},
			{"", "", "site_id: must be 1-100 characters of letters, digits and ._:-"},
			{"s", "tab\there", "label: must be at most 100 bytes of UTF-8 without control characters"},
			{"s", strings.Repeat("x", 101), "label: must be at most 100 bytes of UTF-8 without control characters"},
			{"s", "\xff", "label: must be at most 100 bytes of UTF-8 without control characters"},
		} {
			if _, _, err := store.CreateSiteKey(ctx, c.site, c.label); err == nil || err.Error() != c.msg {
				t.Errorf("CreateSiteKey(%q, %q) = %v, want %q", c.site, c.label, err, c.msg)
			}
		}
	})
}

// TestWritersTakeTurns: stores on pools of their own, as of separate
// processes, put the same new site and add the same goal at once. Each is
// created by exactly one of them and found made by the others, none fails,
// and the goal has one id: a write's check (is the site new, is the name
// taken) still holds when it writes, as writers take turns.
func TestWritersTakeTurns(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		ctx := context.Background()
		const writers = 8
		stores := make([]*Store, writers)
		for i := range stores {
			stores[i] = NewStore(mustOpen(t, db.openAdmin), StoreOptions{Dialect: db.dialect})
		}
		var sitesMade, goalsMade atomic.Int32
		ids := make([]int64, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				_, created, err := s.PutSite(ctx, "s", []string{"s.example"}, "Europe/Paris")
				if err != nil {
					errs[i] = err
					return
				}
				if created {
					sitesMade.Add(1)
				}
				g, created, err := s.AddGoal(ctx, "s", "", "signup", "")
				if err != nil {
					errs[i] = err
					return
				}
				if created {
					goalsMade.Add(1)
				}
				ids[i] = g.ID
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := sitesMade.Load(); n != 1 {
			t.Errorf("%d writers created the site, want 1", n)
		}
		if n := goalsMade.Load(); n != 1 {
			t.Errorf("%d writers created the goal, want 1", n)
		}
		for i, id := range ids {
			if id != ids[0] {
				t.Errorf("writer %d has goal %d, writer 0 goal %d", i, id, ids[0])
			}
		}
	})
}

// dumpKeys returns every column of every stored key, as text, and the
// hash also as hexadecimal.
func dumpKeys(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`SELECT id, site_id, label, hash, created_at FROM report_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var dump strings.Builder
	for rows.Next() {
		var id, created int64
		var site sql.NullString
		var label string
		var hash []byte
		if err := rows.Scan(&id, &site, &label, &hash, &created); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&dump, "%d|%s|%s|%s|%x|%d\n", id, site.String, label, hash, hash, created)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return dump.String()
}

// TestRegistrySeesWrites: a serving process's Registry, reading through
// the read-only pool, sees a change another connection commits: at once
// on Reload, and through Run's polling without anyone asking.
func TestRegistrySeesWrites(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *testDB) {
		store := db.store
		ctx := context.Background()
		reg, err := Load(ctx, db.readers, Options{Poll: 10 * time.Millisecond, Dialect: db.dialect})
		if err != nil {
			t.Fatal(err)
		}
		if reg.HasKeys() || len(reg.Snapshot().Sites()) != 0 {
			t.Fatal("a fresh registry is not empty")
		}

		// Reload without a change keeps the snapshot: nothing is re-read.
		before := reg.Snapshot()
		if err := reg.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if reg.Snapshot() != before {
			t.Error("Reload without a change replaced the snapshot")
		}

		// Reload after a write sees it.
		if _, _, err := store.PutSite(ctx, "a", []string{"a.example"}, ""); err != nil {
			t.Fatal(err)
		}
		if err := reg.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if err := reg.Check("a", "https://a.example"); err != nil {
			t.Errorf("after Reload: %v", err)
		}
		if reg.Snapshot().Version() <= before.Version() {
			t.Errorf("version %d after a write, was %d", reg.Snapshot().Version(), before.Version())
		}

		// Run finds writes by itself.
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { reg.Run(runCtx); close(done) }()
		defer func() { stop(); <-done }()
		_, token, err := store.CreateSiteKey(ctx, "a", "")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the new key", func() bool { _, _, ok := reg.Lookup(token); return ok })
		if !reg.HasKeys() {
			t.Error("HasKeys = false after a key was seen")
		}
		if err := store.RemoveSite(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the removal", func() bool { return errors.Is(reg.Check("a", ""), ErrUnknownSite) })
		if err := store.RevokeKey(ctx, 1); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the revocation", func() bool { return !reg.HasKeys() })
	})
}

// waitFor polls cond until it holds; Run's poll makes that a matter of
// its interval, and the bound only ends a test that would hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the registry never saw %s", what)
}

func BenchmarkCheck(b *testing.B) {
	store := openDB(b, SQLite).store
	ctx := context.Background()
	if _, _, err := store.PutSite(ctx, "site-123", []string{"example.com", "www.example.com", "*.preview.example.net"}, ""); err != nil {
		b.Fatal(err)
	}
	snap, err := store.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := snap.Check("site-123", "https://pr-1.preview.example.net"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	store := openDB(b, SQLite).store
	ctx := context.Background()
	var token string
	for i := range 10 {
		_, tok, err := store.CreateSiteKey(ctx, "site-123", "")
		if err != nil {
			b.Fatal(err)
		}
		if i == 9 {
			token = tok
		}
	}
	snap, err := store.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := snap.Lookup(token); !ok {
			b.Fatal("not found")
		}
	}
}
