// Package report is the read side of sitelog: /stats and the query API
// over the rollup tables, and the raw-event views. It knows only the
// database, through a read-only pool that main opens. Reports from the
// rollups read a bounded number of indexed rows per request, so they cost
// the same whatever the number of events behind them; the few that read
// raw events (filtered queries, realtime, the event list) say so where
// they are documented, and read them through the (site, time) index.
//
// Reports are for their owners: once any report key exists (or always,
// with Config.RequireKeys), each needs an Authorization: Bearer header
// with a key for its site or an admin key. Reports send no CORS headers,
// so no other origin's page can read them with a visitor's browser.
package report

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"sitelog/event"
	"sitelog/internal/sqlerr"
)

// DefaultQueryTimeout bounds a report's database work when Config leaves
// QueryTimeout zero.
const DefaultQueryTimeout = 5 * time.Second

// Limits of the top-N lists.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// retryAfter is the Retry-After of a 503, in seconds: a locked database is
// usually free again once the worker's current transaction commits.
const retryAfter = "1"

// Config holds the report's settings, built by main.
type Config struct {
	// QueryTimeout bounds the database work of one request; past it the
	// request is answered 503 rather than left hanging on a locked or busy
	// database. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Wrap, if set, wraps each route's handler under a stable name (such as
	// (*metrics.HTTP).Wrap, for per-handler request durations).
	Wrap func(name string, h http.Handler) http.Handler
	// Logger receives the errors answered with a 5xx. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Keys are the report keys (nil: none exist). Reports need a key as
	// soon as one exists, or always when RequireKeys is set.
	Keys        Keys
	RequireKeys bool
	// Admin, if set, serves the admin API of the sites registry (GET
	// /api/sites, PUT and DELETE /api/sites/:id, and a site's goals under
	// /api/sites/:id/goals). Only requests with an admin key reach it,
	// whatever RequireKeys says.
	Admin http.Handler
	// Now is the clock of the reports that look back from the present
	// (GET /api/v1/realtime). Nil means time.Now.
	Now func() time.Time
	// Store is the store the pool reads: SQLite (the zero value) or
	// PostgreSQL.
	Store Store
}

// Store names the store a Handler reads.
type Store int

const (
	// SQLite, the embedded store, serves every report.
	SQLite Store = iota
	// PostgreSQL, the store of several ingest nodes, serves every report
	// too, with the same answers for the same events.
	PostgreSQL
)

// Keys finds report keys by their token; *sites.Registry is one.
type Keys interface {
	// HasKeys reports whether any key exists.
	HasKeys() bool
	// Lookup finds the key whose token is token: ok is false when none
	// has it; an admin key reads every site, the others only site.
	Lookup(token string) (site string, admin, ok bool)
}

// Handler serves the stats API. It is an http.Handler with its own router;
// main may instead add its routes to a router of its own with Register.
type Handler struct {
	db          *sql.DB
	keys        Keys
	requireKeys bool
	admin       http.Handler
	timeout     time.Duration
	wrap        func(name string, h http.Handler) http.Handler
	log         *slog.Logger
	now         func() time.Time
	store       Store
	d           *dialect
	router      *httprouter.Router
}

// New returns a Handler that reads from db, a read-only pool on the rollup
// database.
func New(db *sql.DB, cfg Config) *Handler {
	h := &Handler{
		db:          db,
		keys:        cfg.Keys,
		requireKeys: cfg.RequireKeys,
		admin:       cfg.Admin,
		timeout:     cfg.QueryTimeout,
		wrap:        cfg.Wrap,
		log:         cfg.Logger,
		now:         cfg.Now,
		store:       cfg.Store,
		d:           &sqliteDialect,
	}
	if h.store == PostgreSQL {
		h.d = &postgresDialect
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.timeout <= 0 {
		h.timeout = DefaultQueryTimeout
	}
	if h.wrap == nil {
		h.wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.router = httprouter.New()
	h.Register(h.router)
	return h
}

// Register adds the report's routes to r: GET /stats, GET /stats/events,
// POST /api/v1/query, GET /api/v1/realtime and GET /api/v1/events behind
// the key check, GET /api/v1/openapi.json open to all, and the admin API
// if Config has one. It also makes r answer unknown routes (404) and wrong
// methods (405) with JSON errors, as every error on the report address is
// JSON; routes that main adds afterwards (/metrics, /healthz, /readyz) are
// unaffected and stay open.
func (h *Handler) Register(r *httprouter.Router) {
	r.Handler(http.MethodGet, "/stats", h.wrap("stats", h.authenticated(serveScoped(h, h.d.readStats))))
	r.Handler(http.MethodGet, "/stats/events", h.wrap("stats_events", h.authenticated(serveScoped(h, h.d.readEvents))))
	r.Handler(http.MethodPost, "/api/v1/query", h.wrap("api_query", h.authenticated(http.HandlerFunc(h.serveQuery))))
	r.Handler(http.MethodGet, "/api/v1/realtime", h.wrap("realtime", h.authenticated(http.HandlerFunc(h.serveRealtime))))
	r.Handler(http.MethodGet, "/api/v1/events", h.wrap("events_list", h.authenticated(http.HandlerFunc(h.serveEventsList))))
	r.Handler(http.MethodGet, "/api/v1/openapi.json", h.wrap("openapi", http.HandlerFunc(h.serveOpenAPI)))
	if h.admin != nil {
		admin := h.wrap("admin_sites", h.adminOnly(h.admin))
		r.Handler(http.MethodGet, "/api/sites", admin)
		r.Handler(http.MethodPut, "/api/sites/:id", admin)
		r.Handler(http.MethodDelete, "/api/sites/:id", admin)
		// A goal's name may hold "/" (as "Visit /blog/*" does), so it
		// is the rest of the path.
		r.Handler(http.MethodGet, "/api/sites/:id/goals", admin)
		r.Handler(http.MethodPut, "/api/sites/:id/goals/*name", admin)
		r.Handler(http.MethodDelete, "/api/sites/:id/goals/*name", admin)
	}
	r.NotFound = http.HandlerFunc(h.notFound)
	r.MethodNotAllowed = http.HandlerFunc(h.methodNotAllowed)
}

// ServeHTTP serves the report's routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.router.ServeHTTP(w, r)
}

// serveScoped answers a report over one scope: the scope is parsed and
// checked against the request's key, read within the query timeout, and
// written as JSON. Every report route is one of these.
func serveScoped[T any](h *Handler, read func(context.Context, *sql.DB, scope) (T, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := parseScope(r.URL.RawQuery)
		if err == nil {
			err = allowSite(r, s.site)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		v, err := read(ctx, h.db, s)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, fmt.Errorf("%w: %s", errNotFound, r.URL.Path))
}

func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	// The router has set Allow already.
	h.fail(w, r, fmt.Errorf("%w: %s %s (allowed: %s)", errMethod, r.Method, r.URL.Path, w.Header().Get("Allow")))
}

// Errors of the request rather than of the database; fail maps them to
// their status.
var (
	errNotFound = errors.New("no such route")
	errMethod   = errors.New("method not allowed")
)

// paramError is a missing or invalid query parameter: a 400 whose message
// names the parameter and what was wrong with it.
type paramError struct {
	param   string
	problem string
}

func (e *paramError) Error() string { return e.param + ": " + e.problem }

// fail answers r with the status that err calls for and a JSON error. It is
// the one place where errors become statuses, and where the server's own
// failures are logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *paramError
	switch {
	case errors.As(err, &pe):
		writeError(w, http.StatusBadRequest, pe.Error())
	case errors.Is(err, errNoKey), errors.Is(err, errBadKey):
		// RFC 6750: say which scheme to use, and whether the one sent was bad.
		challenge := `Bearer realm="sitelog"`
		if errors.Is(err, errBadKey) {
			challenge += `, error="invalid_token"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, err.Error())
	case errors.Is(err, errForbidden):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, errMethod):
		writeError(w, http.StatusMethodNotAllowed, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), sqlerr.Unavailable(err):
		if r.Context().Err() == nil {
			// A client that went away needs no log line; a database that
			// could not answer in time does, as it may be a stuck writer.
			h.log.Warn("report: database unavailable", "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, "database busy, retry later")
	default:
		h.log.Error("report: request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// parseScope reads site_id, date and limit from a raw query string. Other
// parameters are ignored (a cache buster is harmless); a parameter given
// twice is refused rather than one of its values picked silently.
func parseScope(rawQuery string) (scope, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return scope{}, &paramError{"query string", err.Error()}
	}
	for _, name := range [...]string{"site_id", "date", "limit"} {
		if len(q[name]) > 1 {
			return scope{}, &paramError{name, "given more than once"}
		}
	}
	s := scope{site: q.Get("site_id"), limit: DefaultLimit}
	if err := checkSiteID(s.site); err != nil {
		return scope{}, err
	}
	if vs, ok := q["date"]; ok {
		day, err := parseDay(vs[0])
		if err != nil {
			return scope{}, err
		}
		s.day = day
	}
	if vs, ok := q["limit"]; ok {
		n, err := parseLimit(vs[0])
		if err != nil {
			return scope{}, err
		}
		s.limit = n
	}
	return s, nil
}

// checkSiteID applies ingest's rule: 1 to 100 characters of letters, digits
// and ._:-.
func checkSiteID(s string) error {
	if s == "" {
		return &paramError{"site_id", "required"}
	}
	if !event.ValidSiteID(s) {
		return &paramError{"site_id", event.SiteIDRule}
	}
	return nil
}

// parseDay accepts exactly YYYY-MM-DD naming a real calendar day, and
// returns it as the rollups key their days.
func parseDay(s string) (string, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' || !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:]) {
		return "", &paramError{"date", "must be YYYY-MM-DD"}
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", &paramError{"date", s + " is not a calendar date"}
	}
	return s, nil
}

// parseLimit accepts a decimal integer from 1 to MaxLimit, without sign or
// spaces.
func parseLimit(s string) (int, error) {
	bad := &paramError{"limit", "must be an integer from 1 to " + strconv.Itoa(MaxLimit)}
	if s == "" || len(s) > 3 || !digits(s) {
		return 0, bad
	}
	n, _ := strconv.Atoi(s) // at most three digits: cannot fail
	if n < 1 || n > MaxLimit {
		return 0, bad
	}
	return n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// writeJSON writes v as the whole body, without a trailing newline, so the
// answer is byte for byte the documented one.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Paths may hold & < >: keep them readable, as nothing renders this as HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("BUG: report: encode %T: %v", v, err))
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	// Reports change with every applied batch: never serve a stored copy.
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone away is no error of ours
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}
