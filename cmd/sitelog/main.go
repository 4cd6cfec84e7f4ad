// Command sitelog is a self-hosted website analytics server: it takes
// events over HTTP into a durable log, applies them exactly once to SQLite
// rollups (or, with --db, to a PostgreSQL database shared by several
// ingest nodes), and serves reports and a dashboard from those rollups.
//
//	sitelog serve    ingest, worker, reports and dashboard in one process
//	sitelog ingest   ingest and worker only
//	sitelog report   reports and dashboard, read-only, beside an ingest process
//	sitelog load     drive a running server with a seeded workload and measure it
//	sitelog sites    the sites registry: add, list, remove
//	sitelog keys     report keys: create, list, revoke
//	sitelog goals    conversion goals: add, list, remove
//	sitelog node     nodes of a PostgreSQL store: retire
//	sitelog version  print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: sitelog <command> [flags]

commands:
  serve    run ingest, the rollup worker, reports and the dashboard
  ingest   run ingest and the rollup worker only
  report   serve reports and the dashboard read-only from the data directory
  load     drive a running server with a seeded workload and measure it
  backup   write a consistent copy of the database while the server runs
  rebuild  recompute the rollups from the raw events (after a time zone change)
  node     nodes of a PostgreSQL store: retire
  sites    the sites registry: add, list, remove
  keys     report keys: create, list, revoke
  goals    conversion goals: add, list, remove
  version  print the version

Run 'sitelog <command> -h' for the flags of a command.
`

// run is main without the process: tests call it with their own context,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "load":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout, stderr)
	case "sites":
		return runSites(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "goals":
		return runGoals(ctx, args[1:], getenv, stdout, stderr)
	case "rebuild":
		return runRebuild(ctx, args[1:], getenv, stdout, stderr)
	case "node":
		return runNode(ctx, args[1:], getenv, stdout, stderr)
	}
	var m mode
	switch args[0] {
	case "serve":
		m = modeServe
	case "ingest":
		m = modeIngest
	case "report":
		m = modeReport
	default:
		fmt.Fprintf(stderr, "sitelog: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	cfg, err := parseConfig(m, args[1:], getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sitelog %s: %v\n", args[0], err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("sitelog: "+args[0]+" failed", "err", err)
		return 1
	}
	return 0
}

// versionString names the module version and the commit the binary was
// built from, as the Go toolchain recorded them.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "sitelog (unknown version)"
	}
	v := "sitelog " + bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += "+dirty"
			}
		}
	}
	return v + " " + bi.GoVersion
}
