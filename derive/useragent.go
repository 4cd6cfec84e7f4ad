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
// 576 Mobile, below 992 Tablet, else Desktop. It is
// ParseAgent(ua).Client(screenWidth).
func ParseUserAgent(ua string, screenWidth int) Client {
	return ParseAgent(ua).Client(screenWidth)
}

// Agent is what a User-Agent says by itself, before the screen width has
// its say: what ingest may keep for a User-Agent it sees again and again.
type Agent struct {
	c Client
}

// ParseAgent parses ua. An Android User-Agent without "Mobile" (or with
// "Tablet") is a tablet, correcting the parser: Android browsers mark
// phones, not tablets.
func ParseAgent(ua string) Agent {
	// NewParser builds its trie once per process and returns the same
	// parser after that, safe for concurrent use.
	a := useragent.NewParser().Parse(ua)
	c := Client{Browser: a.Browser().String(), OS: a.OS().String()}
	switch d := a.Device(); d {
	case agents.DeviceDesktop, agents.DeviceMobile, agents.DeviceTablet, agents.DeviceTV:
		c.Device = d.String()
	}
	if c.OS == string(agents.OSAndroid) && c.Device == string(agents.DeviceMobile) &&
		(!strings.Contains(ua, "Mobile") || strings.Contains(ua, "Tablet")) {
		c.Device = string(agents.DeviceTablet)
	}
	return Agent{c}
}

// Client returns the browser, OS and device of a's User-Agent sent from a
// screen screenWidth CSS pixels wide (0 when unknown). A Mac User-Agent
// from a screen narrower than 992 is an iPad, since iPadOS sends the Mac
// one by default and no Mac screen is that narrow. When the User-Agent
// names no device, the width decides it: below 576 Mobile, below 992
// Tablet, else Desktop.
func (a Agent) Client(screenWidth int) Client {
	c := a.c
	if c.OS == string(agents.OSMacOS) && screenWidth > 0 && screenWidth < tabletWidth {
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
