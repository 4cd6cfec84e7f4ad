package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"sitelog/internal/durable"
)

// Crash points, for crash tests only: with Options.CrashAt set to
// "NAME" or "NAME:N", the process kills itself with SIGKILL the Nth time
// (default the first) it reaches that point, leaving the disk exactly as
// a crash there would.
const (
	CrashAfterWrite     = "after-write"      // a group is written, not yet fsynced
	CrashAfterFsync     = "after-fsync"      // a group is fsynced, not yet acknowledged
	CrashAtRotation     = "at-rotation"      // a group created a segment, its directory entry not yet fsynced
	CrashBeforeDBCommit = "before-db-commit" // the database has a batch's writes, not yet its COMMIT (see BeforeDBCommit)
	CrashAfterDBCommit  = "after-db-commit"  // the database committed a batch, the log not yet told
	CrashBeforeTruncate = "before-truncate"  // whole applied segments are about to be removed
	CrashMidTruncate    = "mid-truncate"     // a truncation has written its .START file, removed nothing yet
)

var crashPoints = []string{CrashAfterWrite, CrashAfterFsync, CrashAtRotation, CrashBeforeDBCommit, CrashAfterDBCommit, CrashBeforeTruncate, CrashMidTruncate}

// crash is a parsed Options.CrashAt.
type crash struct {
	point string
	left  int
}

func parseCrash(s string) (*crash, error) {
	if s == "" {
		return nil, nil
	}
	name, n, _ := strings.Cut(s, ":")
	c := &crash{point: name, left: 1}
	if n != "" {
		var err error
		if c.left, err = strconv.Atoi(n); err != nil || c.left < 1 {
			return nil, fmt.Errorf("crash point %q: count must be a whole number of at least 1", s)
		}
	}
	for _, p := range crashPoints {
		if p == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("crash point %q: unknown; known: %s", s, strings.Join(crashPoints, ", "))
}

// BeforeDBCommit is the crash point CrashBeforeDBCommit: a database that
// writes a batch in several statements calls it just before the batch's
// COMMIT, from the worker.
func (l *Log) BeforeDBCommit() { l.crashpoint(CrashBeforeDBCommit) }

// crashpoint kills the process if it is the configured crash point's turn.
// It is called from the owner goroutine, except for CrashBeforeDBCommit
// and CrashAfterDBCommit, whose counts are only reached from the one
// worker.
func (l *Log) crashpoint(name string) {
	c := l.crash
	if c == nil || c.point != name {
		return
	}
	if c.left--; c.left > 0 {
		return
	}
	l.logger.Warn("wal: crash point reached; killing the process", "point", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught; wait for it to land
}

// simulateMidTruncate leaves the directory as tidwall/wal's TruncateFront
// does just before it removes anything: the kept segment's entries from
// index at on, copied to a .START file.
func (l *Log) simulateMidTruncate(at uint64) {
	starts, err := segments(l.dir)
	if err != nil {
		return
	}
	seg := starts[0]
	for _, s := range starts {
		if s <= at {
			seg = s
		}
	}
	data, err := os.ReadFile(segmentPath(l.dir, seg))
	if err != nil || seg != at {
		return // truncation is only ever at a segment start
	}
	durable.WriteFile(filepath.Join(l.dir, fmt.Sprintf("%020d.START", at)), data, 0o644)
}
