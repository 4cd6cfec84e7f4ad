package ingest

import (
	"net/netip"

	"sitelog/derive"
	"sitelog/event"
)

// sender is what a request tells about who sent its events, beside its
// body: the client's address and User-Agent, and what is derived from them.
// The address and User-Agent stay here, in memory, for the length of the
// request; only what enrich derives from them reaches the log.
type sender struct {
	h       *Handler
	ip      netip.Addr // invalid when the connection had no IP address
	ua      string
	bot     bool
	agent   derive.Agent
	country string

	// The last visitor, by site and user_id ("" for the anonymous one): a
	// batch is nearly always of one site, often of one user, and a visitor
	// costs a SHA-256.
	site, user string
	visitor    uint64
}

// reset makes s the sender of a request from ip with User-Agent ua.
func (s *sender) reset(h *Handler, ip netip.Addr, ua string) {
	u := h.uas.get(ua)
	*s = sender{h: h, ip: ip, ua: ua, bot: u.bot, agent: u.agent}
	if ip.IsValid() {
		s.country = derive.Country(ip)
	}
}

// enrich adds to ev what its sender tells: whether a bot sent it, its
// visitor, browser, OS, device and country.
func (s *sender) enrich(ev *event.Event) {
	ev.Bot = s.bot
	c := s.agent.Client(ev.ScreenWidth)
	ev.Browser, ev.OS, ev.Device = c.Browser, c.OS, c.Device
	ev.Country = s.country
	ev.Visitor = s.visitorOf(ev)
}

// visitorOf returns the visitor of ev: the one of its user_id if it has
// one, else the salted hash of its site, the address and the User-Agent;
// 0 (unknown) without salts or an address.
func (s *sender) visitorOf(ev *event.Event) uint64 {
	if ev.UserID == "" && (s.h.salts == nil || !s.ip.IsValid()) {
		return 0
	}
	if s.visitor != 0 && s.site == ev.SiteID && s.user == ev.UserID {
		return s.visitor
	}
	s.site, s.user = ev.SiteID, ev.UserID
	if ev.UserID != "" {
		s.visitor = event.UserVisitor(ev.SiteID, ev.UserID)
	} else {
		s.visitor = s.h.salts.Visitor(ev.SiteID, s.ip, s.ua)
	}
	return s.visitor
}
