package report

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCSVCell(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
	f("", "")
	f("/home", "/home")
	f("Google", "Google")
	f("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")")
	f("=1+2", "'=1+2")
	f("+1", "'+1")
	f("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0")
	f("-2+3", "'-2+3")
	f("-", "'-")
	f("-.5", "'-.5")
	f("-5.", "'-5.")
	f("@SUM(A1)", "'@SUM(A1)")
	f("\tx", "'\tx")
	f("\rx", "'\rx")
	f(" =1", " =1") // not at the start: not a formula
	f("a=b", "a=b")
	// Plain decimal numbers are figures, not formulas.
	f("-12", "-12")
	f("-12.5", "-12.5")
	f("12.5", "12.5")
	f("-1e5", "'-1e5")
}

func TestWantsCSV(t *testing.T) {
	f := func(accept string, want bool) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := wantsCSV(r); got != want {
			t.Errorf("Accept %q: wantsCSV = %v, want %v", accept, got, want)
		}
	}
	f("", false)
	f("*/*", false)
	f("application/json", false)
	f("text/csv", true)
	f("TEXT/CSV", true)
	f("text/csv; charset=utf-8", true)
	f("application/json, text/csv;q=0.5", true)
	f("text/csv;q=0", false)
	f("text/csv;q=zero", false)
	f("text/csv-ish", false)
	f("text/*", false)
}

func TestWriteCSV(t *testing.T) {
	rec := httptest.NewRecorder()
	writeCSV(rec, http.StatusOK, []string{"page", "visitors"}, [][]string{
		{"/a,b", "3"},
		{"=cmd", "-2"},
		{"say \"hi\"", "0"},
		{"two\nlines", "1"},
	})
	const want = "page,visitors\r\n" +
		"\"/a,b\",3\r\n" +
		"'=cmd,-2\r\n" +
		"\"say \"\"hi\"\"\",0\r\n" +
		"\"two\r\nlines\",1\r\n" // encoding/csv writes a newline in a cell as CRLF too
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("got %d %q\nwant 200 %q", rec.Code, rec.Body, want)
	}
	for name, want := range map[string]string{
		"Content-Type":  "text/csv; charset=utf-8",
		"Cache-Control": "no-store",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
