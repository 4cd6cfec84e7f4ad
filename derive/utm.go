package derive

import (
	"net/url"
	"strings"
)

// MaxUTM is the longest UTM value UTM returns, in bytes.
const MaxUTM = 200

// UTMs are the campaign tags of a page URL.
type UTMs struct {
	Source, Medium, Campaign, Content, Term string
}

// UTM returns the utm_* parameters of a page URL's query, each trimmed of
// spaces, made valid UTF-8 and cut to MaxUTM bytes. Source falls back to
// the "ref" and then the "source" parameter, which many sites use for the
// same thing (as Plausible does).
func UTM(query url.Values) UTMs {
	return UTMs{
		Source:   firstParam(query, "utm_source", "ref", "source"),
		Medium:   firstParam(query, "utm_medium"),
		Campaign: firstParam(query, "utm_campaign"),
		Content:  firstParam(query, "utm_content"),
		Term:     firstParam(query, "utm_term"),
	}
}

// firstParam returns the first non-blank value of the first of names that
// has one, cleaned.
func firstParam(query url.Values, names ...string) string {
	for _, name := range names {
		for _, v := range query[name] {
			// Trimmed again after the cut, which may end at a space.
			if v = strings.TrimSpace(capString(strings.TrimSpace(v), MaxUTM)); v != "" {
				return v
			}
		}
	}
	return ""
}
