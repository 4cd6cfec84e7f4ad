package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"sitelog/dashboard"
	"sitelog/ingest"
	"sitelog/metrics"
	"sitelog/report"
)

// The OpenAPI document served at /api/v1/openapi.json describes every
// route of both addresses, and nothing else: the routers are put together
// as serve does (the routes of every address, then each part's Register),
// their registered routes read from httprouter's tree, and compared with
// the document's operations, address by address.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	routers := map[string]*httprouter.Router{"ingest": ingestRouter(), "report": reportRouter()}

	rec := httptest.NewRecorder()
	routers["report"].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	documented := documentedRoutes(t, rec.Body.Bytes())

	for addr, r := range routers {
		registered := registeredRoutes(t, r)
		if len(registered) < 5 {
			// The walk found nothing much: httprouter's internals changed
			// under it, and the comparison below would prove nothing.
			t.Fatalf("%s: only %d routes found in the router: %q", addr, len(registered), registered)
		}
		for _, rt := range registered {
			if !slices.Contains(documented[addr], rt) {
				t.Errorf("%s address: %s is registered but not in report/openapi.json", addr, rt)
			}
		}
		for _, rt := range documented[addr] {
			if !slices.Contains(registered, rt) {
				t.Errorf("%s address: %s is in report/openapi.json but not registered", addr, rt)
			}
			// And the router serves it: the walk is checked by the
			// router's own lookup.
			method, path, _ := strings.Cut(rt, " ")
			if h, _, _ := r.Lookup(method, concretePath(path)); h == nil {
				t.Errorf("%s address: the router does not serve %s", addr, rt)
			}
		}
	}
}

// ingestRouter is the ingest address's router, as serve builds it.
func ingestRouter() *httprouter.Router {
	reg := prometheus.NewRegistry()
	r := newRouter(reg, metrics.NewHTTP(reg), func() error { return nil })
	ingest.New(ingest.Config{}, nil, ingest.NewMetrics(reg)).Register(r)
	return r
}

// reportRouter is the report address's router, as serve builds it: with
// the admin API (serve always mounts one) and the dashboard. Nothing is
// read from a database here, so there is none.
func reportRouter() *httprouter.Router {
	reg := prometheus.NewRegistry()
	r := newRouter(reg, metrics.NewHTTP(reg), func() error { return nil })
	report.New(nil, report.Config{Admin: http.NotFoundHandler()}).Register(r)
	dashboard.New(dashboard.Config{}).Register(r)
	return r
}

// registeredRoutes returns every "METHOD /path" registered on r, sorted,
// with parameters written as OpenAPI writes them ({id}). httprouter has no
// listing of its routes, so its tree (Router.trees, a map from method to
// a radix tree of nodes with path, children and handle) is read by
// reflection; TestOpenAPIMatchesRoutes checks each route found with the
// router's own Lookup.
func registeredRoutes(t *testing.T, r *httprouter.Router) []string {
	t.Helper()
	trees := reflect.ValueOf(r).Elem().FieldByName("trees")
	if trees.Kind() != reflect.Map {
		t.Fatalf("httprouter.Router has no map of trees: its internals changed")
	}
	var out []string
	var walk func(method, prefix string, n reflect.Value)
	walk = func(method, prefix string, n reflect.Value) {
		n = n.Elem()
		path := prefix + n.FieldByName("path").String()
		if !n.FieldByName("handle").IsNil() {
			out = append(out, method+" "+openAPIPath(path))
		}
		children := n.FieldByName("children")
		for i := range children.Len() {
			walk(method, path, children.Index(i))
		}
	}
	iter := trees.MapRange()
	for iter.Next() {
		walk(iter.Key().String(), "", iter.Value())
	}
	slices.Sort(out)
	return out
}

// openAPIPath writes httprouter's :name and *name parameters as {name}.
func openAPIPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// concretePath fills each {param} of an OpenAPI path with a value.
func concretePath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "x"
		}
	}
	return strings.Join(segs, "/")
}

// documentedRoutes returns, per address ("ingest", "report"), the
// "METHOD /path" of every operation of the document, sorted. An
// operation is on the addresses its path's servers name, or the
// document's when the path names none.
func documentedRoutes(t *testing.T, doc []byte) map[string][]string {
	t.Helper()
	type server struct {
		URL string `json:"url"`
	}
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Servers []server                              `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("report/openapi.json: %v", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.0.") {
		t.Errorf("openapi %q, want 3.0.x", d.OpenAPI)
	}
	address := map[string]string{"http://localhost:3001": "ingest", "http://localhost:3002": "report"}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	out := map[string][]string{}
	for path, item := range d.Paths {
		servers := d.Servers
		if raw, ok := item["servers"]; ok {
			servers = nil
			if err := json.Unmarshal(raw, &servers); err != nil {
				t.Fatalf("%s: servers: %v", path, err)
			}
		}
		for name := range item {
			if !slices.Contains(methods, name) {
				continue
			}
			for _, s := range servers {
				addr, ok := address[s.URL]
				if !ok {
					t.Fatalf("%s: server %q is neither address", path, s.URL)
				}
				out[addr] = append(out[addr], strings.ToUpper(name)+" "+path)
			}
		}
	}
	for _, routes := range out {
		slices.Sort(routes)
	}
	return out
}

// Every $ref of the document names something the document has, so that
// tools reading it do not fail half-way.
func TestOpenAPIRefs(t *testing.T) {
	rec := httptest.NewRecorder()
	reportRouter().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	var doc any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var check func(v any)
	check = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					if resolve(doc, ref) == nil {
						t.Errorf("$ref %q names nothing", ref)
					}
				}
				check(x)
			}
		case []any:
			for _, x := range v {
				check(x)
			}
		}
	}
	check(doc)
}

// resolve returns what a local $ref ("#/components/schemas/Error") names
// in doc, or nil.
func resolve(doc any, ref string) any {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	v := doc
	for key := range strings.SplitSeq(path, "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[key]; !ok {
			return nil
		}
	}
	return v
}
