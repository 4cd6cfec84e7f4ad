package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenAdmin opens a database/sql pool on the database at dsn for changes
// to the sites registry (package sites, in its PostgreSQL dialect): the
// sites, keys and goals commands and the admin API of any process write
// through it. It brings the schema up to date as a node's start does, so
// that the commands also work before any node has started.
func OpenAdmin(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := openAdmin(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open for administration: %w", err)
	}
	return db, nil
}

func openAdmin(ctx context.Context, dsn string) (*sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	// A registry write holds the lock that the registry's writers take
	// turns on: the server ends a transaction whose connection was lost
	// rather than let it hold that lock until TCP gives up.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(idleInTransaction / time.Millisecond))
	// One connection migrates; the pool that writes is database/sql's,
	// which package sites takes.
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	err = migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg.ConnConfig), nil
}
