package rollup

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OpenAdmin opens (creating it and its directory if missing) the database
// at path for changes made beside the worker: the sites registry and the
// report keys, written by the sites and keys commands and by the admin
// API. Its one connection has the writer's pragmas, so its transactions
// take the write lock when they begin and wait, up to the busy timeout,
// for the worker's to end; SQLite serialises the two across processes.
// It brings the schema up to date, so the commands also work before the
// server first ran.
func OpenAdmin(path string) (*sql.DB, error) {
	db, err := openAdmin(path)
	if err != nil {
		return nil, fmt.Errorf("rollup: open %s for administration: %w", path, err)
	}
	return db, nil
}

func openAdmin(path string) (*sql.DB, error) {
	db, err := openWriter(path)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := checkWAL(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db, time.Now()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
