package report

import (
	"regexp"
	"testing"
	"time"
)

var siteRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// FuzzParseScope feeds arbitrary query strings to the report's parameter
// parser: it never panics, and what it accepts obeys the documented rules.
func FuzzParseScope(f *testing.F) {
	for _, q := range []string{
		"site_id=site-123&date=2025-11-14",
		"site_id=site-123",
		"site_id=s&limit=100",
		"site_id=s&limit=0",
		"site_id=s&date=2025-02-30",
		"site_id=s&site_id=t",
		"site_id=%zz",
		"date=2025-11-14&limit=5&site_id=a.b:c_d-e",
		"site_id=s&limit=+5",
		"site_id=s&date=%2B2025-11-14",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		s, err := parseScope(q)
		if err != nil {
			if _, ok := err.(*paramError); !ok {
				t.Fatalf("parseScope(%q): error of type %T, want *paramError", q, err)
			}
			return
		}
		if !siteRE.MatchString(s.site) {
			t.Fatalf("parseScope(%q) accepted site_id %q", q, s.site)
		}
		if s.limit < 1 || s.limit > MaxLimit {
			t.Fatalf("parseScope(%q) accepted limit %d", q, s.limit)
		}
		if s.day != "" {
			d, err := time.Parse("2006-01-02", s.day)
			if err != nil || d.Format("2006-01-02") != s.day {
				t.Fatalf("parseScope(%q) accepted date %q", q, s.day)
			}
		}
	})
}
