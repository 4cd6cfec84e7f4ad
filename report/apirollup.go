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

// rollupTally answers from the stats rows of r.plan.dim: a first pass sums
// the rows into their groups; a second merges the sketches of the groups
// made of more than one row with visitors, when visitors are asked.
func (r *queryRun) rollupTally(from, to string, axis *timeAxis) (*tally, error) {
	q, dim := r.q, r.plan.dim
	t := newTally()
	filtered := len(q.filters) > 0
	needBase := q.needBase()
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
		if filtered {
			out = append(out, t.total)
		}
		return out
	}
	// The site's totals: the total without filters, and conversion_rate's
	// denominators (goal filters being the only ones this path sees).
	totals := func(day, _ string, out []*acc) []*acc {
		if !filtered {
			out = append(out, t.total)
		}
		if needBase {
			bucket := ""
			if axis != nil {
				bucket = axis.bucket[day]
			}
			out = append(out, t.baseOf(bucket))
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
	case filtered && !needBase:
		add(dim, main)
	default:
		add(dim, main)
		add("", totals)
	}
	for _, rd := range reads {
		if err := r.readStats(rd.dim, from, to, rd.route); err != nil {
			return nil, err
		}
	}
	if q.needVisitors() {
		for _, rd := range reads {
			if err := r.mergeSketches(rd.dim, from, to, rd.route); err != nil {
				return nil, err
			}
		}
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
// its route names.
func (r *queryRun) readStats(dim, from, to string, rt route) error {
	rows, err := r.tx.QueryContext(r.ctx, apiStatsSQL, r.q.site, dim, from, to)
	if err != nil {
		return fmt.Errorf("stats %q: %w", dim, err)
	}
	defer rows.Close()
	var (
		day, value                                             string
		pageviews, visitors, visits, bounces, duration, events int64
		targets                                                []*acc
	)
	for rows.Next() {
		if err := rows.Scan(&day, &value, &pageviews, &visitors, &visits, &bounces, &duration, &events); err != nil {
			return fmt.Errorf("stats %q: %w", dim, err)
		}
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
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stats %q: %w", dim, err)
	}
	return nil
}

// mergeSketches merges the sketch of each stats row of dim over from..to
// into the accumulators of its route that hold more than one row with
// visitors: the others have their exact count already.
func (r *queryRun) mergeSketches(dim, from, to string, rt route) error {
	rows, err := r.tx.QueryContext(r.ctx, apiSketchesSQL, r.q.site, dim, from, to)
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
			if a.vrows < 2 {
				continue
			}
			if sk == nil {
				sk = new(hyperloglog.Sketch)
				if err := sk.UnmarshalBinary(data); err != nil {
					return fmt.Errorf("sketch %q %s %q: %w", dim, day, value, err)
				}
			}
			if a.sk == nil {
				a.sk = hyperloglog.New14()
			}
			if err := a.sk.Merge(sk); err != nil {
				return fmt.Errorf("sketch %q %s %q: %w", dim, day, value, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sketches %q: %w", dim, err)
	}
	return nil
}
