package event

import "testing"

func TestPathMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"/a", "/a", true}, {"/a", "/ab", false}, {"/blog/*", "/blog/x/y", true}, {"/blog/*", "/blo", false},
		{"*/pricing", "/en/pricing", true}, {"/*/p*", "/x/pq", true}, {"/*/p*", "/x/q", false}, {"*", "", true},
		{"/a*a", "/a", false}, {"/a*a", "/aa", true},
	} {
		if got := PathMatches(c.pattern, c.s); got != c.want {
			t.Errorf("PathMatches(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
}
