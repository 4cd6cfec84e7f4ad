package derive

import (
	"strings"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Client is what a User-Agent says about the browser that sent it. Names
// are those of github.com/medama-io/go-useragent ("Chrome", "Firefox",
// "Safari", "Edge", ...; "Windows", "MacOS", "Linux", "iOS", "Android",
// ...); "" is unknown.
type Client struct {
	Browser string
	OS      string
	Device  string // "Desktop", "Mobile", "Tablet", "TV" or ""
}

// Screen widths (CSS pixels) below which a device of unknown kind is taken
// to be a phone or a tablet; the common layout breakpoints.
const (
	mobileWidth = 576
	tabletWidth = 992
)

// ParseUserAgent returns the browser, OS and device of ua. When ua names
// no device, screenWidth (CSS pixels, 0 when unknown) decides it: below
// 576 Mobile, below 992 Tablet, else Desktop.
//
// Two corrections to the parser: an Android User-Agent without "Mobile"
// (or with "Tablet") is a tablet, as Android browsers mark phones and
// not tablets; and a Mac User-Agent from a screen narrower than 992 is an
// iPad, since iPadOS sends the Mac one by default and no Mac screen is
// that narrow.
func ParseUserAgent(ua string, screenWidth int) Client {
	// NewParser builds its trie once per process and returns the same
	// parser after that, safe for concurrent use.
	a := useragent.NewParser().Parse(ua)
	c := Client{Browser: a.Browser().String(), OS: a.OS().String()}
	switch d := a.Device(); d {
	case agents.DeviceDesktop, agents.DeviceMobile, agents.DeviceTablet, agents.DeviceTV:
		c.Device = d.String()
	}
	switch {
	case c.OS == string(agents.OSAndroid) && c.Device == string(agents.DeviceMobile) &&
		(!strings.Contains(ua, "Mobile") || strings.Contains(ua, "Tablet")):
		c.Device = string(agents.DeviceTablet)
	case c.OS == string(agents.OSMacOS) && screenWidth > 0 && screenWidth < tabletWidth:
		c.OS = string(agents.OSIOS)
		c.Device = string(agents.DeviceTablet)
	}
	if c.Device == "" && screenWidth > 0 {
		switch {
		case screenWidth < mobileWidth:
			c.Device = string(agents.DeviceMobile)
		case screenWidth < tabletWidth:
			c.Device = string(agents.DeviceTablet)
		default:
			c.Device = string(agents.DeviceDesktop)
		}
	}
	return c
}
