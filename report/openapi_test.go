package report

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// The document is served to everyone, keys or not: it tells nothing of
// any site's traffic.
func TestOpenAPIDocument(t *testing.T) {
	h := newFixture(t, Config{RequireKeys: true})
	rec := get(h, "/api/v1/openapi.json")
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Fatalf("GET /api/v1/openapi.json without a key: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("report/openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) == 0 {
		t.Errorf("openapi %q with %d paths", doc.OpenAPI, len(doc.Paths))
	}
	// Reports themselves still need the key.
	if rec := get(h, "/api/v1/realtime?site_id=site-123"); rec.Code != http.StatusUnauthorized {
		t.Errorf("realtime without a key: %d", rec.Code)
	}
}
