package sqlerr

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

func TestUnavailable(t *testing.T) {
	f := func(code int, want bool) {
		t.Helper()
		if got := Unavailable(codedError(code)); got != want {
			t.Errorf("Unavailable(code %d) = %v, want %v", code, got, want)
		}
	}
	f(5, true)        // SQLITE_BUSY
	f(5|(2<<8), true) // SQLITE_BUSY_SNAPSHOT
	f(6, true)        // SQLITE_LOCKED
	f(9, true)        // SQLITE_INTERRUPT
	f(1, false)       // SQLITE_ERROR
	f(11, false)      // SQLITE_CORRUPT
	f(10|(1<<8), false)

	g := func(state string, want bool) {
		t.Helper()
		if got := Unavailable(fmt.Errorf("query: %w", stateError(state))); got != want {
			t.Errorf("Unavailable(SQLSTATE %s) = %v, want %v", state, got, want)
		}
	}
	g("57014", true)  // query_canceled
	g("57P01", true)  // admin_shutdown
	g("08006", true)  // connection_failure
	g("53300", true)  // too_many_connections
	g("40001", true)  // serialization_failure
	g("42P01", false) // undefined_table: a bug, not a wait
	g("23505", false) // unique_violation
	g("", false)

	if !Unavailable(fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})) {
		t.Error("a refused connection is not unavailable")
	}
	if !Unavailable(fmt.Errorf("query: %w", driver.ErrBadConn)) {
		t.Error("a bad connection is not unavailable")
	}
	if !Unavailable(fmt.Errorf("begin: %w", retryable{})) {
		t.Error("an error safe to retry (pgx's, of a closed connection) is not unavailable")
	}
	if !Unavailable(fmt.Errorf("receive: %w", io.ErrUnexpectedEOF)) {
		t.Error("a connection lost mid-read is not unavailable")
	}
	if Unavailable(errors.New("syntax error")) {
		t.Error("a plain error is unavailable")
	}
}

// codedError has the shape of the driver's error: a result code behind a
// Code method.
type codedError int

func (e codedError) Error() string { return "sqlite error" }
func (e codedError) Code() int     { return int(e) }

// stateError has the shape of pgx's error: a SQLSTATE behind a SQLState
// method.
type stateError string

func (e stateError) Error() string    { return "postgres error " + string(e) }
func (e stateError) SQLState() string { return string(e) }

// retryable has the shape of pgx's errors that reached no server.
type retryable struct{}

func (retryable) Error() string     { return "conn closed" }
func (retryable) SafeToRetry() bool { return true }
