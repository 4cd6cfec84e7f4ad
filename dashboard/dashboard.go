// Package dashboard serves sitelog's web dashboard on the report address:
// a page at / and its static files under /assets/, embedded in the binary,
// so the dashboard needs no Node.js, no CDN and no network beyond the
// server. The page draws everything from the report's query API in the
// browser; the only route of its own besides the files is
// /dashboard/session, which tells the page whether it needs a key and what
// the key reads.
//
// The front end is plain ES modules (Preact and htm for the views, uPlot
// for the timeline, vendored under static/vendor by vendor.sh) with no build
// step: the files under static/ are what the browser runs.
package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"sitelog/sites"
)

//go:embed static
var static embed.FS

// Security headers of every dashboard answer. The policy allows scripts,
// styles and requests of the report's own origin only: no inline script or
// style, no eval, no framing, no plugins. Scripts may still set styles
// through the CSSOM (element.style), which the policy does not govern;
// the chart and the bars use that.
const (
	contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
		"frame-ancestors 'none'"
)

// Config holds the dashboard's settings, built by main. The zero value
// serves a dashboard open to everyone with no registered sites.
type Config struct {
	// Keys are the report keys (nil: none exist), and RequireKeys says
	// whether a key is needed even before one exists: the same settings as
	// the report's, so that the page asks for a key exactly when the API
	// will.
	Keys        Keys
	RequireKeys bool
	// Sites returns the registered sites, for the site switcher and their
	// time zones. Nil means none.
	Sites func() []sites.Site
	// Wrap, if set, wraps each route's handler under a stable name (such as
	// (*metrics.HTTP).Wrap, for per-handler request durations).
	Wrap func(name string, h http.Handler) http.Handler
}

// Keys finds report keys by their token; *sites.Registry is one.
type Keys interface {
	// HasKeys reports whether any key exists.
	HasKeys() bool
	// Lookup finds the key whose token is token: ok is false when none
	// has it; an admin key reads every site, the others only site.
	Lookup(token string) (site string, admin, ok bool)
}

// Handler serves the dashboard's routes.
type Handler struct {
	cfg   Config
	files map[string]*file // by path under static/, such as "js/app.js"
}

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	contentType string
	etag        string
}

// New returns the dashboard's Handler.
func New(cfg Config) *Handler {
	if cfg.Wrap == nil {
		cfg.Wrap = func(_ string, h http.Handler) http.Handler { return h }
	}
	files, err := loadFiles()
	if err != nil {
		panic("BUG: dashboard: embedded files: " + err.Error())
	}
	return &Handler{cfg: cfg, files: files}
}

// loadFiles reads every embedded file once, with its type, ETag and gzip
// encoding, so that serving one is a map lookup and a write.
func loadFiles() (map[string]*file, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	files := map[string]*file{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{
			body:        body,
			contentType: contentType(name),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			f.gzipped = buf.Bytes()
		}
		files[name] = f
		return nil
	})
	return files, err
}

// contentType names the type of each kind of file the dashboard embeds;
// the system's MIME table is not consulted, so the types do not depend on
// the machine (a script served with the wrong type is refused under
// nosniff).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" && !strings.HasPrefix(t, "text/html") {
		return t
	}
	return "text/plain; charset=utf-8"
}

// Register adds the dashboard's routes to r: GET / (the page), GET
// /assets/*filepath (its files) and GET /dashboard/session. They leave the
// report's routes (/stats, /api/...) as they are.
func (h *Handler) Register(r *httprouter.Router) {
	r.Handler(http.MethodGet, "/", h.cfg.Wrap("dashboard", http.HandlerFunc(h.serveIndex)))
	r.Handler(http.MethodGet, "/assets/*filepath", h.cfg.Wrap("dashboard_assets", http.HandlerFunc(h.serveAsset)))
	r.Handler(http.MethodGet, "/dashboard/session", h.cfg.Wrap("dashboard_session", http.HandlerFunc(h.serveSession)))
}

func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, "index.html")
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(httprouter.ParamsFromContext(r.Context()).ByName("filepath"), "/")
	if name == "index.html" || path.Clean(name) != name {
		name = "" // one address for the page; no ./ or ../ aliases
	}
	h.serveFile(w, r, name)
}

// serveFile writes an embedded file with the security headers, gzipped
// when the client takes it. Files are revalidated on every use (no-cache
// with an ETag): the page's modules import each other by plain names, so a
// new binary's files must never mix with an old binary's cached ones.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := h.files[name]
	if !ok {
		writeError(w, http.StatusNotFound, "no such file: "+r.URL.Path)
		return
	}
	hdr := w.Header()
	setSecurityHeaders(hdr)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("Content-Type", f.contentType)
	hdr.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = f.gzipped
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client gone away is no error of ours
}

func setSecurityHeaders(hdr http.Header) {
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	// Outbound links to referrers must not tell them where they were
	// clicked, and no request may carry the dashboard's address.
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// etagMatches reports whether an If-None-Match header lists etag (or *).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip: it
// names gzip without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSpace(params), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			return true
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		return err != nil || q > 0
	}
	return false
}

// session is what /dashboard/session answers: whether reports need a key,
// and what the request's key (or, with no keys needed, anyone) may read.
type session struct {
	KeysRequired bool `json:"keys_required"`
	// Admin is true for an admin key, and for everyone while keys are not
	// required: every site may be read.
	Admin bool `json:"admin"`
	// Site is the one site of a site key.
	Site string `json:"site,omitempty"`
	// Sites are the registered sites the request may read.
	Sites []siteInfo `json:"sites"`
}

type siteInfo struct {
	ID       string `json:"id"`
	TimeZone string `json:"time_zone"`
}

// serveSession answers which sites the request may read, following the
// report's rule: a key is needed once any exists, or always with
// RequireKeys; then an Authorization: Bearer header must carry a valid one.
// The token is never logged nor repeated.
func (h *Handler) serveSession(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Vary", "Authorization")
	required := h.cfg.RequireKeys || h.cfg.Keys != nil && h.cfg.Keys.HasKeys()
	s := session{KeysRequired: required, Admin: true, Sites: []siteInfo{}}
	if required {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, false, "a report key is required: send Authorization: Bearer <key>")
			return
		}
		var site string
		var found bool
		if h.cfg.Keys != nil {
			site, s.Admin, found = h.cfg.Keys.Lookup(token)
		}
		if !found {
			unauthorized(w, true, "unknown or revoked report key")
			return
		}
		if !s.Admin {
			s.Site = site
		}
	}
	var registered []sites.Site
	if h.cfg.Sites != nil {
		registered = h.cfg.Sites()
	}
	for _, site := range registered {
		if s.Admin || site.ID == s.Site {
			s.Sites = append(s.Sites, siteInfo{site.ID, zoneName(site.TimeZone)})
		}
	}
	if s.Site != "" && len(s.Sites) == 0 {
		// A key for a site that was never registered (sites need not be):
		// its days are UTC days, as for every unregistered site.
		s.Sites = append(s.Sites, siteInfo{s.Site, "UTC"})
	}
	writeJSON(w, http.StatusOK, s)
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(header string) (string, bool) {
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// unauthorized answers 401 with the RFC 6750 challenge the report sends.
func unauthorized(w http.ResponseWriter, badKey bool, msg string) {
	challenge := `Bearer realm="sitelog"`
	if badKey {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("BUG: dashboard: encode %T: %v", v, err))
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}
