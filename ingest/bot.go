package ingest

import "bytes"

// isBot reports whether a User-Agent is a crawler's or a headless
// browser's, whose events are kept but never counted as views. HTTP client
// libraries (curl, Go-http-client, python-requests, Wget, okhttp, axios,
// node-fetch) and an empty User-Agent are not bots: servers use them to
// send real events on behalf of their users.
func isBot(ua string) bool {
	// Real User-Agents are well under 512 bytes; looking at no more bounds
	// the work a hostile header can cause, and keeps the copy on the stack.
	var buf [512]byte
	b := buf[:copy(buf[:], ua)]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	// CUBOT is a maker of phones, not a robot.
	for i := bytes.Index(b, []byte("cubot")); i >= 0; i = bytes.Index(b, []byte("cubot")) {
		b[i+2] = '_'
	}
	for _, token := range [...]string{
		"bot",        // Googlebot, bingbot, YandexBot, Applebot, DuckDuckBot, Twitterbot, AdsBot-Google, ...
		"crawl",      // crawler, crawling
		"spider",     // Baiduspider, Sogou web spider
		"slurp",      // Yahoo! Slurp
		"headless",   // HeadlessChrome: Puppeteer, Playwright
		"phantomjs",  // PhantomJS
		"lighthouse", // Chrome-Lighthouse
		"pagespeed",  // Google PageSpeed Insights
		"page speed", // ... as its older User-Agent spells it
		"prerender",  // services that render pages for crawlers
		"facebookexternalhit",
		"ia_archiver", // Alexa, the Wayback Machine
		"mediapartners-google",
		"google-inspectiontool",
		"googleother",
		"feedfetcher",
		"bingpreview",
		"scrapy",
	} {
		if bytes.Contains(b, []byte(token)) {
			return true
		}
	}
	return false
}
