// Package derive turns what a browser sends with an event (its address,
// User-Agent, referrer, page URL and screen width) into the coarse values
// reports group by: browser, OS, device, country, traffic source, UTM tags
// and a visitor id. It runs at ingest, so the address and User-Agent are
// used and forgotten there and never reach the disk; only the daily salts
// that visitor ids are hashed under are kept (see Salts).
package derive

import (
	"strings"
	"unicode/utf8"
)

// capString returns s cut to at most n bytes without splitting a UTF-8
// sequence, with invalid bytes replaced so the result is valid UTF-8.
func capString(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
