package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"sitelog/derive"
	"sitelog/rollup"
	"sitelog/wal"
)

type mode int

const (
	modeServe mode = iota
	modeIngest
	modeReport
)

func (m mode) String() string { return [...]string{"serve", "ingest", "report"}[m] }
func (m mode) ingests() bool  { return m != modeReport }
func (m mode) reports() bool  { return m != modeIngest }

// config is everything the command line and environment decide.
type config struct {
	Mode    mode
	DataDir string
	// DB is the PostgreSQL store's URL (--db), or "" for the SQLite
	// store under DataDir.
	DB           string
	IngestAddr   string
	ReportAddr   string
	Fsync        wal.FsyncMode
	MaxBacklog   uint64
	RetainRaw    time.Duration
	RateLimit    float64
	MaxBacklogMB uint64
	MinFreeMB    uint64
	// SegmentBytes is --segment-mb in bytes, or SITELOG_TEST_SEGMENT_BYTES:
	// crash tests need segments far smaller than a flag should allow.
	SegmentBytes int
	// CrashAt is a crash point of the log, from SITELOG_TEST_CRASH_AT:
	// for crash tests only, so it has no flag.
	CrashAt string
	// BatchSize is the worker's most log entries per transaction.
	BatchSize   int
	PathsPerDay int
	// StrictSites refuses events for sites not in the registry, or from
	// origins the site does not list.
	StrictSites bool
	// RequireKeys makes every report need a key even before one exists
	// (--report-auth=required); otherwise keys are needed once one exists.
	RequireKeys     bool
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	PprofAddr       string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For or
	// X-Real-IP names the client (its address is never stored: it gives
	// the visitor hash, the country and the rate limit's network).
	TrustedProxies []netip.Prefix
}

var errHelp = errors.New("help requested")

// maxBatchSize bounds --batch-size: a batch's memory grows with it, some
// 5 KB an event with the analytics model.
const maxBatchSize = 1 << 20

// parseConfig reads flags, each with an environment variable as its
// fallback: a flag beats its variable, a variable beats the default.
func parseConfig(m mode, args []string, getenv func(string) string, out io.Writer) (config, error) {
	cfg := config{Mode: m}
	fs := flag.NewFlagSet("sitelog "+m.String(), flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var trusted, rateLimit, retain, fsync, backlog, backlogMB, minFree, segment, batch, paths, shutdown, level, strict, reportAuth string
	fs.StringVar(&cfg.DataDir, "data-dir", env("SITELOG_DATA_DIR", "./data"), "directory for the log (wal/) and the database (sitelog.db) [SITELOG_DATA_DIR]")
	fs.StringVar(&cfg.DB, "db", env("SITELOG_DB", ""), "PostgreSQL URL (postgres://user:pass@host/db) to apply into and report from, shared by several ingest nodes; empty for SQLite under --data-dir [SITELOG_DB]")
	if m.ingests() {
		fs.StringVar(&cfg.IngestAddr, "ingest-addr", env("SITELOG_INGEST_ADDR", ":3001"), "address for POST /event, /events and /api/event [SITELOG_INGEST_ADDR]")
		fs.StringVar(&fsync, "fsync", env("SITELOG_FSYNC", "always"), "always: fsync each group commit before answering 202 (survives power loss); interval: fsync every 100ms (survives a crash of the process) [SITELOG_FSYNC]")
		fs.StringVar(&backlog, "max-backlog", env("SITELOG_MAX_BACKLOG", "10000000"), "events in the log not yet applied to the database before ingest answers 503; 0 for no bound [SITELOG_MAX_BACKLOG]")
		fs.StringVar(&backlogMB, "max-backlog-mb", env("SITELOG_MAX_BACKLOG_MB", "2048"), "MiB of events in the log not yet applied before ingest answers 503; 0 for no bound [SITELOG_MAX_BACKLOG_MB]")
		fs.StringVar(&minFree, "min-free-mb", env("SITELOG_MIN_FREE_MB", "100"), "free disk space (MiB) kept on the log's file system: below it ingest answers 503 until space returns; 0 for none [SITELOG_MIN_FREE_MB]")
		fs.StringVar(&segment, "segment-mb", env("SITELOG_SEGMENT_MB", strconv.Itoa(wal.DefaultSegmentSize>>20)), "size (MiB) of a log segment file; applied segments are deleted whole [SITELOG_SEGMENT_MB]")
		fs.StringVar(&rateLimit, "rate-limit", env("SITELOG_RATE_LIMIT", "0"), "ingest requests per second each client network (IPv4 /24, IPv6 /64) may send, bursts of twice that; past it 429; 0 for no limit [SITELOG_RATE_LIMIT]")
		fs.StringVar(&trusted, "trusted-proxies", env("SITELOG_TRUSTED_PROXIES", ""), "comma-separated CIDR prefixes (or addresses) of reverse proxies whose X-Forwarded-For or X-Real-IP names the client; none when empty [SITELOG_TRUSTED_PROXIES]")
		fs.StringVar(&retain, "retain-raw", env("SITELOG_RETAIN_RAW", "0"), "days raw events are kept; older ones are deleted, their rollups kept; 0 keeps them all [SITELOG_RETAIN_RAW]")
		fs.StringVar(&batch, "batch-size", env("SITELOG_BATCH_SIZE", strconv.Itoa(rollup.DefaultBatchSize)), "most log entries the worker applies in one transaction when it is behind; larger applies faster and takes more memory [SITELOG_BATCH_SIZE]")
		fs.StringVar(&paths, "paths-per-day", env("SITELOG_PATHS_PER_DAY", "10000"), "distinct paths kept per site and day; further new paths count under (other) [SITELOG_PATHS_PER_DAY]")
		strict = env("SITELOG_STRICT_SITES", "false")
		fs.BoolFunc("strict-sites", "refuse (403) events for sites not in the registry (sitelog sites add), or whose Origin/Referer is not one of the site's hostnames [SITELOG_STRICT_SITES, default false]", func(v string) error {
			strict = v
			return nil
		})
	}
	if m.reports() {
		fs.StringVar(&cfg.ReportAddr, "report-addr", env("SITELOG_REPORT_ADDR", ":3002"), "address for reports and the dashboard [SITELOG_REPORT_ADDR]")
		fs.StringVar(&reportAuth, "report-auth", env("SITELOG_REPORT_AUTH", "auto"), "auto: reports need a key (Authorization: Bearer) once any key exists; required: always [SITELOG_REPORT_AUTH]")
	}
	fs.StringVar(&shutdown, "shutdown-timeout", env("SITELOG_SHUTDOWN_TIMEOUT", "5s"), "how long SIGTERM waits for requests in flight and the worker [SITELOG_SHUTDOWN_TIMEOUT]")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", env("SITELOG_PPROF_ADDR", ""), "loopback address (such as 127.0.0.1:6060) to serve net/http/pprof on; off when empty [SITELOG_PPROF_ADDR]")
	fs.StringVar(&level, "log-level", env("SITELOG_LOG_LEVEL", "info"), "debug, info, warn or error [SITELOG_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if err := checkDB(cfg.DB); err != nil {
		return cfg, err
	}
	if m.ingests() {
		if cfg.Fsync, err = wal.ParseFsyncMode(fsync); err != nil {
			return cfg, fmt.Errorf("--fsync: %w", err)
		}
		if cfg.MaxBacklog, err = strconv.ParseUint(backlog, 10, 64); err != nil {
			return cfg, fmt.Errorf("--max-backlog %q: must be a whole number", backlog)
		}
		if cfg.MaxBacklogMB, err = strconv.ParseUint(backlogMB, 10, 64); err != nil {
			return cfg, fmt.Errorf("--max-backlog-mb %q: must be a whole number", backlogMB)
		}
		if cfg.MinFreeMB, err = strconv.ParseUint(minFree, 10, 64); err != nil {
			return cfg, fmt.Errorf("--min-free-mb %q: must be a whole number", minFree)
		}
		mb, err := strconv.Atoi(segment)
		if err != nil || mb < 1 || mb > 1024 {
			return cfg, fmt.Errorf("--segment-mb %q: must be a whole number from 1 to 1024", segment)
		}
		cfg.SegmentBytes = mb << 20
		if v := getenv("SITELOG_TEST_SEGMENT_BYTES"); v != "" {
			if cfg.SegmentBytes, err = strconv.Atoi(v); err != nil || cfg.SegmentBytes < 1 {
				return cfg, fmt.Errorf("SITELOG_TEST_SEGMENT_BYTES %q: must be a whole number", v)
			}
		}
		cfg.CrashAt = getenv("SITELOG_TEST_CRASH_AT")
		if cfg.BatchSize, err = strconv.Atoi(batch); err != nil || cfg.BatchSize < 1 || cfg.BatchSize > maxBatchSize {
			return cfg, fmt.Errorf("--batch-size %q: must be a whole number from 1 to %d", batch, maxBatchSize)
		}
		if cfg.RateLimit, err = strconv.ParseFloat(rateLimit, 64); err != nil || cfg.RateLimit < 0 || cfg.RateLimit != cfg.RateLimit {
			return cfg, fmt.Errorf("--rate-limit %q: must be a number of requests per second, 0 for no limit", rateLimit)
		}
		if cfg.TrustedProxies, err = derive.ParseTrustedProxies(trusted); err != nil {
			return cfg, fmt.Errorf("--trusted-proxies %q: must be comma-separated CIDR prefixes such as 10.0.0.0/8,::1/128", trusted)
		}
		days, err := strconv.Atoi(retain)
		if err != nil || days < 0 {
			return cfg, fmt.Errorf("--retain-raw %q: must be a whole number of days (0 keeps every raw event)", retain)
		}
		cfg.RetainRaw = time.Duration(days) * 24 * time.Hour
		if cfg.PathsPerDay, err = strconv.Atoi(paths); err != nil || cfg.PathsPerDay < 1 {
			return cfg, fmt.Errorf("--paths-per-day %q: must be a whole number of at least 1", paths)
		}
		if cfg.StrictSites, err = strconv.ParseBool(strict); err != nil {
			return cfg, fmt.Errorf("--strict-sites %q: must be true or false", strict)
		}
	}
	if m.reports() {
		switch reportAuth {
		case "auto":
		case "required":
			cfg.RequireKeys = true
		default:
			return cfg, fmt.Errorf("--report-auth %q: must be auto or required", reportAuth)
		}
	}
	if cfg.ShutdownTimeout, err = time.ParseDuration(shutdown); err != nil || cfg.ShutdownTimeout <= 0 {
		return cfg, fmt.Errorf("--shutdown-timeout %q: must be a positive duration such as 5s", shutdown)
	}
	if cfg.PprofAddr != "" && !loopback(cfg.PprofAddr) {
		return cfg, fmt.Errorf("--pprof-addr %q: must be a loopback address such as 127.0.0.1:6060 (profiles reveal internals)", cfg.PprofAddr)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("--log-level %q: must be debug, info, warn or error", level)
	}
	return cfg, nil
}

// checkDB accepts an empty --db (SQLite) or a PostgreSQL URL.
func checkDB(db string) error {
	if db == "" || strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return nil
	}
	return fmt.Errorf("--db: must be empty (SQLite under --data-dir) or a postgres:// URL")
}

// loopback reports whether addr is host:port with a loopback host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
