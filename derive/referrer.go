package derive

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// MaxReferrer is the longest referrer Referrer returns, in bytes; longer
// paths are cut so one odd link cannot bloat every report row it lands in.
const MaxReferrer = 1000

// Referrer returns where a visit came from, given the page's Referer (a
// URL) and the host name of the page it led to.
//
// source is the name of a well-known site from our own table ("Google",
// "Hacker News", "Gmail", "ChatGPT", ...) or else the referrer's registrable
// domain ("example.org" for "https://blog.example.org/post"), its host
// when it has none (an IP address, "localhost"). referrer is the referring
// page without scheme, credentials, port, query or fragment, a leading
// "www." or a trailing "/": "news.ycombinator.com/item".
//
// Both are "" for no referrer, one that is not an http(s) URL (a host with
// a path and no scheme is taken as https), and for a self-referral: a page
// of the same registrable domain as pageHost (any subdomain, and the www.
// variant), since moving around one site is not a source of traffic.
// Android apps send "android-app://<package>/": a known package gets its
// name, another one its package name as source.
func Referrer(ref, pageHost string) (source, referrer string) {
	ref = strings.TrimSpace(ref)
	if ref == "" || sameHostLink(ref, pageHost) {
		return "", ""
	}
	return parseReferrer(ref, pageHost)
}

// parseReferrer is Referrer for a trimmed, non-empty ref.
func parseReferrer(ref, pageHost string) (source, referrer string) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", ""
	}
	schemeless := u.Scheme == ""
	if schemeless {
		if u, err = url.Parse("https://" + strings.TrimPrefix(ref, "//")); err != nil {
			return "", ""
		}
	}
	if u.Opaque != "" {
		return "", ""
	}
	host := trimWWW(normalizeHost(u.Hostname()))
	if !validHost(host) {
		return "", ""
	}
	switch u.Scheme {
	case "http", "https":
	case "android-app":
		if name, ok := androidApps[host]; ok {
			return name, host
		}
		return host, host
	default:
		return "", ""
	}
	domain, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		if schemeless {
			// "garbage" or "localhost/x" without a scheme is more likely
			// junk than a link from a host without a domain.
			return "", ""
		}
		domain = ""
	}
	if selfReferral(host, domain, pageHost) {
		return "", ""
	}

	source = lookupSource(host, domain)
	if source == "" {
		source = domain
	}
	if source == "" {
		source = host
	}
	path := u.Path
	if !plainPath(path) {
		path = u.EscapedPath()
	}
	path = strings.TrimRight(path, "/")
	return source, capString(host+path, MaxReferrer)
}

// sameHostLink reports, without parsing a URL, whether ref is a plain
// http(s) link within pageHost ("https://www.example.com/next" on
// example.com), the referrer of most page views: a visitor moving around
// one site. Referrer would parse it only to find a self-referral; what this
// does not recognise, Referrer parses.
func sameHostLink(ref, pageHost string) bool {
	rest, ok := strings.CutPrefix(ref, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(ref, "http://"); !ok {
			return false
		}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if authority == "" {
		return false
	}
	// Only lower-case letters, digits, dots and hyphens: no user
	// information, port, brackets or escapes, so that this is the host
	// url.Parse finds, already in normal form but for a trailing dot.
	for i := 0; i < len(authority); i++ {
		c := authority[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	page := trimWWW(normalizeHost(pageHost))
	return page != "" && trimWWW(strings.TrimSuffix(authority, ".")) == page
}

// normalizeHost returns host in lower case without a port or a trailing
// dot.
func normalizeHost(host string) string {
	// Without a colon there is no port, and SplitHostPort would only make
	// an error to say so.
	if strings.Contains(host, ":") {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// trimWWW strips a leading "www." from a host name that keeps a dot.
func trimWWW(host string) string {
	if rest, ok := strings.CutPrefix(host, "www."); ok && strings.Contains(rest, ".") {
		return rest
	}
	return host
}

// selfReferral reports whether host (www. trimmed) with registrable
// domain (or "") belongs to the same site as pageHost.
func selfReferral(host, domain, pageHost string) bool {
	page := trimWWW(normalizeHost(pageHost))
	switch {
	case page == "":
		return false
	case page == host:
		return true
	case domain == "":
		return false
	}
	// The page's registrable domain is a suffix of it at a dot: when
	// domain is not one, the public suffix list need not be asked.
	if rest, ok := strings.CutSuffix(page, domain); !ok || rest != "" && !strings.HasSuffix(rest, ".") {
		return false
	}
	pageDomain, err := publicsuffix.EffectiveTLDPlusOne(page)
	return err == nil && pageDomain == domain
}

// validHost reports whether host (lower case) is an IP address or a DNS
// name of 1-63 byte labels of letters, digits, '-' and '_', or of
// non-ASCII UTF-8 (internationalised names as browsers show them).
func validHost(host string) bool {
	if host == "" || len(host) > 253 || !utf8.ValidString(host) {
		return false
	}
	if mayBeAddr(host) {
		if _, err := netip.ParseAddr(host); err == nil {
			return true
		}
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '_':
			case r >= utf8.RuneSelf && r != utf8.RuneError && !isSpaceOrControl(r):
			default:
				return false
			}
		}
	}
	return true
}

// mayBeAddr reports whether netip.ParseAddr might take s: an IPv6 address
// has a colon, an IPv4 one only digits and dots. Asking only then spares
// the error it makes for every host name.
func mayBeAddr(s string) bool {
	if strings.Contains(s, ":") {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// plainPath reports whether a decoded path can be shown as it is: valid
// UTF-8 without control characters, and without '?' or '#', which would
// read as a query or fragment.
func plainPath(s string) bool {
	if !utf8.ValidString(s) || strings.ContainsAny(s, "?#") {
		return false
	}
	for _, r := range s {
		if isSpaceOrControl(r) && r != ' ' {
			return false
		}
	}
	return true
}

func isSpaceOrControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (0x80 <= r && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == ' ' || r == 0xa0
}

// lookupSource returns the name our table gives host, tried as it is and
// then as each parent domain down to its registrable domain, or by the
// brand of a registrable domain under any ICANN suffix ("google.co.uk");
// "" when unknown.
func lookupSource(host, domain string) string {
	for h := host; ; {
		if name, ok := knownSources[h]; ok {
			return name
		}
		i := strings.IndexByte(h, '.')
		if domain == "" || h == domain || i < 0 {
			break
		}
		h = h[i+1:]
	}
	if domain == "" {
		return ""
	}
	suffix, icann := publicsuffix.PublicSuffix(domain)
	if !icann {
		return ""
	}
	return knownBrands[strings.TrimSuffix(domain, "."+suffix)]
}

// knownSources names the sites that send most traffic, by host or by a
// domain covering its subdomains. A more specific host wins over its
// domain ("mail.google.com" is Gmail, not Google). Written for sitelog
// from the sites' own addresses.
var knownSources = map[string]string{
	// Search engines.
	"google.com":           "Google",
	"bing.com":             "Bing",
	"duckduckgo.com":       "DuckDuckGo",
	"search.yahoo.com":     "Yahoo!",
	"yahoo.com":            "Yahoo!",
	"yandex.ru":            "Yandex",
	"ya.ru":                "Yandex",
	"baidu.com":            "Baidu",
	"ecosia.org":           "Ecosia",
	"search.brave.com":     "Brave Search",
	"startpage.com":        "Startpage",
	"qwant.com":            "Qwant",
	"kagi.com":             "Kagi",
	"naver.com":            "Naver",
	"seznam.cz":            "Seznam",
	"sogou.com":            "Sogou",
	"so.com":               "360 Search",
	"search.aol.com":       "AOL",
	"ask.com":              "Ask",
	"mojeek.com":           "Mojeek",
	"presearch.com":        "Presearch",
	"metager.org":          "MetaGer",
	"search.marginalia.nu": "Marginalia",

	// Social networks, forums and link aggregators.
	"facebook.com":         "Facebook",
	"fb.com":               "Facebook",
	"fb.me":                "Facebook",
	"messenger.com":        "Facebook",
	"instagram.com":        "Instagram",
	"threads.net":          "Threads",
	"threads.com":          "Threads",
	"twitter.com":          "Twitter",
	"x.com":                "Twitter",
	"t.co":                 "Twitter",
	"linkedin.com":         "LinkedIn",
	"lnkd.in":              "LinkedIn",
	"reddit.com":           "Reddit",
	"redd.it":              "Reddit",
	"news.ycombinator.com": "Hacker News",
	"lobste.rs":            "Lobsters",
	"github.com":           "GitHub",
	"gitlab.com":           "GitLab",
	"codeberg.org":         "Codeberg",
	"stackoverflow.com":    "Stack Overflow",
	"stackexchange.com":    "Stack Exchange",
	"youtube.com":          "YouTube",
	"youtu.be":             "YouTube",
	"tiktok.com":           "TikTok",
	"pinterest.com":        "Pinterest",
	"pin.it":               "Pinterest",
	"bsky.app":             "Bluesky",
	"mastodon.social":      "Mastodon",
	"discord.com":          "Discord",
	"discordapp.com":       "Discord",
	"slack.com":            "Slack",
	"t.me":                 "Telegram",
	"telegram.org":         "Telegram",
	"whatsapp.com":         "WhatsApp",
	"wa.me":                "WhatsApp",
	"vk.com":               "VK",
	"weibo.com":            "Weibo",
	"quora.com":            "Quora",
	"tumblr.com":           "Tumblr",
	"medium.com":           "Medium",
	"substack.com":         "Substack",
	"producthunt.com":      "Product Hunt",
	"wikipedia.org":        "Wikipedia",
	"news.google.com":      "Google News",

	// Webmail.
	"mail.google.com":       "Gmail",
	"outlook.live.com":      "Outlook.com",
	"outlook.office.com":    "Outlook.com",
	"outlook.office365.com": "Outlook.com",
	"mail.yahoo.com":        "Yahoo! Mail",
	"mail.proton.me":        "Proton Mail",
	"mail.protonmail.com":   "Proton Mail",
	"fastmail.com":          "Fastmail",
	"mail.zoho.com":         "Zoho Mail",
	"mail.yandex.ru":        "Yandex Mail",
	"mail.aol.com":          "AOL Mail",
	"gmx.net":               "GMX",
	"gmx.de":                "GMX",
	"gmx.com":               "GMX",
	"web.de":                "WEB.DE",
	"mail.ru":               "Mail.ru",
	"mail.tutanota.com":     "Tuta",
	"app.tuta.com":          "Tuta",

	// AI chat services.
	"chatgpt.com":           "ChatGPT",
	"chat.openai.com":       "ChatGPT",
	"perplexity.ai":         "Perplexity",
	"claude.ai":             "Claude",
	"gemini.google.com":     "Gemini",
	"bard.google.com":       "Gemini",
	"copilot.microsoft.com": "Copilot",
	"chat.deepseek.com":     "DeepSeek",
	"chat.mistral.ai":       "Mistral",
	"you.com":               "You.com",
	"phind.com":             "Phind",
	"grok.com":              "Grok",
	"meta.ai":               "Meta AI",
}

// knownBrands names the sites that run one search engine or network under
// many country domains ("google.de", "google.co.uk"), by the label before
// the ICANN public suffix.
var knownBrands = map[string]string{
	"google":    "Google",
	"yahoo":     "Yahoo!",
	"yandex":    "Yandex",
	"bing":      "Bing",
	"pinterest": "Pinterest",
	"amazon":    "Amazon",
	"ebay":      "eBay",
}

// androidApps names the Android apps that send their package as referrer
// ("android-app://com.google.android.gm/").
var androidApps = map[string]string{
	"com.google.android.gm":                   "Gmail",
	"com.google.android.googlequicksearchbox": "Google",
	"com.google.android.youtube":              "YouTube",
	"com.google.android.apps.bard":            "Gemini",
	"com.twitter.android":                     "Twitter",
	"com.facebook.katana":                     "Facebook",
	"com.facebook.orca":                       "Facebook",
	"com.instagram.android":                   "Instagram",
	"com.linkedin.android":                    "LinkedIn",
	"com.reddit.frontpage":                    "Reddit",
	"com.slack":                               "Slack",
	"com.discord":                             "Discord",
	"org.telegram.messenger":                  "Telegram",
	"com.whatsapp":                            "WhatsApp",
	"com.microsoft.office.outlook":            "Outlook.com",
	"com.openai.chatgpt":                      "ChatGPT",
	"ai.perplexity.app.android":               "Perplexity",
	"org.joinmastodon.android":                "Mastodon",
	"xyz.blueskyweb.app":                      "Bluesky",
}
