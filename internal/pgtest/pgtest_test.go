package pgtest

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartRestartStop(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	dsn := s.NewDatabase(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A crash loses nothing committed.
	s.Restart(t, "immediate")
	conn, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: n = %d, %v; want 1", n, err)
	}
	// Each database is new and empty.
	other, err := pgx.Connect(ctx, s.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 't'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("new database has %d tables named t, %v; want 0", n, err)
	}
}

func TestStopAtCleanup(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("server not listening: %v", err)
		}
		conn.Close()
	})
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("after the test, %s still accepts connections", addr)
	}
}

func TestHLL(t *testing.T) {
	s := Start(t)
	s.RequireHLL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION hll"); err != nil {
		t.Fatal(err)
	}
	var n float64
	err = conn.QueryRow(ctx, "SELECT hll_cardinality(hll_add_agg(hll_hash_bigint(x))) FROM generate_series(1, 1000) x").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n < 950 || n > 1050 {
		t.Fatalf("hll counted %v distinct values of 1000", n)
	}
}
