package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sitelog/event"
)

// Limits on what a request may carry. They bound the memory one request can
// take and the size of a record on the log (DESIGN.md, guarantee 4).
const (
	// MaxEventBody is the largest body POST /event reads. An event is a few
	// hundred bytes; the rest leaves room for fields added by newer trackers.
	MaxEventBody = 8 << 10
	// MaxBatchBody is the largest body POST /events reads.
	MaxBatchBody = 1 << 20
	// MaxBatchEvents is the most events one POST /events may carry.
	MaxBatchEvents = 1000

	// MaxSiteID is the longest site_id, in characters (all of them ASCII).
	MaxSiteID = event.MaxSiteID
	// MaxEventType is the longest event_type, in bytes.
	MaxEventType = 64
	// MaxPath is the longest path, in bytes, after the query and fragment
	// are split off and repeated slashes collapsed.
	MaxPath = 2048
	// MaxQuery is the longest query (after "?"), in bytes.
	MaxQuery = 2048
	// MaxFragment is the longest fragment (after "#"), in bytes.
	MaxFragment = 2048
	// MaxUserID is the longest user_id, in bytes.
	MaxUserID = 256
	// MaxFuture is how far past the time of receipt a timestamp may lie:
	// enough for any clock skew, too little to plant events in next month.
	MaxFuture = 24 * time.Hour
)

// invalidError is a request the client must fix; it is answered 400 with
// its text, which names what was wrong.
type invalidError struct {
	at    string // "events[3]" for an event of a batch; "" otherwise
	field string // the JSON field, or "body"/"events" for the whole
	msg   string
}

func (e *invalidError) Error() string {
	switch {
	case e.at == "":
		return e.field + ": " + e.msg
	case e.field == "":
		return e.at + ": " + e.msg
	default:
		return e.at + ": " + e.field + ": " + e.msg
	}
}

func invalid(field, msg string) *invalidError { return &invalidError{field: field, msg: msg} }

// tooLargeError is a body over its limit; it is answered 413.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return "body: larger than " + strconv.FormatInt(e.limit, 10) + " bytes"
}

// wireEvent is one event as clients send it. Every field is a string, so a
// number or object where a string belongs is refused with the field's name.
// JSON null and "" both mean absent. Fields it does not name are ignored, so
// that trackers newer than this server are not refused.
type wireEvent struct {
	SiteID    string `json:"site_id"`
	EventType string `json:"event_type"`
	Path      string `json:"path"`
	URL       string `json:"url"`
	UserID    string `json:"user_id"`
	Timestamp string `json:"timestamp"`
}

// decodeEvent decodes the body of POST /event into ev, validated and
// normalised, with now as the time of receipt. w is scratch space.
func decodeEvent(body []byte, now time.Time, w *wireEvent, ev *event.Event) error {
	i := skipSpace(body, 0)
	if i == len(body) {
		return invalid("body", "empty")
	}
	if body[i] != '{' {
		return invalid("body", "must be a JSON object")
	}
	// JSON text is UTF-8 (RFC 8259); encoding/json would silently replace
	// invalid bytes with U+FFFD instead of refusing them.
	if !utf8.Valid(body) {
		return invalid("body", "not valid UTF-8")
	}
	*w = wireEvent{}
	if err := json.Unmarshal(body, w); err != nil {
		return jsonError(err)
	}
	return w.normalise(now, ev)
}

// decodeBatch decodes the body of POST /events, a JSON array of events or a
// stream of JSON objects (NDJSON, one per line), and appends them to evs.
// The first invalid event fails the whole batch with its index.
func decodeBatch(body []byte, now time.Time, w *wireEvent, evs []event.Event) ([]event.Event, error) {
	i := skipSpace(body, 0)
	if i == len(body) {
		return evs, invalid("body", "no events")
	}
	array := body[i] == '['
	if !array && body[i] != '{' {
		return evs, invalid("body", "must be a JSON array of events or NDJSON")
	}
	if !utf8.Valid(body) {
		return evs, invalid("body", "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if array {
		if _, err := dec.Token(); err != nil {
			return evs, jsonError(err)
		}
	}
	for n := 0; ; n++ {
		if array && !dec.More() {
			break
		}
		if !array && skipSpace(body, int(dec.InputOffset())) == len(body) {
			break
		}
		if n == MaxBatchEvents {
			return evs, invalid("events", "more than "+strconv.Itoa(MaxBatchEvents)+" in one batch")
		}
		*w = wireEvent{}
		if err := dec.Decode(w); err != nil {
			return evs, atIndex(n, jsonError(err))
		}
		evs = append(evs, event.Event{})
		if err := w.normalise(now, &evs[len(evs)-1]); err != nil {
			return evs, atIndex(n, err)
		}
	}
	if array {
		// The closing bracket, then nothing but space.
		if _, err := dec.Token(); err != nil {
			return evs, jsonError(err)
		}
		if skipSpace(body, int(dec.InputOffset())) != len(body) {
			return evs, invalid("body", "invalid JSON: data after the array")
		}
	}
	if len(evs) == 0 {
		return evs, invalid("body", "no events")
	}
	return evs, nil
}

// atIndex places err, about one event of a batch, at index n: "events[n]:
// path: ..." or, for the event as a whole, "events[n]: must be ...".
func atIndex(n int, err error) error {
	var ie *invalidError
	if errors.As(err, &ie) {
		ie.at = "events[" + strconv.Itoa(n) + "]"
		if ie.field == "body" {
			ie.field = ""
		}
	}
	return err
}

// jsonError describes a decoding error of encoding/json as an invalidError.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return invalid("body", "must be a JSON object")
		}
		return invalid(te.Field, "must be a string, not "+te.Value)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("body", "invalid JSON: unexpected end of JSON input")
	}
	return invalid("body", "invalid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
}

// normalise validates w and fills ev with its normal form: defaults
// applied, the URL reduced to its path, query and fragment split off,
// repeated slashes collapsed, the time in UTC at the log's microsecond
// precision.
func (w *wireEvent) normalise(now time.Time, ev *event.Event) error {
	*ev = event.Event{SiteID: w.SiteID, Type: w.EventType, UserID: w.UserID}

	if w.SiteID == "" {
		return invalid("site_id", "required")
	}
	if !event.ValidSiteID(w.SiteID) {
		return invalid("site_id", event.SiteIDRule)
	}

	if ev.Type == "" {
		ev.Type = event.PageView
	} else if len(ev.Type) > MaxEventType || !printable(ev.Type) {
		return invalid("event_type", "must be 1-64 bytes of printable characters")
	}

	field, raw := "path", w.Path
	switch {
	case w.Path != "" && w.URL != "":
		return invalid("path", "give path or url, not both")
	case w.URL != "":
		field = "url"
		var ok bool
		if raw, ok = pathOfURL(w.URL); !ok {
			return invalid("url", "must be an absolute URL like https://example.com/path")
		}
	case w.Path == "" && ev.Type == event.PageView:
		return invalid("path", "required for page_view events")
	}
	if raw != "" {
		if raw[0] != '/' {
			return invalid(field, "must start with /")
		}
		if msg := checkText(raw); msg != "" {
			return invalid(field, msg)
		}
		ev.Path, ev.Query, ev.Fragment = splitPath(raw)
		ev.Path = collapseSlashes(ev.Path)
		switch {
		case len(ev.Path) > MaxPath:
			return invalid(field, "longer than "+strconv.Itoa(MaxPath)+" bytes")
		case len(ev.Query) > MaxQuery:
			return invalid(field, "query longer than "+strconv.Itoa(MaxQuery)+" bytes")
		case len(ev.Fragment) > MaxFragment:
			return invalid(field, "fragment longer than "+strconv.Itoa(MaxFragment)+" bytes")
		}
	}

	if len(ev.UserID) > MaxUserID {
		return invalid("user_id", "longer than "+strconv.Itoa(MaxUserID)+" bytes")
	}
	if msg := checkText(ev.UserID); msg != "" {
		return invalid("user_id", msg)
	}

	ev.Time = now
	if w.Timestamp != "" {
		t, err := time.Parse(time.RFC3339, w.Timestamp)
		if err != nil {
			return invalid("timestamp", "must be RFC 3339, like 2025-11-14T10:00:00Z")
		}
		if t.Sub(now) > MaxFuture {
			return invalid("timestamp", "more than 24h in the future")
		}
		// "0000-01-01T00:00:00+01:00" lies in year -1 in UTC, which
		// RFC 3339 cannot write, nor a day of the reports.
		if t.UTC().Year() < 1 {
			return invalid("timestamp", "before year 1")
		}
		ev.Time = t
	}
	// The log keeps microseconds; truncating here makes the event handed
	// on equal to the one read back.
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	return nil
}

// printable reports whether s is valid UTF-8 of printable characters
// (letters, marks, numbers, punctuation, symbols and the ASCII space).
func printable(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c > '~' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

// checkText returns what is wrong with s as free text (a path or a user
// id): not UTF-8, or holding control characters (C0, DEL, C1), which
// would corrupt log lines and terminals the value is shown on. It returns
// "" if s is fine.
func checkText(s string) string {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return "must not contain control characters"
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return "must be valid UTF-8"
		}
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
		i += n
	}
	return ""
}

// splitPath splits a path as sent, "/p?q#f", into its path, query and
// fragment, without their "?" and "#". The fragment starts at the first
// "#", the query at the first "?" before it (RFC 3986, section 3).
func splitPath(s string) (path, query, fragment string) {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s, fragment = s[:i], s[i+1:]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s, query = s[:i], s[i+1:]
	}
	return s, query, fragment
}

// collapseSlashes replaces every run of slashes in p with one, so that
// "/a//b" and "/a/b" count as the same page.
func collapseSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && len(b) > 0 && b[len(b)-1] == '/' {
			continue
		}
		b = append(b, p[i])
	}
	return string(b)
}

// pathOfURL returns what follows the authority of an absolute URL
// "scheme://authority/path?query#fragment": its path, query and fragment
// as sent, with "/" for an empty path. The authority is dropped: a site is
// named by site_id, whatever host it was reached on.
func pathOfURL(u string) (string, bool) {
	i := 0
	for ; i < len(u); i++ {
		c := u[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			break
		}
	}
	if i == 0 || !strings.HasPrefix(u[i:], "://") {
		return "", false
	}
	rest := u[i+len("://"):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return "", false // no host
	}
	rest = rest[end:]
	if rest == "" || rest[0] != '/' {
		return "/" + rest, true
	}
	return rest, true
}

// skipSpace returns the index of the first byte at or after i in b that is
// not JSON white space, or len(b).
func skipSpace(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return i
		}
	}
	return i
}
