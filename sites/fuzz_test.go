package sites

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheck gives the origin check arbitrary Origin/Referer headers: it
// never panics, an error never repeats more of the header than its bound,
// and an origin it accepts really names the site's host, as net/url
// parses it.
func FuzzCheck(f *testing.F) {
	site, err := NewSite("s", []string{"example.com", "*.blog.example"}, "")
	if err != nil {
		f.Fatal(err)
	}
	snap := newSnapshot(1, []Site{site}, nil)
	for _, o := range []string{
		"https://example.com", "https://EXAMPLE.com:8443/path?q#f", "https://user@example.com",
		"https://a.blog.example", "https://blog.example", "null", "https://[::1]:80",
		"https://example.com.", "http://evil.example/https://example.com", "://", "https://example.com@evil.example",
	} {
		f.Add(o)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		err := snap.Check("s", origin)
		if err != nil {
			// %q may spell each byte shown as four.
			if len(err.Error()) > 4*maxShownOrigin+200 {
				t.Fatalf("error repeats too much of the header: %d bytes", len(err.Error()))
			}
			return
		}
		if origin == "" {
			return
		}
		u, perr := url.Parse(origin)
		if perr != nil {
			return // lenient where net/url is strict: the host was still checked
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if host != "example.com" && !strings.HasSuffix(host, ".blog.example") {
			t.Fatalf("accepted origin %q whose host is %q", origin, host)
		}
	})
}
