package sites

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"sitelog/internal/sqlerr"
)

const (
	apiSites = "/api/sites"    // the list
	apiSite  = apiSites + "/"  // the prefix of a site's path
	apiTime  = 5 * time.Second // bounds the database work of a request
	apiBody  = int64(64 << 10) // the largest body of a PUT
)

// API is the admin API of the registry:
//
//	GET    /api/sites      → 200 {"sites":[{"id","hostnames","time_zone"}]}
//	PUT    /api/sites/ID   {"hostnames":[...],"time_zone":"..."} → 201 (new) or 200, the site
//	DELETE /api/sites/ID   → 204; 404 if not registered
//	GET    /api/sites/ID/goals        → 200 {"goals":[{"id","site_id","name","event_name"|"page_path","created"}]}
//	PUT    /api/sites/ID/goals/NAME   {"event_name":"..."} or {"page_path":"..."} → 201 (new) or 200 (the same goal), the goal; 409 if NAME is another goal's
//	DELETE /api/sites/ID/goals/NAME   → 204; 404 if there is no such goal
//
// Errors are JSON {"error":"..."}. It does not authenticate: whoever mounts
// it lets only admin keys reach it. It writes through a database opened
// on the first write, so a process that never takes one (a report process)
// never opens a writer.
type API struct {
	reg    *Registry
	open   func() (*sql.DB, error)
	logger *slog.Logger

	mu    sync.Mutex // guards db and store
	db    *sql.DB
	store *Store
}

// NewAPI returns the admin API over reg, writing through the database that
// open returns: the one reg reads, in its dialect (rollup.OpenAdmin on
// the data directory's database, pgstore.OpenAdmin on PostgreSQL's). A nil
// logger means slog.Default().
func NewAPI(reg *Registry, open func() (*sql.DB, error), logger *slog.Logger) *API {
	if logger == nil {
		logger = slog.Default()
	}
	return &API{reg: reg, open: open, logger: logger}
}

// Close closes the database the API opened, if it opened one.
func (a *API) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.db == nil {
		return nil
	}
	err := a.db.Close()
	a.db, a.store = nil, nil
	if err != nil {
		return fmt.Errorf("sites: close the admin database: %w", err)
	}
	return nil
}

// writer returns the Store, opening its database on first use. A failed
// open is tried again by the next request.
func (a *API) writer() (*Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store == nil {
		db, err := a.open()
		if err != nil {
			return nil, err
		}
		a.db, a.store = db, NewStore(db, StoreOptions{Dialect: a.reg.dialect})
	}
	return a.store, nil
}

// ServeHTTP serves the routes above.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), apiTime)
	defer cancel()
	id, one := strings.CutPrefix(r.URL.Path, apiSite)
	if site, sub, ok := strings.Cut(id, "/"); one && ok {
		// A site ID has no "/": what follows it is one of the site's
		// collections, of which goals is the only one.
		a.serveGoals(ctx, w, r, site, sub)
		return
	}
	switch {
	case r.URL.Path == apiSites && r.Method == http.MethodGet:
		a.list(ctx, w, r)
	case one && r.Method == http.MethodPut:
		a.put(ctx, w, r, id)
	case one && r.Method == http.MethodDelete:
		a.remove(ctx, w, r, id)
	default:
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	}
}

func (a *API) list(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	// Reload first: a change made by another process a moment ago shows.
	if err := a.reg.Reload(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Sites []Site `json:"sites"`
	}{a.reg.Snapshot().Sites()})
}

// siteBody is the body of a PUT. Unknown fields are refused, so that a
// misspelt "timezone" is not silently dropped.
type siteBody struct {
	Hostnames []string `json:"hostnames"`
	TimeZone  string   `json:"time_zone"`
}

func (a *API) put(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) {
	var body siteBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, apiBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		a.fail(w, r, &InvalidError{"body", "must be a JSON object {\"hostnames\":[...],\"time_zone\":\"...\"}: " + strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	store, err := a.writer()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	site, created, err := store.PutSite(ctx, id, body.Hostnames, body.TimeZone)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.reloadAfterWrite(ctx)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, site)
}

func (a *API) remove(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) {
	store, err := a.writer()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := store.RemoveSite(ctx, id); err != nil {
		a.fail(w, r, err)
		return
	}
	a.reloadAfterWrite(ctx)
	w.WriteHeader(http.StatusNoContent)
}

// reloadAfterWrite makes this process see its own write at once. The
// write is committed whatever happens here; a failure leaves it to Run.
func (a *API) reloadAfterWrite(ctx context.Context) {
	if err := a.reg.Reload(ctx); err != nil {
		a.logger.Warn("sites: re-read the registry after a change", "err", err)
	}
}

// fail answers err with its status: the one place where the API's errors
// become statuses.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *InvalidError
	switch {
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "no site "+quote(strings.TrimPrefix(r.URL.Path, apiSite)))
	case errors.Is(err, context.DeadlineExceeded), sqlerr.Unavailable(err):
		a.logger.Warn("sites: admin API: database unavailable", "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "database busy, retry later")
	default:
		a.logger.Error("sites: admin API failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("BUG: sites: encode %T: %v", v, err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // a client gone away is no error of ours
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}
