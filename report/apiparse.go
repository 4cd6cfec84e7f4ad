package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sitelog/event"
)

// The request of POST /api/v1/query and its validation. Everything a
// client sends is checked here, before any read, and every problem is a
// paramError naming the field: the rest of the query code may trust an
// apiQuery.

// Limits of a query.
const (
	MaxQueryBody   = 64 << 10 // bytes of the request body
	MaxQueryLimit  = 10000    // rows of one page, and pagination's default
	MaxQueryOffset = 1_000_000
	MaxDimensions  = 5
	MaxFilters     = 20
	MaxFilterVals  = 100  // values of one filter
	MaxFilterValue = 2000 // bytes of one value (a property value's limit)
	MaxPattern     = 512  // bytes of one matches pattern
	MaxTimeBuckets = 10000
)

// Metrics of the query API, in the order the documentation lists them.
var queryMetrics = []string{
	"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events", "conversion_rate",
}

// sessionMetrics are counted per visit: they have no meaning for an event
// dimension, whose rows hold no visits.
var sessionMetrics = []string{"visits", "views_per_visit", "bounce_rate", "visit_duration"}

// Dimension names. Every one but the time dimensions is a dim of the stats
// table; goal is also accepted as Plausible's event:goal.
const (
	dimGoal      = "goal"
	dimPropsPfx  = "event:props:"
	timeHour     = "time:hour"
	timeDay      = "time:day"
	timeWeek     = "time:week"
	timeMonth    = "time:month"
	directSource = "Direct / None" // visit:source of visits without a referrer or utm_source
)

var statsDims = []string{
	"event:page", "event:name", "event:hostname",
	"visit:entry_page", "visit:exit_page", "visit:source", "visit:referrer",
	"visit:utm_source", "visit:utm_medium", "visit:utm_campaign", "visit:utm_content", "visit:utm_term",
	"visit:browser", "visit:os", "visit:device", "visit:country",
	dimGoal,
}

var timeDims = []string{timeHour, timeDay, timeWeek, timeMonth}

// Date range names, and the comparisons.
var (
	rangeNames   = []string{"day", "7d", "30d", "month", "6mo", "12mo", "year", "all"}
	compareModes = []string{"previous_period", "year_over_year"}
	filterOps    = []string{"is", "is_not", "contains", "matches"}
)

// apiQuery is a validated query.
type apiQuery struct {
	site     string
	metrics  []string
	period   string // one of rangeNames, or "" for the custom from..to
	from, to string // YYYY-MM-DD, for a custom range
	today    string // YYYY-MM-DD pinning "today", or "" for the site's today
	dims     []string
	timeDim  string // the time dimension among dims, or ""
	timeIdx  int    // its index in dims
	filters  []filter
	order    []orderTerm // as asked; tie-breakers are added when sorting
	limit    int
	offset   int
	compare  string // one of compareModes, or ""
}

// filter is one [op, dim, values] condition.
type filter struct {
	op     string
	dim    string
	values []string
	res    []*regexp.Regexp // for matches
}

// orderTerm is one [name, direction] of order_by.
type orderTerm struct {
	name   string
	desc   bool
	metric int // index in metrics, or -1
	dim    int // index in dims, or -1
}

// match reports whether the value v of the filter's dimension satisfies
// it. A missing value (the empty string: no referrer, no such property, a
// custom event's page) satisfies no filter, is_not included, as it has no
// rollup row to be counted under.
func (f *filter) match(v string) bool {
	if v == "" {
		return false
	}
	switch f.op {
	case "is":
		return slices.Contains(f.values, v)
	case "is_not":
		return !slices.Contains(f.values, v)
	case "contains":
		for _, s := range f.values {
			if strings.Contains(v, s) {
				return true
			}
		}
		return false
	case "matches":
		for _, re := range f.res {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	}
	panic("BUG: report: filter op " + f.op)
}

// queryBody is the request body as decoded, before validation. The fields
// whose shapes vary are kept raw, so that each problem gets a message of
// its own rather than the decoder's.
type queryBody struct {
	SiteID     string            `json:"site_id"`
	Metrics    []string          `json:"metrics"`
	DateRange  json.RawMessage   `json:"date_range"`
	Date       *string           `json:"date"`
	Dimensions []string          `json:"dimensions"`
	Filters    []json.RawMessage `json:"filters"`
	OrderBy    []json.RawMessage `json:"order_by"`
	Pagination *struct {
		Limit  json.RawMessage `json:"limit"`
		Offset json.RawMessage `json:"offset"`
	} `json:"pagination"`
	Include *struct {
		Compare *string `json:"compare"`
	} `json:"include"`
}

// parseQuery decodes and validates a request body.
func parseQuery(body []byte) (*apiQuery, error) {
	var b queryBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, &paramError{"body", "must be a JSON query object: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &paramError{"body", "must be one JSON object, with nothing after it"}
	}

	q := &apiQuery{site: b.SiteID, limit: MaxQueryLimit, timeIdx: -1}
	if err := checkSiteID(q.site); err != nil {
		return nil, err
	}
	if err := q.parseMetrics(b.Metrics); err != nil {
		return nil, err
	}
	if err := q.parseDateRange(b.DateRange); err != nil {
		return nil, err
	}
	if b.Date != nil {
		day, err := parseDate("date", *b.Date)
		if err != nil {
			return nil, err
		}
		q.today = day
	}
	if err := q.parseDimensions(b.Dimensions); err != nil {
		return nil, err
	}
	if len(b.Filters) > MaxFilters {
		return nil, &paramError{"filters", fmt.Sprintf("%d filters, more than %d", len(b.Filters), MaxFilters)}
	}
	for i, raw := range b.Filters {
		f, err := parseFilter(fmt.Sprintf("filters[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		q.filters = append(q.filters, f)
	}
	if len(b.OrderBy) > len(q.metrics)+len(q.dims) {
		return nil, &paramError{"order_by", "more terms than metrics and dimensions"}
	}
	for i, raw := range b.OrderBy {
		t, err := q.parseOrder(fmt.Sprintf("order_by[%d]", i), raw)
		if err != nil {
			return nil, err
		}
		q.order = append(q.order, t)
	}
	if p := b.Pagination; p != nil {
		var err error
		if q.limit, err = parseCount("pagination.limit", p.Limit, 1, MaxQueryLimit, MaxQueryLimit); err != nil {
			return nil, err
		}
		if q.offset, err = parseCount("pagination.offset", p.Offset, 0, MaxQueryOffset, 0); err != nil {
			return nil, err
		}
	}
	if b.Include != nil && b.Include.Compare != nil {
		q.compare = *b.Include.Compare
		if !slices.Contains(compareModes, q.compare) {
			return nil, &paramError{"include.compare", fmt.Sprintf("%q is not one of %s", q.compare, strings.Join(compareModes, ", "))}
		}
	}
	if err := q.checkCombination(); err != nil {
		return nil, err
	}
	if q.timeDim != "" && q.period == "" {
		if _, err := newTimeAxis(q.timeDim, q.from, q.to); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func (q *apiQuery) parseMetrics(ms []string) error {
	if len(ms) == 0 {
		return &paramError{"metrics", "required: one or more of " + strings.Join(queryMetrics, ", ")}
	}
	if len(ms) > len(queryMetrics) {
		return &paramError{"metrics", fmt.Sprintf("%d metrics, more than the %d there are", len(ms), len(queryMetrics))}
	}
	for i, m := range ms {
		name := fmt.Sprintf("metrics[%d]", i)
		if !slices.Contains(queryMetrics, m) {
			return &paramError{name, fmt.Sprintf("unknown metric %s; one of %s", quote(m), strings.Join(queryMetrics, ", "))}
		}
		if slices.Contains(ms[:i], m) {
			return &paramError{name, fmt.Sprintf("%q given twice", m)}
		}
	}
	q.metrics = ms
	return nil
}

func (q *apiQuery) parseDateRange(raw json.RawMessage) error {
	const shape = `must be one of "day", "7d", "30d", "month", "6mo", "12mo", "year", "all" or ["YYYY-MM-DD", "YYYY-MM-DD"]`
	if len(raw) == 0 || string(raw) == "null" {
		return &paramError{"date_range", "required: " + shape[len("must be "):]}
	}
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		if !slices.Contains(rangeNames, name) {
			return &paramError{"date_range", fmt.Sprintf("%s: %s", quote(name), shape)}
		}
		q.period = name
		return nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return &paramError{"date_range", shape}
	}
	from, err := parseDate("date_range[0]", pair[0])
	if err != nil {
		return err
	}
	to, err := parseDate("date_range[1]", pair[1])
	if err != nil {
		return err
	}
	if from > to {
		return &paramError{"date_range", fmt.Sprintf("starts on %s, after its end %s", from, to)}
	}
	q.from, q.to = from, to
	return nil
}

// parseDate accepts exactly YYYY-MM-DD naming a real calendar day.
func parseDate(param, s string) (string, error) {
	if len(s) != len(time.DateOnly) || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return "", &paramError{param, fmt.Sprintf("%s must be YYYY-MM-DD", quote(s))}
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", &paramError{param, s + " is not a calendar date"}
	}
	return s, nil
}

func (q *apiQuery) parseDimensions(ds []string) error {
	if len(ds) > MaxDimensions {
		return &paramError{"dimensions", fmt.Sprintf("%d dimensions, more than %d", len(ds), MaxDimensions)}
	}
	for i, d := range ds {
		name := fmt.Sprintf("dimensions[%d]", i)
		d, err := checkDim(name, d)
		if err != nil {
			return err
		}
		if slices.Contains(q.dims, d) {
			return &paramError{name, fmt.Sprintf("%q given twice", d)}
		}
		if slices.Contains(timeDims, d) {
			if q.timeDim != "" {
				return &paramError{name, fmt.Sprintf("a second time dimension (%s and %s): pick one", q.timeDim, d)}
			}
			q.timeDim, q.timeIdx = d, i
		}
		q.dims = append(q.dims, d)
	}
	return nil
}

// checkDim returns the dimension d names (goal for event:goal), or a
// paramError under name.
func checkDim(name, d string) (string, error) {
	if d == "event:goal" {
		return dimGoal, nil
	}
	if slices.Contains(statsDims, d) || slices.Contains(timeDims, d) {
		return d, nil
	}
	if key, ok := strings.CutPrefix(d, dimPropsPfx); ok {
		if key == "" || len(key) > event.MaxPropKey || !utf8.ValidString(key) {
			return "", &paramError{name, fmt.Sprintf("a property key is 1-%d bytes of UTF-8", event.MaxPropKey)}
		}
		return d, nil
	}
	return "", &paramError{name, fmt.Sprintf("unknown dimension %s; one of %s, event:props:<key>, %s",
		quote(d), strings.Join(statsDims, ", "), strings.Join(timeDims, ", "))}
}

func parseFilter(name string, raw json.RawMessage) (filter, error) {
	const shape = `must be [operator, dimension, [values...]], such as ["is", "visit:country", ["DE", "FR"]]`
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 3 {
		return filter{}, &paramError{name, shape}
	}
	if len(parts) > 3 {
		return filter{}, &paramError{name, "has more than three elements: neither modifiers nor and/or/not are supported; filters are all ANDed"}
	}
	var f filter
	if err := json.Unmarshal(parts[0], &f.op); err != nil || !slices.Contains(filterOps, f.op) {
		return filter{}, &paramError{name + "[0]", fmt.Sprintf("unknown operator %s; one of %s", string(parts[0]), strings.Join(filterOps, ", "))}
	}
	var dim string
	if err := json.Unmarshal(parts[1], &dim); err != nil {
		return filter{}, &paramError{name + "[1]", "must be a dimension name"}
	}
	dim, err := checkDim(name+"[1]", dim)
	if err != nil {
		return filter{}, err
	}
	if slices.Contains(timeDims, dim) {
		return filter{}, &paramError{name + "[1]", dim + " cannot be filtered on: set date_range instead"}
	}
	f.dim = dim
	if err := json.Unmarshal(parts[2], &f.values); err != nil || len(f.values) == 0 || len(f.values) > MaxFilterVals {
		return filter{}, &paramError{name + "[2]", fmt.Sprintf("must be a list of 1-%d strings", MaxFilterVals)}
	}
	for j, v := range f.values {
		vname := fmt.Sprintf("%s[2][%d]", name, j)
		switch {
		case v == "":
			return filter{}, &paramError{vname, "is empty"}
		case len(v) > MaxFilterValue:
			return filter{}, &paramError{vname, fmt.Sprintf("longer than %d bytes", MaxFilterValue)}
		case f.op == "matches" && len(v) > MaxPattern:
			return filter{}, &paramError{vname, fmt.Sprintf("a pattern of more than %d bytes", MaxPattern)}
		}
		if f.op == "matches" {
			re, err := regexp.Compile(v)
			if err != nil {
				return filter{}, &paramError{vname, "not a regular expression (Go RE2 syntax): " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}
			}
			f.res = append(f.res, re)
		}
	}
	return f, nil
}

func (q *apiQuery) parseOrder(name string, raw json.RawMessage) (orderTerm, error) {
	const shape = `must be [metric or dimension, "asc" or "desc"]`
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return orderTerm{}, &paramError{name, shape}
	}
	t := orderTerm{name: pair[0], metric: slices.Index(q.metrics, pair[0]), dim: slices.Index(q.dims, pair[0])}
	if pair[0] == "event:goal" {
		t.name, t.dim = dimGoal, slices.Index(q.dims, dimGoal)
	}
	if t.metric < 0 && t.dim < 0 {
		return orderTerm{}, &paramError{name + "[0]", fmt.Sprintf("%s is neither among metrics nor among dimensions", quote(pair[0]))}
	}
	switch pair[1] {
	case "asc":
	case "desc":
		t.desc = true
	default:
		return orderTerm{}, &paramError{name + "[1]", fmt.Sprintf(`%s: must be "asc" or "desc"`, quote(pair[1]))}
	}
	for _, o := range q.order {
		if o.name == t.name {
			return orderTerm{}, &paramError{name, fmt.Sprintf("orders by %q twice", t.name)}
		}
	}
	return t, nil
}

// parseCount reads an optional integer from lo to hi; def when absent.
func parseCount(name string, raw json.RawMessage, lo, hi, def int) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	bad := &paramError{name, fmt.Sprintf("must be an integer from %d to %d", lo, hi)}
	s := string(raw)
	if len(s) > 10 || !digits(s) || len(s) > 1 && s[0] == '0' {
		return 0, bad
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, bad
	}
	return n, nil
}

// checkCombination refuses what is valid field by field but not together.
func (q *apiQuery) checkCombination() error {
	hasGoal := slices.Contains(q.dims, dimGoal)
	for _, f := range q.filters {
		hasGoal = hasGoal || f.dim == dimGoal
	}
	if slices.Contains(q.metrics, "conversion_rate") && !hasGoal {
		return &paramError{"metrics", "conversion_rate needs the goal dimension or a filter on goal"}
	}
	for _, d := range q.dims {
		if !eventDim(d) {
			continue
		}
		for _, m := range q.metrics {
			if slices.Contains(sessionMetrics, m) {
				return &paramError{"metrics", fmt.Sprintf("%s is counted per visit and cannot be broken down by the event dimension %s", m, d)}
			}
		}
	}
	return nil
}

// eventDim reports whether d is counted per event (event:*, goal) rather
// than per visit or per time.
func eventDim(d string) bool {
	return d == dimGoal || strings.HasPrefix(d, "event:")
}

// quote quotes s for an error message, cut to a readable length.
func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strconv.Quote(s)
}
