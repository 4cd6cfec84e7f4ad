package rollup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"sitelog/event"
)

// rebuildChunk is how many raw events a rebuild reads at a time.
const rebuildChunk = 8192

// ErrRetained is returned by Rebuild when raw events are being pruned:
// the rollups of pruned days could not be recomputed.
var ErrRetained = errors.New("rollup: raw events are pruned (--retain-raw), so rollups cannot be rebuilt from them")

// siteTables are the rollup tables that Rebuild empties and recomputes,
// each with a site_id column.
var siteTables = []string{
	"daily", "daily_types", "daily_users", "daily_paths",
	"sites", "site_types", "site_users", "site_paths",
	"stats", "stats_visitors", "stats_visitors_v3", "stats_visitors_v3_days", "stats_sketches", "sessions", "session_clock",
}

// Rebuild recomputes every rollup of a site (of every site when site is
// "") from its raw events, in the site's current time zone and with the
// current goals, in one transaction: reports see the old rollups until it
// commits, then the new. The result is what applying the same events
// incrementally produces, because apply and rebuild run the same code over
// the events in log order. Apply waits while it runs.
func (s *Store) Rebuild(ctx context.Context, site string) (events int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, ErrClosed
	}
	// Whatever happens, what the Store knew of the rollups no longer holds.
	defer func() {
		s.known = newKnownKeys(knownVisitorsMax, knownPathsMax)
		s.an.forget()
	}()
	tx, err := beginWrite(ctx, s.db)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, table := range siteTables {
		q := "DELETE FROM " + table
		var args []any
		if site != "" {
			q += " WHERE site_id = ?"
			args = append(args, site)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("rollup: rebuild: empty %s: %w", table, err)
		}
	}
	s.an.forget()
	s.known = newKnownKeys(knownVisitorsMax, knownPathsMax)

	// The zones are read from the registry in the transaction rather than
	// taken from Options.Zone, whose snapshot may be a second old: a
	// rebuild right after `sitelog sites add --tz` must use the new zone.
	zones, err := registryZones(ctx, tx.Tx)
	if err != nil {
		return 0, fmt.Errorf("rollup: rebuild: %w", err)
	}
	s.rebuildZones = zones
	defer func() { s.rebuildZones = nil }()

	var lastLog, lastIndex int64
	for {
		n, err := s.rebuildChunk(ctx, tx, site, &lastLog, &lastIndex)
		if err != nil {
			return events, fmt.Errorf("rollup: rebuild: %w", err)
		}
		events += int64(n)
		if n < rebuildChunk {
			break
		}
	}
	if err := tx.Commit(); err != nil {
		return events, fmt.Errorf("rollup: rebuild: %w", err)
	}
	return events, nil
}

// rebuildChunk applies the next raw events after (lastLog, lastIndex) in
// log order, and moves the position past them.
func (s *Store) rebuildChunk(ctx context.Context, tx *writeTx, site string, lastLog, lastIndex *int64) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT log_id, log_index, site_id, event_type, path, query, fragment, user_id, ts, bot,
	visitor, hostname, referrer, source, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
	browser, os, device, country, screen_width, props
	FROM events WHERE (log_id, log_index) > (?, ?) AND (? = '' OR site_id = ?)
	ORDER BY log_id, log_index LIMIT ?`, *lastLog, *lastIndex, site, site, rebuildChunk)
	if err != nil {
		return 0, err
	}
	type raw struct {
		logID, index int64
		e            event.Event
	}
	var evs []raw
	for rows.Next() {
		var r raw
		var ts, visitor, width int64
		e := &r.e
		if err := rows.Scan(&r.logID, &r.index, &e.SiteID, &e.Type, &e.Path, &e.Query, &e.Fragment, &e.UserID, &ts, &e.Bot,
			&visitor, &e.Hostname, &e.Referrer, &e.Source, &e.UTMSource, &e.UTMMedium, &e.UTMCampaign, &e.UTMContent, &e.UTMTerm,
			&e.Browser, &e.OS, &e.Device, &e.Country, &width, &e.Props); err != nil {
			rows.Close()
			return 0, err
		}
		e.Time = time.UnixMicro(ts).UTC()
		e.Visitor, e.ScreenWidth = uint64(visitor), int(width)
		if e.Visitor == 0 && e.UserID != "" && !e.Bot {
			// Stored before raw events had a visitor column: the visitor
			// of a user_id is what Decode gives a record of version 1.
			e.Visitor = event.UserVisitor(e.SiteID, e.UserID)
		}
		evs = append(evs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}

	b := s.b
	b.reset()
	b.rebuilding = true
	defer func() { b.rebuilding = false }()
	defer b.bg.wait() // nothing left running on the transaction
	if err := s.an.begin(ctx, sqliteAnalytics{tx, s.st, &b.anArgs, s.pace}); err != nil {
		return 0, err
	}
	for i := range evs {
		if err := s.add(ctx, tx, b, evs[i].logID, uint64(evs[i].index), &evs[i].e); err != nil {
			return 0, err
		}
	}
	if err := s.write(ctx, tx, b); err != nil {
		return 0, err
	}
	// Later chunks of the same transaction read what this one wrote, so
	// what it admitted and inserted is known from here on; a failure drops
	// all of it (Rebuild forgets everything when it returns).
	s.known.remember(s.pace, b)
	s.an.commit()
	last := evs[len(evs)-1]
	*lastLog, *lastIndex = last.logID, last.index
	return len(evs), nil
}

// rebuildPoll is how often the worker looks for rebuild requests.
const rebuildPoll = time.Second

// rebuild carries out the rebuild requests that `sitelog rebuild` left,
// oldest first, recording the outcome of each in its row.
func (w *Worker) rebuild(ctx context.Context) {
	for !w.store.closed.Load() {
		var id int64
		var site string
		err := w.store.db.QueryRowContext(ctx,
			`SELECT id, site_id FROM rebuilds WHERE finished_at IS NULL ORDER BY id LIMIT 1`).Scan(&id, &site)
		if errors.Is(err, sql.ErrNoRows) {
			return
		}
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				w.logger.Error("rollup: could not read rebuild requests", "err", err)
			}
			return
		}
		start := time.Now()
		var n int64
		if w.ret.keep > 0 {
			err = ErrRetained
		} else {
			n, err = w.store.Rebuild(ctx, site)
		}
		var msg any // NULL when it succeeded
		if err != nil {
			msg = err.Error()
			w.logger.Error("rollup: rebuild failed", "site", site, "err", err)
		} else {
			w.logger.Info("rollup: rebuilt rollups from raw events", "site", site, "events", n, "took", time.Since(start))
		}
		if _, err := w.store.db.ExecContext(ctx, `UPDATE rebuilds SET finished_at = ?, error = ? WHERE id = ?`,
			w.cfg.Now().Unix(), msg, id); err != nil {
			w.logger.Error("rollup: could not record a rebuild", "err", err)
			return
		}
	}
}

// RequestRebuild asks the worker of a running server, through db (from
// OpenAdmin), to rebuild a site's rollups ("" for every site), and returns
// the request's id for RebuildDone.
func RequestRebuild(ctx context.Context, db *sql.DB, site string, now time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, `INSERT INTO rebuilds (site_id, requested_at) VALUES (?, ?)`, site, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("rollup: request a rebuild: %w", err)
	}
	return res.LastInsertId()
}

// RebuildDone reports whether the rebuild request id was carried out, and
// its error if it failed.
func RebuildDone(ctx context.Context, db *sql.DB, id int64) (done bool, err error) {
	var finished sql.NullInt64
	var msg sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT finished_at, error FROM rebuilds WHERE id = ?`, id).Scan(&finished, &msg); err != nil {
		return false, fmt.Errorf("rollup: rebuild request %d: %w", id, err)
	}
	if msg.Valid {
		return true, errors.New(msg.String)
	}
	return finished.Valid, nil
}

// registryZones reads the time zone of every registered site.
func registryZones(ctx context.Context, tx *sql.Tx) (map[string]*time.Location, error) {
	rows, err := tx.QueryContext(ctx, `SELECT site_id, time_zone FROM site_registry`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	zones := make(map[string]*time.Location)
	for rows.Next() {
		var site, name string
		if err := rows.Scan(&site, &name); err != nil {
			return nil, err
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("time zone of site %s: %w", site, err)
		}
		zones[site] = loc
	}
	return zones, rows.Err()
}
