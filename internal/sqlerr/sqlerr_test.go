package sqlerr

import (
	"fmt"
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
