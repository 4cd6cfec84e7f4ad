package derive

import (
	"net/netip"

	"github.com/phuslu/iploc"
)

// Country returns the ISO 3166-1 alpha-2 code (upper case) of the country
// ip is registered in, from the IP2Location LITE data that
// github.com/phuslu/iploc embeds, or "" for private, loopback, link-local
// and other addresses no country owns, and for unknown ones.
func Country(ip netip.Addr) string {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return ""
	}
	switch c := iploc.IPCountry(ip); c {
	case "", "ZZ": // ZZ: the data's "no country"
		return ""
	default:
		return c
	}
}
