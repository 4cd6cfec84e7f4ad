package ingest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// crawlerList is the list of crawlers' User-Agent patterns of the
// crawler-user-agents project (its npm package, version in
// crawlers/README.md; MIT, crawlers/LICENSE), kept in the repository so
// that nothing is downloaded at run time. Updating it is replacing the file
// and running the tests, which say what changed that needs a decision.
//
//go:embed crawlers/crawler-user-agents.json
var crawlerList []byte

// maxUALen bounds the part of a User-Agent that is looked at. Real ones are
// well under 512 bytes; the bound caps the work a hostile header can cause
// and lets the lower-cased copy live on the stack.
const maxUALen = 512

// minLiteral is the shortest literal worth looking for: a shorter one would
// occur in most User-Agents, and its pattern be checked for them all.
const minLiteral = 3

// httpLibrary is the tag of the list's entries for HTTP client libraries
// (curl, python-requests, Go-http-client, okhttp, axios, Wget, ...).
// Servers send real events with them, so they are not bots here.
const httpLibrary = "http-library"

// crawlerEntry is what the detector uses of an entry of the list; the
// entries also give "instances", User-Agents that the pattern is meant to
// match, which the tests use.
type crawlerEntry struct {
	Pattern string   `json:"pattern"`
	Tags    []string `json:"tags"`
}

// listFixes maps patterns of the list that also match people's browsers
// to what replaces them; "" drops the pattern. A test checks that each is
// still in the list, so a new version that fixes one shows up.
func listFixes() map[string]string {
	return map[string]string{
		// Also the HTC Butterfly phone ("HTC Butterfly Build/KOT49H");
		// the crawler says "Butterfly/1.0".
		`Butterfly`: `Butterfly/`,
		// Also "SynapseWorkstation" in Internet Explorer's User-Agent;
		// the crawler (Matrix's) starts "Synapse (bot; ...".
		`Synapse`: `^Synapse\b`,
		// An Android 15 build that phones of many makers run; the one
		// instance is a person's Instagram in-app browser.
		`AP3A\.240617\.008`: ``,
	}
}

// ownTokens are looked for in every User-Agent, in any case, besides the
// list: words that crawlers put in their names, which catch those the list
// does not know yet, and names the list lacks or spells in one case only.
// A token right after notAfter does not count.
func ownTokens() []ownToken {
	return []ownToken{
		{"bot", "cu"}, // Googlebot, YandexBot, AdsBot-Google, ...; CUBOT is a maker of phones
		{"crawl", ""},
		{"spider", ""},
		{"headless", ""}, // HeadlessChrome, "Headless Chrome", HeadlessFirefox
		{"pagespeed", ""},
		{"page speed", ""}, // Google Page Speed Insights
		{"prerender", ""},  // services that render pages for crawlers
		{"scrapy", ""},     // a crawling framework, though the list files it with HTTP libraries
		{"feedfetcher", ""},
		{"facebookexternalhit", ""},
	}
}

type ownToken struct{ token, notAfter string }

// botDetector tells crawlers' and headless browsers' User-Agents apart.
// All the literals of the list's patterns and the own tokens are looked
// for in one pass over the lower-cased User-Agent, and a pattern is only
// checked where one of its literals is found, since a regexp of all 1,500
// patterns would take a millisecond per User-Agent.
type botDetector struct {
	ac *matcher
	// rules[i] says what finding the matcher's pattern i means.
	rules []botRule
	// whole are the regexps of the patterns that are not just a few
	// strings, which run on the whole User-Agent after the pass, each at
	// most once: a regexp without a literal prefix takes some 10 µs on a
	// long User-Agent, so one that repeats a literal must not run it again
	// and again.
	whole []*regexp.Regexp
	// always has the bits (1<<i for whole[i]) of the regexps in which no
	// literal was found: they run on every User-Agent.
	always uint64
}

// botRule is what finding a literal means.
type botRule struct {
	kind ruleKind
	// own is the own token found, for ownRule.
	own ownToken
	// litLen is the literal's length.
	litLen int
	// strings, for stringsRule, are the spellings of the literal that the
	// pattern matches: it is found if the User-Agent has one of them where
	// the literal is.
	strings []spelling
	// bit, for wholeRule, is the bit of the pattern's regexp (1<<i for
	// botDetector.whole[i]).
	bit uint64
}

// spelling is a string that a stringsRule pattern matches.
type spelling struct {
	s string
	// atStart and atEnd: s must begin or end the User-Agent (^, $).
	atStart, atEnd bool
}

type ruleKind uint8

const (
	// ownRule: an own token, which decides alone.
	ownRule ruleKind = iota
	// stringsRule: a pattern that is a few strings, such as [pP]ingdom or
	// (^| )PTST/, as most of the list's are, checked by comparing bytes
	// where the literal is.
	stringsRule
	// wholeRule: another pattern, checked by its regexp on the whole
	// User-Agent.
	wholeRule
)

// newBotDetector builds a detector from list, a crawler-user-agents JSON
// array, leaving out the entries for HTTP libraries, and from the own
// tokens.
func newBotDetector(list []byte, own []ownToken) (*botDetector, error) {
	var entries []crawlerEntry
	if err := json.Unmarshal(list, &entries); err != nil {
		return nil, fmt.Errorf("crawler list: %w", err)
	}
	fixes := listFixes()
	d := &botDetector{}
	var needles []string // the literals to look for, in the order of rules
	for _, e := range entries {
		if slices.Contains(e.Tags, httpLibrary) {
			continue
		}
		pattern := e.Pattern
		if fix, ok := fixes[pattern]; ok {
			if pattern = fix; pattern == "" {
				continue
			}
		}
		parsed, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("crawler list: %w", err)
		}
		parsed = parsed.Simplify()
		lits := requiredLiterals(parsed, minLiteral)
		lang := literalsOf(parsed, false)
		rule := botRule{kind: stringsRule}
		if lits == nil || !lang.exact {
			// The regexp is compiled only where it runs: compiling them
			// all would be most of the cost of building the detector.
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, fmt.Errorf("crawler list: %w", err)
			}
			if len(d.whole) == 64 {
				return nil, fmt.Errorf("crawler list: more than 64 patterns must be tried on the whole User-Agent")
			}
			rule = botRule{kind: wholeRule, bit: 1 << len(d.whole)}
			d.whole = append(d.whole, re)
			if lits == nil {
				d.always |= rule.bit
			}
		}
		for _, lit := range lits {
			rule.litLen = len(lit)
			if rule.kind == stringsRule {
				rule.strings = spellings(lang.set, lit)
			}
			needles = append(needles, lit)
			d.rules = append(d.rules, rule)
		}
	}
	for _, t := range own {
		needles = append(needles, t.token)
		d.rules = append(d.rules, botRule{kind: ownRule, own: t, litLen: len(t.token)})
	}
	d.ac = newMatcher(needles)
	return d, nil
}

// spellings returns those of the strings of an exact literals whose ASCII
// letters in lower case are lit, less those that cannot match.
func spellings(set []string, lit string) []spelling {
	var out []spelling
	for _, s := range set {
		sp := spelling{s: s}
		// ^^ is ^, and $$ is $.
		for rest, ok := strings.CutPrefix(sp.s, atStart); ok; rest, ok = strings.CutPrefix(sp.s, atStart) {
			sp.s, sp.atStart = rest, true
		}
		for rest, ok := strings.CutSuffix(sp.s, atEnd); ok; rest, ok = strings.CutSuffix(sp.s, atEnd) {
			sp.s, sp.atEnd = rest, true
		}
		if strings.Contains(sp.s, atStart) || strings.Contains(sp.s, atEnd) {
			continue
		}
		if lowerASCII(sp.s) == lit {
			out = append(out, sp)
		}
	}
	return out
}

// lowerASCII returns s with its ASCII letters in lower case.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// isBot reports whether a User-Agent is a crawler's or a headless
// browser's, whose events are kept but never counted as views. HTTP client
// libraries and an empty User-Agent are not bots: servers use them to send
// real events on behalf of their users. Only the first maxUALen bytes are
// looked at.
func (d *botDetector) isBot(ua string) bool {
	if len(ua) > maxUALen {
		ua = ua[:maxUALen]
	}
	var buf [maxUALen]byte
	b := buf[:len(ua)]
	for i := range len(ua) {
		c := ua[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	pending := d.always // the bits of the regexps to run on the whole User-Agent
	found := d.ac.scan(b, func(i, end int) bool {
		r := &d.rules[i]
		start := end - r.litLen
		switch r.kind {
		case ownRule:
			before := start - len(r.own.notAfter)
			return r.own.notAfter == "" || before < 0 || string(b[before:start]) != r.own.notAfter
		case stringsRule:
			for _, sp := range r.strings {
				if (!sp.atStart || start == 0) && (!sp.atEnd || end == len(ua)) && sp.s == ua[start:end] {
					return true
				}
			}
			return false
		}
		pending |= r.bit
		return false
	})
	if found {
		return true
	}
	for pending != 0 {
		i := bits.TrailingZeros64(pending)
		pending &^= 1 << i
		if d.whole[i].MatchString(ua) {
			return true
		}
	}
	return false
}
