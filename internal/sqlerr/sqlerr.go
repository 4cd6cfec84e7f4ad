// Package sqlerr tells the errors of either store's driver apart without
// importing a driver: the packages that read through database/sql pools
// (report, sites) are handed pools that main opened.
package sqlerr

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
)

// SQLite's primary result codes that mean "not now" rather than "wrong":
// the database is locked by another connection or past the busy timeout,
// or the statement was interrupted because its context ended.
const (
	sqliteBusy      = 5
	sqliteLocked    = 6
	sqliteInterrupt = 9
)

// Unavailable reports whether err means the database could not do the work
// now, so the client should retry later: on SQLite busy, locked or
// interrupted; on PostgreSQL a connection lost, too many clients, a server
// shutting down, a statement cancelled, a transaction it rolled back to be
// retried, or no connection to it at all. Context errors are the caller's
// to judge. The drivers' error types are matched by their methods:
// modernc.org/sqlite's Code, pgx's SQLState.
func Unavailable(err error) bool {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		// Extended result codes carry the primary code in their low byte.
		switch coded.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteInterrupt:
			return true
		}
		return false
	}
	// A server that cannot be reached (PostgreSQL restarting, or away)
	// fails the dial, or a connection it closed, before it can say
	// anything: pgx marks an error that reached no server as safe to
	// retry, and a connection lost in the middle of a read ends in an
	// unexpected EOF. The reads of reports are safe to retry either way.
	var (
		netErr net.Error
		retry  interface{ SafeToRetry() bool }
	)
	if errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &retry) && retry.SafeToRetry()) {
		return true
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) && len(state.SQLState()) == 5 {
		// SQLSTATE classes: 08 connection exception, 40 transaction
		// rollback, 53 insufficient resources, 57 operator intervention
		// (statement cancelled, server shutting down).
		switch state.SQLState()[:2] {
		case "08", "40", "53", "57":
			return true
		}
	}
	return false
}
