package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// sqlBackup writes a consistent copy of the database to a new file.
const sqlBackup = `VACUUM INTO ?`

// backupParams open the database for the copy: mode=rw so that a missing
// file is an error rather than a new empty database. SQLite refuses VACUUM
// INTO on a read-only connection even though it only reads the source;
// the statement itself writes nothing but the new file.
const backupParams = "mode=rw&_pragma=busy_timeout(5000)"

// Backup writes a consistent copy of the database at path to dest, which
// must not exist, while the server keeps running: VACUUM INTO reads one
// snapshot through a read-only connection, so the worker goes on writing
// meanwhile, and the copy is compacted. The copy is fsynced before Backup
// returns.
func Backup(ctx context.Context, path, dest string) error {
	if err := backup(ctx, path, dest); err != nil {
		return fmt.Errorf("rollup: backup to %s: %w", dest, err)
	}
	return nil
}

func backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
		return errors.New("the file exists (or cannot be checked); name a new file")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s: %w", path, err)
	}
	dsn, err := fileURI(path, backupParams)
	if err != nil {
		return err
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, sqlBackup, abs); err != nil {
		return err
	}
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(abs))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
