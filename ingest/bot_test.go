package ingest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// testBots returns a detector built from the embedded list.
func testBots(t testing.TB) *botDetector {
	t.Helper()
	d, err := newBotDetector(crawlerList, ownTokens())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// listEntry is an entry of the list, with its examples.
type listEntry struct {
	Pattern   string   `json:"pattern"`
	Tags      []string `json:"tags"`
	Instances []string `json:"instances"`
}

// testCrawlerList returns the entries of the embedded list.
func testCrawlerList(t testing.TB) []listEntry {
	t.Helper()
	var entries []listEntry
	if err := json.Unmarshal(crawlerList, &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestIsBot(t *testing.T) {
	d := testBots(t)
	for _, c := range []struct {
		ua  string
		bot bool
	}{
		// Crawlers.
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/120.0.6099.129 Safari/537.36", true},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
		{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", true},
		{"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", true},
		{"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", true},
		{"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", true},
		{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"Twitterbot/1.0", true},
		{"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", true},
		{"CCBot/2.0 (https://commoncrawl.org/faq/)", true},
		{"ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)", true},
		{"Mediapartners-Google", true},
		{"Mozilla/5.0 (compatible; Google-InspectionTool/1.0)", true},
		{"Scrapy/2.11.0 (+https://scrapy.org)", true},
		{"Some Web Crawler", true},
		// Headless browsers and page auditors.
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", true},
		{"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1", true},
		{"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", true},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 PTST/240101.101010 Google Page Speed Insights", true},
		// People's browsers.
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", false},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15", false},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1", false},
		{"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", false},
		// HTTP clients that servers send real events with.
		{"", false},
		{"curl/8.5.0", false},
		{"Go-http-client/1.1", false},
		{"Go-http-client/2.0", false},
		{"python-requests/2.31.0", false},
		{"Python-urllib/3.12", false},
		{"Wget/1.21.4", false},
		{"okhttp/4.12.0", false},
		{"axios/1.6.2", false},
		{"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", false},
		{"node", false},
		// Only the first 512 bytes are looked at.
		{strings.Repeat("x", 503) + "Googlebot", true},
		{strings.Repeat("x", 512) + "Googlebot", false},
	} {
		if got := d.isBot(c.ua); got != c.bot {
			t.Errorf("isBot(%.100q) = %v, want %v", c.ua, got, c.bot)
		}
	}
}

// peoplesBrowsers are User-Agents of browsers people use, none of them a
// bot's: desktop and mobile, in-app browsers, and the devices that some of
// the list's patterns once matched too.
func peoplesBrowsers() []string {
	return []string{
		// Desktop.
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; CrOS x86_64 13099.110.2) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.136 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.91 Safari/537.36 Vivaldi/1.92.917.39",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 YaBrowser/24.12.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/81.0.158 Chrome/75.0.3770.158 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
		"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; GTB7.5; .NET CLR 1.1.4322; .NET CLR 2.0.50727; SynapseWorkstation.3.2.1; InfoPath.3)",
		// Mobile.
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/112.0.5615.167 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/13.2b11866 Mobile/16A366 Safari/605.1.15",
		"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/125.0.2535.87 Version/17.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 12; moto g stylus 5G (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Mobile Safari/537.36 EdgA/111.0.1661.59",
		"Mozilla/5.0 (Linux; Android 8.0.0; SAMSUNG SM-G960F/G960FXXS2BRK3) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/20.0 Chrome/106.0.5249.126 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; arm_64; Android 11; Redmi Note 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 YaBrowser/23.3.6.28.00 (beta) SA/3 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; U; Android 12; fr-fr; Xiaomi 11 Lite 5G NE Build/SKQ1.211006.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.116 Mobile Safari/537.36 XiaoMi/MiuiBrowser/12.22.0.3-gn",
		"Mozilla/5.0 (Linux; Android 10; HarmonyOS; CLT-AL00; HMSCore 6.10.0.312; GMSCore 22.15.14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/13.0.5.302 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; U; Android 4.0.4; en-US; LG-P500 Build/BCM21654AndroidTK_SystemRel_1.3.2P.05) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 UCBrowser/10.6.0.586 U3/0.8.0 Mobile Safari/534.30",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0",
		"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 9; CUBOT KING KONG 3 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 4.4.2; HTC Butterfly Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/44.0.2403.133 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 15; CPH2581 Build/AP3A.240617.008; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36",
		// In-app browsers, tablets, TVs, consoles.
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/20E252 [FBAN/FBIOS;FBAV/411.0.0.33.109;FBBV/466623474;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/16.4.1;FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5;FBRV/469112684]",
		"Mozilla/5.0 (Linux; Android 12; motorola edge plus 5G UW (2022) Build/S3SHS32.12-41-4-4; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/411.1.0.29.112;]",
		"Mozilla/5.0 (Linux; Android 10; Redmi Note 9 Pro Build/QKQ1.191215.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/110.0.5481.153 Mobile Safari/537.36 Instagram 274.0.0.26.90 Android (29/10; 440dpi; 1080x2168; Xiaomi/Redmi; Redmi Note 9 Pro; joyeuse; qcom; es_ES; 456141810)",
		"Mozilla/5.0 (Linux; Android 8.1.0; CPH1901 Build/OPM1.171019.026; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/98.0.4758.101 Mobile Safari/537.36 GSA/13.6.7.23.arm64",
		"Mozilla/5.0 (Linux; Android 12; vivo 2018 Build/SP1A.210812.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.101 Mobile Safari/537.36 Line/13.5.1 LIFF",
		"Mozilla/5.0 (Linux; Android 9; SM-N960F Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile Safari/537.36 Snapchat/12.30.0.27 (SM-N960F; Android 9#N960FXXU2CSA2#28; gzip; )",
		"Mozilla/5.0 (Linux; Android 11; KFTUWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/128.5.6 like Chrome/128.0.0.0 Safari/537.36",
		"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
		"Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
	}
}

func TestIsBotPeoplesBrowsers(t *testing.T) {
	d := testBots(t)
	for _, ua := range peoplesBrowsers() {
		if d.isBot(ua) {
			t.Errorf("isBot(%q) = true, want false", ua)
		}
	}
}

// TestIsBotCrawlerList checks the detector against the examples that the
// list gives of each pattern: those of crawlers are detected, those of HTTP
// libraries are not, unless the own tokens catch them.
func TestIsBotCrawlerList(t *testing.T) {
	d := testBots(t)
	fixes := listFixes()
	// HTTP libraries' examples that name themselves a bot or crawler, or
	// are a crawling framework, and are counted as bots all the same.
	libraryBots := []string{
		"WGETbot/1.0 (+http://wget.alanreed.org)",
		"amibot - http://www.amidalla.de - tech@amidalla.com libwww-perl/5.831",
		"phpcrawl",
		"SimpleCrawler/0.1",
		"crawler4j (http://code.google.com/p/crawler4j/)",
		"crawler4j (https://github.com/yasserg/crawler4j/)",
		"Scrapy/1.0.3 (+http://scrapy.org)",
		"Mozilla/5.0 (compatible; GoParserBot/1.0)",
		"rawweb-bot/1.0",
	}
	var crawlers, libraries int
	var gotLibraryBots []string
	for _, e := range testCrawlerList(t) {
		if fix, ok := fixes[e.Pattern]; ok && fix == "" {
			continue
		}
		library := slices.Contains(e.Tags, httpLibrary)
		for _, ua := range e.Instances {
			got := d.isBot(ua)
			switch {
			case library && got:
				gotLibraryBots = append(gotLibraryBots, ua)
			case library:
				libraries++
			case !got:
				t.Errorf("isBot(%q) = false, want true: an example of %q", ua, e.Pattern)
			default:
				crawlers++
			}
		}
	}
	if !slices.Equal(gotLibraryBots, libraryBots) {
		t.Errorf("HTTP libraries' examples detected as bots:\n%q\nwant:\n%q", gotLibraryBots, libraryBots)
	}
	t.Logf("%d crawlers' examples detected, %d HTTP libraries' not", crawlers, libraries)
}

// TestListFixes checks that each pattern that listFixes replaces is still
// in the list, matches one of people's browsers, and that what replaces it
// matches none of them but still every example of the pattern.
func TestListFixes(t *testing.T) {
	entries := testCrawlerList(t)
	for from, to := range listFixes() {
		i := slices.IndexFunc(entries, func(e listEntry) bool { return e.Pattern == from })
		if i < 0 {
			t.Errorf("fix of %q: no longer in the list", from)
			continue
		}
		fromRE := regexp.MustCompile(from)
		if !slices.ContainsFunc(peoplesBrowsers(), fromRE.MatchString) {
			t.Errorf("fix of %q: the pattern matches none of people's browsers", from)
		}
		if to == "" {
			continue
		}
		toRE := regexp.MustCompile(to)
		for _, ua := range peoplesBrowsers() {
			if toRE.MatchString(ua) {
				t.Errorf("fix %q of %q matches %q", to, from, ua)
			}
		}
		for _, ua := range entries[i].Instances {
			if !toRE.MatchString(ua) {
				t.Errorf("fix %q of %q does not match the example %q", to, from, ua)
			}
		}
	}
}

// TestIsBotWhole lists the list's patterns that are not just a few
// strings, so that their regexps run on the whole User-Agent (once at
// most), and those among them in which no literal of at least minLiteral
// bytes was found, which run on every User-Agent. A new version of the
// list that adds one shows up here: it should be cheap (a literal prefix)
// or be fixed in listFixes.
func TestIsBotWhole(t *testing.T) {
	d := testBots(t)
	var whole, always []string
	for i, re := range d.whole {
		whole = append(whole, re.String())
		if d.always&(1<<i) != 0 {
			always = append(always, re.String())
		}
	}
	wantWhole := []string{
		`AdsBot-Google([^-]|$)`,
		`BlogTraffic\/\d\.\d+ Feed-Fetcher`,
		`^Synapse\b`,
		`ContextualBot[\s\S]*outcomes\.net`,
		`Current[\s\S]*RSS Reader`,
		`Spider[\s\S]*spider\.com`,
	}
	if !slices.Equal(whole, wantWhole) {
		t.Errorf("patterns tried on the whole User-Agent:\n%q\nwant\n%q", whole, wantWhole)
	}
	if always != nil {
		t.Errorf("patterns tried on every User-Agent: %q, want none", always)
	}
}

// TestIsBotSmallList checks the ways a pattern is tried, on a list of its
// own.
func TestIsBotSmallList(t *testing.T) {
	d, err := newBotDetector([]byte(`[
		{"pattern": "^[0-9]+$", "tags": ["scanner"]},
		{"pattern": "Wanderer/\\d", "tags": ["seo"]},
		{"pattern": "(^| )Roamer/", "tags": ["seo"]},
		{"pattern": "Ramble[\\s\\S]*Ramble", "tags": ["seo"]},
		{"pattern": "Fetchit", "tags": ["http-library"]}
	]`), ownTokens())
	if err != nil {
		t.Fatal(err)
	}
	var whole []string
	for _, re := range d.whole {
		whole = append(whole, re.String())
	}
	if want := []string{"^[0-9]+$", "Ramble[\\s\\S]*Ramble"}; !slices.Equal(whole, want) || d.always != 1 {
		t.Errorf("whole = %q, always = %b, want %q, 1", whole, d.always, want)
	}
	for ua, want := range map[string]bool{
		// No literal: tried on every User-Agent.
		"12345":  true,
		"12345 ": false,
		// A few strings: the spellings where the literal is found.
		"x Wanderer/2 y":   true,
		"x wanderer/2 y":   false,
		"x Wanderer/x y":   false,
		"Roamer/1":         true,
		" Roamer/1":        true,
		"xRoamer/1":        false,
		"xRoamer/ Roamer/": true,
		"ROAMER/ roamer/":  false,
		// Otherwise the regexp on the whole User-Agent.
		"Ramble on, Ramble": true,
		"Ramble on, ramble": false,
		// HTTP libraries are left out.
		"Fetchit/1.0": false,
		// Own tokens; CUBOT is no bot.
		"Cubot Wanderer/9": true,
		"cubot":            false,
		"CUBOT_X30 robot":  true,
	} {
		if got := d.isBot(ua); got != want {
			t.Errorf("isBot(%q) = %v, want %v", ua, got, want)
		}
	}

	var many []crawlerEntry
	for i := range 65 {
		many = append(many, crawlerEntry{Pattern: fmt.Sprintf("p%03d.*q", i)})
	}
	list, err := json.Marshal(many)
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range []string{`{`, `[{"pattern": "(", "tags": []}]`, string(list)} {
		if _, err := newBotDetector([]byte(list), nil); err == nil {
			t.Errorf("newBotDetector(%.40s...) succeeded", list)
		}
	}
}

// FuzzDetectorAgreesWithRegexp checks that a detector of one pattern finds
// a User-Agent exactly when the pattern's regexp matches its first
// maxUALen bytes, whatever the pattern: that the literals taken from it
// miss no match, and that comparing spellings where they are found is the
// regexp. The seeds are every example of the list, also in upper and lower
// case, against its own pattern.
func FuzzDetectorAgreesWithRegexp(f *testing.F) {
	fixes := listFixes()
	for _, e := range testCrawlerList(f) {
		if _, fixed := fixes[e.Pattern]; fixed {
			continue
		}
		for _, ua := range e.Instances {
			f.Add(e.Pattern, ua)
			f.Add(e.Pattern, strings.ToUpper(ua))
			f.Add(e.Pattern, strings.ToLower(ua))
		}
	}
	f.Add(`(^| )PTST\/`, "xPTST/ PTST/")
	f.Add(`SSL Labs$`, "SSL Labs SSL Labs")
	f.Add(`(?i)kelvin`, "\u212aelvin")
	f.Add(`abc\x{FFFD}def`, "abc\xffdef")
	f.Fuzz(func(t *testing.T, pattern, ua string) {
		if _, fixed := fixes[pattern]; fixed {
			return
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		list, err := json.Marshal([]crawlerEntry{{Pattern: pattern}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := newBotDetector(list, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := re.MatchString(ua[:min(len(ua), maxUALen)])
		if got := d.isBot(ua); got != want {
			t.Fatalf("pattern %q, User-Agent %q: isBot = %v, the regexp says %v", pattern, ua, got, want)
		}
	})
}

func BenchmarkIsBot(b *testing.B) {
	d := testBots(b)
	for _, c := range []struct{ name, ua string }{
		{"browser", browserUA},
		{"mobile", "Mozilla/5.0 (Linux; Android 8.0.0; SAMSUNG SM-G960F/G960FXXS2BRK3) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/20.0 Chrome/106.0.5249.126 Mobile Safari/537.36"},
		{"bot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/120.0.6099.129 Safari/537.36"},
		// A crawler that only the list knows.
		{"listed", "Mozilla/5.0 (compatible; Yahoo Ad monitoring; https://help.yahoo.com/kb/yahoo-ad-monitoring-SLN24857.html)"},
		// Literals all along that are never the pattern's spelling, or
		// start a pattern tried on the whole User-Agent.
		{"hostile", strings.Repeat("xPTST/ Sentry/ ", 40)},
		{"hostile-whole", strings.Repeat("Current RSS READER ", 30)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.isBot(c.ua)
			}
		})
	}
}

// BenchmarkNewBotDetector is the start-up cost of the detector, paid by
// each New.
func BenchmarkNewBotDetector(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newBotDetector(crawlerList, ownTokens()); err != nil {
			b.Fatal(err)
		}
	}
}
