package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	// Named loadtool: the package main of the tests already has a func load.
	loadtool "sitelog/load"
)

// maxEventsDuration bounds a run given --events and no --duration, so that
// it still ends if the server stops answering.
const maxEventsDuration = 10 * time.Minute

// runLoad is the load subcommand: it drives a running server with a seeded
// workload and prints what it measured.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := loadtool.Config{}
	fs := flag.NewFlagSet("sitelog load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: sitelog load [flags]

Drives a running sitelog server over HTTP with a seeded workload and reports
requests/s, events/s, latency quantiles, errors by status, the server's peak
resident memory and, after the run, how fast the queue lag drained. Meant for
a server of your own, usually on
127.0.0.1: traffic goes to --url only.

`)
		fs.PrintDefaults()
	}
	var jsonOut bool
	fs.StringVar(&cfg.URL, "url", loadtool.DefaultURL, "base URL of the server's ingest address")
	fs.Uint64Var(&cfg.Workload.Seed, "seed", loadtool.DefaultSeed, "seed of the workload: the same seed sends the same events")
	fs.IntVar(&cfg.Workload.Sites, "sites", loadtool.DefaultSites, "number of sites")
	fs.IntVar(&cfg.Workload.Paths, "paths", loadtool.DefaultPaths, "number of distinct paths, Zipf-distributed")
	fs.IntVar(&cfg.Workload.Visitors, "visitors", loadtool.DefaultVisitors, "size of the pool of visitors (user_id)")
	fs.Float64Var(&cfg.Workload.CustomShare, "custom-share", loadtool.DefaultCustomShare, "fraction of events that are custom events")
	fs.BoolVar(&cfg.Workload.Browsers, "browsers", true, "each visitor sends the User-Agent of one of ten common browsers (false: every request sends "+loadtool.AgentLoad+")")
	fs.Float64Var(&cfg.Workload.ReferrerShare, "referrer-share", loadtool.DefaultReferrerShare, "fraction of page views that carry a referrer (search engines, aggregators, social sites)")
	fs.IntVar(&cfg.Workload.Days, "days", loadtool.DefaultDays, "days the timestamps are spread over, up to now; 0 sends none")
	fs.IntVar(&cfg.Batch, "batch", loadtool.DefaultBatch, "events per request: 1 posts /event, more post /events")
	fs.IntVar(&cfg.Concurrency, "concurrency", loadtool.DefaultConcurrency, "requests in flight at most (connections)")
	fs.DurationVar(&cfg.Duration, "duration", loadtool.DefaultDuration, "length of the run")
	fs.Uint64Var(&cfg.Events, "events", 0, "stop after this many events (0: run for --duration; without --duration, at most "+maxEventsDuration.String()+")")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second, open loop: latency counts from each request's scheduled time (0: closed loop)")
	fs.DurationVar(&cfg.Timeout, "timeout", loadtool.DefaultTimeout, "timeout of each request")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object instead of the summary")
	fs.BoolVar(&cfg.Reference, "reference", false, "first run the same workload against a bare net/http server in this process, and print the ratio")
	fs.BoolVar(&cfg.NoDrain, "no-drain", false, "do not wait for the server's queue lag to return to 0 after the run")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", loadtool.DefaultDrainTimeout, "longest wait for the queue lag to return to 0")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sitelog load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if cfg.Events > 0 && !durationSet {
		cfg.Duration = maxEventsDuration
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "sitelog load: %v\n", err)
		return 2
	}
	if !cfg.Loopback() {
		fmt.Fprintf(stderr, "sitelog load: warning: %s is not a loopback address; load only servers you run\n", cfg.URL)
	}

	rep, err := loadtool.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sitelog load: %v\n", err)
		return 1
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sitelog load: %v\n", err)
		return 1
	}
	switch {
	case rep.Interrupted:
		return 1
	case rep.Target.Events == 0:
		fmt.Fprintf(stderr, "sitelog load: %s accepted no events\n", cfg.URL)
		return 1
	}
	return 0
}
