package rollup

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"sitelog/internal/migration"
)

// migrationFS holds the schema changes, one file per version, named
// NNNN_what.sql and numbered from 1 without gaps. A migration, once
// released, is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]migration.Migration, error) {
	return migration.Load(migrationFS, "migrations")
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
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration.Migration, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlRecordMigration, m.Version, now.Unix()); err != nil {
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
