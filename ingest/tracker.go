package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// trackerJS is the tracker script sites embed with
// <script defer data-site="..." src="https://INGEST/sitelog.js">; the
// README's "Tracker script" section documents its data-* attributes.
//
//go:embed tracker/sitelog.js
var trackerJS []byte

// tracker is the tracker script ready to serve: both encodings and their
// entity tags, computed once.
type tracker struct {
	plain, gzipped         []byte
	plainETag, gzippedETag string
}

// newTracker compresses the embedded script once, at the best ratio: it
// is served to every visitor of every site, and compressed only here.
func newTracker() *tracker {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		panic("BUG: gzip level: " + err.Error())
	}
	if _, err := zw.Write(trackerJS); err != nil {
		panic("BUG: gzip into memory: " + err.Error())
	}
	if err := zw.Close(); err != nil {
		panic("BUG: gzip into memory: " + err.Error())
	}
	sum := sha256.Sum256(trackerJS)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	// Each encoding is its own representation, so each has its own strong
	// tag; both change whenever the script does.
	return &tracker{
		plain:       trackerJS,
		gzipped:     buf.Bytes(),
		plainETag:   `"` + tag + `"`,
		gzippedETag: `"` + tag + `-gzip"`,
	}
}

// trackerMaxAge is how long browsers and caches may use the script without
// asking again. Sites load it from a URL without a version, so an update
// reaches every visitor within this time; a revalidation after it costs a
// 304.
const trackerMaxAge = time.Hour

// ServeHTTP answers GET and HEAD /sitelog.js, gzipped when the client
// accepts it, and 304 for a matching If-None-Match.
func (t *tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, tag := t.plain, t.plainETag
	hd := w.Header()
	hd.Set("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, tag = t.gzipped, t.gzippedETag
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Type", "application/javascript; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(trackerMaxAge/time.Second)))
	hd.Set("ETag", tag)
	// Pages of any origin load the script, also those that isolate
	// themselves (Cross-Origin-Embedder-Policy: require-corp) or load it
	// with crossorigin for Subresource Integrity.
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	hd.Set("X-Content-Type-Options", "nosniff")
	// ServeContent leaves Content-Length out once Content-Encoding is set,
	// for handlers that compress as they write; this body is whole.
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	// ServeContent answers If-None-Match (against the ETag set above),
	// HEAD and Range.
	http.ServeContent(w, r, "sitelog.js", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding values name gzip (or "*")
// without q=0. Clients that send no header get the plain script, as
// RFC 9110 allows any encoding then but old proxies mangle gzip.
func acceptsGzip(values []string) bool {
	gz, star := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					f = 0 // a malformed weight does not ask for gzip
				}
				q = f
			}
			switch name = strings.TrimSpace(name); {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				gz = max(gz, q)
			case name == "*":
				star = max(star, q)
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}
