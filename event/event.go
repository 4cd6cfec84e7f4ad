// Package event defines the analytics event that ingest writes to the log
// and the rollup worker reads back, and its compact binary encoding on the
// log. It imports nothing of ours so both sides can share it.
package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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

	// What ingest derived from the request, so that neither the client's
	// IP address nor its User-Agent is ever written down. Every field is
	// optional; records of version 1 carry none of them.

	// Visitor identifies who sent the event: a hash of the site and the
	// user_id when one was sent (UserVisitor), otherwise a hash of the site,
	// the client's address and User-Agent under a salt that changes each
	// day. 0 means unknown: such events count in every total but as no
	// visitor and in no visit.
	Visitor     uint64
	Hostname    string // the page's host name, lower case
	Referrer    string // the referring page, without query or fragment; "" when direct or from the site itself
	Source      string // where the visit came from: a known name ("Google"), the referrer's domain, or "" for direct
	UTMSource   string
	UTMMedium   string
	UTMCampaign string
	UTMContent  string
	UTMTerm     string
	Browser     string // "Chrome", "Firefox", ...; "" when unknown
	OS          string // "Windows", "iOS", ...
	Device      string // "Desktop", "Mobile", "Tablet", ...
	Country     string // ISO 3166-1 alpha-2, upper case
	ScreenWidth int    // CSS pixels; 0 when not sent
	Props       string // custom properties: a JSON object of strings with sorted keys (EncodeProps), or ""
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

// The first byte of a record is its version. AppendBinary writes version
// 2; Decode reads both, so a log written before version 2 still applies.
const (
	version1 = 1
	version2 = 2
)

// fields1 and fields2 are the strings of each version, in order.
const (
	fields1 = 6
	fields2 = fields1 + 13
)

const flagBot = 1 << 0

// AppendBinary appends the log encoding of e to dst and returns the result:
// a version byte, a flags byte, the time as a varint of Unix microseconds,
// the visitor and the screen width as uvarints, then each string as a
// uvarint length and its bytes.
func (e *Event) AppendBinary(dst []byte) []byte {
	dst = append(dst, version2)
	var flags byte
	if e.Bot {
		flags |= flagBot
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, e.Time.UnixMicro())
	dst = binary.AppendUvarint(dst, e.Visitor)
	dst = binary.AppendUvarint(dst, uint64(max(e.ScreenWidth, 0)))
	for _, s := range e.strings() {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// strings returns the string fields in their order on the log.
func (e *Event) strings() [fields2]string {
	return [...]string{e.SiteID, e.Type, e.Path, e.Query, e.Fragment, e.UserID,
		e.Hostname, e.Referrer, e.Source, e.UTMSource, e.UTMMedium, e.UTMCampaign, e.UTMContent, e.UTMTerm,
		e.Browser, e.OS, e.Device, e.Country, e.Props}
}

// Decode parses a record written by AppendBinary, of either version, into
// e. Strings in e are copies, so data may be reused afterwards.
func Decode(data []byte, e *Event) error {
	return decode(data, e, nil)
}

// decode is Decode, with the strings of the fields that in interns taken
// from in when in is not nil.
func decode(data []byte, e *Event, in *Interner) error {
	if len(data) < 2 || (data[0] != version1 && data[0] != version2) {
		return fmt.Errorf("%w: unknown version", ErrMalformed)
	}
	version, flags := data[0], data[1]
	data = data[2:]
	us, n := binary.Varint(data)
	if n <= 0 {
		return fmt.Errorf("%w: bad time", ErrMalformed)
	}
	data = data[n:]
	var visitor, width uint64
	count := fields1
	if version == version2 {
		count = fields2
		if visitor, n = binary.Uvarint(data); n <= 0 {
			return fmt.Errorf("%w: bad visitor", ErrMalformed)
		}
		data = data[n:]
		if width, n = binary.Uvarint(data); n <= 0 || width > math.MaxInt32 {
			return fmt.Errorf("%w: bad screen width", ErrMalformed)
		}
		data = data[n:]
	}
	var fields [fields2]string
	for i := range count {
		l, n := binary.Uvarint(data)
		if n <= 0 || l > uint64(len(data)-n) {
			return fmt.Errorf("%w: bad field %d", ErrMalformed, i)
		}
		fields[i] = in.field(i, data[n:n+int(l)])
		data = data[n+int(l):]
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(data))
	}
	if version == version1 && fields[5] != "" {
		visitor = UserVisitor(fields[0], fields[5])
	}
	*e = Event{
		SiteID:      fields[0],
		Type:        fields[1],
		Path:        fields[2],
		Query:       fields[3],
		Fragment:    fields[4],
		UserID:      fields[5],
		Time:        time.UnixMicro(us).UTC(),
		Bot:         flags&flagBot != 0,
		Visitor:     visitor,
		Hostname:    fields[6],
		Referrer:    fields[7],
		Source:      fields[8],
		UTMSource:   fields[9],
		UTMMedium:   fields[10],
		UTMCampaign: fields[11],
		UTMContent:  fields[12],
		UTMTerm:     fields[13],
		Browser:     fields[14],
		OS:          fields[15],
		Device:      fields[16],
		Country:     fields[17],
		ScreenWidth: int(width),
		Props:       fields[18],
	}
	return nil
}
