package ingest

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// requiredLiterals returns strings, in ASCII lower case, of which every
// match of re (parsed with syntax.Perl, then simplified) contains at least
// one, as it appears in the text once that is lower-cased the same way. It
// returns nil when it finds no such set whose every string has at least
// minLen bytes: the pattern must then be tried on every text.
//
// The bot check looks for these strings all at once and checks a pattern
// only where one of them is found, so the set must never miss a match:
// every regexp construct that is not understood below counts as "could
// match anything", which is always safe.
func requiredLiterals(re *syntax.Regexp, minLen int) []string {
	lits := literalsOf(re, true).required()
	for _, s := range lits {
		if len(s) < minLen {
			return nil
		}
	}
	return lits
}

// maxLiterals bounds the sets that literalsOf builds, so that a pattern like
// [a-z][a-z][a-z] does not turn into thousands of strings.
const maxLiterals = 16

// literals is what literalsOf knows of the strings that a regexp matches.
type literals struct {
	// exact: the regexp matches exactly the strings in set.
	exact bool
	// set: if exact, the strings matched; otherwise strings one of which
	// every match contains, or nil if nothing is known.
	set []string
}

// required returns the strings one of which every match contains, or nil,
// without atStart and atEnd. An empty string among them means none is
// needed.
func (l literals) required() []string {
	var req []string
	for _, s := range l.set {
		s = strings.ReplaceAll(strings.ReplaceAll(s, atStart, ""), atEnd, "")
		if s == "" {
			return nil
		}
		req = union(req, []string{s})
	}
	return req
}

// atStart and atEnd stand for ^ and $ (the start and end of the text) in
// the strings of literals: bytes that UTF-8 text made of valid runes, such
// as a regexp's literals, never holds.
const (
	atStart = "\xff"
	atEnd   = "\xfe"
)

// literalsOf works out what is known of the strings that re matches, with
// their ASCII letters in lower case if lower is set. Without lower, an
// exact result is all that re matches: strings, each of which may begin
// with atStart or end with atEnd (any other place of those means the
// string cannot match).
func literalsOf(re *syntax.Regexp, lower bool) literals {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return literals{exact: true, set: []string{""}}
	case syntax.OpBeginText:
		return literals{exact: true, set: []string{atStart}}
	case syntax.OpEndText:
		return literals{exact: true, set: []string{atEnd}}

	case syntax.OpLiteral:
		// Each rune is a one-character class of itself, or of its case
		// folds under (?i) or after [pP]; concatenation joins them.
		subs := make([]literals, len(re.Rune))
		for i, r := range re.Rune {
			runes := []rune{r}
			if re.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					runes = append(runes, f)
				}
			}
			subs[i] = oneOf(runes, lower)
		}
		return concatLiterals(subs)

	case syntax.OpCharClass:
		// re.Rune holds ranges as pairs lo, hi. Only small classes, such
		// as [kK] or [-_], become sets of strings.
		var runes []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] >= maxLiterals {
				return literals{}
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				runes = append(runes, r)
			}
		}
		return oneOf(runes, lower)

	case syntax.OpCapture:
		return literalsOf(re.Sub[0], lower)

	case syntax.OpPlus:
		// x+ contains x, but is not exactly x.
		sub := literalsOf(re.Sub[0], lower)
		return literals{set: sub.required()}

	case syntax.OpQuest:
		sub := literalsOf(re.Sub[0], lower)
		if sub.exact && len(sub.set) < maxLiterals {
			return literals{exact: true, set: union(sub.set, []string{""})}
		}
		return literals{}

	case syntax.OpConcat:
		subs := make([]literals, len(re.Sub))
		for i, sub := range re.Sub {
			subs[i] = literalsOf(sub, lower)
		}
		return concatLiterals(subs)

	case syntax.OpAlternate:
		// A match is a match of one of the alternatives, so it contains
		// what that alternative requires.
		exact := true
		var set []string
		for _, sub := range re.Sub {
			l := literalsOf(sub, lower)
			if !l.exact {
				exact = false
			}
			if l.exact {
				set = union(set, l.set)
			} else {
				req := l.required()
				if req == nil {
					return literals{}
				}
				set = union(set, req)
			}
		}
		if exact && len(set) <= maxLiterals {
			return literals{exact: true, set: set}
		}
		return literals{set: literals{set: set}.required()}
	}
	// Star, AnyChar, AnyCharNotNL, Repeat (gone after Simplify), NoMatch,
	// BeginLine and EndLine of (?m), word boundaries: nothing is required.
	return literals{}
}

// oneOf is what is known of a class of the runes rs: exactly one of them,
// as it appears in UTF-8 text, lower-cased if lower is set.
func oneOf(rs []rune, lower bool) literals {
	var set []string
	for _, r := range rs {
		// The regexp package reads each invalid byte of a text as
		// U+FFFD, so that rune has no one spelling to look for.
		if r == utf8.RuneError || !utf8.ValidRune(r) {
			return literals{}
		}
		if lower && 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		set = union(set, []string{string(r)})
	}
	if len(set) > maxLiterals {
		return literals{}
	}
	return literals{exact: true, set: set}
}

// concatLiterals is what is known of the concatenation of parts. Runs of
// exact parts multiply out into sets of strings while the sets stay small;
// the result is exact if the whole is one such run. Otherwise it is the
// best of the sets every match must contain: those of the runs and those
// the inexact parts require.
func concatLiterals(parts []literals) literals {
	run := []string{""}
	var candidates [][]string
	for _, p := range parts {
		if !p.exact {
			candidates = append(candidates, literals{set: run}.required(), p.required())
			run = []string{""}
			continue
		}
		if len(run)*len(p.set) > maxLiterals {
			candidates = append(candidates, literals{set: run}.required())
			run = []string{""}
		}
		run = product(run, p.set)
	}
	if candidates == nil {
		return literals{exact: true, set: run}
	}
	candidates = append(candidates, literals{set: run}.required())
	var best []string
	for _, c := range candidates {
		if better(c, best) {
			best = c
		}
	}
	return literals{set: best}
}

// better reports whether the set of strings a is more selective than b: its
// shortest string is longer, or as long with fewer strings. A set holding
// "" (or nil) selects nothing.
func better(a, b []string) bool {
	la, lb := shortest(a), shortest(b)
	if la != lb {
		return la > lb
	}
	return la > 0 && len(a) < len(b)
}

func shortest(set []string) int {
	if len(set) == 0 {
		return 0
	}
	n := len(set[0])
	for _, s := range set[1:] {
		n = min(n, len(s))
	}
	return n
}

// product returns every string of a followed by one of b.
func product(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			out = union(out, []string{x + y})
		}
	}
	return out
}

// union appends to a the strings of b it lacks.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}
