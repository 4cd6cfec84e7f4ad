package ingest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"sitelog/wal"
)

// TestTrackerSize keeps the script within the budget of issue 5: under
// 2 KiB gzipped, as it is served.
func TestTrackerSize(t *testing.T) {
	const budget = 2048
	tr := newTracker()
	t.Logf("sitelog.js: %d bytes, %d gzipped", len(tr.plain), len(tr.gzipped))
	if len(tr.gzipped) >= budget {
		t.Errorf("sitelog.js is %d bytes gzipped, want under %d", len(tr.gzipped), budget)
	}
}

func TestTrackerServed(t *testing.T) {
	s := newServer(t, wal.Options{Fsync: wal.FsyncInterval})
	get := func(method string, headers ...string) (*http.Response, []byte) {
		t.Helper()
		// Setting Accept-Encoding also stops the client from
		// decompressing on its own: the test sees the bytes as sent.
		return s.send(t, method, "/sitelog.js", nil, append([]string{"Accept-Encoding: identity"}, headers...)...)
	}
	header := func(resp *http.Response, want ...string) {
		t.Helper()
		for _, h := range want {
			name, value, _ := strings.Cut(h, ": ")
			if got := resp.Header.Get(name); got != value {
				t.Errorf("%s %s: %s: %q, want %q", resp.Request.Method, resp.Request.Header.Get("Accept-Encoding"), name, got, value)
			}
		}
	}
	common := []string{
		"Content-Type: application/javascript; charset=utf-8",
		"Cache-Control: public, max-age=3600",
		"Vary: Accept-Encoding",
		"Access-Control-Allow-Origin: *",
		"Cross-Origin-Resource-Policy: cross-origin",
	}

	plain, body := get("GET")
	if plain.StatusCode != 200 || !bytes.Equal(body, trackerJS) {
		t.Fatalf("GET: %d, %d bytes; want 200 and the %d bytes of tracker/sitelog.js", plain.StatusCode, len(body), len(trackerJS))
	}
	header(plain, append(common, "Content-Encoding: ")...)

	gz, body := get("GET", "Accept-Encoding: br, gzip;q=0.8")
	header(gz, append(common, "Content-Encoding: gzip")...)
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if js, err := io.ReadAll(zr); err != nil || !bytes.Equal(js, trackerJS) {
		t.Fatalf("gzipped body: %v, %d bytes unpacked; want tracker/sitelog.js", err, len(js))
	}
	tag, gzTag := plain.Header.Get("ETag"), gz.Header.Get("ETag")
	if tag == "" || gzTag == "" || tag == gzTag {
		t.Errorf("ETags %q (plain) and %q (gzip): want two different ones", tag, gzTag)
	}

	// A browser revalidating after max-age gets 304 for its copy.
	if resp, body := get("GET", "Accept-Encoding: gzip", "If-None-Match: "+gzTag); resp.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match of the gzip tag: %d, %d bytes; want 304 without a body", resp.StatusCode, len(body))
	}
	if resp, _ := get("GET", "Accept-Encoding: gzip", "If-None-Match: "+tag); resp.StatusCode != 200 {
		t.Errorf("If-None-Match of the plain tag, gzip accepted: %d, want 200", resp.StatusCode)
	}
	wantLen := strconv.Itoa(len(newTracker().gzipped))
	if resp, body := get("HEAD", "Accept-Encoding: gzip"); resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != wantLen {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q; want 200, none, %s", resp.StatusCode, len(body), resp.Header.Get("Content-Length"), wantLen)
	}
	if got := s.appended(t); len(got) != 0 {
		t.Errorf("appended %+v", got)
	}
}

func TestAcceptsGzip(t *testing.T) {
	f := func(want bool, values ...string) {
		t.Helper()
		if got := acceptsGzip(values); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", values, got, want)
		}
	}
	f(false)
	f(false, "")
	f(false, "identity")
	f(false, "br, deflate")
	f(true, "gzip")
	f(true, "gzip, deflate, br, zstd") // Chromium
	f(true, "GZIP")
	f(true, "x-gzip")
	f(true, "br;q=1.0, gzip;q=0.8, *;q=0.1")
	f(true, "deflate", "gzip") // the header given twice
	f(true, "*")
	f(false, "gzip;q=0")
	f(false, "gzip; q=0.000")
	f(false, "*, gzip;q=0")
	f(false, "gzip;q=zero")
	f(true, "identity;q=0, *")
}
