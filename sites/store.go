package sites

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"sitelog/event"
)

// tokenBytes is the randomness of a token: 256 bits.
const tokenBytes = 32

// StoreOptions configure a Store. The zero value is usable.
type StoreOptions struct {
	// Now is the clock of created and updated times; nil means time.Now.
	Now func() time.Time
	// Rand is the source of tokens; nil means crypto/rand.Reader.
	Rand io.Reader
	// Dialect is the database's: SQLite (the zero value) or PostgreSQL.
	Dialect Dialect
}

// Store changes the registry. Its database must be writable (see
// rollup.OpenAdmin and pgstore.OpenAdmin); each change is one transaction,
// and moves the registry's change counter so that every serving process
// re-reads it.
type Store struct {
	db      *sql.DB
	dialect Dialect
	d       *dialect
	now     func() time.Time
	rand    io.Reader
}

// NewStore returns a Store writing to db.
func NewStore(db *sql.DB, opts StoreOptions) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Store{db: db, dialect: opts.Dialect, d: opts.Dialect.sql(), now: opts.Now, rand: opts.Rand}
}

// Snapshot reads the registry as it is now.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	return ReadSnapshot(ctx, s.db, s.dialect)
}

// PutSite registers a site, or replaces the host names and time zone of
// one registered already (created tells which), after validating them as
// NewSite does.
func (s *Store) PutSite(ctx context.Context, id string, hostnames []string, timeZone string) (site Site, created bool, err error) {
	site, err = NewSite(id, hostnames, timeZone)
	if err != nil {
		return Site{}, false, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.siteExists, site.ID).Scan(&n); err != nil {
			return err
		}
		created = n == 0
		now := s.now().Unix()
		if _, err := tx.ExecContext(ctx, s.d.upsertSite, site.ID, site.TimeZone, now, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.d.clearHostnames, site.ID); err != nil {
			return err
		}
		for _, h := range site.Hostnames {
			if _, err := tx.ExecContext(ctx, s.d.insertHostname, site.ID, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Site{}, false, fmt.Errorf("sites: put site %q: %w", id, err)
	}
	return site, created, nil
}

// RemoveSite removes a site from the registry; ErrNotFound if it is not
// there. Its events and rollups stay, and so do the keys for it.
func (s *Store) RemoveSite(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return exactlyOne(tx.ExecContext(ctx, s.d.deleteSite, id))
	})
	if err != nil {
		return fmt.Errorf("sites: remove site %q: %w", id, err)
	}
	return nil
}

// CreateSiteKey creates a key that reads the reports of site, and returns
// it with its token: the only time the token is known, as only its hash is
// stored. The site need not be registered.
func (s *Store) CreateSiteKey(ctx context.Context, site, label string) (Key, string, error) {
	if !event.ValidSiteID(site) {
		return Key{}, "", &InvalidError{"site_id", event.SiteIDRule}
	}
	return s.createKey(ctx, Key{Site: site, Label: label})
}

// CreateAdminKey creates a key that reads every site's reports and may
// change the registry through the admin API, and returns it with its
// token, shown this once.
func (s *Store) CreateAdminKey(ctx context.Context, label string) (Key, string, error) {
	return s.createKey(ctx, Key{Admin: true, Label: label})
}

func (s *Store) createKey(ctx context.Context, k Key) (Key, string, error) {
	if len(k.Label) > MaxLabel || !utf8.ValidString(k.Label) || hasControl(k.Label) {
		return Key{}, "", &InvalidError{"label", "must be at most " + strconv.Itoa(MaxLabel) + " bytes of UTF-8 without control characters"}
	}
	var raw [tokenBytes]byte
	if _, err := io.ReadFull(s.rand, raw[:]); err != nil {
		return Key{}, "", fmt.Errorf("sites: create key: random token: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	hash := hashToken(token)
	k.Created = s.now().UTC().Truncate(time.Second)
	var site sql.NullString
	if !k.Admin {
		site = sql.NullString{String: k.Site, Valid: true}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.d.insertKey, site, k.Label, hash[:], k.Created.Unix()).Scan(&k.ID)
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("sites: create key: %w", err)
	}
	return k, token, nil
}

// RevokeKey deletes a key; ErrNotFound if there is none with that id.
// Serving processes refuse its token once they have re-read the registry.
func (s *Store) RevokeKey(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return exactlyOne(tx.ExecContext(ctx, s.d.deleteKey, id))
	})
	if err != nil {
		return fmt.Errorf("sites: revoke key %d: %w", id, err)
	}
	return nil
}

// write runs fn in one transaction, which holds the registry's write lock
// from its start, and commits it.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	if s.d.lock != "" {
		if _, err := tx.ExecContext(ctx, s.d.lock); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// exactlyOne turns a statement that changed no row into ErrNotFound.
func exactlyOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// hasControl reports whether s holds control characters, which would
// corrupt the terminal that lists the keys.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
