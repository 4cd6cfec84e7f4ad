package report

import (
	"database/sql"
	"strings"
	"testing"
)

// queryPlan returns the detail lines of EXPLAIN QUERY PLAN for q.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// The reports read a bounded number of rows: totals by primary key, top
// paths by walking their index in its own order up to the limit, never by
// scanning a table or sorting every path of a site.
func TestQueryPlans(t *testing.T) {
	rw, path := newDB(t, "wal", fixture)
	// With statistics the planner might prefer the primary key and a sort
	// for a small day; the plans must not depend on that.
	if _, err := rw.Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, path, "5000")
	day := scope{site: "site-123", day: "2025-11-14", limit: DefaultLimit}
	all := scope{site: "site-123", limit: DefaultLimit}

	tests := []struct {
		name, sql string
		args      []any
		want      string // a plan line that must be there
	}{
		{"daily totals", sqliteDialect.dailyTotals, day.args(false), "SEARCH daily USING PRIMARY KEY (site_id=? AND day=?)"},
		{"site totals", sqliteDialect.siteTotals, all.args(false), "SEARCH sites USING PRIMARY KEY (site_id=?)"},
		{"daily top paths", sqliteDialect.dailyTopPaths, day.args(true), "SEARCH daily_paths USING COVERING INDEX daily_paths_top (site_id=? AND day=?)"},
		{"site top paths", sqliteDialect.siteTopPaths, all.args(true), "SEARCH site_paths USING COVERING INDEX site_paths_top (site_id=?)"},
		{"daily event types", sqliteDialect.dailyTypes, day.args(true), "SEARCH daily_types USING COVERING INDEX daily_types_top (site_id=? AND day=?)"},
		{"site event types", sqliteDialect.siteTypes, all.args(true), "SEARCH site_types USING COVERING INDEX site_types_top (site_id=?)"},
	}
	for _, tt := range tests {
		plan := queryPlan(t, db, tt.sql, tt.args...)
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, tt.want) {
			t.Errorf("%s: plan\n%s\nlacks %q", tt.name, joined, tt.want)
		}
		for _, line := range plan {
			if strings.Contains(line, "TEMP B-TREE") || strings.HasPrefix(line, "SCAN") {
				t.Errorf("%s: plan sorts or scans: %q", tt.name, line)
			}
		}
	}
}
