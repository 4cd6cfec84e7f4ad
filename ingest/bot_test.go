package ingest

import (
	"strings"
	"testing"
)

func TestIsBot(t *testing.T) {
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
		if got := isBot(c.ua); got != c.bot {
			t.Errorf("isBot(%.100q) = %v, want %v", c.ua, got, c.bot)
		}
	}
}

func BenchmarkIsBot(b *testing.B) {
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	b.ReportAllocs()
	for b.Loop() {
		isBot(ua)
	}
}
