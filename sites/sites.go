// Package sites owns the sites registry and the report keys: which sites
// exist, which host names their events may come from, their time zones,
// the keys that may read their reports, and their goals.
//
// The registry lives in the database beside the rollups: the data
// directory's SQLite database, or the PostgreSQL database that ingest
// nodes and report processes share, where one registry serves them all
// (see Dialect). Writers (the sites, keys and goals commands, the admin
// API) change it through a Store on a connection of their own; every serving process holds a Registry, an
// immutable Snapshot behind an atomic pointer that it re-reads within a
// second of any change (a counter in the database moves with every write),
// so checks on the hot path take no lock and read no database.
//
// Only the SHA-256 of a key's token is stored; the token is shown once, at
// creation. Lookups compare hashes in constant time.
package sites

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"sitelog/event"
)

// Limits of what the registry holds.
const (
	// MaxHostnames is the most host names one site may list.
	MaxHostnames = 100
	// MaxHostname is the longest host name, in bytes (RFC 1035's 253, and
	// two more for a leading "*.").
	MaxHostname = 255
	// MaxLabel is the longest label of a key, in bytes.
	MaxLabel = 100
	// MaxTimeZone is the longest time zone name, in bytes; the longest IANA
	// name is about 30.
	MaxTimeZone = 64
)

// TokenPrefix starts every report key's token, so that a leaked token is
// recognisable (and findable by secret scanners) for what it is.
const TokenPrefix = "sl_"

// Errors of lookups and checks, tested with errors.Is.
var (
	// ErrNotFound is a site or key that the registry does not hold.
	ErrNotFound = errors.New("not found")
	// ErrUnknownSite is an event for a site not in the registry.
	ErrUnknownSite = errors.New("unknown site")
	// ErrOriginRefused is an event from a host name the site does not list.
	ErrOriginRefused = errors.New("origin not allowed")
)

// InvalidError is a value that validation refused: Field names it as the
// admin API's JSON does, Problem says what was wrong.
type InvalidError struct {
	Field   string
	Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

// Site is a registered site.
type Site struct {
	// ID is the site_id its events carry.
	ID string `json:"id"`
	// Hostnames are the hosts a browser's events for the site may come
	// from, lower case and sorted; "*.example.com" stands for every
	// subdomain of example.com (not example.com itself).
	Hostnames []string `json:"hostnames"`
	// TimeZone is the IANA name of the site's time zone.
	TimeZone string `json:"time_zone"`

	loc *time.Location
}

// Location returns the site's time zone.
func (s Site) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// NewSite validates and normalises a site: id must follow the rule of
// event.ValidSiteID; hostnames are host names or IP addresses, without
// scheme, port or path, optionally starting with "*." (lower-cased, sorted,
// duplicates dropped); timeZone is an IANA name such as Europe/Berlin, ""
// meaning UTC.
func NewSite(id string, hostnames []string, timeZone string) (Site, error) {
	if !event.ValidSiteID(id) {
		return Site{}, &InvalidError{"site_id", event.SiteIDRule}
	}
	s := Site{ID: id, Hostnames: make([]string, 0, len(hostnames))}
	if len(hostnames) > MaxHostnames {
		return Site{}, &InvalidError{"hostnames", "more than " + strconv.Itoa(MaxHostnames)}
	}
	for _, h := range hostnames {
		n, err := normaliseHostname(h)
		if err != nil {
			return Site{}, err
		}
		s.Hostnames = append(s.Hostnames, n)
	}
	slices.Sort(s.Hostnames)
	s.Hostnames = slices.Compact(s.Hostnames)
	loc, err := loadZone(timeZone)
	if err != nil {
		return Site{}, err
	}
	s.TimeZone, s.loc = loc.String(), loc
	return s, nil
}

// loadZone loads an IANA time zone; "" is UTC.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	bad := &InvalidError{"time_zone", strconv.Quote(name) + " is not an IANA time zone name such as Europe/Berlin or UTC"}
	// "Local" names whatever zone the server happens to run in, which is
	// not a property of the site.
	if len(name) > MaxTimeZone || name == "Local" {
		return nil, bad
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, bad
	}
	return loc, nil
}

// normaliseHostname returns h in the form the registry keeps and matches.
func normaliseHostname(h string) (string, error) {
	bad := func(problem string) error {
		return &InvalidError{"hostnames", strconv.Quote(h) + " " + problem}
	}
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	switch {
	case n == "":
		return "", &InvalidError{"hostnames", "empty host name"}
	case len(n) > MaxHostname:
		return "", bad("is longer than " + strconv.Itoa(MaxHostname) + " bytes")
	case strings.Contains(n, "/"):
		return "", bad("is not a host name: give one like example.com, without scheme or path")
	}
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")); ip != nil {
		return ip.String(), nil
	}
	if strings.Contains(n, ":") {
		return "", bad("is not a host name: give it without port (ports are not compared)")
	}
	name, wildcard := strings.CutPrefix(n, "*.")
	if wildcard && !strings.Contains(name, ".") {
		return "", bad("is too wide: a wildcard needs a domain with a dot, like *.example.com")
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return "", bad("is not a host name: labels between dots are 1-63 characters")
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			case c == '-' && i > 0 && i < len(label)-1:
			case c >= 0x80:
				return "", bad("is not ASCII: give its xn-- form, as browsers send it")
			default:
				return "", bad("is not a host name: letters, digits, inner hyphens and dots only")
			}
		}
	}
	return n, nil
}

// allows reports whether a browser on host may send the site's events.
func (s *Site) allows(host string) bool {
	for _, h := range s.Hostnames {
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			// suffix is ".example.com": a subdomain ends with it and has
			// more before it.
			if len(host) > len(suffix) && strings.EqualFold(host[len(host)-len(suffix):], suffix) {
				return true
			}
		} else if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// Key is a report key, without its token or hash.
type Key struct {
	ID int64 `json:"id"`
	// Admin keys read every site and may change the registry; other keys
	// read the reports of Site only.
	Admin   bool      `json:"admin"`
	Site    string    `json:"site_id,omitempty"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

// Scope says what the key may read: "admin" or "site:ID".
func (k Key) Scope() string {
	if k.Admin {
		return "admin"
	}
	return "site:" + k.Site
}

// storedKey is a Key with the hash that finds it.
type storedKey struct {
	Key
	hash [sha256.Size]byte
}

// hashToken is how a token is stored and looked up.
func hashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// Snapshot is the registry at one moment. It is never changed once made:
// readers share it without locks.
type Snapshot struct {
	version int64
	sites   map[string]*Site
	keys    []storedKey // by id
}

// newSnapshot makes a Snapshot of sites and keys at a version.
func newSnapshot(version int64, sites []Site, keys []storedKey) *Snapshot {
	s := &Snapshot{version: version, sites: make(map[string]*Site, len(sites)), keys: keys}
	for i := range sites {
		s.sites[sites[i].ID] = &sites[i]
	}
	slices.SortFunc(s.keys, func(a, b storedKey) int { return cmp.Compare(a.ID, b.ID) })
	return s
}

// Version is the registry's change counter when the snapshot was read.
func (s *Snapshot) Version() int64 { return s.version }

// Site returns the registered site with the given id.
func (s *Snapshot) Site(id string) (Site, bool) {
	site, ok := s.sites[id]
	if !ok {
		return Site{}, false
	}
	return *site, true
}

// Sites returns the registered sites ordered by id.
func (s *Snapshot) Sites() []Site {
	out := make([]Site, 0, len(s.sites))
	for _, site := range s.sites {
		out = append(out, *site)
	}
	slices.SortFunc(out, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Keys returns the report keys ordered by id.
func (s *Snapshot) Keys() []Key {
	out := make([]Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.Key
	}
	return out
}

// HasKeys reports whether any report key exists.
func (s *Snapshot) HasKeys() bool { return len(s.keys) > 0 }

// Lookup finds the key whose token is token: ok is false when none has it;
// admin keys read every site, the others only site. Every key's hash is
// compared, in constant time, so the time taken tells nothing of which
// hash came close.
func (s *Snapshot) Lookup(token string) (site string, admin, ok bool) {
	sum := hashToken(token)
	found := -1
	for i := range s.keys {
		if subtle.ConstantTimeCompare(sum[:], s.keys[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false, false
	}
	k := s.keys[found]
	return k.Site, k.Admin, true
}

// Check decides whether an event for siteID may be taken from a request
// whose Origin header (or, lacking one, Referer) is origin: the site must
// be registered, and origin, when not empty, must name one of its host
// names. Requests with neither header come from servers, not browsers, and
// are allowed. The error's text is meant for the client.
func (s *Snapshot) Check(siteID, origin string) error {
	site, ok := s.sites[siteID]
	if !ok {
		return fmt.Errorf("site_id: %w %q", ErrUnknownSite, siteID)
	}
	if origin == "" {
		return nil
	}
	host, ok := hostOf(origin)
	if ok && site.allows(host) {
		return nil
	}
	shown := shownOrigin(origin)
	if len(site.Hostnames) == 0 {
		return fmt.Errorf("%w: %q is not a host name of site %q, which lists none", ErrOriginRefused, shown, siteID)
	}
	return fmt.Errorf("%w: %q is not a host name of site %q", ErrOriginRefused, shown, siteID)
}

// maxShownOrigin bounds how much of a hostile header an error repeats.
const maxShownOrigin = 200

// hostOf returns the host of an origin ("https://example.com:8443") or of
// a URL with one, without port, user information or trailing dot.
func hostOf(origin string) (host string, ok bool) {
	_, host, ok = splitOrigin(origin)
	if !ok {
		return "", false
	}
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		host = host[1:end]
	} else if colon := strings.LastIndexByte(host, ':'); colon >= 0 {
		host = host[:colon]
	}
	host = strings.TrimSuffix(host, ".")
	return host, host != ""
}

// splitOrigin splits "scheme://user@host:port/path" into "scheme://" and
// "host:port".
func splitOrigin(origin string) (scheme, hostport string, ok bool) {
	i := strings.Index(origin, "://")
	if i <= 0 || !validScheme(origin[:i]) {
		return "", "", false // "null" (sandboxed frames, file: pages) or garbage
	}
	scheme, rest := origin[:i+len("://")], origin[i+len("://"):]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme, rest, true
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or "."), so that "#://example.com" is not read
// as naming example.com.
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower-case letters; digits and +-. keep their meaning below
		switch {
		case 'a' <= c && c <= 'z':
		case i > 0 && ('0' <= s[i] && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return true
}

// shownOrigin is the origin to name in an error: scheme and host without
// user information or path (a Referer's path and query may be private),
// cut short.
func shownOrigin(origin string) string {
	if scheme, hostport, ok := splitOrigin(origin); ok {
		origin = scheme + hostport
	}
	if len(origin) > maxShownOrigin {
		origin = origin[:maxShownOrigin]
	}
	return origin
}
