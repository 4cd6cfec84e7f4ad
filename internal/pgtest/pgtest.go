// Package pgtest starts a throwaway PostgreSQL server for tests, with
// Debian's initdb and pg_ctl, in a temporary directory and on a free port
// of 127.0.0.1, so that the PostgreSQL store is tested against the real
// engine and needs no server set up by hand. Without the binaries those
// tests skip, saying what to install, except under CI (the CI environment
// variable set), where a missing server must not pass for a passing test.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// install is what to install for these tests on Debian.
const install = "apt-get install postgresql postgresql-15-hll"

// debianBins is where Debian's postgresql packages put the server's
// programs, one directory per major version, none of them on PATH.
const debianBins = "/usr/lib/postgresql/*/bin"

// superuser is the role initdb creates; with trust authentication on
// 127.0.0.1 it needs no password.
const superuser = "postgres"

// BinDir returns the directory of initdb and pg_ctl: the one on PATH, else
// the newest of Debian's /usr/lib/postgresql/*/bin. Without one it skips
// t, or fails it when the CI environment variable is set.
func BinDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath(filepath.Join(filepath.Dir(p), "pg_ctl")); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob(debianBins)
	// Glob sorts by name: 9 would sort after 15, but Debian has shipped
	// no single-digit version for years.
	for i := len(dirs) - 1; i >= 0; i-- {
		_, errInit := os.Stat(filepath.Join(dirs[i], "initdb"))
		_, errCtl := os.Stat(filepath.Join(dirs[i], "pg_ctl"))
		if errInit == nil && errCtl == nil {
			return dirs[i]
		}
	}
	missing(t, "pgtest: no initdb and pg_ctl on PATH or in "+debianBins)
	return ""
}

// missing skips t for want of something to install, or fails it under CI.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + "; install them with: " + install
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails rather than skips)")
	}
	t.Skip(msg)
}

// Server is a PostgreSQL server that belongs to one test.
type Server struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // temporary directory: data/, server.log and the socket
	port int
	// cred is the unprivileged user the server runs as when the test
	// runs as root, which PostgreSQL refuses; nil otherwise.
	cred *syscall.Credential
	dbs  atomic.Int64 // databases made by NewDatabase, for their names
}

// Start initialises a new cluster in a temporary directory and starts it
// on a free port of 127.0.0.1. The server is stopped when t ends, passed
// or failed, and its log is written to t's output if t failed.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: BinDir(t), dir: t.TempDir()}
	if os.Geteuid() == 0 {
		s.cred = unprivileged(t, s.dir)
	}
	s.run(t, "initdb", "--pgdata", s.data(), "--username", superuser, "--auth", "trust",
		"--encoding", "UTF8", "--no-locale",
		// A throwaway cluster need not survive a power loss: skip the
		// fsyncs that make initdb take seconds.
		"--no-sync")
	t.Cleanup(func() {
		// Immediate: nothing in a test's cluster needs a clean shutdown,
		// and the directory is removed next. Registered after TempDir's
		// own cleanup, so it runs before it. No pid file: no server.
		if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err != nil {
			return
		}
		if out, err := s.ctl("stop", "-m", "immediate"); err != nil {
			t.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
		}
		if t.Failed() {
			if log, err := os.ReadFile(s.logPath()); err == nil {
				t.Logf("pgtest: the server's log:\n%s", log)
			}
		}
	})
	// The port is free when picked, but another process may take it
	// before the server binds it: pick again a few times.
	var err error
	var out []byte
	for range 3 {
		s.port = freePort(t)
		opts := strings.Join([]string{
			"-c listen_addresses=127.0.0.1",
			"-p " + strconv.Itoa(s.port),
			// The socket lives in the test's directory, not in the
			// shared /var/run/postgresql (absent or root's alone).
			"-c unix_socket_directories=" + s.dir,
			// fsync only guards against a crash of the machine; a
			// crash of the server (Restart's immediate mode) loses
			// nothing without it.
			"-c fsync=off",
		}, " ")
		if out, err = s.ctl("start", "-l", s.logPath(), "-o", opts); err == nil {
			return s
		}
	}
	log, _ := os.ReadFile(s.logPath())
	t.Fatalf("pgtest: pg_ctl start: %v\n%s\nserver log:\n%s", err, out, log)
	return nil
}

func (s *Server) data() string    { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

// Port is the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DSN returns the connection string of database db on the server, as the
// superuser.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, db)
}

// NewDatabase creates a new, empty database and returns its DSN, so that
// tests sharing a server share no tables.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", s.dbs.Add(1))
	s.exec(t, "CREATE DATABASE "+name)
	return s.DSN(name)
}

// Restart restarts the server in the given pg_ctl shutdown mode: "smart",
// "fast", or "immediate", which stops it like a crash, so that it recovers
// from its write-ahead log on start. Connections open at the time break.
func (s *Server) Restart(t testing.TB, mode string) {
	t.Helper()
	if out, err := s.ctl("restart", "-m", mode, "-l", s.logPath()); err != nil {
		t.Fatalf("pgtest: pg_ctl restart -m %s: %v\n%s", mode, err, out)
	}
}

// Log returns what the server has written to its log so far, for tests
// that assert what it reported, such as that it broke no deadlock.
func (s *Server) Log(t testing.TB) string {
	t.Helper()
	log, err := os.ReadFile(s.logPath())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return string(log)
}

// HLL reports whether the hll extension (Debian's postgresql-15-hll) can
// be created on the server: its files are installed and its library loads.
func (s *Server) HLL(t testing.TB) bool {
	t.Helper()
	dsn := s.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE EXTENSION hll")
	return err == nil
}

// RequireHLL skips t unless the hll extension can be created, or fails it
// when the CI environment variable is set.
func (s *Server) RequireHLL(t testing.TB) {
	t.Helper()
	if !s.HLL(t) {
		missing(t, "pgtest: the hll extension is not installed")
	}
}

// exec runs sql as the superuser in the postgres database.
func (s *Server) exec(t testing.TB, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// run runs one of the server's programs, failing t if it fails.
func (s *Server) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := s.command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("pgtest: %s: %v\n%s", name, err, out)
	}
}

// ctl runs pg_ctl on the cluster, waiting for the action to finish.
func (s *Server) ctl(action string, args ...string) ([]byte, error) {
	args = append([]string{action, "--pgdata", s.data(), "--wait", "--timeout", "60"}, args...)
	return s.command("pg_ctl", args...).CombinedOutput()
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	// The unprivileged user may not be able to read the test's working
	// directory; the server's programs need one they can.
	cmd.Dir = s.dir
	// The cluster is told everything on the command line: PG* variables
	// of the caller's environment must not redirect it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

// unprivileged returns the credentials of the user "nobody", hands dir to
// it, and lets it reach dir: initdb and postgres refuse to run as root, and
// CI runs as root. The directory that testing made for dir is root's with
// mode 0700; it is opened for traversal (0711), not for listing.
func unprivileged(t testing.TB, dir string) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("pgtest: running as root, PostgreSQL needs an unprivileged user to run as: %v", err)
	}
	uid, errU := strconv.ParseUint(u.Uid, 10, 32)
	gid, errG := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(errU, errG); err != nil {
		t.Fatalf("pgtest: user nobody: %v", err)
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
