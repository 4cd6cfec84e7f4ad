// Package event defines the analytics event that ingest writes to the log
// and the rollup worker reads back, and its compact binary encoding on the
// log. It imports nothing of ours so both sides can share it.
package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// PageView is the event type counted as a view; every other type is a
// custom event.
const PageView = "page_view"

// Event is one accepted analytics event after validation and
// normalisation.
type Event struct {
	SiteID   string
	Type     string
	Path     string // always starts with "/" for page views; may be empty for custom events
	Query    string // without the leading "?"
	Fragment string // without the leading "#"
	UserID   string
	Time     time.Time // UTC, microsecond precision on the log
	Bot      bool      // sent by a crawler or headless browser: counted apart, never as a view
}

// MaxSiteID is the longest site_id, in characters (all of them ASCII).
const MaxSiteID = 100

// SiteIDRule says what ValidSiteID accepts, for error messages.
const SiteIDRule = "must be 1-100 characters of letters, digits and ._:-"

// ValidSiteID reports whether s is 1 to MaxSiteID characters of letters,
// digits and ._:- (safe in URLs, file names and log lines unquoted). Ingest
// refuses events of any other site_id, so reports refuse them too.
func ValidSiteID(s string) bool {
	if len(s) == 0 || len(s) > MaxSiteID {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// ErrMalformed is returned by Decode for bytes that are not an encoded
// event of a known version.
var ErrMalformed = errors.New("event: malformed record")

// version1 is the first byte of every record encoded by this package.
const version1 = 1

const flagBot = 1 << 0

// AppendBinary appends the log encoding of e to dst and returns the result:
// a version byte, a flags byte, the time as a varint of Unix microseconds,
// then each string as a uvarint length and its bytes.
func (e *Event) AppendBinary(dst []byte) []byte {
	dst = append(dst, version1)
	var flags byte
	if e.Bot {
		flags |= flagBot
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, e.Time.UnixMicro())
	for _, s := range [...]string{e.SiteID, e.Type, e.Path, e.Query, e.Fragment, e.UserID} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// Decode parses a record written by AppendBinary into e. Strings in e are
// copies, so data may be reused afterwards.
func Decode(data []byte, e *Event) error {
	if len(data) < 2 || data[0] != version1 {
		return fmt.Errorf("%w: unknown version", ErrMalformed)
	}
	flags := data[1]
	data = data[2:]
	us, n := binary.Varint(data)
	if n <= 0 {
		return fmt.Errorf("%w: bad time", ErrMalformed)
	}
	data = data[n:]
	var fields [6]string
	for i := range fields {
		l, n := binary.Uvarint(data)
		if n <= 0 || l > uint64(len(data)-n) {
			return fmt.Errorf("%w: bad field %d", ErrMalformed, i)
		}
		fields[i] = string(data[n : n+int(l)])
		data = data[n+int(l):]
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(data))
	}
	*e = Event{
		SiteID:   fields[0],
		Type:     fields[1],
		Path:     fields[2],
		Query:    fields[3],
		Fragment: fields[4],
		UserID:   fields[5],
		Time:     time.UnixMicro(us).UTC(),
		Bot:      flags&flagBot != 0,
	}
	return nil
}
