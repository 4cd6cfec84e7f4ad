package sites

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPoll is how often a Registry asks the database whether the
// registry changed: the longest a change by another process goes unseen.
const DefaultPoll = time.Second

// Options configure a Registry. The zero value is usable.
type Options struct {
	// Poll is how often Run checks for changes; 0 means DefaultPoll.
	Poll time.Duration
	// Logger receives failures to re-read the registry; nil means
	// slog.Default().
	Logger *slog.Logger
	// Dialect is the database's: SQLite (the zero value) or PostgreSQL.
	Dialect Dialect
}

// Registry is the current Snapshot of the registry, kept up to date by
// Run. Its methods are safe for concurrent use and, but for Reload, take
// no lock and touch no database.
type Registry struct {
	db      *sql.DB
	dialect Dialect
	poll    time.Duration
	logger  *slog.Logger
	cur     atomic.Pointer[Snapshot]
	// reload makes one Reload at a time, so an older snapshot never
	// replaces a newer one.
	reload sync.Mutex
}

// Load reads the registry from db (a read-only pool will do) and returns
// a Registry holding it. The admin API writes to the same database, in the
// same dialect.
func Load(ctx context.Context, db *sql.DB, opts Options) (*Registry, error) {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	snap, err := ReadSnapshot(ctx, db, opts.Dialect)
	if err != nil {
		return nil, err
	}
	r := &Registry{db: db, dialect: opts.Dialect, poll: opts.Poll, logger: opts.Logger}
	r.cur.Store(snap)
	return r, nil
}

// Snapshot returns the registry as last read.
func (r *Registry) Snapshot() *Snapshot { return r.cur.Load() }

// Check is Snapshot().Check: it lets the registry serve as ingest's
// SiteChecker.
func (r *Registry) Check(siteID, origin string) error { return r.cur.Load().Check(siteID, origin) }

// HasKeys is Snapshot().HasKeys.
func (r *Registry) HasKeys() bool { return r.cur.Load().HasKeys() }

// Zone is the time zone of a registered site's days, nil for a site not in
// the registry (whose days are UTC's): the Zone option of the stores.
func (r *Registry) Zone(site string) *time.Location {
	if s, ok := r.cur.Load().Site(site); ok {
		return s.Location()
	}
	return nil
}

// Lookup is Snapshot().Lookup.
func (r *Registry) Lookup(token string) (site string, admin, ok bool) {
	return r.cur.Load().Lookup(token)
}

// Reload re-reads the registry if its change counter moved since the
// snapshot held: one small query when nothing changed.
func (r *Registry) Reload(ctx context.Context) error {
	r.reload.Lock()
	defer r.reload.Unlock()
	var v int64
	if err := r.db.QueryRowContext(ctx, r.dialect.sql().version).Scan(&v); err != nil {
		return fmt.Errorf("sites: read the registry version: %w", err)
	}
	if v == r.cur.Load().version {
		return nil
	}
	snap, err := ReadSnapshot(ctx, r.db, r.dialect)
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	return nil
}

// Run reloads the registry every poll interval until ctx ends. A failed
// reload keeps the snapshot held and is logged once, until one succeeds.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.Reload(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			r.logger.Warn("sites: cannot re-read the registry; keeping the last one read", "err", err)
		case err == nil && failing:
			failing = false
			r.logger.Info("sites: registry read again")
		}
	}
}

// ReadSnapshot reads the whole registry from db, a database of dialect d,
// in one read transaction, so its sites, host names, keys and version
// belong together.
func ReadSnapshot(ctx context.Context, db *sql.DB, d Dialect) (*Snapshot, error) {
	snap, err := readSnapshot(ctx, db, d.sql())
	if err != nil {
		return nil, fmt.Errorf("sites: read the registry: %w", err)
	}
	return snap, nil
}

func readSnapshot(ctx context.Context, db *sql.DB, d *dialect) (*Snapshot, error) {
	tx, err := db.BeginTx(ctx, &d.readTx)
	if err != nil {
		return nil, err
	}
	// Nothing is written: rolling back only ends the transaction.
	defer tx.Rollback()

	var version int64
	if err := tx.QueryRowContext(ctx, d.version).Scan(&version); err != nil {
		return nil, err
	}
	var list []Site
	index := map[string]int{}
	err = query(ctx, tx, d.sites, func(rows *sql.Rows) error {
		var id, zone string
		if err := rows.Scan(&id, &zone); err != nil {
			return err
		}
		loc, err := loadZone(zone)
		if err != nil {
			// Written through NewSite, so valid where it was written; a
			// zone this binary lacks must not stop the server.
			loc = time.UTC
		}
		index[id] = len(list)
		list = append(list, Site{ID: id, Hostnames: []string{}, TimeZone: zone, loc: loc})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = query(ctx, tx, d.hostnames, func(rows *sql.Rows) error {
		var id, host string
		if err := rows.Scan(&id, &host); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			list[i].Hostnames = append(list[i].Hostnames, host)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var keys []storedKey
	err = query(ctx, tx, d.keys, func(rows *sql.Rows) error {
		var k storedKey
		var site sql.NullString
		var hash []byte
		var created int64
		if err := rows.Scan(&k.ID, &site, &k.Label, &hash, &created); err != nil {
			return err
		}
		if len(hash) != len(k.hash) {
			return fmt.Errorf("key %d: hash of %d bytes", k.ID, len(hash))
		}
		copy(k.hash[:], hash)
		k.Admin, k.Site = !site.Valid, site.String
		k.Created = time.Unix(created, 0).UTC()
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newSnapshot(version, list, keys), nil
}

// query runs q in tx and calls row for each row.
func query(ctx context.Context, tx *sql.Tx, q string, row func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
