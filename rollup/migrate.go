package rollup

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema changes, one file per version, named
// NNNN_what.sql and numbered from 1 without gaps. A migration, once
// released, is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files { // fs.Glob returns names sorted
		name := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number and '_'", name)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (numbered from 1 without gaps)", name, v, len(ms)+1)
		}
		text, err := fs.ReadFile(migrationFS, f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms, nil
}

// latestVersion is the schema version this binary writes and reads.
func latestVersion() (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// migrate applies, in order, every migration newer than the database's
// schema version, each in its own transaction together with the row that
// records it, so a crash leaves the schema at a whole version. A database
// newer than this binary is refused rather than written with a schema the
// binary does not know.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sqlCreateMigrations); err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, sqlSchemaVersion).Scan(&current); err != nil {
		return err
	}
	if current > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this binary's %d: run a newer sitelog", current, len(ms))
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, db, m, now); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlRecordMigration, m.version, now.Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// schemaVersion reads the schema version of db, 0 for a database that
// was never migrated.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var has int
	if err := db.QueryRowContext(ctx, sqlHasMigrations).Scan(&has); err != nil {
		return 0, err
	}
	if has == 0 {
		return 0, nil
	}
	var v int
	err := db.QueryRowContext(ctx, sqlSchemaVersion).Scan(&v)
	return v, err
}
