package report

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.0 document of both addresses, served as it is
// written. TestOpenAPIMatchesRoutes (in cmd/sitelog, where main puts the
// routers together) checks that it documents every route registered and
// no other.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers GET /api/v1/openapi.json, without a key: the
// document describes the API, not anyone's traffic.
func (h *Handler) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	// The document changes only with the binary: a cached copy may be
	// used once it is revalidated.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI) // a client gone away is no error of ours
}
