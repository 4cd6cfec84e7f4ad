package derive

import (
	"net/netip"
	"testing"
)

func TestCountry(t *testing.T) {
	tests := []struct {
		ip   string
		want string
	}{
		{"8.8.8.8", "US"},
		{"::ffff:8.8.8.8", "US"}, // IPv4-mapped, as a dual-stack listener reports it
		{"2001:4860:4860::8888", "US"},
		{"193.0.6.139", "NL"},
		{"133.11.0.1", "JP"},
		{"200.160.2.3", "BR"},

		// Addresses no country owns.
		{"10.1.2.3", ""},
		{"172.16.0.1", ""},
		{"192.168.1.1", ""},
		{"fd00::1", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"169.254.1.1", ""},
		{"fe80::1", ""},
		{"0.0.0.0", ""},
		{"::", ""},
		{"224.0.0.1", ""},
		{"100.64.0.1", ""}, // carrier-grade NAT: "ZZ" in the data
	}
	for _, tt := range tests {
		if got := Country(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Country(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if got := Country(netip.Addr{}); got != "" {
		t.Errorf("Country(zero Addr) = %q, want \"\"", got)
	}
}
