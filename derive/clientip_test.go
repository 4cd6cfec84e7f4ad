package derive

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies("10.0.0.0/8, 192.168.0.0/16 ,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string // one header line each
		realIP  string
		trusted []netip.Prefix
		want    string // "" for the zero Addr
	}{
		{name: "no proxies", remote: "203.0.113.9:51234", want: "203.0.113.9"},
		{name: "no proxies, IPv6", remote: "[2001:db8::9]:51234", want: "2001:db8::9"},
		{name: "no proxies, mapped", remote: "[::ffff:203.0.113.9]:51234", want: "203.0.113.9"},
		{name: "no proxies, headers ignored", remote: "203.0.113.9:1", xff: []string{"198.51.100.1"}, realIP: "198.51.100.2", want: "203.0.113.9"},
		{name: "untrusted peer spoofing", remote: "203.0.113.9:1", xff: []string{"1.2.3.4"}, realIP: "5.6.7.8", trusted: proxies, want: "203.0.113.9"},
		{name: "unparsable peer", remote: "pipe", trusted: proxies, want: ""},
		{name: "peer without port", remote: "203.0.113.9", want: "203.0.113.9"},

		{name: "one proxy", remote: "10.0.0.2:80", xff: []string{"203.0.113.9"}, trusted: proxies, want: "203.0.113.9"},
		{name: "proxy over IPv6 loopback", remote: "[::1]:80", xff: []string{"2001:db8::9"}, trusted: proxies, want: "2001:db8::9"},
		{name: "two proxies", remote: "10.0.0.2:80", xff: []string{"203.0.113.9, 192.168.1.1"}, trusted: proxies, want: "203.0.113.9"},
		{name: "client-made hops left of the real one", remote: "10.0.0.2:80", xff: []string{"1.2.3.4, 5.6.7.8, 203.0.113.9"}, trusted: proxies, want: "203.0.113.9"},
		{name: "several header lines", remote: "10.0.0.2:80", xff: []string{"1.2.3.4", "203.0.113.9, 10.9.9.9"}, trusted: proxies, want: "203.0.113.9"},
		{name: "hops with ports", remote: "10.0.0.2:80", xff: []string{"[2001:db8::9]:4711, 10.1.1.1:80"}, trusted: proxies, want: "2001:db8::9"},
		{name: "empty hops skipped", remote: "10.0.0.2:80", xff: []string{"203.0.113.9,, "}, trusted: proxies, want: "203.0.113.9"},
		{name: "all hops trusted", remote: "10.0.0.2:80", xff: []string{"10.0.0.7, 10.0.0.3"}, trusted: proxies, want: "10.0.0.7"},
		{name: "garbage stops the walk", remote: "10.0.0.2:80", xff: []string{"203.0.113.9, junk, 10.0.0.3"}, trusted: proxies, want: "10.0.0.3"},
		{name: "garbage only: X-Real-IP", remote: "10.0.0.2:80", xff: []string{"junk"}, realIP: "203.0.113.9", trusted: proxies, want: "203.0.113.9"},
		{name: "X-Real-IP", remote: "10.0.0.2:80", realIP: " 203.0.113.9 ", trusted: proxies, want: "203.0.113.9"},
		{name: "X-Forwarded-For before X-Real-IP", remote: "10.0.0.2:80", xff: []string{"203.0.113.9"}, realIP: "198.51.100.2", trusted: proxies, want: "203.0.113.9"},
		{name: "trusted proxy, no headers", remote: "10.0.0.2:80", trusted: proxies, want: "10.0.0.2"},
		{name: "trusted proxy, bad headers", remote: "10.0.0.2:80", xff: []string{"junk"}, realIP: "junk", trusted: proxies, want: "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/event", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.realIP != "" {
				r.Header.Set("X-Real-IP", tt.realIP)
			}
			got := ClientIP(r, tt.trusted)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "10.0.0.0/8,::1/128", want: []string{"10.0.0.0/8", "::1/128"}},
		{in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{in: "127.0.0.1, ::1", want: []string{"127.0.0.1/32", "::1/128"}},
		{in: "::ffff:10.0.0.0/104", want: []string{"10.0.0.0/8"}},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "10.0.0.0/8,nope", wantErr: true},
		{in: "fe80::1%eth0", wantErr: true},
		{in: "::ffff:0.0.0.0/80", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTrustedProxies(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseTrustedProxies(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTrustedProxies(%q): %v", tt.in, err)
			continue
		}
		var gotS []string
		for _, p := range got {
			gotS = append(gotS, p.String())
		}
		if !slices.Equal(gotS, tt.want) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tt.in, gotS, tt.want)
		}
	}
}
