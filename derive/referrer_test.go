package derive

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

func TestReferrer(t *testing.T) {
	tests := []struct {
		ref, pageHost        string
		wantSource, wantPage string
	}{
		// Known sites, by host, by parent domain and by brand.
		{"https://www.google.com/", "example.com", "Google", "google.com"},
		{"https://www.google.co.uk/search?q=secret", "example.com", "Google", "google.co.uk/search"},
		{"https://google.de/", "example.com", "Google", "google.de"},
		{"https://www.bing.com/search?q=x", "example.com", "Bing", "bing.com/search"},
		{"https://duckduckgo.com/", "example.com", "DuckDuckGo", "duckduckgo.com"},
		{"https://yandex.ru/search/?text=x", "example.com", "Yandex", "yandex.ru/search"},
		{"https://search.yahoo.co.jp/search?p=x", "example.com", "Yahoo!", "search.yahoo.co.jp/search"},
		{"https://news.ycombinator.com/item?id=1", "example.com", "Hacker News", "news.ycombinator.com/item"},
		{"https://ycombinator.com/companies", "example.com", "ycombinator.com", "ycombinator.com/companies"},
		{"https://t.co/abc123", "example.com", "Twitter", "t.co/abc123"},
		{"https://x.com/someone/status/1", "example.com", "Twitter", "x.com/someone/status/1"},
		{"https://twitter.com/", "example.com", "Twitter", "twitter.com"},
		{"https://l.facebook.com/l.php?u=x", "example.com", "Facebook", "l.facebook.com/l.php"},
		{"https://m.facebook.com/", "example.com", "Facebook", "m.facebook.com"},
		{"https://www.linkedin.com/feed/", "example.com", "LinkedIn", "linkedin.com/feed"},
		{"https://old.reddit.com/r/golang/", "example.com", "Reddit", "old.reddit.com/r/golang"},
		{"https://github.com/owner/repo", "example.com", "GitHub", "github.com/owner/repo"},
		{"https://m.youtube.com/watch?v=x", "example.com", "YouTube", "m.youtube.com/watch"},
		{"https://en.m.wikipedia.org/wiki/Go", "example.com", "Wikipedia", "en.m.wikipedia.org/wiki/Go"},
		{"https://mail.google.com/mail/u/0/", "example.com", "Gmail", "mail.google.com/mail/u/0"},
		{"https://outlook.live.com/mail/0/", "example.com", "Outlook.com", "outlook.live.com/mail/0"},
		{"https://chatgpt.com/", "example.com", "ChatGPT", "chatgpt.com"},
		{"https://chat.openai.com/c/1", "example.com", "ChatGPT", "chat.openai.com/c/1"},
		{"https://www.perplexity.ai/search/x", "example.com", "Perplexity", "perplexity.ai/search/x"},
		{"https://gemini.google.com/app", "example.com", "Gemini", "gemini.google.com/app"},
		{"android-app://com.google.android.gm/", "example.com", "Gmail", "com.google.android.gm"},
		{"android-app://com.example.reader", "example.com", "com.example.reader", "com.example.reader"},

		// Unknown sites: the registrable domain, per the public suffix list.
		{"https://blog.example.org/2024/post.html", "example.com", "example.org", "blog.example.org/2024/post.html"},
		{"http://news.example.co.uk/a/", "example.com", "example.co.uk", "news.example.co.uk/a"},
		{"https://alice.github.io/notes", "bob.github.io", "alice.github.io", "alice.github.io/notes"},
		{"HTTPS://User:Secret@WWW.Example.ORG:8443/Path?q#frag", "example.com", "example.org", "example.org/Path"},
		{"https://example.org./x", "example.com", "example.org", "example.org/x"},
		{"http://192.0.2.7:8080/admin", "example.com", "192.0.2.7", "192.0.2.7/admin"},
		{"http://[2001:db8::1]/x", "example.com", "2001:db8::1", "2001:db8::1/x"},
		{"http://localhost:3000/", "example.com", "localhost", "localhost"},
		{"https://www.com/", "example.com", "www.com", "www.com"},
		{"https://bücher.de/katalog", "example.com", "bücher.de", "bücher.de/katalog"},
		{"https://example.org/caf%C3%A9", "example.com", "example.org", "example.org/café"},
		{"https://example.org/a%0Ab", "example.com", "example.org", "example.org/a%0Ab"},
		{"https://example.org/a%3Fb%23c", "example.com", "example.org", "example.org/a%3Fb%23c"},
		{"  https://example.org/  ", "example.com", "example.org", "example.org"},
		// No scheme: taken as https when there is a domain.
		{"news.ycombinator.com/item", "example.com", "Hacker News", "news.ycombinator.com/item"},
		{"//lobste.rs/s/abc", "example.com", "Lobsters", "lobste.rs/s/abc"},

		// Self-referrals: the same host, www. or not, and subdomains.
		{"https://example.com/pricing", "example.com", "", ""},
		{"https://www.example.com/", "example.com", "", ""},
		{"https://example.com/", "www.example.com", "", ""},
		{"https://blog.example.com/", "example.com", "", ""},
		{"https://example.com/", "shop.example.com", "", ""},
		{"https://docs.example.co.uk/", "www.example.co.uk", "", ""},
		{"https://EXAMPLE.com/", "Example.COM.", "", ""},
		{"https://example.com:8443/", "example.com:443", "", ""},
		{"http://localhost:3000/", "localhost", "", ""},
		{"https://alice.github.io/other", "alice.github.io", "", ""},
		{"https://mail.google.com/", "google.com", "", ""},
		{"http://example.com./x?y#z", "example.com", "", ""},
		{"https://www.example.com", "example.com", "", ""},
		{"https://www.com/", "www.com", "", ""},
		{"https://example.com.evil.org/", "example.com", "evil.org", "example.com.evil.org"},
		{"https://example.com@evil.org/", "example.com", "evil.org", "evil.org"},

		// Nothing, or nothing usable.
		{"", "example.com", "", ""},
		{"   ", "example.com", "", ""},
		{"not a url", "example.com", "", ""},
		{"garbage", "example.com", "", ""},
		{"localhost/x", "example.com", "", ""},
		{"https://", "example.com", "", ""},
		{"https:///path", "example.com", "", ""},
		{"https://exa mple.com/", "example.com", "", ""},
		{"https://exa%00mple.com/", "example.com", "", ""},
		{"https://a..b/", "example.com", "", ""},
		{"https://" + strings.Repeat("a", 64) + ".com/", "example.com", "", ""},
		{"ftp://example.org/file", "example.com", "", ""},
		{"javascript:alert(1)", "example.com", "", ""},
		{"about:blank", "example.com", "", ""},
		{"mailto:someone@example.org", "example.com", "", ""},
		{"data:text/html,hi", "example.com", "", ""},
		{"/relative/path", "example.com", "", ""},
		{"file:///etc/passwd", "example.com", "", ""},
		{"http://[::1", "example.com", "", ""},
		{"%zz", "example.com", "", ""},
	}
	for _, tt := range tests {
		source, page := Referrer(tt.ref, tt.pageHost)
		if source != tt.wantSource || page != tt.wantPage {
			t.Errorf("Referrer(%q, %q) = %q, %q; want %q, %q", tt.ref, tt.pageHost, source, page, tt.wantSource, tt.wantPage)
		}
	}
}

func TestReferrerCapped(t *testing.T) {
	ref := "https://example.org/" + strings.Repeat("é", MaxReferrer)
	_, page := Referrer(ref, "example.com")
	if len(page) > MaxReferrer || !utf8.ValidString(page) || !strings.HasPrefix(page, "example.org/éé") {
		t.Errorf("Referrer of a long path = %d bytes %.40q..., want at most %d bytes of valid UTF-8", len(page), page, MaxReferrer)
	}
}

// FuzzReferrer checks that no referrer makes Referrer panic, and that what
// it returns is fit to store: valid UTF-8, capped, with no query or
// fragment, and both parts empty or neither.
func FuzzReferrer(f *testing.F) {
	for _, s := range []string{
		"https://www.google.com/search?q=x", "https://news.ycombinator.com/item?id=1",
		"android-app://com.google.android.gm/", "http://[2001:db8::1]:80/x", "news.ycombinator.com/item",
		"https://bücher.de/", "https://a..b/", "https://example.org/a%0Ab#f", "%zz", "http://[::1",
	} {
		f.Add(s, "example.com")
	}
	f.Add("https://blog.example.com/", "www.example.com")
	f.Add("https://x.github.io/", "github.io")
	f.Fuzz(func(t *testing.T, ref, pageHost string) {
		source, page := Referrer(ref, pageHost)
		if (source == "") != (page == "") {
			t.Fatalf("Referrer(%q, %q) = %q, %q: one part empty", ref, pageHost, source, page)
		}
		if !utf8.ValidString(source) || !utf8.ValidString(page) {
			t.Fatalf("Referrer(%q, %q) = %q, %q: not UTF-8", ref, pageHost, source, page)
		}
		if len(page) > MaxReferrer || strings.ContainsAny(page, "?#") {
			t.Fatalf("Referrer(%q, %q) = %q, %q: too long, or a query or fragment kept", ref, pageHost, source, page)
		}
	})
}

func BenchmarkReferrer(b *testing.B) {
	refs := []string{
		"https://www.google.com/search?q=x", "https://news.ycombinator.com/item?id=1",
		"https://blog.example.org/2024/post.html", "https://www.example.com/pricing",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Referrer(refs[i%len(refs)], "www.example.com")
	}
}

// FuzzReferrerShortcuts holds the shortcuts that spare Referrer work to
// the longer way each one skips.
func FuzzReferrerShortcuts(f *testing.F) {
	for _, s := range [][2]string{
		{"https://example.com/pricing", "example.com"},
		{"https://www.example.com/", "example.com"},
		{"http://example.com.?q", "www.example.com"},
		{"https://example.com/", "EXAMPLE.com:443"},
		{"https://www.google.com/", "example.com"},
		{"https://docs.example.co.uk/", "www.example.co.uk"},
		{"https://x.github.io/", "github.io"},
		{"http://192.0.2.7:8080/admin", "192.0.2.7"},
		{"http://[2001:db8::1]/x", "2001:db8::1"},
		{"https://user@example.com/", "example.com"},
		{"https://exa%41mple.com/", "exaAmple.com"},
		{"mail.google.com", "google.com"},
		{"blog.example.co.uk", "www.example.co.uk"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ref, pageHost string) {
		ref = strings.TrimSpace(ref)
		if ref != "" && sameHostLink(ref, pageHost) {
			if source, page := parseReferrer(ref, pageHost); source != "" || page != "" {
				t.Fatalf("sameHostLink(%q, %q), but parsed it is %q, %q", ref, pageHost, source, page)
			}
		}
		for _, s := range []string{ref, pageHost} {
			if got, want := normalizeHost(s), normalizeHostEverywhere(s); got != want {
				t.Fatalf("normalizeHost(%q) = %q, want %q", s, got, want)
			}
			if _, err := netip.ParseAddr(s); err == nil && !mayBeAddr(s) {
				t.Fatalf("mayBeAddr(%q) = false for an address", s)
			}
		}
		host, domain := trimWWW(normalizeHost(ref)), ""
		if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			domain = d
		}
		if got, want := selfReferral(host, domain, pageHost), selfReferralAlways(host, domain, pageHost); got != want {
			t.Fatalf("selfReferral(%q, %q, %q) = %v, want %v", host, domain, pageHost, got, want)
		}
	})
}

// normalizeHostEverywhere is normalizeHost asking SplitHostPort of every
// host.
func normalizeHostEverywhere(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// selfReferralAlways is selfReferral asking the public suffix list every
// time.
func selfReferralAlways(host, domain, pageHost string) bool {
	page := trimWWW(normalizeHost(pageHost))
	switch {
	case page == "":
		return false
	case page == host:
		return true
	case domain == "":
		return false
	}
	pageDomain, err := publicsuffix.EffectiveTLDPlusOne(page)
	return err == nil && pageDomain == domain
}
