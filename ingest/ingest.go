// Package ingest serves the HTTP endpoints that accept analytics events:
// it decodes, validates and normalises them, marks those sent by bots, and
// appends them to the log, answering 202 only once the log has them.
//
// Routes, answered with Access-Control-Allow-Origin: * because trackers
// post from the pages of other origins:
//
//	POST /event     one JSON object                 → 202 {"status":"queued"}
//	POST /events    a JSON array, or NDJSON objects → 202 {"status":"queued","accepted":N}
//	POST /api/event Plausible's Events API body     → 202 ok (text, as Plausible answers)
//	OPTIONS each    CORS preflight                  → 204
//	GET /sitelog.js the tracker script (tracker/sitelog.js), gzipped when accepted
//
// An event is {"site_id","event_type","path","url","user_id","timestamp",
// "referrer","props","screen_width"}. Any Content-Type is read as JSON
// (navigator.sendBeacon, and trackers avoiding a CORS preflight, send
// text/plain). Unknown fields are ignored; a value of the wrong JSON type
// is refused; null and "" mean absent. Errors are JSON {"error": "..."}.
//
// Limits (a request over a body limit is answered 413, any other violation
// 400 with a message naming the field, and in a batch the index):
//
//	body of POST /event       MaxEventBody   8 KiB
//	body of POST /events      MaxBatchBody   1 MiB
//	events per batch          MaxBatchEvents 1000
//	site_id                   required, 1-100 characters of letters, digits and ._:-
//	event_type                1-64 bytes of printable characters; default "page_view"
//	path                      required for page views; starts with "/"; at most 2048 bytes
//	                          after "?query" and "#fragment" are split off (each at most
//	                          2048 bytes); repeated slashes collapsed; UTF-8 without
//	                          control characters
//	url                       an absolute URL such as location.href: its host name (lower
//	                          case, at most 253 bytes), its query's UTM parameters, and,
//	                          unless path is also given, its path, query and fragment
//	user_id                   optional; at most 256 bytes of UTF-8 without control characters
//	timestamp                 optional RFC 3339, default the time of receipt; at most 24h
//	                          in the future, any time from year 1 on accepted (backfills)
//	referrer                  optional; at most 4096 bytes without control characters
//	props                     optional object of at most 30 string, number or bool values
//	                          (numbers and bools kept as their JSON text; null and "" absent);
//	                          keys 1-300 bytes, values at most 2000, no control characters
//	screen_width              optional whole number, 0-100000
//
// Derived at ingest, so that neither the client's address nor its
// User-Agent is ever written down: the visitor (from user_id, or else a
// hash of site, address and User-Agent under the day's salt), browser, OS
// and device (User-Agent, screen width), country (address), source and
// referrer (referrer against the url's host), UTM parameters (the url's
// query, or the path's without a url). The client's address is the
// connection's, or behind a trusted proxy the one it forwards.
//
// With a SiteChecker (--strict-sites), every event is checked against the
// sites registry before anything is appended: an unknown site, or an Origin
// (or Referer) header naming a host the site does not list, refuses the
// request with 403; requests with neither header (servers) pass.
//
// A batch is validated whole before anything is appended, then appended in
// one call: all of it or none. Errors that mean the log cannot take events
// now (backlog over its bound, log failed, shutting down) are answered 503
// with Retry-After: 1, never 202.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"sitelog/derive"
	"sitelog/event"
	"sitelog/wal"
)

// Appender is the log events are appended to; *wal.Log is one. Append
// appends records contiguously, all or none, and returns only once they are
// durable as configured. It must not keep records after it returns, so
// that their buffers can be reused.
type Appender interface {
	Append(ctx context.Context, records ...[]byte) (first uint64, err error)
}

// SiteChecker decides which events ingest takes; *sites.Registry is one.
type SiteChecker interface {
	// Check returns nil if an event for siteID may come from origin: the
	// request's Origin header, or lacking one its Referer, "" for neither.
	// Otherwise its error's text tells the client why not.
	Check(siteID, origin string) error
}

// Salts makes the visitor id of an event sent without a user_id: a hash of
// the site, the client's address and User-Agent under a salt of the day.
// *derive.Salts is one.
type Salts interface {
	Visitor(site string, ip netip.Addr, ua string) uint64
}

// Config configures a Handler.
type Config struct {
	// Sites, if set, is asked about every event before it is appended;
	// nil takes events for any site from anywhere.
	Sites SiteChecker
	// RateLimit, if above 0, is the requests per second each client
	// network (an IPv4 /24, an IPv6 /64) may send, in bursts of up to
	// twice that; past it requests are answered 429. The client is the
	// one TrustedProxies lets a proxy name.
	RateLimit float64
	// TrustedProxies are the networks of the reverse proxies whose
	// X-Forwarded-For (or X-Real-IP) header names the client; from
	// anywhere else the connection's address is the client's.
	TrustedProxies []netip.Prefix
	// Salts makes the visitors of events without a user_id; nil leaves
	// them without one (event.Event.Visitor 0).
	Salts Salts
	// Now is the clock: the default timestamp and the bound on future
	// ones. Nil means time.Now.
	Now func() time.Time
	// Logger receives errors the client cannot be blamed for. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Wrap, if set, wraps the handler of each route under a name
	// ("event", "events", "api_event", "tracker"), for example with
	// metrics.HTTP.Wrap.
	Wrap func(name string, h http.Handler) http.Handler
}

// Handler serves the ingest routes. It is an http.Handler with its own
// router; main instead adds its routes to the router of the ingest address
// with Register.
type Handler struct {
	router  *httprouter.Router
	wrap    func(name string, h http.Handler) http.Handler
	log     Appender
	sites   SiteChecker
	limit   *limiter // nil: no rate limit
	trusted []netip.Prefix
	salts   Salts
	m       *Metrics
	now     func() time.Time
	logger  *slog.Logger
	uas     *uaCache // the bot check and the parse of each User-Agent
	// scratch holds *scratch: request bodies, decoded events and encoded
	// records are reused across requests instead of allocated for each.
	scratch sync.Pool
}

// scratch is the reusable memory of one request.
type scratch struct {
	body      []byte
	wire      wireEvent
	plausible wirePlausible
	sender    sender
	ev        event.Event
	evs       []event.Event
	rec       []byte
	ends      []int
	records   [][]byte
}

// maxPooledBody bounds the buffers kept for reuse, so that one large batch
// does not pin a megabyte per pooled object.
const maxPooledBody = 64 << 10

// New returns the handler serving POST /event and POST /events, appending
// to log and counting on m (nil means counting on a registry of its own).
func New(cfg Config, log Appender, m *Metrics) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Wrap == nil {
		cfg.Wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	bots, err := newBotDetector(crawlerList, ownTokens())
	if err != nil {
		panic("BUG: the embedded crawler list: " + err.Error())
	}
	// The User-Agent parser builds its tables on first use (tens of
	// milliseconds): build them now rather than in the first request,
	// which every other request of that moment would wait for.
	derive.ParseUserAgent("", 0)
	h := &Handler{
		router:  httprouter.New(),
		wrap:    cfg.Wrap,
		log:     log,
		sites:   cfg.Sites,
		limit:   limiterFor(cfg.RateLimit, cfg.Now),
		trusted: cfg.TrustedProxies,
		salts:   cfg.Salts,
		m:       m,
		now:     cfg.Now,
		logger:  cfg.Logger,
		uas: newUACache(uaCacheSlots, func(ua string) userAgent {
			return userAgent{bot: bots.isBot(ua), agent: derive.ParseAgent(ua)}
		}),
	}
	h.scratch.New = func() any { return &scratch{body: make([]byte, 0, 1024)} }

	h.Register(h.router)
	return h
}

// Register adds the ingest routes to r: POST /event, POST /events, POST
// /api/event, their CORS preflights, and GET /sitelog.js. It also makes r
// answer unknown routes (404) and wrong methods (405) with JSON errors, and
// turns off its redirects; routes that main adds afterwards (/metrics,
// /healthz, /readyz) are unaffected.
func (h *Handler) Register(r *httprouter.Router) {
	// No redirects: clients differ in whether they follow one for a POST
	// (sendBeacon cannot tell), so /event/ is a 404 rather than a 307.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method "+req.Method+" not allowed; allowed: "+w.Header().Get("Allow"))
	})
	// Routes that take events, each with its CORS preflight.
	r.Handler(http.MethodPost, "/event", h.wrap("event", http.HandlerFunc(h.serveEvent)))
	r.Handler(http.MethodPost, "/events", h.wrap("events", http.HandlerFunc(h.serveEvents)))
	r.Handler(http.MethodPost, "/api/event", h.wrap("api_event", http.HandlerFunc(h.servePlausible)))
	r.Handler(http.MethodOptions, "/event", http.HandlerFunc(preflight))
	r.Handler(http.MethodOptions, "/events", http.HandlerFunc(preflight))
	r.Handler(http.MethodOptions, "/api/event", http.HandlerFunc(preflight))
	// Routes that serve browsers.
	t := h.wrap("tracker", newTracker())
	r.Handler(http.MethodGet, "/sitelog.js", t)
	r.Handler(http.MethodHead, "/sitelog.js", t)
}

// ServeHTTP routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.router.ServeHTTP(w, r)
}

// preflight answers a browser's CORS preflight for a cross-origin POST with
// a JSON body.
func preflight(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Content-Type")
	hd.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// limiterFor returns the limiter of rate, or nil for no limit.
func limiterFor(rate float64, now func() time.Time) *limiter {
	if rate <= 0 {
		return nil
	}
	return newLimiter(rate, now)
}

// limited answers 429 and reports true when the client's network is over
// its rate; it is checked before the body is read, so a flood costs little.
func (h *Handler) limited(w http.ResponseWriter, client netip.Addr) bool {
	if h.limit == nil || h.limit.allow(client) {
		return false
	}
	h.m.rateLimited.Inc()
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many requests from your network; retry later")
	return true
}

func (h *Handler) serveEvent(w http.ResponseWriter, r *http.Request) {
	h.serveOne(w, r, decodeEventOf, answerQueued)
}

// servePlausible serves POST /api/event: Plausible's Events API.
func (h *Handler) servePlausible(w http.ResponseWriter, r *http.Request) {
	h.serveOne(w, r, decodePlausibleOf, answerOK)
}

func decodeEventOf(s *scratch, now time.Time) error {
	return decodeEvent(s.body, now, &s.wire, &s.ev)
}

func decodePlausibleOf(s *scratch, now time.Time) error {
	return decodePlausible(s.body, now, &s.plausible, &s.wire, &s.ev)
}

func answerQueued(w http.ResponseWriter) {
	writeJSON(w, http.StatusAccepted, `{"status":"queued"}`+"\n")
}

// answerOK answers as Plausible does, for the clients written for it.
func answerOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "ok")
}

// serveOne takes the one event of a request: decode decodes s.body into
// s.ev, answer answers once the log holds it.
func (h *Handler) serveOne(w http.ResponseWriter, r *http.Request, decode func(*scratch, time.Time) error, answer func(http.ResponseWriter)) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	client := derive.ClientIP(r, h.trusted)
	if h.limited(w, client) {
		return
	}
	s := h.scratch.Get().(*scratch)
	defer h.release(s)

	var err error
	if s.body, err = readBody(w, r, MaxEventBody, s.body[:0]); err != nil {
		h.fail(w, err, 1)
		return
	}
	if err := decode(s, h.now()); err != nil {
		h.fail(w, err, 1)
		return
	}
	if h.sites != nil {
		if err := h.sites.Check(s.ev.SiteID, origin(r)); err != nil {
			h.fail(w, &refusedError{err: err}, 1)
			return
		}
	}
	s.sender.reset(h, client, r.UserAgent())
	s.sender.enrich(&s.ev)
	s.rec = s.ev.AppendBinary(s.rec[:0])
	// Acknowledge only what the log holds: Append returns once the record
	// is written (and, with fsync=always, fsynced).
	if _, err := h.log.Append(r.Context(), s.rec); err != nil {
		h.fail(w, err, 1)
		return
	}
	h.m.count(s.ev.Bot, 1)
	answer(w)
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	client := derive.ClientIP(r, h.trusted)
	if h.limited(w, client) {
		return
	}
	s := h.scratch.Get().(*scratch)
	defer h.release(s)

	var err error
	if s.body, err = readBody(w, r, MaxBatchBody, s.body[:0]); err != nil {
		h.fail(w, err, 1)
		return
	}
	// Validate the whole batch before appending any of it: all or none.
	if s.evs, err = decodeBatch(s.body, h.now(), &s.wire, s.evs[:0]); err != nil {
		h.fail(w, err, 1)
		return
	}
	if h.sites != nil {
		origin := origin(r)
		for i := range s.evs {
			if err := h.sites.Check(s.evs[i].SiteID, origin); err != nil {
				h.fail(w, &refusedError{at: "events[" + strconv.Itoa(i) + "]", err: err}, len(s.evs))
				return
			}
		}
	}
	s.sender.reset(h, client, r.UserAgent())
	// Encode every record into one buffer, then slice it: slicing while
	// appending would leave records pointing into outgrown arrays.
	s.rec, s.ends = s.rec[:0], s.ends[:0]
	for i := range s.evs {
		s.sender.enrich(&s.evs[i])
		s.rec = s.evs[i].AppendBinary(s.rec)
		s.ends = append(s.ends, len(s.rec))
	}
	s.records = s.records[:0]
	start := 0
	for _, end := range s.ends {
		s.records = append(s.records, s.rec[start:end:end])
		start = end
	}
	if _, err := h.log.Append(r.Context(), s.records...); err != nil {
		h.fail(w, err, len(s.evs))
		return
	}
	h.m.count(s.sender.bot, len(s.evs))
	writeJSON(w, http.StatusAccepted, `{"status":"queued","accepted":`+strconv.Itoa(len(s.evs))+"}\n")
}

// origin is where a browser says the request comes from: its Origin
// header, or lacking one (older browsers on same-origin posts, sendBeacon
// in some) its Referer; "" for a request with neither, as servers send.
func origin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return o
	}
	return r.Header.Get("Referer")
}

// refusedError is an event the SiteChecker refused; it is answered 403.
type refusedError struct {
	at  string // "events[3]" for an event of a batch; "" otherwise
	err error
}

func (e *refusedError) Error() string {
	if e.at == "" {
		return e.err.Error()
	}
	return e.at + ": " + e.err.Error()
}

func (e *refusedError) Unwrap() error { return e.err }

// release returns s for reuse unless it grew too large to keep, first
// dropping its references to the strings of the events it held.
func (h *Handler) release(s *scratch) {
	if cap(s.body) > maxPooledBody {
		return
	}
	clear(s.evs)
	s.evs = s.evs[:0]
	s.ev = event.Event{}
	s.wire.reset()
	s.plausible.reset()
	s.sender = sender{}
	h.scratch.Put(s)
}

// readBody reads the body of r, up to limit bytes, appending to buf.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, error) {
	if r.ContentLength > limit {
		return buf, &tooLargeError{limit}
	}
	// MaxBytesReader also tells the server to close the connection rather
	// than read the rest of an oversized body.
	body := http.MaxBytesReader(w, r.Body, limit)
	if n := int(r.ContentLength); n >= cap(buf) {
		// One allocation for a body of known length; the extra byte lets
		// the read that sees EOF happen without growing again.
		buf = slices.Grow(buf, n+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == nil {
			continue
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case errors.As(err, &mbe):
			return buf, &tooLargeError{limit}
		default:
			return buf, invalid("body", "read: "+err.Error())
		}
	}
}

// fail answers err, which refused n events. It is the one place where
// errors become HTTP statuses.
func (h *Handler) fail(w http.ResponseWriter, err error, n int) {
	var ie *invalidError
	var tl *tooLargeError
	var re *refusedError
	switch {
	case errors.As(err, &ie):
		h.m.invalid.Inc()
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &tl):
		h.m.tooLarge.Inc()
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.As(err, &re):
		h.m.refused.Add(float64(n))
		writeError(w, http.StatusForbidden, err.Error())
	default:
		// The log did not take the events: say so, and when to retry.
		h.m.unavailable.Add(float64(n))
		msg := "log unavailable"
		switch {
		case errors.Is(err, wal.ErrBacklog):
			msg = "too many events waiting to be processed; retry later"
		case errors.Is(err, wal.ErrClosed):
			msg = "shutting down; retry later"
		case errors.Is(err, wal.ErrDiskFull):
			msg = "the server's disk is nearly full; retry later"
		case errors.Is(err, wal.ErrPoisoned):
			msg = "the log failed a write and takes no events until restarted; retry later"
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			msg = "request ended before the log took the events; retry"
		default:
			h.logger.Error("ingest: append", "err", err)
		}
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, msg)
	}
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil {
		panic("BUG: marshal of a string failed: " + err.Error())
	}
	writeJSON(w, code, string(b)+"\n")
}
