package rollup

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"sitelog/event"
)

// The analytics model: visits kept incrementally, and per-dimension rows
// of the stats table with exact visitor sets and HyperLogLog sketches.
// Every decision here depends on the events and their order in the log
// alone, never on how the log was cut into batches, so a rebuild from the
// raw events produces exactly what incremental apply did.

// Visit rules.
const (
	// VisitTimeout ends a visit: an event more than this after the visit's
	// last event (or before its first) starts a new one.
	VisitTimeout = 30 * time.Minute
	// visitHorizon: a visit whose last event is this much older than the
	// newest event applied for its site is never continued, so that which
	// visit a late event joins does not depend on when it was applied.
	visitHorizon = 48 * time.Hour
)

// DirectSource is the visit:source value of visits without a referrer or
// a utm_source.
const DirectSource = "Direct / None"

// Dimension names, as the query API and the stats table spell them.
const (
	DimTotal     = ""
	DimPage      = "event:page"
	DimName      = "event:name"
	DimHostname  = "event:hostname"
	DimPropsPfx  = "event:props:"
	DimEntryPage = "visit:entry_page"
	DimExitPage  = "visit:exit_page"
	DimHour      = "time:hour"
	DimGoal      = "goal"
)

// VisitDims are the dimensions that a visit takes from its first event,
// in the order of session.vals.
var VisitDims = [...]string{
	"visit:source", "visit:referrer",
	"visit:utm_source", "visit:utm_medium", "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
	"visit:browser", "visit:os", "visit:device", "visit:country",
}

// session is one visit, as the sessions table holds it. Its dimension
// values are stored as sent: the cardinality cap applies when they count.
type session struct {
	id          int64
	site        string
	visitor     int64
	start, last int64 // Unix microseconds
	exitTS      int64
	day, hour   string // local day and hour of the first event
	// counted is the last local day on which the visit's visitor was
	// counted under its visit values: once a day is enough. Not stored:
	// a visit read back from the database counts its visitor again, which
	// the visitor sets make a no-op.
	counted     string
	pageviews   int64
	events      int64
	entry, exit string
	// vals are shared by the visits with the same values (sharedVals),
	// and never changed.
	vals *visitVals
}

// visitVals are a visit's values of VisitDims, in their order.
type visitVals [len(VisitDims)]string

// statKey is one row of stats.
type statKey struct{ site, dim, day, value string }

func (a statKey) compare(b statKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.dim, b.dim),
		strings.Compare(a.day, b.day), strings.Compare(a.value, b.value))
}

type statDelta struct{ pageviews, visitors, visits, bounces, duration, events int64 }

// row is what a batch adds to one stats row.
type row struct {
	key statKey // after the cardinality cap
	statDelta
	// sketched are the visitors new to the row, for its sketch.
	sketched []int64
}

// memberKey is one visitor of one stats row.
type memberKey struct {
	row     *row
	visitor int64
}

// hash is the member's key in stats_visitors: the row's key and the
// visitor, hashed with xxHash64 (stable across versions and machines).
func (m memberKey) hash() int64 {
	var d xxhash.Digest
	d.Reset()
	k := &m.row.key
	writeKey(&d, k.site, k.dim, k.day, k.value)
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], uint64(m.visitor))
	d.Write(v[:])
	return int64(d.Sum64())
}

// writeKey writes the fields of a key to d, each ended by a zero byte so
// that ("ab", "c") and ("a", "bc") differ.
func writeKey(d *xxhash.Digest, fields ...string) {
	for _, f := range fields {
		d.WriteString(f)
		d.Write([]byte{0})
	}
}

// keyHash is the xxHash64 of a key's fields.
func keyHash(fields ...string) uint64 {
	var d xxhash.Digest
	d.Reset()
	writeKey(&d, fields...)
	return d.Sum64()
}

// dimDay is the set of values a stats dimension has on one site and day,
// for the cardinality cap.
type dimDay struct{ site, dim, day string }

type visitorKey struct {
	site    string
	visitor int64
}

func (a visitorKey) compare(b visitorKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), cmp.Compare(a.visitor, b.visitor))
}

// goal is a row of goals.
type goal struct {
	name, event, path string
}

// analytics is what the Store knows of the analytics tables from the
// batches committed, and the batch in progress on top of it.
type analytics struct {
	// Committed knowledge.
	latest   *cache[visitorKey, *session] // each visitor's latest visit, nil for none
	sketches map[statKey]*hyperloglog.Sketch
	skBytes  int              // the marshalled size of sketches
	clock    map[string]int64 // per site, the newest event time applied
	values   map[dimDay]map[string]struct{}
	nValues  int
	members  *known                   // member hashes
	vals     map[visitVals]*visitVals // the sets of visit values visits share
	nextID   int64                    // the next session id; 0 when it must be read
	firstID  int64                    // the batch's first session id: lower ones are stored
	capLimit int

	// The batch in progress.
	bLatest map[visitorKey]*session
	bClock  map[string]int64
	bValues map[dimDay]map[string]struct{} // values admitted by the batch
	touched map[int64]*session             // sessions to write, by id
	// visitRows are, by session id, the rows that a touched visit counts
	// under on the day it started whatever its events: the site's totals,
	// its start hour and each of its visit values (nil for an empty one).
	visitRows map[int64]*visitRows
	bSketches map[statKey]batchSketch // sketches the batch changed
	// rows holds the batch's rows by the key they were counted under
	// before the cap, stats by their key after it: a capped value's key
	// leads to the (other) row.
	rows    map[statKey]*row
	stats   map[statKey]*row
	cands   map[memberKey]struct{}
	newMemb []member
	goals   map[string][]goal
	fetch   []visitorKey // scratch for prefetch
	// db is the batch's transaction.
	db analyticsDB
	// pace is the pacer of the goroutine that runs the batch.
	pace *pacer
}

const (
	maxLatest = 1 << 17
	// maxSketchBytes bounds the sketches remembered, by their marshalled
	// size (a dense sketch takes 16 KiB, a sparse one a few bytes per
	// visitor); past it they are all dropped and read again.
	maxSketchBytes = 24 << 20
	maxValues      = 1 << 19
	// knownMembersMax bounds each generation of the member hashes known
	// to be stored: two generations take at most 32 MB.
	knownMembersMax = 1 << 20
	// maxVisitVals bounds the sets of visit values shared (about 3 MB);
	// past it they are all dropped.
	maxVisitVals = 1 << 14
)

// batchSketch is a sketch as a batch left it, and its marshalled size.
type batchSketch struct {
	sketch *hyperloglog.Sketch
	size   int
}

// member is a candidate for stats_visitors, with its hash.
type member struct {
	key  memberKey
	hash int64
}

func newAnalytics(capLimit int) *analytics {
	return &analytics{
		latest:    newCache[visitorKey, *session](maxLatest),
		sketches:  make(map[statKey]*hyperloglog.Sketch),
		clock:     make(map[string]int64),
		values:    make(map[dimDay]map[string]struct{}),
		members:   newKnown(knownMembersMax),
		vals:      make(map[visitVals]*visitVals),
		capLimit:  capLimit,
		bLatest:   make(map[visitorKey]*session),
		bClock:    make(map[string]int64),
		bValues:   make(map[dimDay]map[string]struct{}),
		touched:   make(map[int64]*session),
		visitRows: make(map[int64]*visitRows),
		bSketches: make(map[statKey]batchSketch),
		rows:      make(map[statKey]*row),
		stats:     make(map[statKey]*row),
		cands:     make(map[memberKey]struct{}),
		pace:      new(pacer),
	}
}

// forget drops everything the committed knowledge holds: after a failed
// batch (the ids and values it would have added may or may not be on
// disk) and after a rebuild.
func (a *analytics) forget() {
	a.latest = newCache[visitorKey, *session](maxLatest)
	clear(a.sketches)
	a.skBytes = 0
	clear(a.clock)
	clear(a.values)
	a.nValues = 0
	a.members = newKnown(knownMembersMax)
	a.nextID = 0
}

// begin starts a batch in the transaction db.
func (a *analytics) begin(ctx context.Context, db analyticsDB) error {
	a.db = db
	clear(a.bLatest)
	clear(a.bClock)
	clear(a.bValues)
	clear(a.touched)
	clear(a.visitRows)
	clear(a.bSketches)
	clear(a.rows)
	clear(a.stats)
	clear(a.cands)
	a.newMemb = a.newMemb[:0]
	if a.nextID == 0 {
		last, err := db.lastSession(ctx)
		if err != nil {
			return fmt.Errorf("session ids: %w", err)
		}
		a.nextID = last + 1
	}
	a.firstID = a.nextID
	goals, err := db.goals(ctx)
	if err != nil {
		return fmt.Errorf("goals: %w", err)
	}
	a.goals = goals
	return nil
}

// commit folds the batch into the committed knowledge, once its
// transaction has committed.
func (a *analytics) commit() {
	for k, s := range a.bLatest {
		a.pace.tick()
		a.latest.put(k, s)
	}
	for k, sk := range a.bSketches {
		a.pace.tick()
		a.sketches[k] = sk.sketch
		a.skBytes += sk.size
	}
	if a.skBytes > maxSketchBytes {
		clear(a.sketches)
		a.skBytes = 0
	}
	for site, t := range a.bClock {
		a.clock[site] = t
	}
	for k, vs := range a.bValues {
		m := a.values[k]
		if m == nil {
			continue // read again when needed: the memo holds all or nothing
		}
		for v := range vs {
			m[v] = struct{}{}
			a.nValues++
		}
	}
	if a.nValues > maxValues {
		clear(a.values)
		a.nValues = 0
	}
	for _, m := range a.newMemb {
		a.pace.tick()
		a.members.add(uint64(m.hash))
	}
}

// add counts one event that is not a bot's, on the local day and hour of
// its time in the site's zone, and returns the id of the visit it joined
// (0 for an unknown visitor).
func (a *analytics) add(ctx context.Context, e *event.Event, day, hour string) (int64, error) {
	site := e.SiteID
	pv := e.Type == event.PageView
	visitor := int64(e.Visitor)
	var pvs int64
	if pv {
		pvs = 1
	}
	countRow := func(r *row, member bool) {
		r.pageviews += pvs
		r.events++
		if member {
			a.cands[memberKey{r, visitor}] = struct{}{}
		}
	}
	count := func(dim, value string, member bool) error {
		r, err := a.row(ctx, statKey{site, dim, day, value})
		if err != nil {
			return err
		}
		countRow(r, member)
		return nil
	}

	// The visit first: an event on the day and hour its visit began, as
	// most are, counts in the site's totals and hour through the rows the
	// visit looked up. Which rows a value counts under does not depend on
	// this order, as no dimension is both the event's and the visit's but
	// those of the totals and hours, which are never capped.
	var s *session
	var rows *visitRows
	if visitor != 0 {
		var err error
		if s, err = a.visit(ctx, e, day, hour); err != nil {
			return 0, err
		}
		if day == s.day {
			if rows, err = a.rowsOfVisit(ctx, s); err != nil {
				return 0, err
			}
		}
	}
	member := visitor != 0
	if rows != nil {
		countRow(rows.fixed[0], member)
	} else if err := count(DimTotal, "", member); err != nil {
		return 0, err
	}
	if rows != nil && hour == s.hour {
		countRow(rows.fixed[1], member)
	} else if err := count(DimHour, hour, member); err != nil {
		return 0, err
	}
	if pv {
		if err := count(DimPage, e.Path, member); err != nil {
			return 0, err
		}
	} else if err := count(DimName, e.Type, member); err != nil {
		return 0, err
	}
	if e.Hostname != "" {
		if err := count(DimHostname, e.Hostname, member); err != nil {
			return 0, err
		}
	}
	if e.Props != "" {
		props, err := event.DecodeProps(e.Props)
		if err != nil {
			return 0, err
		}
		for _, p := range props {
			if err := count(DimPropsPfx+p.Key, p.Value, member); err != nil {
				return 0, err
			}
		}
	}
	for _, g := range a.goals[site] {
		if (g.event != "" && !pv && g.event == e.Type) || (g.path != "" && pv && event.PathMatches(g.path, e.Path)) {
			if err := count(DimGoal, g.name, member); err != nil {
				return 0, err
			}
		}
	}
	if s == nil {
		return 0, nil
	}

	// The visit's values are the same for all its events: its visitor
	// needs counting under them once a day.
	member = s.counted != day
	s.counted = day
	if rows != nil {
		for _, r := range rows.fixed[2:] {
			if r != nil {
				countRow(r, member)
			}
		}
	} else {
		for i, dim := range VisitDims {
			if v := s.vals[i]; v != "" {
				if err := count(dim, v, member); err != nil {
					return 0, err
				}
			}
		}
	}
	if s.entry != "" {
		// A visit that began with custom events has its entry page from
		// its first page view on: count its visitor there then.
		member = member || (pv && s.pageviews == 1)
		if rows != nil {
			r, err := a.rowOfPage(ctx, s, DimEntryPage, &rows.entry, s.entry)
			if err != nil {
				return 0, err
			}
			countRow(r, member)
		} else if err := count(DimEntryPage, s.entry, member); err != nil {
			return 0, err
		}
	}
	return s.id, nil
}

// visit puts the event of a known visitor in a visit, continuing the
// visitor's latest one if the event is within VisitTimeout of it, and
// moves the visit's contribution (visits, bounces, duration) to match.
func (a *analytics) visit(ctx context.Context, e *event.Event, day, hour string) (*session, error) {
	site, visitor, t := e.SiteID, int64(e.Visitor), e.Time.UnixMicro()
	clock, err := a.siteClock(ctx, site)
	if err != nil {
		return nil, err
	}
	clock = max(clock, t)
	a.bClock[site] = clock

	vk := visitorKey{site, visitor}
	s, err := a.latestVisit(ctx, vk)
	if err != nil {
		return nil, err
	}
	pv := e.Type == event.PageView
	timeout := VisitTimeout.Microseconds()
	if s != nil && s.last >= clock-visitHorizon.Microseconds() && t >= s.start-timeout && t <= s.last+timeout {
		if _, ok := a.touched[s.id]; !ok {
			c := *s // the committed copy stays as it was until the commit
			s = &c
			a.touched[s.id] = s
			a.bLatest[vk] = s
		}
		if err := a.contribute(ctx, s, -1); err != nil {
			return nil, err
		}
		s.start, s.last = min(s.start, t), max(s.last, t)
	} else {
		// The new visit is the visitor's latest unless it is a late event
		// older than the latest's last one.
		n := &session{id: a.nextID, site: site, visitor: visitor, start: t, last: t, day: day, hour: hour,
			vals: a.sharedVals(visitValues(e))}
		a.nextID++
		a.touched[n.id] = n
		if s == nil || n.last >= s.last {
			a.bLatest[vk] = n
		}
		s = n
	}
	s.events++
	if pv {
		s.pageviews++
		if s.entry == "" {
			s.entry = e.Path
		}
		if t >= s.exitTS || s.exit == "" {
			s.exit, s.exitTS = e.Path, t
		}
	}
	if err := a.contribute(ctx, s, +1); err != nil {
		return nil, err
	}
	return s, nil
}

// visitValues are the visit dimension values an event starts a visit with.
func visitValues(e *event.Event) visitVals {
	source := e.Source
	if source == "" {
		source = e.UTMSource
	}
	if source == "" {
		source = DirectSource
	}
	return visitVals{source, e.Referrer, e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMContent, e.UTMTerm,
		e.Browser, e.OS, e.Device, e.Country}
}

// sharedVals returns the copy of v that the visits with the same values
// share. Visits have few distinct sets of values between them (a source,
// a browser, an OS, a device, a country, and UTM fields mostly empty):
// one copy of each set instead of one per visit saves 176 bytes on each
// visit that the cache and the batch hold.
func (a *analytics) sharedVals(v visitVals) *visitVals {
	if p := a.vals[v]; p != nil {
		return p
	}
	if len(a.vals) >= maxVisitVals {
		clear(a.vals)
	}
	p := new(visitVals)
	*p = v
	a.vals[v] = p
	return p
}

// shareVals makes s, read from the database, share its visit values.
func (a *analytics) shareVals(s *session) {
	if s != nil {
		s.vals = a.sharedVals(*s.vals)
	}
}

// contribute adds sign times the visit's counts (one visit, a bounce if it
// has exactly one page view, its duration) to the rows it counts under:
// the site's totals and start hour, and each of its visit values, on the
// day it started.
func (a *analytics) contribute(ctx context.Context, s *session, sign int64) error {
	var bounce int64
	if s.pageviews == 1 {
		bounce = 1
	}
	dur := (s.last - s.start) / 1e6
	addRow := func(r *row) {
		r.visits += sign
		r.bounces += sign * bounce
		r.duration += sign * dur
	}
	rows, err := a.rowsOfVisit(ctx, s)
	if err != nil {
		return err
	}
	for _, r := range rows.fixed {
		if r != nil {
			addRow(r)
		}
	}
	if s.entry != "" {
		r, err := a.rowOfPage(ctx, s, DimEntryPage, &rows.entry, s.entry)
		if err != nil {
			return err
		}
		addRow(r)
	}
	if s.exit != "" {
		r, err := a.rowOfPage(ctx, s, DimExitPage, &rows.exit, s.exit)
		if err != nil {
			return err
		}
		addRow(r)
	}
	return nil
}

// visitRows are the rows of analytics.visitRows.
type visitRows struct {
	// fixed are those a visit counts under whatever its events: the
	// site's totals, the start hour, then one per VisitDims (nil for an
	// empty value).
	fixed [2 + len(VisitDims)]*row
	// entry and exit are the rows of the entry and exit pages they were
	// last looked up for: the exit moves with the visit's page views.
	entry, exit pageRow
}

// pageRow is the row of a visit's entry or exit page, and that page.
type pageRow struct {
	page string
	row  *row
}

// rowOfPage returns the row of the visit's page in dim (the entry or exit
// page) on the day the visit started, looked up again only when the page
// is not the one of p, which then remembers it.
func (a *analytics) rowOfPage(ctx context.Context, s *session, dim string, p *pageRow, page string) (*row, error) {
	if p.row == nil || p.page != page {
		r, err := a.row(ctx, statKey{s.site, dim, s.day, page})
		if err != nil {
			return nil, err
		}
		*p = pageRow{page, r}
	}
	return p.row, nil
}

// rowsOfVisit returns the rows that the visit counts under whatever its
// events, looked up once a batch: a continued visit moves its counts in
// them twice an event.
func (a *analytics) rowsOfVisit(ctx context.Context, s *session) (*visitRows, error) {
	if rows := a.visitRows[s.id]; rows != nil {
		return rows, nil
	}
	rows := new(visitRows)
	var err error
	if rows.fixed[0], err = a.row(ctx, statKey{s.site, DimTotal, s.day, ""}); err != nil {
		return nil, err
	}
	if rows.fixed[1], err = a.row(ctx, statKey{s.site, DimHour, s.day, s.hour}); err != nil {
		return nil, err
	}
	for i, dim := range VisitDims {
		if v := s.vals[i]; v != "" {
			if rows.fixed[2+i], err = a.row(ctx, statKey{s.site, dim, s.day, v}); err != nil {
				return nil, err
			}
		}
	}
	a.visitRows[s.id] = rows
	return rows, nil
}

// row returns the batch's row that counts k: k's own, or the dimension's
// (other) row on a day that has no room for k's value.
func (a *analytics) row(ctx context.Context, k statKey) (*row, error) {
	if r := a.rows[k]; r != nil {
		return r, nil
	}
	value, err := a.capped(ctx, dimDay{k.site, k.dim, k.day}, k.value)
	if err != nil {
		return nil, err
	}
	capped := statKey{k.site, k.dim, k.day, value}
	r := a.stats[capped]
	if r == nil {
		r = &row{key: capped}
		a.stats[capped] = r
	}
	a.rows[k] = r
	return r, nil
}

// capped returns the value under which to count value in the dimension
// on its day: itself if the day has it or has room for it, OtherPath once
// the day has capLimit values. A value once admitted stays admitted, so
// the same (dimension, day, value) always counts under the same row. The
// site's totals and its hours are never capped.
func (a *analytics) capped(ctx context.Context, k dimDay, value string) (string, error) {
	if k.dim == DimTotal || k.dim == DimHour {
		return value, nil
	}
	stored := a.values[k]
	if stored == nil {
		var err error
		// What the batch admitted before is in bValues, not in stored:
		// stored is only what was committed before the batch began. The
		// read runs inside the batch's transaction, but before any stats
		// row is written (rows are written at the end), so it returns
		// exactly the committed values.
		if stored, err = a.db.values(ctx, k); err != nil {
			return "", err
		}
		a.values[k] = stored
		a.nValues += len(stored)
	}
	if _, ok := stored[value]; ok || value == OtherPath {
		return value, nil
	}
	added := a.bValues[k]
	if _, ok := added[value]; ok {
		return value, nil
	}
	if len(stored)+len(added) >= a.capLimit {
		return OtherPath, nil
	}
	if added == nil {
		added = make(map[string]struct{})
		a.bValues[k] = added
	}
	added[value] = struct{}{}
	return value, nil
}

func (a *analytics) siteClock(ctx context.Context, site string) (int64, error) {
	if t, ok := a.bClock[site]; ok {
		return t, nil
	}
	if t, ok := a.clock[site]; ok {
		return t, nil
	}
	return a.db.clock(ctx, site)
}

// prefetch reads at once the latest visits of the events' visitors that
// neither the batch nor the committed knowledge holds: one statement
// instead of one per visitor. The batch has written no visit yet, so what
// it reads is what was committed.
func (a *analytics) prefetch(ctx context.Context, events []event.Event) error {
	keys := a.fetch[:0]
	for i := range events {
		e := &events[i]
		k := visitorKey{e.SiteID, int64(e.Visitor)}
		if e.Bot || k.visitor == 0 {
			continue
		}
		if _, ok := a.bLatest[k]; ok {
			continue
		}
		if _, ok := a.latest.get(k); ok {
			continue
		}
		keys = append(keys, k)
	}
	sortPaced(a.pace, keys, visitorKey.compare)
	keys = slices.Compact(keys)
	a.fetch = keys
	if len(keys) == 0 {
		return nil
	}
	found, err := a.db.latestSessions(ctx, keys)
	if err != nil {
		return fmt.Errorf("latest visits: %w", err)
	}
	for _, k := range keys {
		s := found[k]
		a.shareVals(s)
		a.latest.put(k, s) // nil: no visit yet
	}
	return nil
}

// latestVisit returns the visitor's latest visit (greatest last event,
// then greatest id), or nil.
func (a *analytics) latestVisit(ctx context.Context, k visitorKey) (*session, error) {
	if s, ok := a.bLatest[k]; ok {
		return s, nil
	}
	if s, ok := a.latest.get(k); ok {
		return s, nil
	}
	s, err := a.db.latestSession(ctx, k)
	if err != nil {
		return nil, err
	}
	a.shareVals(s)
	a.latest.put(k, s) // nil is what the database holds: no visit yet
	return s, nil
}

// write stores the batch's sessions, visitors, sketches and stats. Keys
// are written in sorted order.
func (a *analytics) write(ctx context.Context) error {
	// The visitors each row did not have yet count, and go into its sketch.
	for k := range a.cands {
		a.pace.tick()
		if h := k.hash(); !a.members.has(uint64(h)) {
			a.newMemb = append(a.newMemb, member{k, h})
		}
	}
	sortPaced(a.pace, a.newMemb, func(x, y member) int {
		kx, ky := &x.key.row.key, &y.key.row.key
		return cmp.Or(strings.Compare(kx.site, ky.site), strings.Compare(kx.day, ky.day), cmp.Compare(x.hash, y.hash))
	})
	// The members of one site and day go in one statement, which returns
	// those that were new. They count, found again in group, which is
	// sorted by hash.
	var hashes, fresh []int64
	for rest := a.newMemb; len(rest) > 0; {
		site, day := rest[0].key.row.key.site, rest[0].key.row.key.day
		n := 1
		for n < len(rest) && rest[n].key.row.key.site == site && rest[n].key.row.key.day == day {
			n++
		}
		var group []member
		group, rest = rest[:n], rest[n:]
		hashes = hashes[:0]
		for _, m := range group {
			hashes = append(hashes, m.hash)
		}
		var err error
		if fresh, err = a.db.addMembers(ctx, site, day, hashes, fresh[:0]); err != nil {
			return fmt.Errorf("stats visitors: %w", err)
		}
		for _, h := range fresh {
			a.pace.tick()
			i, ok := slices.BinarySearchFunc(group, h, func(m member, h int64) int { return cmp.Compare(m.hash, h) })
			if !ok {
				return fmt.Errorf("stats visitors: member %d returned but not inserted", h)
			}
			r := group[i].key.row
			r.visitors++
			r.sketched = append(r.sketched, group[i].key.visitor)
		}
	}

	// The rows with new visitors get their sketch rewritten.
	var sketched []*row
	for _, r := range a.stats {
		if len(r.sketched) > 0 {
			sketched = append(sketched, r)
		}
	}
	sortPaced(a.pace, sketched, func(x, y *row) int { return x.key.compare(y.key) })
	var unknown []statKey
	for _, r := range sketched {
		if a.sketches[r.key] == nil {
			unknown = append(unknown, r.key)
		}
	}
	stored, err := a.db.sketches(ctx, unknown)
	if err != nil {
		return fmt.Errorf("sketches: %w", err)
	}
	data := make([][]byte, len(sketched))
	for i, r := range sketched {
		a.pace.tick()
		k := r.key
		// The committed sketch is cloned, never changed: it must stay as
		// stored should the transaction fail.
		var sk *hyperloglog.Sketch
		if base := a.sketches[k]; base != nil {
			sk = base.Clone()
		} else {
			sk = hyperloglog.New14()
			if b := stored[k]; b != nil {
				if err := sk.UnmarshalBinary(b); err != nil {
					return fmt.Errorf("sketch of %v: %w", k, err)
				}
			}
		}
		for _, v := range r.sketched {
			sk.InsertHash(uint64(v))
		}
		if data[i], err = sk.MarshalBinary(); err != nil {
			return err
		}
		a.bSketches[k] = batchSketch{sk, len(data[i])}
	}
	if err := a.db.writeSketches(ctx, sketched, data); err != nil {
		return fmt.Errorf("sketches: %w", err)
	}

	keys := sortedKeys(a.pace, a.stats)
	rows := make([]*row, len(keys))
	for i, k := range keys {
		rows[i] = a.stats[k]
	}
	if err := a.db.writeStats(ctx, rows); err != nil {
		return fmt.Errorf("stats: %w", err)
	}

	// Sessions begun by the batch are inserted whole; the others change
	// only in the columns a later event moves.
	ids := sortedIDs(a.pace, a.touched)
	split, _ := slices.BinarySearch(ids, a.firstID)
	continued := make([]*session, 0, split)
	for _, id := range ids[:split] {
		continued = append(continued, a.touched[id])
	}
	begun := make([]*session, 0, len(ids)-split)
	for _, id := range ids[split:] {
		begun = append(begun, a.touched[id])
	}
	if err := a.db.writeSessions(ctx, begun, continued); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}

	sites := slices.Sorted(maps.Keys(a.bClock))
	clocks := make([]int64, len(sites))
	for i, site := range sites {
		clocks[i] = a.bClock[site]
	}
	if err := a.db.writeClocks(ctx, sites, clocks); err != nil {
		return fmt.Errorf("session clocks: %w", err)
	}
	return nil
}
