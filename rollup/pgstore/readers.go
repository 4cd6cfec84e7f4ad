package pgstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenReaders opens a database/sql pool on the database at dsn for report
// processes, which share their report code with the SQLite store's. It
// writes nothing, the schema included: it fails if no node has created
// the schema yet, or if the schema is not the one this binary knows. dsn
// may name a streaming replica.
func OpenReaders(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := openReaders(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open for reports: %w", err)
	}
	return db, nil
}

func openReaders(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	var have int
	err = db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have)
	var state interface{ SQLState() string }
	switch {
	case errors.As(err, &state) && state.SQLState() == "42P01": // undefined_table
		db.Close()
		return nil, errors.New("the database has no sitelog schema yet: start a `sitelog ingest --db` node on it first")
	case err != nil:
		db.Close()
		return nil, err
	case have < len(ms):
		db.Close()
		return nil, fmt.Errorf("database schema version %d is older than this binary's %d: start a `sitelog ingest --db` node of this version once to migrate it", have, len(ms))
	case have > len(ms):
		db.Close()
		return nil, fmt.Errorf("database schema version %d is newer than this binary's %d: run a newer sitelog", have, len(ms))
	}
	return db, nil
}
