package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"sitelog/rollup"
)

// runBackup is `sitelog backup [--data-dir D] FILE`: a consistent online
// copy of the database, made while a server may be running.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sitelog backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dataDir string
	dataDirFlag(fs, getenv, &dataDir, "data directory whose database to copy")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sitelog backup [--data-dir DIR] FILE\n\nWrites a consistent copy of DIR/sitelog.db to FILE, which must not exist, while the server runs.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if err := rollup.Backup(ctx, filepath.Join(dataDir, "sitelog.db"), fs.Arg(0)); err != nil {
		fmt.Fprintf(stderr, "sitelog backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", filepath.Join(dataDir, "sitelog.db"), fs.Arg(0))
	return 0
}
