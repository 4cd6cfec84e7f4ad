package report

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
)

// Execution of a validated query. A query is answered from one of two
// sources, chosen by planQuery:
//
//   - the rollups (stats, stats_sketches), when every dimension and every
//     filter other than time is the same single dimension: its rows over the
//     range's days are read by primary key, so the cost is bounded by the
//     days and the values a day may hold, never by the events behind them.
//     Visitors of a group made of one stats row (one day, one value) are the
//     row's exact count; of several rows, the estimate of their merged
//     HyperLogLog sketches.
//   - the raw events of the range otherwise, read through events_site_ts
//     with their visits and counted here: exact, but the cost grows with the
//     events in the range, and it is bounded by MaxRawEvents.

// MaxRawEvents bounds the raw events one query may read (about 4 µs and
// 120 bytes each while read); past it, or past the query timeout, the
// query is refused (400) with a hint to narrow it.
const MaxRawEvents = 1_000_000

// Answer sources, as meta.computed_from names them.
const (
	fromRollups   = "rollups"
	fromRawEvents = "raw_events"
)

// QueryResponse is the answer of POST /api/v1/query.
type QueryResponse struct {
	Results []QueryRow `json:"results"`
	Meta    QueryMeta  `json:"meta"`
	Query   QueryEcho  `json:"query"`
}

// QueryRow is one result row: its dimension values in the order of the
// query's dimensions and its metric values in the order of its metrics.
type QueryRow struct {
	Dimensions []string    `json:"dimensions"`
	Metrics    []any       `json:"metrics"`
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Comparison is a row's counterpart in the comparison range. Change is,
// per metric, the percent change from it (null when it was zero and the
// value is not), or for bounce_rate and conversion_rate the difference in
// percentage points.
type Comparison struct {
	Dimensions []string   `json:"dimensions"`
	Metrics    []any      `json:"metrics"`
	Change     []*float64 `json:"change"`
}

// QueryMeta says how the answer was made.
type QueryMeta struct {
	ComputedFrom string    `json:"computed_from"`        // "rollups" or "raw_events"
	RawEvents    *int64    `json:"raw_events,omitempty"` // events read, for raw_events
	TotalRows    int       `json:"total_rows"`           // rows before pagination
	Totals       *QueryRow `json:"totals,omitempty"`     // the metrics of the query without its dimensions, when it has some
	TimeLabels   []string  `json:"time_labels,omitempty"`
	Warnings     []string  `json:"warnings,omitempty"`
}

// QueryEcho is the query as it was run: the date range resolved to days,
// and the order with its defaults.
type QueryEcho struct {
	SiteID              string     `json:"site_id"`
	Metrics             []string   `json:"metrics"`
	DateRange           [2]string  `json:"date_range"`
	ComparisonDateRange *[2]string `json:"comparison_date_range,omitempty"`
	Dimensions          []string   `json:"dimensions"`
	Filters             [][]any    `json:"filters"`
	OrderBy             [][]string `json:"order_by"`
	Pagination          struct {
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"pagination"`
	Include struct {
		Compare string `json:"compare,omitempty"`
	} `json:"include"`
}

// queryRun is one query being answered inside a read transaction.
type queryRun struct {
	ctx  context.Context
	d    *dialect
	tx   *sql.Tx
	q    *apiQuery
	loc  *time.Location
	plan apiPlan
}

// apiPlan says where a query's figures come from.
type apiPlan struct {
	rollup bool
	dim    string // rollup: the stats dim read ('' for the site's totals)
}

// planQuery picks the rollups when they can answer exactly: every non-time
// dimension and every filter on one and the same dimension, that dimension
// not broken down by hour (no stats row holds a value and an hour), and no
// visit metric asked under a filter on an event dimension (event rows hold
// no visits).
func planQuery(q *apiQuery) apiPlan {
	var dims []string
	for _, d := range q.dims {
		if d != q.timeDim {
			dims = append(dims, d)
		}
	}
	for _, f := range q.filters {
		if !slices.Contains(dims, f.dim) {
			dims = append(dims, f.dim)
		}
	}
	switch {
	case len(dims) > 1:
		return apiPlan{}
	case len(dims) == 0 && q.timeDim == timeHour:
		return apiPlan{rollup: true, dim: timeHour}
	case len(dims) == 0:
		return apiPlan{rollup: true, dim: ""}
	case q.timeDim == timeHour:
		return apiPlan{}
	}
	if len(q.filters) > 0 && eventDim(dims[0]) && slices.ContainsFunc(q.metrics, func(m string) bool {
		return slices.Contains(sessionMetrics, m)
	}) {
		return apiPlan{}
	}
	return apiPlan{rollup: true, dim: dims[0]}
}

// runQuery answers q from db; now is the clock for the site's today when q
// does not pin it.
func (d *dialect) runQuery(ctx context.Context, db *sql.DB, q *apiQuery, now time.Time) (*QueryResponse, error) {
	return d.runPlanned(ctx, db, q, now, planQuery(q))
}

// runPlanned answers q from the source plan names; tests use it to read
// the raw events where the rollups would answer.
func (d *dialect) runPlanned(ctx context.Context, db *sql.DB, q *apiQuery, now time.Time, plan apiPlan) (*QueryResponse, error) {
	var resp *QueryResponse
	// One snapshot for every statement of the query, on PostgreSQL too.
	err := inTx(ctx, db, d.readTx, func(tx *sql.Tx) error {
		r := &queryRun{ctx: ctx, d: d, tx: tx, q: q, plan: plan}
		var err error
		resp, err = r.run(now)
		return err
	})
	if err != nil {
		var pe *paramError
		if errors.As(err, &pe) {
			return nil, pe
		}
		var unknown *unknownSiteError
		if errors.As(err, &unknown) {
			return nil, unknown
		}
		return nil, fmt.Errorf("report: query: %w", err)
	}
	return resp, nil
}

func (r *queryRun) run(now time.Time) (*QueryResponse, error) {
	q := r.q
	var warnings []string
	var err error
	if r.loc, err = r.d.knownSiteZone(r.ctx, r.tx, q.site); err != nil {
		return nil, err
	}
	today := q.today
	if today == "" {
		today = now.In(r.loc).Format(time.DateOnly)
	}
	from, to, err := r.dateRange(today)
	if err != nil {
		return nil, err
	}
	var axis, prevAxis *timeAxis
	if q.timeDim != "" {
		if axis, err = newTimeAxis(q.timeDim, from, to); err != nil {
			return nil, err
		}
	}
	cur, err := r.tally(from, to, axis)
	if err != nil {
		return nil, err
	}
	if len(q.dims) == 0 {
		cur.group("", nil) // an aggregate has its one row, zeros without data
	}

	var prev *tally
	var prevFrom, prevTo string
	if q.compare != "" {
		prevFrom, prevTo = compareRange(q.compare, from, to)
		if q.timeDim != "" {
			if prevAxis, err = newTimeAxis(q.timeDim, prevFrom, prevTo); err != nil {
				return nil, err
			}
		}
		if prev, err = r.tally(prevFrom, prevTo, prevAxis); err != nil {
			return nil, err
		}
	}

	rows, page, err := r.page(cur)
	if err != nil {
		return nil, err
	}
	var prevRows map[string]*resultRow
	if prev != nil {
		// The comparison's groups of the rows on the page, by their keys in
		// the range: buckets pair by position, the i-th day (hour, week,
		// month) of the range with the i-th of the comparison.
		prevKey := func(dims []string) string {
			if prevAxis != nil {
				i, ok := prevAxis.index[dims[q.timeIdx]]
				if !ok || i >= len(axis.labels) {
					return ""
				}
				dims = slices.Clone(dims)
				dims[q.timeIdx] = axis.labels[i]
			}
			return groupKey(dims)
		}
		byKey := make(map[string]*acc)
		for _, g := range prev.groups {
			if k := prevKey(g.dims); k != "" || len(q.dims) == 0 {
				byKey[k] = g
			}
		}
		var want []*acc
		for _, row := range page {
			if g := byKey[row.key]; g != nil {
				want = append(want, g)
			}
		}
		if err := prev.resolveVisitors(r.q, want); err != nil {
			return nil, err
		}
		prevRows = make(map[string]*resultRow)
		for k, g := range byKey {
			prevRows[k] = r.resultRow(g, prev.baseFor(r.q, g))
		}
	}

	resp := &QueryResponse{Results: []QueryRow{}}
	resp.Query = r.echo(from, to)
	if prev != nil {
		resp.Query.ComparisonDateRange = &[2]string{prevFrom, prevTo}
	}
	meta := &resp.Meta
	meta.ComputedFrom = fromRollups
	if !r.plan.rollup {
		meta.ComputedFrom = fromRawEvents
		n := cur.rawEvents
		if prev != nil {
			n += prev.rawEvents
		}
		meta.RawEvents = &n
		warnings = append(warnings, "the filters reach beyond the broken-down dimension: computed from the raw events of the range (see raw_events), whose cost grows with their number")
	}
	if axis != nil {
		meta.TimeLabels = axis.labels
	}
	if cur.estimated || prev != nil && prev.estimated {
		warnings = append(warnings, "visitors over more than one day are estimated from HyperLogLog sketches (typical error under 1%)")
	}
	if r.plan.rollup && r.plan.dim == "visit:exit_page" && slices.ContainsFunc(q.metrics, func(m string) bool {
		return m == "visitors" || m == "pageviews" || m == "events" || m == "views_per_visit"
	}) {
		// The worker moves a visit's exit page as the visit goes on, so it
		// counts only the visit's own figures there, none per event.
		warnings = append(warnings, "visit:exit_page rows count visits (visits, bounce_rate, visit_duration) only: their visitors, pageviews and events are 0")
	}
	if cur.other || prev != nil && prev.other {
		warnings = append(warnings, `values past the cap of distinct values per day and dimension are counted under "(other)"`)
	}
	meta.Warnings = warnings
	meta.TotalRows = len(rows)
	for _, row := range page {
		out := QueryRow{Dimensions: row.dims, Metrics: row.metrics}
		if prev != nil {
			out.Comparison = r.comparison(row, prevRows[row.key], axis, prevAxis)
		}
		resp.Results = append(resp.Results, out)
	}
	if len(q.dims) > 0 {
		total := r.resultRow(cur.total, cur.base[""])
		meta.Totals = &QueryRow{Dimensions: []string{}, Metrics: total.metrics}
		if prev != nil {
			if err := prev.resolveVisitors(r.q, nil); err != nil {
				return nil, err
			}
			pt := r.resultRow(prev.total, prev.base[""])
			meta.Totals.Comparison = r.comparison(total, pt, nil, nil)
		}
	}
	return resp, nil
}

// dateRange resolves the query's range to local days, today included.
func (r *queryRun) dateRange(today string) (from, to string, err error) {
	q := r.q
	t, _ := time.Parse(time.DateOnly, today) // validated, or made by Format
	y, m, _ := t.Date()
	first := func(months int) string {
		return time.Date(y, m-time.Month(months), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	switch q.period {
	case "":
		return q.from, q.to, nil
	case "day":
		return today, today, nil
	case "7d":
		return addDays(today, -6), today, nil
	case "30d":
		return addDays(today, -29), today, nil
	case "month":
		return first(0), today, nil
	case "6mo":
		return first(5), today, nil
	case "12mo":
		return first(11), today, nil
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), today, nil
	case "all":
		var firstDay sql.NullString
		if err := r.tx.QueryRowContext(r.ctx, r.d.api.firstDay, q.site).Scan(&firstDay); err != nil {
			return "", "", fmt.Errorf("first day: %w", err)
		}
		if !firstDay.Valid || firstDay.String > today {
			return today, today, nil
		}
		return firstDay.String, today, nil
	}
	panic("BUG: report: date range " + q.period)
}

// compareRange is the range that the comparison mode sets beside from..to:
// as many days just before it, or the same days a year earlier (29
// February becoming the 28th).
func compareRange(mode, from, to string) (string, string) {
	if mode == "previous_period" {
		n := daysBetween(from, to) + 1
		return addDays(from, -n), addDays(from, -1)
	}
	return yearBefore(from), yearBefore(to)
}

func addDays(day string, n int) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// daysBetween is the number of days from a to b (b - a).
func daysBetween(a, b string) int {
	ta, _ := time.Parse(time.DateOnly, a)
	tb, _ := time.Parse(time.DateOnly, b)
	return int(tb.Sub(ta).Hours()/24 + 0.5)
}

func yearBefore(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	y, m, d := t.Date()
	if m == time.February && d == 29 {
		d = 28
	}
	return time.Date(y-1, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// localStart is the instant the local day begins in loc.
func localStart(day string, loc *time.Location) time.Time {
	t, _ := time.Parse(time.DateOnly, day)
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// timeAxis is the buckets of a time dimension over a range, in order:
// days as YYYY-MM-DD, weeks by their Monday, months by their first day,
// hours as "YYYY-MM-DD HH:00:00", all local to the site.
type timeAxis struct {
	dim    string
	labels []string
	index  map[string]int    // label → position
	bucket map[string]string // local day → its label (not for hours)
}

func newTimeAxis(dim, from, to string) (*timeAxis, error) {
	days := daysBetween(from, to) + 1
	n := days
	if dim == timeHour {
		n = days * 24
	}
	if n > MaxTimeBuckets {
		return nil, &paramError{"dimensions", fmt.Sprintf("%s over %s..%s makes %d buckets, more than %d: narrow date_range or pick a coarser time dimension", dim, from, to, n, MaxTimeBuckets)}
	}
	a := &timeAxis{dim: dim, index: make(map[string]int), bucket: make(map[string]string, days)}
	t, _ := time.Parse(time.DateOnly, from)
	for range days {
		day := t.Format(time.DateOnly)
		var label string
		switch dim {
		case timeHour:
			for h := range 24 {
				a.add(hourLabel(day, fmt.Sprintf("%02d", h)))
			}
			t = t.AddDate(0, 0, 1)
			continue
		case timeDay:
			label = day
		case timeWeek:
			label = t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)).Format(time.DateOnly)
		case timeMonth:
			label = day[:8] + "01"
		}
		a.bucket[day] = label
		a.add(label)
		t = t.AddDate(0, 0, 1)
	}
	return a, nil
}

func (a *timeAxis) add(label string) {
	if _, ok := a.index[label]; !ok {
		a.index[label] = len(a.labels)
		a.labels = append(a.labels, label)
	}
}

func hourLabel(day, hh string) string { return day + " " + hh + ":00:00" }

// acc accumulates the figures of one group.
type acc struct {
	dims                                         []string
	pageviews, visits, bounces, duration, events int64

	// Rollups: visitors is the sum over the rows folded in, exact while
	// vrows (rows with visitors) is at most one; past that sk, the merge of
	// the sketches of rows, estimates them once merged. Until then the
	// group's visitors are only known to lie between vmax (its largest
	// row) and visitors, and count as bound.
	visitors int64
	vrows    int
	vmax     int64
	rows     []rowRef
	sk       *hyperloglog.Sketch
	bound    int64

	// Raw events: the distinct visitors and visits.
	set      map[int64]struct{}
	sessions map[int64]*rawSession
}

// rowRef names a stats row.
type rowRef struct{ dim, day, value string }

// resolved reports whether the group's visitors are known.
func (a *acc) resolved() bool { return a.set != nil || a.vrows <= 1 || a.sk != nil }

// visitorCount returns the group's visitors and whether they are an
// estimate; for a group not resolved, its bound.
func (a *acc) visitorCount() (int64, bool) {
	switch {
	case a.set != nil:
		return int64(len(a.set)), false
	case a.vrows <= 1:
		return a.visitors, false
	case a.sk != nil:
		return int64(a.sk.Estimate()), true
	}
	return a.bound, false
}

// tally is the groups of one range.
type tally struct {
	groups    map[string]*acc
	total     *acc            // everything the filters let through, without dimensions
	base      map[string]*acc // conversion_rate's denominators, by time bucket ("" without one)
	rawEvents int64
	estimated bool // a visitors figure in the answer is an estimate
	other     bool // "(other)" is among the values

	// merge merges the sketches of the groups given (rollups only; nil
	// when every figure is known).
	merge func([]*acc) error
}

// resolveVisitors makes known the visitors of the groups given and of the
// total and denominators, when the query asks for visitors.
func (t *tally) resolveVisitors(q *apiQuery, groups []*acc) error {
	if t.merge == nil || !q.needVisitors() {
		return nil
	}
	var want []*acc
	for _, a := range groups {
		if !a.resolved() {
			want = append(want, a)
		}
	}
	if !t.total.resolved() {
		want = append(want, t.total)
	}
	for _, b := range t.base {
		if !b.resolved() {
			want = append(want, b)
		}
	}
	if len(want) == 0 {
		return nil
	}
	return t.merge(want)
}

// baseFor is conversion_rate's denominator of g (nil when not asked).
func (t *tally) baseFor(q *apiQuery, g *acc) *acc {
	if !q.needBase() {
		return nil
	}
	if q.timeDim != "" {
		return t.base[g.dims[q.timeIdx]]
	}
	return t.base[""]
}

func newTally() *tally {
	return &tally{groups: make(map[string]*acc), total: &acc{}, base: make(map[string]*acc)}
}

// group returns the group of dims, made on first use; key is groupKey(dims).
func (t *tally) group(key string, dims []string) *acc {
	g := t.groups[key]
	if g == nil {
		g = &acc{dims: slices.Clone(dims)}
		t.groups[key] = g
	}
	return g
}

func (t *tally) baseOf(bucket string) *acc {
	b := t.base[bucket]
	if b == nil {
		b = &acc{}
		t.base[bucket] = b
	}
	return b
}

// groupKey joins dimension values into a map key; NUL appears in no value.
func groupKey(dims []string) string { return strings.Join(dims, "\x00") }

func (r *queryRun) tally(from, to string, axis *timeAxis) (*tally, error) {
	if r.plan.rollup {
		return r.rollupTally(from, to, axis)
	}
	return r.rawTally(from, to, axis)
}

// needVisitors reports whether any metric asked is made of visitors.
func (q *apiQuery) needVisitors() bool {
	return slices.Contains(q.metrics, "visitors") || slices.Contains(q.metrics, "conversion_rate")
}

// needBase reports whether conversion_rate needs its denominators.
func (q *apiQuery) needBase() bool { return slices.Contains(q.metrics, "conversion_rate") }

// resultRow is a group with its metrics computed.
type resultRow struct {
	key     string
	dims    []string
	metrics []any
	values  []float64 // metrics as numbers, for ordering and change
	g       *acc
}

// page computes the rows of t in order, and the page the query asks for.
// Groups whose visitors need their sketches merged are merged only when
// they may be on the page: the others sort by a bound of their visitors
// (the largest possible when visitors order descending, the smallest
// when ascending), so a group left out cannot belong on the page.
func (r *queryRun) page(t *tally) (rows, page []*resultRow, err error) {
	q := r.q
	if err := t.resolveVisitors(q, nil); err != nil {
		return nil, nil, err
	}
	// The direction that visitors (or conversion_rate, which grows with
	// them) order in, if they order.
	desc, mixed, ordered := false, false, false
	for _, term := range q.orderTerms() {
		if term.metric < 0 || q.metrics[term.metric] != "visitors" && q.metrics[term.metric] != "conversion_rate" {
			continue
		}
		if ordered && term.desc != desc {
			mixed = true
		}
		desc, ordered = term.desc, true
	}
	var all []*acc
	for _, g := range t.groups {
		if !g.resolved() {
			g.bound = g.vmax
			if desc {
				g.bound = g.visitors
			}
			all = append(all, g)
		}
	}
	if mixed {
		if err := t.resolveVisitors(q, all); err != nil {
			return nil, nil, err
		}
	}
	for {
		rows = r.rows(t)
		r.sort(rows)
		page = rows[min(q.offset, len(rows)):min(q.offset+q.limit, len(rows))]
		var want []*acc
		for _, row := range page {
			if !row.g.resolved() {
				want = append(want, row.g)
			}
		}
		if len(want) == 0 || !q.needVisitors() {
			return rows, page, nil
		}
		if err := t.resolveVisitors(q, want); err != nil {
			return nil, nil, err
		}
	}
}

// rows computes every group's metrics.
func (r *queryRun) rows(t *tally) []*resultRow {
	rows := make([]*resultRow, 0, len(t.groups))
	for key, g := range t.groups {
		row := r.resultRow(g, t.baseFor(r.q, g))
		row.key = key
		rows = append(rows, row)
	}
	return rows
}

// resultRow computes the metrics of g; base holds conversion_rate's
// denominator (nil: none).
func (r *queryRun) resultRow(g, base *acc) *resultRow {
	row := &resultRow{dims: g.dims, g: g}
	if row.dims == nil {
		row.dims = []string{}
	}
	visitors, _ := g.visitorCount()
	for _, m := range r.q.metrics {
		var v any
		switch m {
		case "visitors":
			v = visitors
		case "visits":
			v = g.visits
		case "pageviews":
			v = g.pageviews
		case "events":
			v = g.events
		case "views_per_visit":
			v = ratio(g.pageviews, g.visits, 1)
		case "bounce_rate":
			v = ratio(g.bounces, g.visits, 100)
		case "visit_duration":
			v = int64(math.Round(float64(ratio(g.duration, g.visits, 1))))
		case "conversion_rate":
			var all int64
			if base != nil {
				all, _ = base.visitorCount()
			}
			v = ratio(visitors, all, 100)
		}
		row.metrics = append(row.metrics, v)
		switch n := v.(type) {
		case int64:
			row.values = append(row.values, float64(n))
		case float64:
			row.values = append(row.values, n)
		}
	}
	return row
}

// ratio is n/d×scale rounded to two decimals, 0 when d is 0.
func ratio(n, d int64, scale float64) float64 {
	if d == 0 {
		return 0
	}
	return round2(float64(n) / float64(d) * scale)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// comparison pairs row with its counterpart prev (nil: none, all zero).
func (r *queryRun) comparison(row, prev *resultRow, axis, prevAxis *timeAxis) *Comparison {
	c := &Comparison{Dimensions: slices.Clone(row.dims)}
	if prev != nil {
		c.Dimensions = prev.dims
		c.Metrics = prev.metrics
	} else {
		if axis != nil {
			// The bucket at the same position in the comparison range.
			if i, ok := axis.index[row.dims[r.q.timeIdx]]; ok && i < len(prevAxis.labels) {
				c.Dimensions[r.q.timeIdx] = prevAxis.labels[i]
			}
		}
		for _, v := range row.metrics {
			switch v.(type) {
			case int64:
				c.Metrics = append(c.Metrics, int64(0))
			default:
				c.Metrics = append(c.Metrics, float64(0))
			}
		}
	}
	for i, m := range r.q.metrics {
		cur, old := row.values[i], 0.0
		if prev != nil {
			old = prev.values[i]
		}
		var ch *float64
		switch {
		case m == "bounce_rate" || m == "conversion_rate":
			d := round2(cur - old)
			ch = &d
		case old == 0 && cur == 0:
			d := 0.0
			ch = &d
		case old != 0:
			d := round2((cur - old) / old * 100)
			ch = &d
		}
		c.Change = append(c.Change, ch)
	}
	return c
}

// orderTerms are the query's order, or the default one: the time
// dimension ascending, then the first metric descending.
func (q *apiQuery) orderTerms() []orderTerm {
	if len(q.order) > 0 {
		return q.order
	}
	var terms []orderTerm
	if q.timeDim != "" {
		terms = append(terms, orderTerm{name: q.timeDim, metric: -1, dim: q.timeIdx})
	}
	return append(terms, orderTerm{name: q.metrics[0], desc: true, metric: 0, dim: -1})
}

// sort orders rows by the query's terms, then by every dimension
// ascending, so that equal figures still come in one stable order.
func (r *queryRun) sort(rows []*resultRow) {
	terms := r.q.orderTerms()
	slices.SortFunc(rows, func(a, b *resultRow) int {
		for _, t := range terms {
			var c int
			if t.metric >= 0 {
				c = cmp.Compare(a.values[t.metric], b.values[t.metric])
			} else {
				c = strings.Compare(a.dims[t.dim], b.dims[t.dim])
			}
			if t.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		for i := range a.dims {
			if c := strings.Compare(a.dims[i], b.dims[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// echo is the query as run.
func (r *queryRun) echo(from, to string) QueryEcho {
	q := r.q
	e := QueryEcho{SiteID: q.site, Metrics: q.metrics, DateRange: [2]string{from, to},
		Dimensions: q.dims, Filters: [][]any{}, OrderBy: [][]string{}}
	if e.Dimensions == nil {
		e.Dimensions = []string{}
	}
	for _, f := range q.filters {
		e.Filters = append(e.Filters, []any{f.op, f.dim, f.values})
	}
	for _, t := range q.orderTerms() {
		dir := "asc"
		if t.desc {
			dir = "desc"
		}
		e.OrderBy = append(e.OrderBy, []string{t.name, dir})
	}
	e.Pagination.Limit, e.Pagination.Offset = q.limit, q.offset
	e.Include.Compare = q.compare
	return e
}
