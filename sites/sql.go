package sites

import (
	"database/sql"
)

// Every statement of the package, in one place, once per dialect: the
// registry lives in the data directory's SQLite database, or in the
// PostgreSQL database that several ingest nodes and report processes
// share. The tables are created by rollup's migrations 0002_access.sql
// and 0003_analytics.sql (goals), and by pgstore's 0004_registry.sql.

// Dialect is the kind of database a registry lives in.
type Dialect int

const (
	// SQLite is the data directory's database (rollup.OpenAdmin,
	// rollup.OpenReadOnly): the zero value.
	SQLite Dialect = iota
	// PostgreSQL is the database of the PostgreSQL store (pgstore.OpenAdmin,
	// pgstore.OpenReaders), one registry for every process on it.
	PostgreSQL
)

// sql returns the statements of the dialect.
func (d Dialect) sql() *dialect {
	if d == PostgreSQL {
		return &postgresDialect
	}
	return &sqliteDialect
}

// dialect is the SQL of the registry for one kind of database.
type dialect struct {
	version                string
	sites, hostnames, keys string

	// lock begins every write transaction, before it reads what it is
	// about to change; "" when the transaction's BEGIN already locks.
	lock string

	siteExists, upsertSite         string
	clearHostnames, insertHostname string
	deleteSite                     string
	insertKey, deleteKey           string
	goals, goalByName              string
	insertGoal, deleteGoal         string

	// readTx are the options of the transaction a Snapshot is read in: it
	// must see one committed state from its first statement to its last.
	readTx sql.TxOptions
}

// sqliteDialect is the registry in SQLite. The writer's connection begins
// every transaction IMMEDIATE (rollup.OpenAdmin), taking the database's
// write lock at BEGIN: writes are serialised without a lock statement,
// and a read transaction sees one snapshot from its first read on.
var sqliteDialect = dialect{
	version: `SELECT version FROM registry_version WHERE id = 1`,

	sites:     `SELECT site_id, time_zone FROM site_registry ORDER BY site_id`,
	hostnames: `SELECT site_id, hostname FROM site_hostnames ORDER BY site_id, hostname`,
	keys:      `SELECT id, site_id, label, hash, created_at FROM report_keys ORDER BY id`,

	siteExists: `SELECT count(*) FROM site_registry WHERE site_id = ?`,
	upsertSite: `INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (site_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
	clearHostnames: `DELETE FROM site_hostnames WHERE site_id = ?`,
	insertHostname: `INSERT INTO site_hostnames (site_id, hostname) VALUES (?, ?)`,
	// The site's host names go with it: ON DELETE CASCADE.
	deleteSite: `DELETE FROM site_registry WHERE site_id = ?`,

	insertKey: `INSERT INTO report_keys (site_id, label, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
	deleteKey: `DELETE FROM report_keys WHERE id = ?`,

	// '' selects every site's goals.
	goals: `SELECT id, site_id, name, event_name, page_path, created_at FROM goals
		WHERE ?1 = '' OR site_id = ?1 ORDER BY site_id, name`,
	goalByName: `SELECT id, site_id, name, event_name, page_path, created_at FROM goals WHERE site_id = ? AND name = ?`,
	insertGoal: `INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
	deleteGoal: `DELETE FROM goals WHERE site_id = ? AND name = ?`,

	readTx: sql.TxOptions{ReadOnly: true},
}

// postgresDialect is the registry in PostgreSQL, where transactions are
// READ COMMITTED and take no lock at BEGIN: a write first locks the change
// counter's row, which its triggers would update anyway, so writers from
// every process take turns as SQLite's do, and each one's check (is the
// site new, is the goal's name taken) still holds when it writes. Sorts
// are by byte order (COLLATE "C"), as SQLite's BINARY collation is, so
// that both list the same order whatever the database's locale.
// REPEATABLE READ gives the reads of a snapshot one committed state.
var postgresDialect = dialect{
	version: `SELECT version FROM registry_version WHERE id = 1`,

	sites:     `SELECT site_id, time_zone FROM site_registry ORDER BY site_id COLLATE "C"`,
	hostnames: `SELECT site_id, hostname FROM site_hostnames ORDER BY site_id COLLATE "C", hostname COLLATE "C"`,
	keys:      `SELECT id, site_id, label, hash, created_at FROM report_keys ORDER BY id`,

	lock: `SELECT version FROM registry_version WHERE id = 1 FOR UPDATE`,

	siteExists: `SELECT count(*) FROM site_registry WHERE site_id = $1`,
	upsertSite: `INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (site_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
	clearHostnames: `DELETE FROM site_hostnames WHERE site_id = $1`,
	insertHostname: `INSERT INTO site_hostnames (site_id, hostname) VALUES ($1, $2)`,
	deleteSite:     `DELETE FROM site_registry WHERE site_id = $1`,

	insertKey: `INSERT INTO report_keys (site_id, label, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
	deleteKey: `DELETE FROM report_keys WHERE id = $1`,

	goals: `SELECT id, site_id, name, event_name, page_path, created_at FROM goals
		WHERE $1 = '' OR site_id = $1 ORDER BY site_id COLLATE "C", name COLLATE "C"`,
	goalByName: `SELECT id, site_id, name, event_name, page_path, created_at FROM goals WHERE site_id = $1 AND name = $2`,
	insertGoal: `INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
	deleteGoal: `DELETE FROM goals WHERE site_id = $1 AND name = $2`,

	readTx: sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
}
