package derive

import (
	"net/netip"
	"sync"
	"testing"
)

// TestConcurrentLookups runs the lookups from several goroutines, as
// ingest handlers do, for the race detector to see: the parsers build
// their tables once on first use.
func TestConcurrentLookups(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if c := ParseUserAgent(uaSafariIPad, 0); c.Device != "Tablet" {
					t.Errorf("ParseUserAgent = %+v", c)
				}
				if c := Country(netip.MustParseAddr("2001:4860:4860::8888")); c != "US" {
					t.Errorf("Country = %q", c)
				}
				if s, _ := Referrer("https://www.google.com/", "example.com"); s != "Google" {
					t.Errorf("Referrer source = %q", s)
				}
			}
		})
	}
	wg.Wait()
}
