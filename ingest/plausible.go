package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"sitelog/event"
)

// wirePlausible is an event as Plausible's Events API takes it (POST
// /api/event), so that Plausible's own tracker and its server-side clients
// can send to sitelog unchanged. Its tracker sends the one-letter keys,
// its documentation the long ones; where both come, the short one wins,
// as in Plausible.
type wirePlausible struct {
	Name        string    `json:"name"`
	N           string    `json:"n"`
	URL         string    `json:"url"`
	U           string    `json:"u"`
	Domain      string    `json:"domain"`
	D           string    `json:"d"`
	Referrer    string    `json:"referrer"`
	R           string    `json:"r"`
	Props       wireProps `json:"props"`
	P           wireProps `json:"p"`
	ScreenWidth int       `json:"screen_width"`
	W           int       `json:"w"`
}

// reset empties p for the next event, keeping the memory of its props.
func (p *wirePlausible) reset() {
	*p = wirePlausible{Props: wireProps{list: p.Props.list[:0]}, P: wireProps{list: p.P.list[:0]}}
}

// plausiblePageView is Plausible's name for a page view.
const plausiblePageView = "pageview"

// plausibleFields names, for each field of wireEvent, the Plausible key
// its errors should name instead.
var plausibleFields = map[string]string{
	"site_id":    "domain",
	"event_type": "name",
}

// decodePlausible decodes the body of POST /api/event into ev, with the
// rules of POST /event: name "pageview" is a page view, any other name a
// custom event; url is required (Plausible's tracker always sends it);
// domain, or the first of a comma-separated list of them, is the site_id.
// p and w are scratch space.
func decodePlausible(body []byte, now time.Time, p *wirePlausible, w *wireEvent, ev *event.Event) error {
	if err := checkObject(body); err != nil {
		return err
	}
	p.reset()
	if err := json.Unmarshal(body, p); err != nil {
		return jsonError(err)
	}
	w.reset()
	w.EventType = first(p.N, p.Name)
	w.URL = first(p.U, p.URL)
	w.Referrer = first(p.R, p.Referrer)
	w.ScreenWidth = p.W
	if w.ScreenWidth == 0 {
		w.ScreenWidth = p.ScreenWidth
	}
	w.Props.list = append(w.Props.list, p.Props.list...)
	if len(p.P.list) > 0 {
		w.Props.list = append(w.Props.list[:0], p.P.list...)
	}
	domain, _, _ := strings.Cut(first(p.D, p.Domain), ",")
	w.SiteID = strings.TrimSpace(domain)

	switch {
	case w.EventType == "":
		return invalid("name", "required")
	case w.EventType == plausiblePageView:
		w.EventType = event.PageView
	case w.EventType == event.PageView:
		// Plausible knows no page_view; taking it as one would make two
		// names for the same thing.
		return invalid("name", `"page_view" is reserved; a page view is "pageview"`)
	}
	if w.URL == "" {
		return invalid("url", "required")
	}
	if w.SiteID == "" {
		return invalid("domain", "required")
	}
	err := w.normalise(now, ev)
	var ie *invalidError
	if errors.As(err, &ie) {
		if name, ok := plausibleFields[ie.field]; ok {
			ie.field = name
		}
	}
	return err
}

// first returns a unless it is empty, else b.
func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
