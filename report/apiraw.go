package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sitelog/event"
)

// The raw-events path: the events of the range are read through
// events_site_ts with their visit and counted here, exactly. Values follow
// the rollups' rules, so that both paths agree where both can answer:
// event:page is a page view's path and event:name a custom event's name;
// visit dimensions are the visit's values (none for an unknown visitor);
// a visit counts once, on its start (day, hour, week, month), if it starts
// within the range and has an event the filters let through; a bounce is
// a visit of exactly one page view, its duration from its first event to
// its last, in whole seconds. Goals count over the whole range, as after
// `sitelog rebuild`. The rollups' cap on distinct values does not apply:
// values the rollups count under "(other)" are their own here.

const pageView = "page_view"

// rawSession is a visit of the events read.
type rawSession struct {
	id       int64
	day      string // local day and hour of its start
	hour     string
	inRange  bool // it starts within the range, where it counts
	bounce   bool
	duration int64 // seconds
	vals     [13]string
}

// rawEvent is one event being counted; its strings are interned.
type rawEvent struct {
	ts                 int64
	typ, path, host    string
	props              string
	visitor, sessionID int64
	sess               *rawSession
	decoded            bool
	propMap            map[string]string
	day                int // index of its local day in the range
}

// rawGoal is a row of goals.
type rawGoal struct{ name, event, path string }

func (g *rawGoal) matches(ev *rawEvent) bool {
	if ev.typ == pageView {
		return g.path != "" && event.PathMatches(g.path, ev.path)
	}
	return g.event != "" && g.event == ev.typ
}

// getter returns an event's value of one (non-time, non-goal) dimension,
// "" for none.
type getter func(ev *rawEvent) string

func getterOf(dim string) getter {
	switch dim {
	case "event:page":
		return func(ev *rawEvent) string {
			if ev.typ == pageView {
				return ev.path
			}
			return ""
		}
	case "event:name":
		return func(ev *rawEvent) string {
			if ev.typ != pageView {
				return ev.typ
			}
			return ""
		}
	case "event:hostname":
		return func(ev *rawEvent) string { return ev.host }
	}
	if key, ok := strings.CutPrefix(dim, dimPropsPfx); ok {
		return func(ev *rawEvent) string {
			if !ev.decoded {
				ev.decoded = true
				clear(ev.propMap)
				if ev.props != "" {
					// Malformed props, which ingest never writes, count as none.
					_ = json.Unmarshal([]byte(ev.props), &ev.propMap)
				}
			}
			return ev.propMap[key]
		}
	}
	i := slices.Index(rawVisitDims, dim)
	if i < 0 {
		panic("BUG: report: no getter for dimension " + dim)
	}
	return func(ev *rawEvent) string {
		if ev.sess == nil {
			return ""
		}
		return ev.sess.vals[i]
	}
}

// rawTally counts the events of from..to that the filters let through.
func (r *queryRun) rawTally(from, to string, axis *timeAxis) (*tally, error) {
	q := r.q
	t := newTally()
	needBase := q.needBase()
	needSessions := slices.ContainsFunc(q.metrics, func(m string) bool { return slices.Contains(sessionMetrics, m) })

	// The local days of the range, as instants, to find an event's day.
	nDays := daysBetween(from, to) + 1
	dayNames := make([]string, nDays)
	starts := make([]int64, nDays+1)
	for i := range nDays {
		dayNames[i] = addDays(from, i)
		starts[i] = localStart(dayNames[i], r.loc).UnixMicro()
	}
	starts[nDays] = localStart(addDays(to, 1), r.loc).UnixMicro()

	// Filters and dimensions, with their getters.
	type cond struct {
		f   *filter
		get getter
	}
	var conds []cond
	var goalFilters []*filter
	for i := range q.filters {
		f := &q.filters[i]
		if f.dim == dimGoal {
			goalFilters = append(goalFilters, f)
		} else {
			conds = append(conds, cond{f, getterOf(f.dim)})
		}
	}
	gets := make([]getter, len(q.dims))
	goalIdx := -1
	for i, d := range q.dims {
		switch {
		case d == dimGoal:
			goalIdx = i
		case d != q.timeDim:
			gets[i] = getterOf(d)
		}
	}
	var goals []rawGoal
	if goalIdx >= 0 || len(goalFilters) > 0 {
		var err error
		if goals, err = r.goals(); err != nil {
			return nil, err
		}
	}

	var intern event.Interner
	str := func(b sql.RawBytes) string { return intern.String(b) }
	// Visits are read only when a visit dimension or metric needs them.
	needVisits := needSessions
	for _, d := range q.dims {
		needVisits = needVisits || slices.Contains(rawVisitDims, d)
	}
	for _, f := range q.filters {
		needVisits = needVisits || slices.Contains(rawVisitDims, f.dim)
	}
	hourLabels := make(map[[2]int]string) // (day index, hour) → label
	eventBucket := func(ev *rawEvent) string {
		switch {
		case axis == nil:
			return ""
		case axis.dim == timeHour:
			h := time.UnixMicro(ev.ts).In(r.loc).Hour()
			k := [2]int{ev.day, h}
			l, ok := hourLabels[k]
			if !ok {
				l = hourLabel(dayNames[ev.day], fmt.Sprintf("%02d", h))
				hourLabels[k] = l
			}
			return l
		}
		return axis.bucket[dayNames[ev.day]]
	}
	sessionBucket := func(s *rawSession) string {
		switch {
		case axis == nil:
			return ""
		case axis.dim == timeHour:
			return hourLabel(s.day, s.hour)
		}
		return axis.bucket[s.day]
	}

	var (
		matched []string
		dims    = make([]string, len(q.dims))
		key     []byte
	)
	// addTo counts ev in the group of dims (and its visit in the group of
	// the visit's start, time dimension aside).
	addTo := func(ev *rawEvent) {
		key = appendKey(key[:0], dims)
		g := t.groups[string(key)]
		if g == nil {
			g = t.group(string(key), dims)
		}
		g.addEvent(ev)
		if needSessions && ev.sess != nil && ev.sess.inRange {
			if q.timeDim != "" {
				eb := dims[q.timeIdx]
				dims[q.timeIdx] = sessionBucket(ev.sess)
				key = appendKey(key[:0], dims)
				if g = t.groups[string(key)]; g == nil {
					g = t.group(string(key), dims)
				}
				dims[q.timeIdx] = eb
			}
			g.addSession(ev.sess)
		}
	}
	// count counts one event, its visit (if needed) set.
	count := func(ev *rawEvent) {
		for _, c := range conds {
			if !c.f.match(c.get(ev)) {
				return
			}
		}
		bucket := eventBucket(ev)
		if needBase {
			t.baseOf(bucket).addEvent(ev)
			if bucket != "" {
				t.baseOf("").addEvent(ev) // the total's
			}
		}
		matched = matched[:0]
		if goals != nil {
		goals:
			for i := range goals {
				g := &goals[i]
				if !g.matches(ev) {
					continue
				}
				for _, f := range goalFilters {
					if !f.match(g.name) {
						continue goals
					}
				}
				matched = append(matched, g.name)
			}
			if (len(goalFilters) > 0 || goalIdx >= 0) && len(matched) == 0 {
				return
			}
		}
		// The total is the query's without its dimensions (of a goal
		// breakdown: of the events that complete a goal).
		t.total.addEvent(ev)
		if needSessions && ev.sess != nil && ev.sess.inRange {
			t.total.addSession(ev.sess)
		}
		for i, get := range gets {
			switch {
			case i == q.timeIdx:
				dims[i] = bucket
			case i == goalIdx:
			default:
				if dims[i] = get(ev); dims[i] == "" {
					return
				}
			}
		}
		if goalIdx < 0 {
			addTo(ev)
			return
		}
		for _, name := range matched {
			dims[goalIdx] = name
			addTo(ev)
		}
	}

	// The events are counted as they are read, unless their visits are
	// needed: then they are kept, compactly, until the visits they name
	// have been read, each once.
	var kept []rawEvent
	ids := make(map[int64]struct{})
	rows, err := r.tx.QueryContext(r.ctx, r.d.api.rawEvents, q.site, r.d.at(starts[0]), r.d.at(starts[nDays]))
	if err != nil {
		return nil, fmt.Errorf("raw events: %w", err)
	}
	defer rows.Close()
	var (
		ev                     rawEvent
		typ, path, host, props sql.RawBytes
	)
	dest := []any{&ev.ts, &typ, &path, &host, &props, &ev.visitor, &ev.sessionID}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("raw events: %w", err)
		}
		t.rawEvents++
		if t.rawEvents > MaxRawEvents {
			return nil, &paramError{"filters", fmt.Sprintf("this query needs the raw events of its range, more than %d of them: narrow date_range, or filter only on the dimension broken down, which the rollups answer", MaxRawEvents)}
		}
		ev.typ, ev.path, ev.host, ev.props = str(typ), str(path), str(host), str(props)
		ev.day, _ = slices.BinarySearch(starts, ev.ts+1)
		ev.day-- // the last start at or before ts
		if needVisits {
			kept = append(kept, ev)
			if ev.sessionID != 0 {
				ids[ev.sessionID] = struct{}{}
			}
			continue
		}
		ev.decoded = false
		count(&ev)
	}
	if err := rows.Err(); err != nil {
		if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
			// Not a busy database but too many events: retrying is no use.
			return nil, &paramError{"filters", fmt.Sprintf("this query needs the raw events of its range, and reading them (%d so far) took longer than the query timeout: narrow date_range, or filter only on the dimension broken down, which the rollups answer", t.rawEvents)}
		}
		return nil, fmt.Errorf("raw events: %w", err)
	}
	rows.Close()
	if needVisits {
		sessions, err := r.rawSessions(ids, from, to, str)
		if err != nil {
			return nil, err
		}
		for i := range kept {
			e := &kept[i]
			e.sess = sessions[e.sessionID]
			count(e)
		}
	}
	for _, g := range t.groups {
		g.settleSessions()
	}
	t.total.settleSessions()
	return t, nil
}

func (a *acc) addEvent(ev *rawEvent) {
	a.events++
	if ev.typ == pageView {
		a.pageviews++
	}
	if a.set == nil {
		a.set = make(map[int64]struct{})
	}
	if ev.visitor != 0 {
		a.set[ev.visitor] = struct{}{}
	}
}

func (a *acc) addSession(s *rawSession) {
	if a.sessions == nil {
		a.sessions = make(map[int64]*rawSession)
	}
	a.sessions[s.id] = s
}

// settleSessions turns the visits of a group into its visit figures.
func (a *acc) settleSessions() {
	if a.set == nil {
		a.set = make(map[int64]struct{}) // a group of visits only: no visitors
	}
	for _, s := range a.sessions {
		a.visits++
		a.duration += s.duration
		if s.bounce {
			a.bounces++
		}
	}
	a.sessions = nil
}

// goals reads the site's goals.
func (r *queryRun) goals() ([]rawGoal, error) {
	rows, err := r.tx.QueryContext(r.ctx, r.d.api.goals, r.q.site)
	if err != nil {
		return nil, fmt.Errorf("goals: %w", err)
	}
	defer rows.Close()
	goals := []rawGoal{}
	for rows.Next() {
		var g rawGoal
		if err := rows.Scan(&g.name, &g.event, &g.path); err != nil {
			return nil, fmt.Errorf("goals: %w", err)
		}
		goals = append(goals, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("goals: %w", err)
	}
	return goals, nil
}

// rawSessions reads the visits of ids, rawSessionBatch at a time; those
// that began from..to are in the range.
func (r *queryRun) rawSessions(ids map[int64]struct{}, from, to string, str func(sql.RawBytes) string) (map[int64]*rawSession, error) {
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	sessions := make(map[int64]*rawSession, len(ids))
	sc := newSessionScanner(str, from, to)
	for len(sorted) > 0 {
		n := min(len(sorted), rawSessionBatch)
		if err := r.readSessions(r.d.api.sessionArgs(sorted[:n]), sc, sessions); err != nil {
			return nil, err
		}
		sorted = sorted[n:]
	}
	return sessions, nil
}

func (r *queryRun) readSessions(args []any, sc *sessionScanner, into map[int64]*rawSession) error {
	rows, err := r.tx.QueryContext(r.ctx, r.d.api.rawSessions, args...)
	if err != nil {
		return fmt.Errorf("visits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := sc.scan(rows)
		if err != nil {
			return fmt.Errorf("visits: %w", err)
		}
		into[s.id] = s
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("visits: %w", err)
	}
	return nil
}

// sessionScanner reads rows of rawSessionCols.
type sessionScanner struct {
	str         func(sql.RawBytes) string
	from, to    string
	day, hour   sql.RawBytes
	start, last int64
	s           *rawSession
	pageviews   int64
	vals        [13]sql.RawBytes
	dest        []any
}

func newSessionScanner(str func(sql.RawBytes) string, from, to string) *sessionScanner {
	sc := &sessionScanner{str: str, from: from, to: to, s: &rawSession{}}
	sc.dest = []any{&sc.s.id, &sc.day, &sc.hour, &sc.start, &sc.last, &sc.pageviews}
	for i := range sc.vals {
		sc.dest = append(sc.dest, &sc.vals[i])
	}
	return sc
}

func (sc *sessionScanner) scan(rows *sql.Rows) (*rawSession, error) {
	if err := rows.Scan(sc.dest...); err != nil {
		return nil, err
	}
	s := &rawSession{id: sc.s.id, day: sc.str(sc.day), hour: sc.str(sc.hour),
		bounce: sc.pageviews == 1, duration: (sc.last - sc.start) / 1e6}
	s.inRange = s.day >= sc.from && s.day <= sc.to
	for i, v := range sc.vals {
		s.vals[i] = sc.str(v)
	}
	return s, nil
}
