package report

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sitelog/event"
)

// Limits of GET /api/v1/events.
const (
	DefaultRawLimit = 100
	MaxRawLimit     = 1000
	// RawScanBudget bounds the raw events one request reads. A filter
	// that matches few events over a long range stops there and answers
	// what it found with a next_cursor to go on from, so that a request
	// never costs more than this whatever the range holds.
	RawScanBudget = 50000
)

// EventsPage is the answer of GET /api/v1/events: a site's raw events,
// newest first, one page of them.
type EventsPage struct {
	SiteID   string     `json:"site_id"`
	TimeZone string     `json:"time_zone"`
	From     *string    `json:"from"` // the range's first local day, null for none
	To       *string    `json:"to"`   // its last, null for none
	Events   []RawEvent `json:"events"`
	// NextCursor, when not null, fetches the next page: pass it back as
	// cursor with the same parameters. A page with fewer events than the
	// limit, even an empty one, may still have one (see RawScanBudget).
	NextCursor *string `json:"next_cursor"`
}

// RawEvent is one event as the worker stored it. The client's IP address
// and User-Agent are not among its fields: they were never stored.
type RawEvent struct {
	Time        string            `json:"time"`       // RFC 3339, UTC, microseconds
	LocalTime   string            `json:"local_time"` // the same in the site's time zone
	Type        string            `json:"type"`
	Path        string            `json:"path"`
	Query       string            `json:"query"`
	Hostname    string            `json:"hostname"`
	Referrer    string            `json:"referrer"`
	Source      string            `json:"source"`
	UTMSource   string            `json:"utm_source"`
	UTMMedium   string            `json:"utm_medium"`
	UTMCampaign string            `json:"utm_campaign"`
	UTMContent  string            `json:"utm_content"`
	UTMTerm     string            `json:"utm_term"`
	Browser     string            `json:"browser"`
	OS          string            `json:"os"`
	Device      string            `json:"device"`
	Country     string            `json:"country"`
	ScreenWidth int64             `json:"screen_width"`
	Props       map[string]string `json:"props"`
	// Session is the visit's id, null for an event in no visit (of an
	// unknown visitor). Visitor is the visitor's id as a decimal string
	// (it does not fit a JSON number), null when unknown.
	Session *int64  `json:"session"`
	Visitor *string `json:"visitor"`

	props string // as stored, for CSV
}

// listCSVHeader is the header of a CSV answer: RawEvent's JSON names, in
// order. props is its JSON object as text.
var listCSVHeader = []string{"time", "local_time", "type", "path", "query", "hostname", "referrer", "source",
	"utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "browser", "os", "device", "country",
	"screen_width", "props", "session", "visitor"}

func (e *RawEvent) csvRow() []string {
	props := e.props
	if props == "" {
		props = "{}"
	}
	session, visitor := "", ""
	if e.Session != nil {
		session = strconv.FormatInt(*e.Session, 10)
	}
	if e.Visitor != nil {
		visitor = *e.Visitor
	}
	return []string{e.Time, e.LocalTime, e.Type, e.Path, e.Query, e.Hostname, e.Referrer, e.Source,
		e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMContent, e.UTMTerm, e.Browser, e.OS, e.Device, e.Country,
		strconv.FormatInt(e.ScreenWidth, 10), props, session, visitor}
}

// listQuery is a parsed request of GET /api/v1/events.
type listQuery struct {
	site     string
	from, to string // local days, "" for no bound
	limit    int
	after    *listCursor // the last event of the previous page
	filters  []filter
}

// serveEventsList answers GET /api/v1/events.
func (h *Handler) serveEventsList(w http.ResponseWriter, r *http.Request) {
	lq, err := parseListQuery(r.URL.RawQuery)
	if err == nil {
		err = allowSite(r, lq.site)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	page, err := h.d.readEventsPage(ctx, h.db, lq, RawScanBudget)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if page.NextCursor != nil {
		// The next page's address for clients that follow links, CSV
		// ones included: the same request with the new cursor.
		q := r.URL.Query()
		q.Set("cursor", *page.NextCursor)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	if wantsCSV(r) {
		rows := make([][]string, len(page.Events))
		for i := range page.Events {
			rows[i] = page.Events[i].csvRow()
		}
		writeCSV(w, http.StatusOK, listCSVHeader, rows)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// parseListQuery reads site_id, from, to, limit, cursor and filters from
// a raw query string.
func parseListQuery(rawQuery string) (listQuery, error) {
	q, err := singleParams(rawQuery, "site_id", "from", "to", "limit", "cursor", "filters")
	if err != nil {
		return listQuery{}, err
	}
	lq := listQuery{site: q.Get("site_id"), limit: DefaultRawLimit}
	if err := checkSiteID(lq.site); err != nil {
		return listQuery{}, err
	}
	for _, b := range []struct {
		name string
		day  *string
	}{{"from", &lq.from}, {"to", &lq.to}} {
		if vs, ok := q[b.name]; ok {
			day, err := parseDay(vs[0])
			if err != nil {
				// parseDay names its parameter "date".
				var pe *paramError
				if errors.As(err, &pe) {
					pe.param = b.name
				}
				return listQuery{}, err
			}
			*b.day = day
		}
	}
	if lq.from != "" && lq.to != "" && lq.from > lq.to {
		return listQuery{}, &paramError{"to", "must not be before from"}
	}
	if vs, ok := q["limit"]; ok {
		if lq.limit, err = parseListLimit(vs[0]); err != nil {
			return listQuery{}, err
		}
	}
	if vs, ok := q["cursor"]; ok {
		c, err := decodeListCursor(vs[0])
		if err != nil {
			return listQuery{}, err
		}
		lq.after = &c
	}
	if vs, ok := q["filters"]; ok {
		if lq.filters, err = parseListFilters(vs[0]); err != nil {
			return listQuery{}, err
		}
	}
	return lq, nil
}

// parseListFilters reads the filters parameter: a JSON array of filters
// exactly as POST /api/v1/query takes them, [["is","event:page",["/a"]],
// ...], all of which an event must pass.
func parseListFilters(s string) ([]filter, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raws); err != nil {
		return nil, &paramError{"filters", `must be a JSON array of filters, such as [["is","event:page",["/pricing"]]]`}
	}
	if len(raws) > MaxFilters {
		return nil, &paramError{"filters", fmt.Sprintf("%d filters, more than %d", len(raws), MaxFilters)}
	}
	filters := make([]filter, len(raws))
	for i, raw := range raws {
		f, err := parseFilter(fmt.Sprintf("filters[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		filters[i] = f
	}
	return filters, nil
}

// parseListLimit accepts a decimal integer from 1 to MaxRawLimit, without
// sign, spaces or leading zeros.
func parseListLimit(s string) (int, error) {
	bad := &paramError{"limit", "must be an integer from 1 to " + strconv.Itoa(MaxRawLimit)}
	if s == "" || len(s) > 4 || !digits(s) || s[0] == '0' {
		return 0, bad
	}
	n, _ := strconv.Atoi(s) // at most four digits: cannot fail
	if n > MaxRawLimit {
		return 0, bad
	}
	return n, nil
}

// listCursor is the position of an event in the order of the answer:
// newest first, ties in time broken by the log entry, which is unique
// (on PostgreSQL, logID is the node whose log it is). A
// page starts after its cursor, so events added meanwhile (newer ones at
// the top) neither repeat nor shift what follows.
type listCursor struct {
	ts       int64 // Unix microseconds
	logID    int64
	logIndex int64
}

const listCursorVersion = 1

// encode returns the cursor as an opaque, URL-safe string.
func (c listCursor) encode() string {
	b := []byte{listCursorVersion}
	b = binary.AppendVarint(b, c.ts)
	b = binary.AppendUvarint(b, uint64(c.logID))
	b = binary.AppendUvarint(b, uint64(c.logIndex))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeListCursor reads a cursor made by encode, and nothing else.
func decodeListCursor(s string) (listCursor, error) {
	bad := &paramError{"cursor", "not a cursor of this API: pass next_cursor back unchanged"}
	if len(s) > 64 {
		return listCursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1 || b[0] != listCursorVersion {
		return listCursor{}, bad
	}
	b = b[1:]
	var c listCursor
	var n int
	if c.ts, n = binary.Varint(b); n <= 0 {
		return listCursor{}, bad
	}
	b = b[n:]
	for _, f := range []*int64{&c.logID, &c.logIndex} {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > math.MaxInt64 {
			return listCursor{}, bad
		}
		*f, b = int64(v), b[n:]
	}
	if len(b) != 0 {
		return listCursor{}, bad
	}
	return c, nil
}

// listedRow is one row read: the event, its visit's values when they
// were read, and its props once decoded.
type listedRow struct {
	cur       listCursor
	ev        RawEvent
	session   int64
	visitor   int64
	visit     [len(listVisitDims)]string
	propsRead bool
}

// listVisitDims are the visit dimensions in the order
// listEventsWithVisitsSQL selects them.
var listVisitDims = [...]string{
	"visit:entry_page", "visit:exit_page", "visit:source", "visit:referrer",
	"visit:utm_source", "visit:utm_medium", "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
	"visit:browser", "visit:os", "visit:device", "visit:country",
}

// passes reports whether the event of r passes every filter. An event
// with several values of a dimension (goals) passes when one does, as it
// counts under each of them in the rollups.
func (r *listedRow) passes(filters []filter, goals []listGoal) bool {
	for i := range filters {
		f := &filters[i]
		if f.dim != dimGoal {
			if !f.match(r.value(f.dim)) {
				return false
			}
			continue
		}
		done := false
		for _, g := range goals {
			if g.completedBy(&r.ev) && f.match(g.name) {
				done = true
				break
			}
		}
		if !done {
			return false
		}
	}
	return true
}

// value returns the event's value of dim, a dimension other than goal; ""
// when it has none. The visit:* values are those of the visit the event
// belongs to, none for an event in no visit (of an unknown visitor).
func (r *listedRow) value(dim string) string {
	switch dim {
	case "event:name":
		return r.ev.Type
	case "event:page":
		return r.ev.Path
	case "event:hostname":
		return r.ev.Hostname
	case "visit:source":
		if r.session != 0 && r.visit[2] == "" {
			return directSource
		}
	}
	if key, ok := strings.CutPrefix(dim, dimPropsPfx); ok {
		r.decodeProps()
		return r.ev.Props[key]
	}
	for i, d := range listVisitDims {
		if d == dim {
			return r.visit[i]
		}
	}
	panic("BUG: report: events list: dimension " + dim)
}

// decodeProps fills in ev.Props from the stored text, once.
func (r *listedRow) decodeProps() {
	if r.propsRead {
		return
	}
	r.propsRead = true
	r.ev.Props = map[string]string{}
	if r.ev.props == "" {
		return
	}
	// Written by event.EncodeProps: a JSON object of strings. One that is
	// not is shown as no properties rather than fail the page.
	_ = json.Unmarshal([]byte(r.ev.props), &r.ev.Props)
}

// listGoal is a goal as the events list filters on it.
type listGoal struct {
	name, event, path string
}

// completedBy reports whether e completes the goal: a custom event of its
// name, or a page view of a path its pattern matches, as the worker
// counts them.
func (g *listGoal) completedBy(e *RawEvent) bool {
	pv := e.Type == event.PageView
	if g.event != "" {
		return !pv && e.Type == g.event
	}
	return pv && wildcardMatch(g.path, e.Path)
}

// wildcardMatch reports whether s matches pattern, in which "*" matches any
// run of characters, "/" included, and every other byte only itself.
func wildcardMatch(pattern, s string) bool {
	// Greedy, going back only to the latest star: time linear in len(s)
	// for each star, never recursive.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// readEventsPage reads one page of rq in a read transaction: the site's
// zone, then events from the index on (site, time), newest first, until
// the page is full, the range ends or budget events were read.
func (d *dialect) readEventsPage(ctx context.Context, db *sql.DB, rq listQuery, budget int) (EventsPage, error) {
	var page EventsPage
	err := inTx(ctx, db, d.readTx, func(tx *sql.Tx) error {
		loc, err := d.knownSiteZone(ctx, tx, rq.site)
		if err != nil {
			return err
		}
		page = EventsPage{SiteID: rq.site, TimeZone: loc.String(), Events: []RawEvent{}}
		if rq.from != "" {
			page.From = &rq.from
		}
		if rq.to != "" {
			page.To = &rq.to
		}
		return d.scanEventsPage(ctx, tx, rq, loc, budget, &page)
	})
	var unknown *unknownSiteError
	if errors.As(err, &unknown) {
		return EventsPage{}, unknown
	}
	if err != nil {
		return EventsPage{}, fmt.Errorf("report: raw events: %w", err)
	}
	return page, nil
}

func (d *dialect) scanEventsPage(ctx context.Context, tx *sql.Tx, rq listQuery, loc *time.Location, budget int, page *EventsPage) error {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if rq.from != "" {
		lo = listDayStart(rq.from, loc).UnixMicro()
	}
	if rq.to != "" {
		hi = listDayStart(rq.to, loc).AddDate(0, 0, 1).UnixMicro() - 1
	}
	// Before the cursor: older, or as old and earlier in the log. Without
	// one, before anything there can be. The range ends at the cursor's
	// time too, so that the index is entered there rather than walked
	// from the newest event past every page already read.
	after := listCursor{math.MaxInt64, math.MaxInt64, math.MaxInt64}
	if rq.after != nil {
		after = *rq.after
		hi = min(hi, after.ts)
	}
	withVisits, withGoals := false, false
	for _, f := range rq.filters {
		withVisits = withVisits || strings.HasPrefix(f.dim, "visit:")
		withGoals = withGoals || f.dim == dimGoal
	}
	var goals []listGoal
	if withGoals {
		var err error
		if goals, err = d.readListGoals(ctx, tx, rq.site); err != nil {
			return err
		}
	}
	q := d.raw.listEvents
	if withVisits {
		q = d.raw.listEventsWithVisits
	}
	// Reading one row more than the budget tells whether there are more.
	rows, err := tx.QueryContext(ctx, q, rq.site, d.at(lo), d.at(hi), d.at(after.ts), after.logID, after.logIndex, budget+1)
	if err != nil {
		return err
	}
	defer rows.Close()
	scanned := 0
	var last listCursor // of the last row read
	for rows.Next() {
		if len(page.Events) == rq.limit || scanned == budget {
			// There is more. The rows read after the last event returned
			// did not pass the filters: the next page starts after the
			// last row read.
			next := last.encode()
			page.NextCursor = &next
			break
		}
		scanned++
		var r listedRow
		if err := scanListedRow(rows, &r, withVisits); err != nil {
			return err
		}
		last = r.cur
		if !r.passes(rq.filters, goals) {
			continue
		}
		page.Events = append(page.Events, finishListedEvent(&r, loc))
	}
	return rows.Err()
}

// readListGoals reads the goals of site.
func (d *dialect) readListGoals(ctx context.Context, tx *sql.Tx, site string) ([]listGoal, error) {
	rows, err := tx.QueryContext(ctx, d.raw.listGoals, site)
	if err != nil {
		return nil, fmt.Errorf("goals: %w", err)
	}
	defer rows.Close()
	var goals []listGoal
	for rows.Next() {
		var g listGoal
		if err := rows.Scan(&g.name, &g.event, &g.path); err != nil {
			return nil, fmt.Errorf("goals: %w", err)
		}
		goals = append(goals, g)
	}
	return goals, rows.Err()
}

// scanListedRow reads a row of listEventsSQL, or of listEventsWithVisitsSQL
// when withVisits is set.
func scanListedRow(rows *sql.Rows, r *listedRow, withVisits bool) error {
	e := &r.ev
	dest := []any{&r.cur.ts, &r.cur.logID, &r.cur.logIndex, &e.Type, &e.Path, &e.Query, &e.Hostname, &e.Referrer, &e.Source,
		&e.UTMSource, &e.UTMMedium, &e.UTMCampaign, &e.UTMContent, &e.UTMTerm, &e.Browser, &e.OS, &e.Device, &e.Country,
		&e.ScreenWidth, &e.props, &r.session, &r.visitor}
	if withVisits {
		for i := range r.visit {
			dest = append(dest, &r.visit[i])
		}
	}
	return rows.Scan(dest...)
}

// finishListedEvent fills in what the answer shows beside the stored fields.
func finishListedEvent(r *listedRow, loc *time.Location) RawEvent {
	r.decodeProps()
	t := time.UnixMicro(r.cur.ts)
	r.ev.Time = t.UTC().Format(time.RFC3339Nano)
	r.ev.LocalTime = t.In(loc).Format(time.RFC3339Nano)
	if r.session != 0 {
		r.ev.Session = &r.session
	}
	if r.visitor != 0 {
		// Stored as the signed integer of the same 64 bits.
		v := strconv.FormatUint(uint64(r.visitor), 10)
		r.ev.Visitor = &v
	}
	return r.ev
}

// listDayStart is the first instant of day (YYYY-MM-DD, valid) in loc.
func listDayStart(day string, loc *time.Location) time.Time {
	d, _ := time.Parse(time.DateOnly, day) // validated by parseDay
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}
