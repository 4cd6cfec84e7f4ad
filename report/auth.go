package report

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors of access; fail answers the first two with 401 and a
// WWW-Authenticate challenge, the third with 403.
var (
	errNoKey     = errors.New("a report key is required")
	errBadKey    = errors.New("unknown or revoked report key")
	errForbidden = errors.New("forbidden")
)

// grant is what the request may read.
type grant struct {
	all  bool   // every site: an admin key, or keys not required
	site string // the one site of a site key
}

type grantKey struct{}

// keysRequired reports whether reports need a key now: always when so
// configured, otherwise as soon as one exists.
func (h *Handler) keysRequired() bool {
	return h.requireKeys || h.keys != nil && h.keys.HasKeys()
}

// authenticated lets through requests that carry a valid key, or every
// request while keys are not required, with what they may read in their
// context for allowSite.
func (h *Handler) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := grant{all: true}
		if h.keysRequired() {
			var err error
			if g, err = h.authenticate(r); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), grantKey{}, g)))
	})
}

// adminOnly lets through requests with an admin key, whether or not
// reports need keys: the registry is never open to everyone.
func (h *Handler) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, err := h.authenticate(r)
		if err == nil && !g.all {
			err = fmt.Errorf("%w: the admin API needs an admin key (sitelog keys create --admin)", errForbidden)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate finds the key of r's Authorization header. The token is
// never logged nor repeated in an answer.
func (h *Handler) authenticate(r *http.Request) (grant, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return grant{}, fmt.Errorf("%w: send Authorization: Bearer <key>", errNoKey)
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return grant{}, fmt.Errorf("%w: send Authorization: Bearer <key>", errNoKey)
	}
	if h.keys == nil {
		return grant{}, errBadKey
	}
	site, admin, ok := h.keys.Lookup(token)
	if !ok {
		return grant{}, errBadKey
	}
	return grant{all: admin, site: site}, nil
}

// allowSite returns errForbidden unless r may read site's reports.
func allowSite(r *http.Request, site string) error {
	g, ok := r.Context().Value(grantKey{}).(grant)
	if !ok {
		panic("BUG: report: a report route is served without authenticated")
	}
	if g.all || g.site == site {
		return nil
	}
	return fmt.Errorf("%w: this key reads site %q only", errForbidden, g.site)
}
