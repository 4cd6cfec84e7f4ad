package derive

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r. That is the
// peer's address (r.RemoteAddr) unless the peer is one of the trusted
// proxies: then it is the right-most address of X-Forwarded-For that is
// not a trusted proxy (each proxy appends the address it got the request
// from, so that is the first hop no trusted proxy vouches for; anything to
// its left may be made up by the client), or X-Real-IP when
// X-Forwarded-For has none. Headers from an untrusted peer are ignored, so
// a client cannot pick its own address. The zero Addr means unknown.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	if a := forwardedFor(r.Header.Values("X-Forwarded-For"), trusted); a.IsValid() {
		return a
	}
	if a := parseHostAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); a.IsValid() {
		return a
	}
	return peer
}

// forwardedFor returns the right-most hop of the X-Forwarded-For values
// that is not a trusted proxy; the left-most hop reached when all are
// trusted (a client inside the proxies' own network); the zero Addr when
// the header has no address.
func forwardedFor(values []string, trusted []netip.Prefix) netip.Addr {
	var client netip.Addr
	for i := len(values) - 1; i >= 0; i-- {
		for h := values[i]; h != ""; {
			var hop string
			if j := strings.LastIndexByte(h, ','); j >= 0 {
				h, hop = h[:j], h[j+1:]
			} else {
				h, hop = "", h
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a := parseHostAddr(hop)
			if !a.IsValid() {
				// A trusted proxy writes addresses; past garbage nothing
				// can be believed, so the last good hop stands.
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseHostAddr parses "addr", "addr:port" or "[addr]:port", returning
// the zero Addr for anything else. IPv4-mapped IPv6 addresses come back as
// IPv4 so they match IPv4 prefixes and look up alike.
func parseHostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes
// ("10.0.0.0/8,::1/128") or single addresses, as the --trusted-proxies
// flag takes them. An empty list trusts no proxy.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("derive: trusted proxy %q: want a CIDR prefix such as 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// Peers are compared unmapped, so a mapped prefix would never match.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("derive: trusted proxy %q: an IPv4-mapped prefix needs at least 96 bits", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}
