package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sitelog/derive"
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
	// MaxHostname is the longest host name of a url, in bytes (the DNS
	// limit).
	MaxHostname = 253
	// MaxReferrer is the longest referrer, in bytes. Browsers send only
	// the origin across sites by default; the query is dropped anyway.
	MaxReferrer = 4096
	// MaxScreenWidth is the widest screen_width, in CSS pixels.
	MaxScreenWidth = 100000
	// MaxProps, MaxPropKey and MaxPropValue bound props: properties per
	// event, and bytes per key and per value.
	MaxProps     = event.MaxProps
	MaxPropKey   = event.MaxPropKey
	MaxPropValue = event.MaxPropValue
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

// wireEvent is one event as clients send it. Every field but props and
// screen_width is a string, so a number or object where a string belongs
// is refused with the field's name. JSON null and "" both mean absent.
// Fields it does not name are ignored, so that trackers newer than this
// server are not refused.
type wireEvent struct {
	SiteID      string    `json:"site_id"`
	EventType   string    `json:"event_type"`
	Path        string    `json:"path"`
	URL         string    `json:"url"`
	UserID      string    `json:"user_id"`
	Timestamp   string    `json:"timestamp"`
	Referrer    string    `json:"referrer"`
	Props       wireProps `json:"props"`
	ScreenWidth int       `json:"screen_width"`
}

// reset empties w for the next event, keeping the memory of its props.
func (w *wireEvent) reset() {
	*w = wireEvent{Props: wireProps{list: w.Props.list[:0]}}
}

// checkObject refuses a body that is not a JSON object of valid UTF-8:
// JSON text is UTF-8 (RFC 8259), and encoding/json would silently replace
// invalid bytes with U+FFFD instead of refusing them.
func checkObject(body []byte) error {
	i := skipSpace(body, 0)
	if i == len(body) {
		return invalid("body", "empty")
	}
	if body[i] != '{' {
		return invalid("body", "must be a JSON object")
	}
	if !utf8.Valid(body) {
		return invalid("body", "not valid UTF-8")
	}
	return nil
}

// decodeEvent decodes the body of POST /event into ev, validated and
// normalised, with now as the time of receipt. w is scratch space.
func decodeEvent(body []byte, now time.Time, w *wireEvent, ev *event.Event) error {
	if err := checkObject(body); err != nil {
		return err
	}
	w.reset()
	if !w.scan(body) {
		w.reset()
		if err := json.Unmarshal(body, w); err != nil {
			return jsonError(err)
		}
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
	scanned, ok := scanBatch(body, now, w, evs)
	if ok {
		return scanned, nil
	}
	// Past len(evs), the events of a batch read halfway would otherwise
	// keep the body alive in a pooled slice.
	clear(scanned[len(evs):])
	return decodeBatchJSON(body, array, now, w, evs)
}

// decodeBatchJSON is decodeBatch with encoding/json, for a body that
// starts with "[" (array) or "{" and is valid UTF-8.
func decodeBatchJSON(body []byte, array bool, now time.Time, w *wireEvent, evs []event.Event) ([]event.Event, error) {
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
		w.reset()
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
	var ie *invalidError
	if errors.As(err, &ie) {
		return err // from wireProps
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		switch {
		case te.Field == "":
			return invalid("body", "must be a JSON object")
		case te.Type != nil && te.Type.Kind() == reflect.Int:
			return invalid(te.Field, "must be a whole number, not "+te.Value)
		}
		return invalid(te.Field, "must be a string, not "+te.Value)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("body", "invalid JSON: unexpected end of JSON input")
	}
	return invalid("body", "invalid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
}

// normalise validates w and fills ev with its normal form: defaults
// applied, the URL split into host name, path, query and fragment, repeated
// slashes collapsed, the time in UTC at the log's microsecond precision,
// and what the body alone tells derived: source and referrer, UTM
// parameters, props in their canonical encoding. What the request tells
// (visitor, browser, country) is the handler's to add.
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

	// The url names the host and carries the UTM parameters; the path, if
	// also given, wins for path, query and fragment (a tracker may count
	// /product/:id rather than each product's own address).
	field, raw := "path", w.Path
	var urlQuery string
	if w.URL != "" {
		host, rest, ok := splitURL(w.URL)
		if !ok {
			return invalid("url", "must be an absolute URL like https://example.com/path")
		}
		if msg := checkText(w.URL); msg != "" {
			return invalid("url", msg)
		}
		if ev.Hostname, ok = hostname(host); !ok {
			return invalid("url", "host name must be 1-253 bytes without spaces")
		}
		if w.Path == "" {
			field, raw = "url", rest
		}
		_, urlQuery, _ = splitPath(rest)
	} else if w.Path == "" && ev.Type == event.PageView {
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
	if w.URL == "" {
		urlQuery = ev.Query
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

	if w.Referrer != "" {
		if len(w.Referrer) > MaxReferrer {
			return invalid("referrer", "longer than "+strconv.Itoa(MaxReferrer)+" bytes")
		}
		if msg := checkText(w.Referrer); msg != "" {
			return invalid("referrer", msg)
		}
		ev.Source, ev.Referrer = derive.Referrer(w.Referrer, ev.Hostname)
	}
	if hasUTM(urlQuery) {
		// ParseQuery keeps what it could parse of a malformed query,
		// which is what a browser's page would have seen too.
		values, _ := url.ParseQuery(urlQuery)
		utm := derive.UTM(values)
		ev.UTMSource, ev.UTMMedium, ev.UTMCampaign, ev.UTMContent, ev.UTMTerm =
			cleanTag(utm.Source), cleanTag(utm.Medium), cleanTag(utm.Campaign), cleanTag(utm.Content), cleanTag(utm.Term)
	}

	if w.ScreenWidth < 0 || w.ScreenWidth > MaxScreenWidth {
		return invalid("screen_width", "must be a whole number of pixels from 0 to "+strconv.Itoa(MaxScreenWidth))
	}
	ev.ScreenWidth = w.ScreenWidth

	if len(w.Props.list) > 0 {
		if err := w.Props.check(); err != nil {
			return err
		}
		props, err := event.EncodeProps(w.Props.list)
		if err != nil {
			// check applies every rule of EncodeProps first.
			return invalid("props", err.Error())
		}
		ev.Props = props
	}
	return nil
}

// cleanTag drops a UTM value that percent-decoded into control
// characters: the link was odd, not the event, so the event stays.
func cleanTag(v string) string {
	if checkText(v) != "" {
		return ""
	}
	return v
}

// hasUTM reports whether query may hold a parameter derive.UTM reads, so
// that the common query without one is not parsed into a map.
func hasUTM(query string) bool {
	return strings.Contains(query, "utm_") || strings.Contains(query, "ref=") || strings.Contains(query, "source=")
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

// splitURL splits an absolute URL "scheme://authority/path?query#fragment"
// into its host (the authority without user information and port, as
// sent) and the rest as sent, with "/" for an empty path.
func splitURL(u string) (host, rest string, ok bool) {
	i := 0
	for ; i < len(u); i++ {
		c := u[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			break
		}
	}
	if i == 0 || !strings.HasPrefix(u[i:], "://") {
		return "", "", false
	}
	rest = u[i+len("://"):]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, rest = rest[:end], rest[end:]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	if strings.HasPrefix(host, "[") {
		// An IPv6 literal: its colons are not a port's.
		j := strings.IndexByte(host, ']')
		if j < 0 {
			return "", "", false
		}
		host = host[1:j]
	} else if j := strings.LastIndexByte(host, ':'); j >= 0 {
		host = host[:j]
	}
	if host == "" {
		return "", "", false
	}
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	return host, rest, true
}

// hostname returns host in the form events keep, lower case without
// trailing dots, and whether it is a plausible host name: at most
// MaxHostname bytes, no spaces (control characters are refused with the
// whole url).
func hostname(host string) (string, bool) {
	host = strings.TrimRight(host, ".")
	if host == "" || len(host) > MaxHostname || strings.ContainsRune(host, ' ') {
		return "", false
	}
	return strings.ToLower(host), true
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
