package ingest

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"testing"
)

// acHit is a pattern found by a matcher: its index and the offset just
// past its end.
type acHit struct{ pattern, end int }

// scanAll returns every hit of m in text, sorted by end and then pattern,
// after checking that scan reported them in order of their end.
func scanAll(t *testing.T, m *matcher, text []byte) []acHit {
	t.Helper()
	var hits []acHit
	if m.scan(text, func(p, end int) bool {
		hits = append(hits, acHit{p, end})
		return false
	}) {
		t.Fatal("scan reported a stop that no hit asked for")
	}
	if !slices.IsSortedFunc(hits, func(a, b acHit) int { return cmp.Compare(a.end, b.end) }) {
		t.Fatalf("hits out of order: %v", hits)
	}
	slices.SortFunc(hits, func(a, b acHit) int {
		return cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.pattern, b.pattern))
	})
	return hits
}

// naiveHits is the reference: every pattern tried at every offset.
func naiveHits(patterns []string, text []byte) []acHit {
	var hits []acHit
	for end := 1; end <= len(text); end++ {
		for p, s := range patterns {
			if bytes.HasSuffix(text[:end], []byte(s)) {
				hits = append(hits, acHit{p, end})
			}
		}
	}
	return hits
}

func TestMatcher(t *testing.T) {
	f := func(patterns []string, text string, want []acHit) {
		t.Helper()
		got := scanAll(t, newMatcher(patterns), []byte(text))
		if !slices.Equal(got, want) {
			t.Errorf("%q in %q: got %v, want %v", patterns, text, got, want)
		}
	}
	// The textbook case: "she" and "he" end at the same byte, "hers" is
	// reached through the failure link from "she" to "he".
	f([]string{"he", "she", "his", "hers"}, "ushers", []acHit{{0, 4}, {1, 4}, {3, 6}})
	// Patterns that are suffixes of each other, overlapping occurrences.
	f([]string{"a", "aa", "aaa"}, "aaaa", []acHit{
		{0, 1}, {0, 2}, {1, 2}, {0, 3}, {1, 3}, {2, 3}, {0, 4}, {1, 4}, {2, 4}})
	// One pattern a prefix of another.
	f([]string{"bot", "botnet"}, "botnet bot", []acHit{{0, 3}, {1, 6}, {0, 10}})
	// A pattern inside another.
	f([]string{"crawler", "awl"}, "crawler", []acHit{{1, 5}, {0, 7}})
	// Failure links that land mid-pattern.
	f([]string{"abac"}, "ababac", []acHit{{0, 6}})
	f([]string{"abcd", "bcx"}, "abcx", []acHit{{1, 4}})
	// Duplicates are each reported.
	f([]string{"x", "x"}, "x", []acHit{{0, 1}, {1, 1}})
	// Bytes in no pattern, and bytes outside ASCII.
	f([]string{"ab"}, "a\x00b ab", []acHit{{0, 6}})
	f([]string{"\xff\x00"}, "\xff\xff\x00", []acHit{{0, 3}})
	f([]string{"é"}, "café", []acHit{{0, 5}})
	// Nothing to find.
	f([]string{"abc"}, "ababab", nil)
	f([]string{"abc"}, "", nil)

	// Every byte in some pattern: no class is left for "other bytes".
	var all []string
	var text []byte
	for b := range 256 {
		all = append(all, string([]byte{byte(b)}))
		text = append(text, byte(b))
	}
	all = append(all, "\x00\x01")
	m := newMatcher(all)
	if m.width != 256 {
		t.Errorf("width = %d, want 256", m.width)
	}
	if got, want := scanAll(t, m, text), naiveHits(all, text); !slices.Equal(got, want) {
		t.Errorf("all bytes: got %v, want %v", got, want)
	}
}

func TestMatcherStops(t *testing.T) {
	m := newMatcher([]string{"b", "a"})
	var seen []acHit
	stopped := m.scan([]byte("xabab"), func(p, end int) bool {
		seen = append(seen, acHit{p, end})
		return p == 0
	})
	if want := []acHit{{1, 2}, {0, 3}}; !stopped || !slices.Equal(seen, want) {
		t.Errorf("scan = %v after %v, want true after %v", stopped, seen, want)
	}
}

// FuzzMatcher checks the matcher against trying every pattern at every
// offset. Patterns are separated by NUL bytes.
func FuzzMatcher(f *testing.F) {
	f.Add("he\x00she\x00his\x00hers", []byte("ushers"))
	f.Add("a\x00aa\x00aaa\x00b", []byte("aaaabaaa"))
	f.Add("abac\x00bab\x00c", []byte("ababacabab"))
	f.Add("googlebot/\x00bot\x00ptst/\x00 ptst/", []byte("mozilla/5.0 (compatible; googlebot/2.1) ptst/1"))
	f.Fuzz(func(t *testing.T, patterns string, text []byte) {
		var ps []string
		for _, p := range strings.Split(patterns, "\x00") {
			if p != "" {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			return
		}
		got := scanAll(t, newMatcher(ps), text)
		if want := naiveHits(ps, text); !slices.Equal(got, want) {
			t.Fatalf("%q in %q: got %v, want %v", ps, text, got, want)
		}
	})
}
