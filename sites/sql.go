package sites

// Every statement of the package, in one place: the SQL depends on the
// dialect (ON CONFLICT, RETURNING), and a PostgreSQL backend will follow.
// The tables are created by rollup's migration 0002_access.sql.
const (
	sqlVersion = `SELECT version FROM registry_version WHERE id = 1`

	sqlSites     = `SELECT site_id, time_zone FROM site_registry ORDER BY site_id`
	sqlHostnames = `SELECT site_id, hostname FROM site_hostnames ORDER BY site_id, hostname`
	sqlKeys      = `SELECT id, site_id, label, hash, created_at FROM report_keys ORDER BY id`

	sqlSiteExists = `SELECT count(*) FROM site_registry WHERE site_id = ?`
	sqlUpsertSite = `INSERT INTO site_registry (site_id, time_zone, created_at, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (site_id) DO UPDATE SET time_zone = excluded.time_zone, updated_at = excluded.updated_at`
	sqlClearHostnames = `DELETE FROM site_hostnames WHERE site_id = ?`
	sqlInsertHostname = `INSERT INTO site_hostnames (site_id, hostname) VALUES (?, ?)`
	// The site's host names go with it: ON DELETE CASCADE.
	sqlDeleteSite = `DELETE FROM site_registry WHERE site_id = ?`

	sqlInsertKey = `INSERT INTO report_keys (site_id, label, hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`
	sqlDeleteKey = `DELETE FROM report_keys WHERE id = ?`

	// Goals are created by 0003_analytics.sql; '' selects every site's.
	sqlGoals = `SELECT id, site_id, name, event_name, page_path, created_at FROM goals
		WHERE ?1 = '' OR site_id = ?1 ORDER BY site_id, name`
	sqlGoalByName = `SELECT id, site_id, name, event_name, page_path, created_at FROM goals WHERE site_id = ? AND name = ?`
	sqlInsertGoal = `INSERT INTO goals (site_id, name, event_name, page_path, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`
	sqlDeleteGoal = `DELETE FROM goals WHERE site_id = ? AND name = ?`
)
