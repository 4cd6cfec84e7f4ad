package derive

import "testing"

// User-Agents as current browsers send them.
const (
	uaChromeWindows  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaEdgeWindows    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaSafariMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	uaChromeMac      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaEdgeMac        = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaChromeLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxLinux   = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaEdgeLinux      = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaChromeIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
	uaFirefoxIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15"
	uaEdgeIPhone     = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/131.0.2903.68 Mobile/15E148 Safari/605.1.15"
	uaSafariIPad     = "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1"
	uaChromeAndroid  = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	uaFirefoxAndroid = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
	uaEdgeAndroid    = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0"
	uaSamsungAndroid = "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
	uaChromeTablet   = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxTablet  = "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0"
	uaSamsungTV      = "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)

func TestParseUserAgent(t *testing.T) {
	tests := []struct {
		ua          string
		screenWidth int
		want        Client
	}{
		{uaChromeWindows, 0, Client{"Chrome", "Windows", "Desktop"}},
		{uaFirefoxWindows, 0, Client{"Firefox", "Windows", "Desktop"}},
		{uaEdgeWindows, 0, Client{"Edge", "Windows", "Desktop"}},
		{uaSafariMac, 0, Client{"Safari", "MacOS", "Desktop"}},
		{uaChromeMac, 0, Client{"Chrome", "MacOS", "Desktop"}},
		{uaFirefoxMac, 0, Client{"Firefox", "MacOS", "Desktop"}},
		{uaEdgeMac, 0, Client{"Edge", "MacOS", "Desktop"}},
		{uaChromeLinux, 0, Client{"Chrome", "Linux", "Desktop"}},
		{uaFirefoxLinux, 0, Client{"Firefox", "Linux", "Desktop"}},
		{uaEdgeLinux, 0, Client{"Edge", "Linux", "Desktop"}},
		{uaSafariIPhone, 0, Client{"Safari", "iOS", "Mobile"}},
		{uaChromeIPhone, 0, Client{"Chrome", "iOS", "Mobile"}},
		{uaFirefoxIPhone, 0, Client{"Firefox", "iOS", "Mobile"}},
		{uaEdgeIPhone, 0, Client{"Edge", "iOS", "Mobile"}},
		{uaSafariIPad, 0, Client{"Safari", "iOS", "Tablet"}},
		{uaChromeAndroid, 0, Client{"Chrome", "Android", "Mobile"}},
		{uaFirefoxAndroid, 0, Client{"Firefox", "Android", "Mobile"}},
		{uaEdgeAndroid, 0, Client{"Edge", "Android", "Mobile"}},
		{uaSamsungAndroid, 0, Client{"Samsung Browser", "Android", "Mobile"}},
		{uaSamsungTV, 0, Client{"Samsung Browser", "Linux", "TV"}},

		// Android tablets leave out "Mobile"; Firefox says "Tablet".
		{uaChromeTablet, 0, Client{"Chrome", "Android", "Tablet"}},
		{uaFirefoxTablet, 0, Client{"Firefox", "Android", "Tablet"}},

		// iPadOS sends a Mac User-Agent; the screen gives it away.
		{uaSafariMac, 820, Client{"Safari", "iOS", "Tablet"}},
		{uaSafariMac, 1440, Client{"Safari", "MacOS", "Desktop"}},

		// The User-Agent's device wins over the screen width.
		{uaChromeWindows, 400, Client{"Chrome", "Windows", "Desktop"}},
		{uaSafariIPhone, 1200, Client{"Safari", "iOS", "Mobile"}},

		// No device in the User-Agent: the screen width decides.
		{"curl/8.5.0", 0, Client{}},
		{"curl/8.5.0", 390, Client{"", "", "Mobile"}},
		{"curl/8.5.0", 575, Client{"", "", "Mobile"}},
		{"curl/8.5.0", 576, Client{"", "", "Tablet"}},
		{"curl/8.5.0", 991, Client{"", "", "Tablet"}},
		{"curl/8.5.0", 992, Client{"", "", "Desktop"}},
		{"", 1920, Client{"", "", "Desktop"}},
		{"", -1, Client{}},

		// A crawler is no device of ours (bots are told apart elsewhere).
		{"Googlebot/2.1 (+http://www.google.com/bot.html)", 0, Client{}},
	}
	for _, tt := range tests {
		if got := ParseUserAgent(tt.ua, tt.screenWidth); got != tt.want {
			t.Errorf("ParseUserAgent(%.60q, %d) = %+v, want %+v", tt.ua, tt.screenWidth, got, tt.want)
		}
	}
}

func BenchmarkParseUserAgent(b *testing.B) {
	uas := []string{uaChromeWindows, uaSafariIPhone, uaChromeTablet, uaFirefoxLinux, uaEdgeMac}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ParseUserAgent(uas[i%len(uas)], 1280)
	}
}

// TestAgentClient checks that one parse serves every screen width, as
// ingest reuses it for the requests of one User-Agent.
func TestAgentClient(t *testing.T) {
	tests := []struct {
		ua    string
		width int
		want  Client
	}{
		{uaSafariMac, 820, Client{"Safari", "iOS", "Tablet"}},
		{uaSafariMac, 1440, Client{"Safari", "MacOS", "Desktop"}},
		{uaSafariMac, 0, Client{"Safari", "MacOS", "Desktop"}},
		{uaSafariMac, 820, Client{"Safari", "iOS", "Tablet"}},
		{uaChromeTablet, 390, Client{"Chrome", "Android", "Tablet"}},
		{"curl/8.5.0", 390, Client{"", "", "Mobile"}},
		{"curl/8.5.0", 0, Client{}},
		{"curl/8.5.0", 1920, Client{"", "", "Desktop"}},
	}
	agents := map[string]Agent{}
	for _, tt := range tests {
		a, ok := agents[tt.ua]
		if !ok {
			a = ParseAgent(tt.ua)
			agents[tt.ua] = a
		}
		if got := a.Client(tt.width); got != tt.want {
			t.Errorf("ParseAgent(%.60q).Client(%d) = %+v, want %+v", tt.ua, tt.width, got, tt.want)
		}
	}
}
