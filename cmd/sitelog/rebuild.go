package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"sitelog/event"
	"sitelog/rollup"
	"sitelog/sites"
	"sitelog/wal"
)

// runRebuild is `sitelog rebuild [--site S] [--data-dir D]`: recompute
// the rollups from the raw events, after a time zone change, a new goal or
// a fix. With a server running on the data directory its worker does it
// between batches, while ingest goes on; without one, this process does.
func runRebuild(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sitelog rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dataDir string
	dataDirFlag(fs, getenv, &dataDir, "data directory")
	site := fs.String("site", "", "the site to rebuild (default: every site)")
	timeout := fs.Duration("timeout", time.Hour, "how long to wait for a running server's worker to finish")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sitelog rebuild [--site SITE] [--data-dir DIR] [--timeout D]\n\nRecomputes every rollup of SITE (or of every site) from its raw events, in its\ncurrent time zone and with its current goals. Reports see the old rollups until\nthe new ones are complete. Raw events pruned by --retain-raw cannot be counted again,\nso a server running with --retain-raw refuses.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 || (*site != "" && !event.ValidSiteID(*site)) {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sitelog rebuild: %v\n", err)
		return 1
	}
	what := "every site"
	if *site != "" {
		what = "site " + *site
	}
	dbPath := filepath.Join(dataDir, "sitelog.db")
	start := time.Now()

	// Holding the log's lock tells that no server runs on the directory.
	log, err := wal.Open(filepath.Join(dataDir, "wal"), wal.Options{})
	switch {
	case errors.Is(err, wal.ErrLocked):
		admin, err := rollup.OpenAdmin(dbPath)
		if err != nil {
			return fail(err)
		}
		defer admin.Close()
		id, err := rollup.RequestRebuild(ctx, admin, *site, time.Now())
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "a server is running: its worker rebuilds %s between batches\n", what)
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			done, err := rollup.RebuildDone(ctx, admin, id)
			if err != nil {
				return fail(err)
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return fail(fmt.Errorf("the worker has not finished after %v; it goes on, and `sitelog rebuild` can be run again to wait", *timeout))
			case <-tick.C:
			}
		}
		fmt.Fprintf(stdout, "rebuilt %s in %v\n", what, time.Since(start).Round(time.Millisecond))
		return 0
	case err != nil:
		return fail(err)
	}
	defer log.Close()

	// The store first: it brings the schema up to date for the registry.
	var registry *sites.Registry
	store, err := rollup.Open(dbPath, rollup.Options{Zone: func(id string) *time.Location { return registry.Zone(id) }})
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	readers, err := rollup.OpenReadOnly(dbPath)
	if err != nil {
		return fail(err)
	}
	defer readers.Close()
	if registry, err = sites.Load(ctx, readers, sites.Options{}); err != nil {
		return fail(err)
	}
	n, err := store.Rebuild(ctx, *site)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "rebuilt %s from %d raw events in %v\n", what, n, time.Since(start).Round(time.Millisecond))
	return 0
}
