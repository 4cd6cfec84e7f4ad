package report

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
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
		return g.path != "" && globMatch(g.path, ev.path)
	}
	return g.event != "" && g.event == ev.typ
}

// globMatch reports whether s matches pattern, where '*' matches any run
// of characters and everything else itself: a goal's page_path.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
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

	intern := make(map[string]string)
	str := func(b sql.RawBytes) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		intern[s] = s
		return s
	}
	sessions := make(map[int64]*rawSession)
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

	rows, err := r.tx.QueryContext(r.ctx, apiRawEventsSQL, q.site, starts[0], starts[nDays])
	if err != nil {
		return nil, fmt.Errorf("raw events: %w", err)
	}
	defer rows.Close()
	var (
		ev                        rawEvent
		typ, path, host, props    sql.RawBytes
		sDay, sHour               sql.RawBytes
		sStart, sLast, sPageviews sql.NullInt64
		vals                      [13]sql.RawBytes
		matched                   []string
		dims                      = make([]string, len(q.dims))
		key                       []byte
	)
	ev.propMap = make(map[string]string)
	dest := []any{&ev.ts, &typ, &path, &host, &props, &ev.visitor, &ev.sessionID,
		&sDay, &sHour, &sStart, &sLast, &sPageviews}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	// addTo counts the event in the group of dims (and its visit in the
	// group of the visit's start, time dimension aside).
	addTo := func() {
		key = appendKey(key[:0], dims)
		g := t.groups[string(key)]
		if g == nil {
			g = t.group(string(key), dims)
		}
		g.addEvent(&ev)
		if needSessions && ev.sess != nil && ev.sess.inRange {
			if q.timeDim != "" {
				eb := dims[q.timeIdx]
				dims[q.timeIdx] = sessionBucket(ev.sess)
				key = appendKey(key[:0], dims)
				dims[q.timeIdx] = eb
				if g = t.groups[string(key)]; g == nil {
					g = t.group(string(key), dims)
					g.dims[q.timeIdx] = sessionBucket(ev.sess)
				}
			}
			g.addSession(ev.sess)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("raw events: %w", err)
		}
		t.rawEvents++
		if t.rawEvents > MaxRawEvents {
			return nil, &paramError{"filters", fmt.Sprintf("this query needs the raw events of its range, more than %d of them: narrow date_range, or filter only on the dimension broken down, which the rollups answer", MaxRawEvents)}
		}
		ev.typ, ev.path, ev.host, ev.props = str(typ), str(path), str(host), str(props)
		ev.decoded = false
		ev.day, _ = slices.BinarySearch(starts, ev.ts+1)
		ev.day-- // the last start at or before ts
		ev.sess = nil
		if ev.sessionID != 0 && sDay != nil {
			s := sessions[ev.sessionID]
			if s == nil {
				s = &rawSession{id: ev.sessionID, day: str(sDay), hour: str(sHour),
					bounce: sPageviews.Int64 == 1, duration: (sLast.Int64 - sStart.Int64) / 1e6}
				s.inRange = s.day >= from && s.day <= to
				for i := range vals {
					s.vals[i] = str(vals[i])
				}
				sessions[ev.sessionID] = s
			}
			ev.sess = s
		}

		pass := true
		for _, c := range conds {
			if !c.f.match(c.get(&ev)) {
				pass = false
				break
			}
		}
		if !pass {
			continue
		}
		bucket := eventBucket(&ev)
		if needBase {
			t.baseOf(bucket).addEvent(&ev)
		}
		matched = matched[:0]
		if goals != nil {
		goals:
			for i := range goals {
				g := &goals[i]
				if !g.matches(&ev) {
					continue
				}
				for _, f := range goalFilters {
					if !f.match(g.name) {
						continue goals
					}
				}
				matched = append(matched, g.name)
			}
			if len(goalFilters) > 0 && len(matched) == 0 {
				continue
			}
		}
		t.total.addEvent(&ev)
		if needSessions && ev.sess != nil && ev.sess.inRange {
			t.total.addSession(ev.sess)
		}

		skip := false
		for i, get := range gets {
			switch {
			case i == q.timeIdx:
				dims[i] = bucket
			case i == goalIdx:
			default:
				dims[i] = get(&ev)
				skip = skip || dims[i] == ""
			}
		}
		if skip {
			continue
		}
		if goalIdx < 0 {
			addTo()
			continue
		}
		for _, name := range matched {
			dims[goalIdx] = name
			addTo()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("raw events: %w", err)
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
	rows, err := r.tx.QueryContext(r.ctx, apiGoalsSQL, r.q.site)
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
