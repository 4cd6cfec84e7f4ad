package ingest

import (
	"time"

	"sitelog/event"
)

// scan fills w from body, a JSON object of valid UTF-8 (checkObject has
// seen to both), exactly as json.Unmarshal would, for the bodies trackers
// and servers send: field names as spelled in wireEvent, string values
// without escapes, a whole number for screen_width, null for absent, and
// any valid JSON in fields it does not name. Reflection made
// json.Unmarshal the largest cost of a single event after the HTTP
// exchange itself.
//
// It reports false, with w partly filled, for anything else: escapes, a
// field name in other letter case, a value of the wrong type, invalid
// JSON, props that wireProps refuses. The caller then resets w and decodes
// with encoding/json, so that it stays the one definition of what a body
// means and of every error message; FuzzScanWire holds scan to it.
func (w *wireEvent) scan(body []byte) bool {
	s := wireScanner{b: body, s: string(body)}
	s.space()
	return s.object(w) && s.end()
}

// scanBatch appends to evs the events of body, the body of POST /events
// (valid UTF-8, which decodeBatch has checked), normalised with now as the
// time of receipt, as decodeBatch's reading with encoding/json would: for
// a JSON array or a stream of objects of what scan reads. It reports false
// for anything else, and for a batch that is empty, too large or holds an
// invalid event, which decodeBatch then decodes with encoding/json to say
// what is wrong; evs is then to be cut back to its length on the call.
func scanBatch(body []byte, now time.Time, w *wireEvent, evs []event.Event) ([]event.Event, bool) {
	s := wireScanner{b: body, s: string(body)}
	s.space()
	array := s.peek() == '['
	if array {
		s.i++
		s.space()
		if s.peek() == ']' {
			return evs, false // no events
		}
	}
	for n := 0; ; n++ {
		if n == MaxBatchEvents {
			return evs, false
		}
		w.reset()
		if !s.object(w) {
			return evs, false
		}
		evs = append(evs, event.Event{})
		if w.normalise(now, &evs[len(evs)-1]) != nil {
			return evs, false
		}
		s.space()
		switch {
		case array && s.peek() == ',':
			s.i++
			s.space()
		case array && s.peek() == ']':
			s.i++
			return evs, s.end()
		case !array && s.i == len(s.b):
			return evs, true
		case array:
			return evs, false
		}
	}
}

// object reads a JSON object into w.
func (s *wireScanner) object(w *wireEvent) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.space()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.field(w, key) {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// wireScanner reads a body for wireEvent.scan. The values of string fields
// are substrings of s, the body converted once, rather than a string
// allocated for each.
type wireScanner struct {
	b []byte
	s string
	i int
}

// maxScanDepth is the deepest nesting of arrays and objects that scan
// skips over in fields it does not name; deeper ones go to encoding/json.
const maxScanDepth = 32

func (s *wireScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *wireScanner) space() { s.i = skipSpace(s.b, s.i) }

// end reports whether nothing but white space follows.
func (s *wireScanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// field reads the value of key into w.
func (s *wireScanner) field(w *wireEvent, key string) bool {
	var dst *string
	switch key {
	case "site_id":
		dst = &w.SiteID
	case "event_type":
		dst = &w.EventType
	case "path":
		dst = &w.Path
	case "url":
		dst = &w.URL
	case "user_id":
		dst = &w.UserID
	case "timestamp":
		dst = &w.Timestamp
	case "referrer":
		dst = &w.Referrer
	case "screen_width":
		return s.wholeNumber(&w.ScreenWidth)
	case "props":
		start := s.i
		if !s.skipValue(0) {
			return false
		}
		// As encoding/json does, props get the raw value, null included.
		return w.Props.UnmarshalJSON(s.b[start:s.i]) == nil
	default:
		if foldsToField(key) {
			// encoding/json matches names in any case ("Site_ID").
			return false
		}
		return s.skipValue(0)
	}
	if s.literal("null") {
		return true // null leaves the field as it was
	}
	v, ok := s.plainString()
	if ok {
		*dst = v
	}
	return ok
}

// foldsToField reports whether key might be a wireEvent field's name in
// other letter case: any name that is one ignoring ASCII case, and any
// name with bytes beyond ASCII, which Unicode folding may bring to one
// ("ſite_id" folds to "site_id").
func foldsToField(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= 0x80 {
			return true
		}
	}
	for _, f := range [...]string{"site_id", "event_type", "path", "url", "user_id", "timestamp", "referrer", "props", "screen_width"} {
		if len(key) == len(f) && lowerASCII(key) == f {
			return true
		}
	}
	return false
}

// plainString reads a JSON string without escapes and returns its
// content; false for anything else.
func (s *wireScanner) plainString() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.s[s.i+1 : j]
			s.i = j + 1
			return v, true
		case c == '\\' || c < ' ':
			return "", false
		}
	}
	return "", false
}

// literal reads lit (true, false or null) if it comes next.
func (s *wireScanner) literal(lit string) bool {
	if len(s.s)-s.i < len(lit) || s.s[s.i:s.i+len(lit)] != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// wholeNumber reads null, which leaves *n as it was, or a JSON number
// without fraction or exponent of at most 18 digits into *n, which is
// what json.Unmarshal takes into an int without the chance of overflow.
func (s *wireScanner) wholeNumber(n *int) bool {
	if s.literal("null") {
		return true
	}
	neg := s.peek() == '-'
	if neg {
		s.i++
	}
	start := s.i
	v := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		v = v*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	switch {
	case digits == 0 || digits > 18:
		return false
	case digits > 1 && s.b[start] == '0':
		return false // a leading zero is not JSON
	case s.peek() == '.' || s.peek() == 'e' || s.peek() == 'E':
		return false // json.Unmarshal refuses these for an int
	}
	if neg {
		v = -v
	}
	*n = v
	return true
}

// skipValue reads one JSON value of any kind, checking it as strictly as
// encoding/json does, and reports whether it is valid.
func (s *wireScanner) skipValue(depth int) bool {
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '{', '[':
		if depth == maxScanDepth {
			return false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.i++
		s.space()
		if s.peek() == closing {
			s.i++
			return true
		}
		for {
			if c == '{' {
				if !s.skipString() {
					return false
				}
				s.space()
				if s.peek() != ':' {
					return false
				}
				s.i++
				s.space()
			}
			if !s.skipValue(depth + 1) {
				return false
			}
			s.space()
			switch s.peek() {
			case ',':
				s.i++
				s.space()
			case closing:
				s.i++
				return true
			default:
				return false
			}
		}
	default:
		return s.skipNumber()
	}
}

// skipString reads a JSON string, escapes included.
func (s *wireScanner) skipString() bool {
	if s.peek() != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < ' ':
			return false
		case c == '\\':
			j++
			if j == len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *wireScanner) skipNumber() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits reads a run of decimal digits and returns its length.
func (s *wireScanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
