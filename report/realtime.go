package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RealtimeWindow is how far back GET /api/v1/realtime looks.
const RealtimeWindow = 5 * time.Minute

// Realtime is the answer of GET /api/v1/realtime: the traffic of the last
// RealtimeWindow, read from the raw events, bots left out.
type Realtime struct {
	SiteID string `json:"site_id"`
	// Visitors are the distinct visitors of any event; events of unknown
	// visitors (visitor 0) count as none.
	Visitors  int64 `json:"visitors"`
	Pageviews int64 `json:"pageviews"`
	// TopPages are the most visited pages: by visitors, then page views,
	// then path.
	TopPages []PageNow `json:"top_pages"`
}

// PageNow is one page of Realtime.TopPages.
type PageNow struct {
	Page      string `json:"page"`
	Visitors  int64  `json:"visitors"`
	Pageviews int64  `json:"pageviews"`
}

// realtimeTotal is the page of the totals row of a CSV answer: it does
// not start with "/", so it cannot be a page's path.
const realtimeTotal = "(total)"

// serveRealtime answers GET /api/v1/realtime?site_id=S[&limit=N].
func (h *Handler) serveRealtime(w http.ResponseWriter, r *http.Request) {
	q, err := singleParams(r.URL.RawQuery, "site_id", "limit")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	site, limit := q.Get("site_id"), DefaultLimit
	err = checkSiteID(site)
	if vs, ok := q["limit"]; ok && err == nil {
		limit, err = parseLimit(vs[0])
	}
	if err == nil {
		err = allowSite(r, site)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	rt, err := h.d.readRealtime(ctx, h.db, site, h.now(), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		rows := [][]string{{realtimeTotal, strconv.FormatInt(rt.Visitors, 10), strconv.FormatInt(rt.Pageviews, 10)}}
		for _, p := range rt.TopPages {
			rows = append(rows, []string{p.Page, strconv.FormatInt(p.Visitors, 10), strconv.FormatInt(p.Pageviews, 10)})
		}
		writeCSV(w, http.StatusOK, []string{"page", "visitors", "pageviews"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, rt)
}

// readRealtime reads the last RealtimeWindow up to now, in one read
// transaction so the totals and the pages agree.
func (d *dialect) readRealtime(ctx context.Context, db *sql.DB, site string, now time.Time, limit int) (Realtime, error) {
	rt := Realtime{SiteID: site, TopPages: []PageNow{}}
	from, to := d.at(now.Add(-RealtimeWindow).UnixMicro()), d.at(now.UnixMicro())
	err := inTx(ctx, db, d.readTx, func(tx *sql.Tx) error {
		if _, err := d.knownSiteZone(ctx, tx, site); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, d.raw.realtimeTotals, site, from, to).Scan(&rt.Visitors, &rt.Pageviews); err != nil {
			return fmt.Errorf("totals: %w", err)
		}
		rows, err := tx.QueryContext(ctx, d.raw.realtimePages, site, from, to, limit)
		if err != nil {
			return fmt.Errorf("pages: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p PageNow
			if err := rows.Scan(&p.Page, &p.Visitors, &p.Pageviews); err != nil {
				return fmt.Errorf("pages: %w", err)
			}
			rt.TopPages = append(rt.TopPages, p)
		}
		return rows.Err()
	})
	var unknown *unknownSiteError
	if errors.As(err, &unknown) {
		return Realtime{}, unknown
	}
	if err != nil {
		return Realtime{}, fmt.Errorf("report: realtime: %w", err)
	}
	return rt, nil
}

// singleParams parses a raw query string and refuses any of names given
// more than once, rather than pick one of its values silently. Other
// parameters are ignored (a cache buster is harmless).
func singleParams(rawQuery string, names ...string) (url.Values, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, &paramError{"query string", err.Error()}
	}
	for _, name := range names {
		if len(q[name]) > 1 {
			return nil, &paramError{name, "given more than once"}
		}
	}
	return q, nil
}

// unknownSiteError is a site that is neither registered nor has any event:
// a 404, so that a mistyped site_id is not answered with an empty report.
type unknownSiteError struct{ site string }

func (e *unknownSiteError) Error() string { return "unknown site " + strconv.Quote(e.site) }

// Is makes fail answer it as the 404 it is.
func (e *unknownSiteError) Is(target error) bool { return target == errNotFound }

// knownSiteZone returns the time zone of site: its registry entry's, or
// UTC for a site that is not registered but has events. A site with
// neither is an *unknownSiteError.
func (d *dialect) knownSiteZone(ctx context.Context, tx *sql.Tx, site string) (*time.Location, error) {
	var zone string
	err := tx.QueryRowContext(ctx, d.raw.siteZone, site).Scan(&zone)
	if errors.Is(err, sql.ErrNoRows) {
		var seen bool
		if err := tx.QueryRowContext(ctx, d.raw.siteSeen, site).Scan(&seen); err != nil {
			return nil, fmt.Errorf("site: %w", err)
		}
		if !seen {
			return nil, &unknownSiteError{site}
		}
		return time.UTC, nil
	}
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		// The registry validated it where it was written; a zone this
		// binary lacks must not fail the report.
		return time.UTC, nil
	}
	return loc, nil
}
