package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowClients opens many connections that send half a request header
// and then nothing: a normal request is still served meanwhile, and the
// server closes the slow ones after its ReadHeaderTimeout.
func TestSlowClients(t *testing.T) {
	srv := startChild(t, t.TempDir())
	addr := strings.TrimPrefix(srv.ingest, "http://")
	var slow []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /event HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
		slow = append(slow, c)
	}
	status, body := post(t, srv.ingest+"/event", `{"site_id":"s","path":"/"}`)
	if status != http.StatusAccepted {
		t.Fatalf("normal request beside 200 slow clients: %d %s", status, body)
	}
	for _, c := range slow {
		// Past the 5 s header timeout the server must have hung up.
		c.SetReadDeadline(time.Now().Add(readHeaderTimeout + 10*time.Second))
		b, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("a slow client was still connected %v after its header began", readHeaderTimeout+10*time.Second)
		}
		// Go answers a header timeout with nothing, or a 408 on newer versions.
		if len(b) > 0 && !strings.Contains(string(b), "408") {
			t.Fatalf("slow client got %q", b)
		}
	}
}

// TestOversizedBody sends a body far past the event limit without waiting
// to be asked: the answer is 413, and the server reads no more than it must.
func TestOversizedBody(t *testing.T) {
	srv := startChild(t, t.TempDir())
	big := `{"site_id":"s","path":"/` + strings.Repeat("a", 64<<20) + `"}`
	resp, err := http.Post(srv.ingest+"/event", "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"error"`) {
		t.Fatalf("64 MiB body: %d %s", resp.StatusCode, b)
	}
}
