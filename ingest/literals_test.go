package ingest

import (
	"regexp/syntax"
	"slices"
	"testing"
)

// parseSimple parses a pattern as newBotDetector does.
func parseSimple(t *testing.T, pattern string) *syntax.Regexp {
	t.Helper()
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return re.Simplify()
}

func TestRequiredLiterals(t *testing.T) {
	f := func(pattern string, want ...string) {
		t.Helper()
		got := requiredLiterals(parseSimple(t, pattern), minLiteral)
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
			t.Errorf("requiredLiterals(%q) = %q, want %q", pattern, got, want)
		}
	}
	// The list's shapes.
	f(`Googlebot\/`, "googlebot/")
	f(`[pP]ingdom`, "pingdom")
	f(`S[eE][mM]rushBot`, "semrushbot")
	f(`(sistrix|SISTRIX) [cC]rawler`, "sistrix crawler")
	f(`Ahrefs(Bot|SiteAudit)`, "ahrefsbot", "ahrefssiteaudit")
	f(`Chirp|gotosocial`, "chirp", "gotosocial")
	f(`(^| )PTST\/`, "ptst/", " ptst/")
	f(`^Silk\/`, "silk/")
	f(`SSL Labs$`, "ssl labs")
	f(`AdsBot-Google([^-]|$)`, "adsbot-google")
	f(`Current[\s\S]*RSS Reader`, "rss reader") // the longer of the two
	f(`^Synapse\b`, "synapse")
	// The longest run wins; classes multiply out while small.
	f(`ab\d+cdef`, "cdef")
	f(`Foo\/[0-2]x`, "foo/0x", "foo/1x", "foo/2x")
	f(`[a-z]+bot`, "bot")
	f(`(?m)^foo$`, "foo")
	f(`x?abcz?d`, "abcd", "xabcd", "abczd", "xabczd")
	// Case folding: K folds to the Kelvin sign too, which lower-casing
	// ASCII does not reach, so both spellings are looked for.
	f(`(?i)kelvin`, "kelvin", "\u212aelvin")
	f(`(?i)bot`, "bot")
	// U+FFFD also stands for invalid bytes: it has no one spelling.
	f("abc\ufffddefg", "defg")
	// Nothing of minLiteral bytes that every match must contain.
	f(`^$`)
	f(`x*`)
	f(`.*`)
	f(`ab`)
	f(`a|bcd`)
	f(`abc|x*`)
	f(`[0-9a-f]{3}`)
	f(`(abc)?`)
}

func TestLiteralsExact(t *testing.T) {
	f := func(pattern string, want ...string) {
		t.Helper()
		l := literalsOf(parseSimple(t, pattern), false)
		if want == nil {
			if l.exact {
				t.Errorf("literalsOf(%q) exact %q, want not exact", pattern, l.set)
			}
			return
		}
		if !l.exact || !slices.Equal(slices.Sorted(slices.Values(l.set)), slices.Sorted(slices.Values(want))) {
			t.Errorf("literalsOf(%q) = %v %q, want exact %q", pattern, l.exact, l.set, want)
		}
	}
	f(`Googlebot\/`, "Googlebot/")
	f(`[pP]ingdom`, "Pingdom", "pingdom")
	f(`(sistrix|SISTRIX) [cC]rawler`, "sistrix Crawler", "sistrix crawler", "SISTRIX Crawler", "SISTRIX crawler")
	f(`(^| )PTST\/`, atStart+"PTST/", " PTST/")
	f(`SSL Labs$`, "SSL Labs"+atEnd)
	f(`x?y`, "y", "xy")
	f(`[a-z]bot`)
	f(`a+`)
	f(`a\b`)
	f(`\d{3}`)
}
