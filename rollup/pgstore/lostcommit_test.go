package pgstore

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sitelog/internal/pgtest"
)

// Where a cutProxy cuts the connection, at the client's next write of a
// COMMIT.
const (
	cutNone   = iota
	cutBefore // drop the write, then cut: the server never sees it
	cutAfter  // forward the write, then cut: the server sees it, the answer is lost
)

// cutProxy forwards TCP connections to a server and cuts the one that
// next sends COMMIT, on demand, as a network that fails between a client
// and PostgreSQL. Matching the COMMIT, rather than cutting whatever is
// written next, keeps other writes (another of the pool's connections, the
// tail of a COPY) from taking the cut meant for it.
type cutProxy struct {
	l      net.Listener
	target string
	cut    atomic.Int32
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		closeBoth := func() { client.Close(); server.Close() }
		// muted: the COMMIT went to the server and its answer must not
		// reach the client. The server's side stays open until the answer
		// has come, so that the server does commit: closed at once, with
		// the answer unread, the socket would be reset and the server
		// might see the reset before the COMMIT.
		var muted atomic.Bool
		p.wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := client.Read(buf)
				if err != nil {
					closeBoth()
					return
				}
				mode := int32(cutNone)
				if bytes.Contains(bytes.ToLower(buf[:n]), []byte("commit")) {
					mode = p.cut.Swap(cutNone)
				}
				switch mode {
				case cutBefore:
					closeBoth()
					return
				case cutAfter:
					muted.Store(true)
					server.Write(buf[:n])
					client.Close()
					return
				}
				if _, err := server.Write(buf[:n]); err != nil {
					closeBoth()
					return
				}
			}
		})
		p.wg.Go(func() {
			defer closeBoth()
			buf := make([]byte, 64<<10)
			for {
				n, err := server.Read(buf)
				if err != nil || muted.Load() {
					return
				}
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
		})
	}
}

// TestLostCommit cuts the connection as Apply sends COMMIT: whether the
// server committed or not, the batch ends up stored, and counted in the
// rollups, exactly once.
func TestLostCommit(t *testing.T) {
	srv := pgtest.Start(t)
	f := func(name string, mode int32, retried bool) {
		t.Run(name, func(t *testing.T) {
			dsn, err := url.Parse(srv.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			p := newCutProxy(t, dsn.Host)
			dsn.Host = p.l.Addr().String()
			var logs bytes.Buffer
			s, err := Open(context.Background(), dsn.String(), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			n := attach(t, s, Local{Identity: "log-a"})
			apply(t, n, views(1, 10))
			var once sync.Once // the first COMMIT of the batch only
			n.beforeCommit = func() { once.Do(func() { p.cut.Store(mode) }) }
			apply(t, n, views(11, 10))
			n.beforeCommit = nil
			apply(t, n, views(21, 10))

			if got := count(t, s, "SELECT count(*) FROM events"); got != 30 {
				t.Errorf("%d events; want 30", got)
			}
			if got := count(t, s, "SELECT count(DISTINCT log_index) FROM events"); got != 30 {
				t.Errorf("%d distinct indexes; want 30", got)
			}
			if _, applied := nodeRow(t, s, n.ID()); applied != 30 {
				t.Errorf("checkpoint %d; want 30", applied)
			}
			// The rollups commit with the raw events, and count them once.
			recounted(t, s)
			if !strings.Contains(logs.String(), "connection lost during COMMIT") {
				t.Errorf("no lost COMMIT logged:\n%s", &logs)
			}
			if got := strings.Contains(logs.String(), "committing the batch again"); got != retried {
				t.Errorf("batch committed again: %v; want %v. Log:\n%s", got, retried, &logs)
			}
		})
	}
	f("COMMIT lost on its way to the server", cutBefore, true)
	f("COMMIT's answer lost on its way back", cutAfter, false)
}

// TestServerCrash restarts the server as after a crash between batches:
// the node applies the next batch over new connections, and every entry
// is stored once.
func TestServerCrash(t *testing.T) {
	srv := pgtest.Start(t)
	s := open(t, srv.NewDatabase(t))
	n := attach(t, s, Local{Identity: "log-a"})
	apply(t, n, views(1, 10))
	srv.Restart(t, "immediate")
	apply(t, n, views(11, 10))
	if got := count(t, s, "SELECT count(DISTINCT log_index) FROM events"); got != 20 {
		t.Errorf("%d distinct indexes; want 20", got)
	}
	if got := count(t, s, "SELECT count(*) FROM events"); got != 20 {
		t.Errorf("%d events; want 20", got)
	}
	if _, applied := nodeRow(t, s, n.ID()); applied != 20 {
		t.Errorf("checkpoint %d; want 20", applied)
	}
}
