package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// serveQuery answers POST /api/v1/query: the body is read (at most
// MaxQueryBody bytes), validated, checked against the request's key (the
// site is in the body, so only now), run within the query timeout, and
// written as JSON, or as CSV for Accept: text/csv.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxQueryBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxQueryBody))
			return
		}
		h.fail(w, r, &paramError{"body", "could not be read: " + err.Error()})
		return
	}
	q, err := parseQuery(body)
	if err == nil {
		err = allowSite(r, q.site)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	// A query without "date" is about the site's today, by Config.Now.
	resp, err := h.d.runQuery(ctx, h.db, q, h.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		header, rows := resp.csv()
		writeCSV(w, http.StatusOK, header, rows)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// csv flattens the answer's results: a column per dimension, then per
// metric, then with a comparison a column per metric of the comparison
// range and one of its change. Totals and meta are left out.
func (resp *QueryResponse) csv() (header []string, rows [][]string) {
	q := resp.Query
	header = append(header, q.Dimensions...)
	header = append(header, q.Metrics...)
	compare := q.Include.Compare != ""
	if compare {
		for _, m := range q.Metrics {
			header = append(header, "comparison_"+m)
		}
		for _, m := range q.Metrics {
			header = append(header, "change_"+m)
		}
	}
	for _, res := range resp.Results {
		row := append([]string(nil), res.Dimensions...)
		for _, v := range res.Metrics {
			row = append(row, formatMetric(v))
		}
		if c := res.Comparison; compare && c != nil {
			for _, v := range c.Metrics {
				row = append(row, formatMetric(v))
			}
			for _, ch := range c.Change {
				if ch == nil {
					row = append(row, "")
				} else {
					row = append(row, formatMetric(*ch))
				}
			}
		}
		rows = append(rows, row)
	}
	return header, rows
}

func formatMetric(v any) string {
	switch n := v.(type) {
	case int64:
		return strconv.FormatInt(n, 10)
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	panic(fmt.Sprintf("BUG: report: metric of type %T", v))
}
