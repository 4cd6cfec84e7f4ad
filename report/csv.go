package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// CSV answers. Any report that a client asks for with Accept: text/csv is
// written by writeCSV: a header row, then one row per record. Errors stay
// JSON whatever the Accept header says, so a client always reads them the
// same way.

// wantsCSV reports whether r asks for CSV: its Accept header names
// text/csv (with a q above zero) among its media ranges. Anything else,
// */* or no header at all, gets JSON.
func wantsCSV(r *http.Request) bool {
	for _, accept := range r.Header.Values("Accept") {
		for _, rng := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
			if err != nil || mt != "text/csv" {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// csvCell returns s made safe to open in a spreadsheet: a cell that starts
// with = + - @, a tab or a carriage return would be read as a formula (CSV
// injection), so it gets a leading apostrophe, which spreadsheets take as
// "text follows" and do not display. A cell that is a plain decimal number,
// such as -12.5, is left alone: no spreadsheet runs it, and an apostrophe
// would turn a negative figure into text.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if !plainNumber(s) {
			return "'" + s
		}
	}
	return s
}

// plainNumber reports whether s is -?digits(.digits)?, nothing else.
func plainNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	return whole != "" && digits(whole) && (!dot || frac != "" && digits(frac))
}

// writeCSV answers with status and a CSV body (RFC 4180, CRLF line ends):
// header as the first row, then rows, every cell through csvCell. Rows
// shorter or longer than header are a caller's bug.
func writeCSV(w http.ResponseWriter, status int, header []string, rows [][]string) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	record := make([]string, len(header))
	write := func(cells []string) {
		if len(cells) != len(header) {
			panic(fmt.Sprintf("BUG: report: CSV row of %d cells under a header of %d", len(cells), len(header)))
		}
		for i, c := range cells {
			record[i] = csvCell(c)
		}
		_ = cw.Write(record) // a bytes.Buffer does not fail
	}
	write(header)
	for _, row := range rows {
		write(row)
	}
	cw.Flush()
	hdr := w.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a client gone away is no error of ours
}
