package report

import (
	"database/sql"
	"fmt"

	"github.com/axiomhq/hyperloglog"
)

// otherValue is the value under which the rollups count what is past the
// cap of distinct values per site, day and dimension.
const otherValue = "(other)"

// route returns the accumulators that a stats row (day, value) of the dim
// being read adds to, appended to out.
type route func(day, value string, out []*acc) []*acc

// rollupTally answers from the stats rows of r.plan.dim: it sums the rows
// into their groups, and leaves to its merge the sketches of the groups
// made of more than one row with visitors, for the groups whose visitors
// are needed (see page).
func (r *queryRun) rollupTally(from, to string, axis *timeAxis) (*tally, error) {
	q, dim := r.q, r.plan.dim
	t := newTally()
	needBase := q.needBase()
	// The total is the query's without its dimensions: the site's totals
	// unless filtered, or a goal breakdown (whose total is of the visitors
	// and completions of any goal).
	totalFromMain := dim == "" || dim == dimGoal || len(q.filters) > 0
	bucketOf := func(day, value string) string {
		switch {
		case axis == nil:
			return ""
		case axis.dim == timeHour:
			return hourLabel(day, value)
		}
		return axis.bucket[day]
	}
	dims := make([]string, len(q.dims))
	var key []byte
	main := func(day, value string, out []*acc) []*acc {
		for i := range q.filters {
			if !q.filters[i].match(value) {
				return out
			}
		}
		if value == otherValue {
			t.other = true
		}
		for i, d := range q.dims {
			if d == q.timeDim {
				dims[i] = bucketOf(day, value)
			} else {
				dims[i] = value
			}
		}
		key = appendKey(key[:0], dims)
		g := t.groups[string(key)]
		if g == nil {
			g = t.group(string(key), dims)
		}
		out = append(out, g)
		if totalFromMain {
			out = append(out, t.total)
		}
		return out
	}
	// The site's totals by day: the total of an unfiltered breakdown, and
	// conversion_rate's denominators (goal filters being the only ones
	// this path sees).
	totals := func(day, _ string, out []*acc) []*acc {
		if !totalFromMain {
			out = append(out, t.total)
		}
		if needBase {
			bucket := ""
			if axis != nil {
				bucket = axis.bucket[day]
			}
			out = append(out, t.baseOf(bucket))
			if bucket != "" {
				out = append(out, t.baseOf("")) // the total's
			}
		}
		return out
	}
	var reads []struct {
		dim   string
		route route
	}
	add := func(d string, rt route) {
		reads = append(reads, struct {
			dim   string
			route route
		}{d, rt})
	}
	switch {
	case dim == "":
		add("", func(day, value string, out []*acc) []*acc {
			return totals(day, value, main(day, value, out))
		})
	case !totalFromMain || needBase:
		add(dim, main)
		add("", totals)
	default:
		add(dim, main)
	}
	rowsRead := make(map[string]int) // stats rows read, by dim
	for _, rd := range reads {
		n, err := r.readStats(rd.dim, from, to, rd.route)
		if err != nil {
			return nil, err
		}
		rowsRead[rd.dim] = n
	}
	t.merge = func(want []*acc) error {
		// A few rows are read by key; many, by reading every sketch of
		// their dimension over the range once.
		byDim := make(map[string]int)
		for _, a := range want {
			for _, row := range a.rows {
				byDim[row.dim]++
			}
		}
		for _, rd := range reads {
			if n := byDim[rd.dim]; 4*n > rowsRead[rd.dim] {
				if err := r.scanSketches(rd.dim, from, to, rd.route, want); err != nil {
					return err
				}
				delete(byDim, rd.dim)
			}
		}
		if len(byDim) > 0 {
			if err := r.readSketches(want, byDim); err != nil {
				return err
			}
		}
		for _, a := range want {
			if a.sk == nil {
				a.sk = hyperloglog.New14() // rows with visitors but no sketch: none to count
			}
			a.rows = nil
		}
		t.estimated = true
		return nil
	}
	return t, nil
}

// appendKey appends groupKey(dims) to b.
func appendKey(b []byte, dims []string) []byte {
	for i, d := range dims {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, d...)
	}
	return b
}

// readStats adds each stats row of dim over from..to to the accumulators
// its route names, and returns how many it read.
func (r *queryRun) readStats(dim, from, to string, rt route) (int, error) {
	rows, err := r.tx.QueryContext(r.ctx, r.d.api.stats, r.q.site, dim, from, to)
	if err != nil {
		return 0, fmt.Errorf("stats %q: %w", dim, err)
	}
	defer rows.Close()
	var (
		day, value                                             string
		pageviews, visitors, visits, bounces, duration, events int64
		targets                                                []*acc
		n                                                      int
	)
	for rows.Next() {
		if err := rows.Scan(&day, &value, &pageviews, &visitors, &visits, &bounces, &duration, &events); err != nil {
			return 0, fmt.Errorf("stats %q: %w", dim, err)
		}
		n++
		targets = rt(day, value, targets[:0])
		for _, a := range targets {
			a.pageviews += pageviews
			a.visits += visits
			a.bounces += bounces
			a.duration += duration
			a.events += events
			if visitors > 0 {
				a.visitors += visitors
				a.vrows++
				a.vmax = max(a.vmax, visitors)
				a.rows = append(a.rows, rowRef{dim, day, value})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("stats %q: %w", dim, err)
	}
	return n, nil
}

// mergeInto merges the sketch data into a.
func mergeInto(a *acc, data []byte, sk **hyperloglog.Sketch) error {
	if *sk == nil {
		*sk = new(hyperloglog.Sketch)
		if err := (*sk).UnmarshalBinary(data); err != nil {
			return err
		}
	}
	if a.sk == nil {
		a.sk = hyperloglog.New14()
	}
	return a.sk.Merge(*sk)
}

// scanSketches merges the sketch of each stats row of dim over from..to
// into those of want that its route names.
func (r *queryRun) scanSketches(dim, from, to string, rt route, want []*acc) error {
	wanted := make(map[*acc]bool, len(want))
	for _, a := range want {
		wanted[a] = true
	}
	rows, err := r.tx.QueryContext(r.ctx, r.d.api.sketches, r.q.site, dim, from, to)
	if err != nil {
		return fmt.Errorf("sketches %q: %w", dim, err)
	}
	defer rows.Close()
	var (
		day, value string
		data       sql.RawBytes
		targets    []*acc
	)
	for rows.Next() {
		if err := rows.Scan(&day, &value, &data); err != nil {
			return fmt.Errorf("sketches %q: %w", dim, err)
		}
		targets = rt(day, value, targets[:0])
		var sk *hyperloglog.Sketch
		for _, a := range targets {
			if wanted[a] {
				if err := mergeInto(a, data, &sk); err != nil {
					return fmt.Errorf("sketch %q %s %q: %w", dim, day, value, err)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sketches %q: %w", dim, err)
	}
	return nil
}

// readSketches merges into each of want the sketches of its rows of the
// dims in dims, read one by one by key. A key has a sketch on SQLite, and
// one per node that counted it on PostgreSQL; none when it has no
// visitors.
func (r *queryRun) readSketches(want []*acc, dims map[string]int) error {
	st, err := r.tx.PrepareContext(r.ctx, r.d.api.sketch)
	if err != nil {
		return fmt.Errorf("sketch: %w", err)
	}
	defer st.Close()
	for _, a := range want {
		for _, row := range a.rows {
			if _, ok := dims[row.dim]; !ok {
				continue
			}
			if err := r.mergeSketches(st, a, row); err != nil {
				return fmt.Errorf("sketch %q %s %q: %w", row.dim, row.day, row.value, err)
			}
		}
	}
	return nil
}

// mergeSketches merges into a the sketches of row, read with st.
func (r *queryRun) mergeSketches(st *sql.Stmt, a *acc, row rowRef) error {
	rows, err := st.QueryContext(r.ctx, r.q.site, row.dim, row.day, row.value)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return err
		}
		var sk *hyperloglog.Sketch
		if err := mergeInto(a, data, &sk); err != nil {
			return err
		}
	}
	return rows.Err()
}
