package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"sitelog/dashboard"
	"sitelog/derive"
	"sitelog/ingest"
	"sitelog/metrics"
	"sitelog/report"
	"sitelog/rollup"
	"sitelog/rollup/pgstore"
	"sitelog/sites"
	"sitelog/wal"
)

// HTTP server limits. ReadHeaderTimeout stops a slow-loris client from
// holding a connection with a header it never finishes; the body limits are
// the handlers' own.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// adminOpenTimeout bounds the connection (and schema check) that the admin
// API of a process on PostgreSQL makes on its first write: a database that
// does not answer is a 503, not a request left hanging.
const adminOpenTimeout = 5 * time.Second

// serve opens the parts in order (database, log, worker, sites registry,
// listeners), runs until ctx is done, then stops them in reverse: listeners
// first, so every request in flight is answered; then the registry's
// polling; then the worker, after it has applied what the log holds or the
// shutdown timeout passed; then the log, then the database.
//
// With --db, the worker applies into PostgreSQL as this data directory's
// node, and reports and the sites registry (sites, their zones, report
// keys, goals) are read from PostgreSQL, one registry for every process on
// it. A node fenced off by another process started on the same node stops
// the whole process.
func serve(ctx context.Context, cfg config, logger *slog.Logger) (err error) {
	ctx, stopWith := context.WithCancelCause(ctx)
	defer stopWith(nil)
	reg := metrics.NewRegistry()
	httpm := metrics.NewHTTP(reg)
	dbPath := filepath.Join(cfg.DataDir, "sitelog.db")
	// The worker's context is cancelled by its closer once it has drained
	// the log; deferred before the closers run, so that it runs after
	// them, it only releases the context when serve fails before the
	// worker starts.
	workerCtx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	var closers []closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			start := time.Now()
			if cerr := closers[i].close(); cerr != nil && err == nil {
				err = cerr
			}
			logger.Debug("stopped "+closers[i].name, "took", time.Since(start))
		}
	}()

	var (
		log      *wal.Log
		worker   *rollup.Worker
		store    *rollup.Store
		node     *pgNode // with --db
		registry *sites.Registry
	)
	var workerDone sync.WaitGroup
	if cfg.Mode.ingests() {
		// Days count in each site's time zone. The worker starts only
		// once the registry is loaded, below.
		zone := func(site string) *time.Location { return registry.Zone(site) }
		workerMetrics := rollup.NewMetrics(reg)
		if cfg.DB == "" {
			store, err = rollup.Open(dbPath, rollup.Options{
				PathsPerDay: cfg.PathsPerDay,
				Logger:      logger,
				Metrics:     workerMetrics,
				Zone:        zone,
			})
			if err != nil {
				return err
			}
			closers = append(closers, closer{"database", store.Close})
		}
		log, err = wal.Open(filepath.Join(cfg.DataDir, "wal"), wal.Options{
			Fsync:           cfg.Fsync,
			MaxBacklog:      cfg.MaxBacklog,
			MaxBacklogBytes: cfg.MaxBacklogMB << 20,
			MinFreeBytes:    cfg.MinFreeMB << 20,
			SegmentSize:     cfg.SegmentBytes,
			CrashAt:         cfg.CrashAt,
			Logger:          logger,
			Metrics:         wal.NewMetrics(reg),
		})
		if err != nil {
			return err
		}
		closers = append(closers, closer{"log", log.Close})
		var target rollup.Target
		if cfg.DB != "" {
			node, err = attachNode(ctx, cfg, log, logger, reg, workerMetrics, zone)
			if err != nil {
				return err
			}
			closers = append(closers, closer{"PostgreSQL node", node.close})
			target = node
		} else {
			applied, err := store.Applied(log.Identity())
			if err != nil {
				return err
			}
			if err := log.Prepare(applied); err != nil {
				return err
			}
			target = store
		}
		worker = rollup.NewWorker(target, log, rollup.WorkerConfig{Logger: logger, RetainRaw: cfg.RetainRaw, BatchSize: cfg.BatchSize})
	}

	// The sites registry and the report keys, read through a read-only
	// pool (which reports share) and re-read within a second of a change
	// that the sites, keys and goals commands or the admin API make. With
	// --db they are PostgreSQL's, whose schema a node has made (this one,
	// above, or another: a report process refuses a database without it).
	var (
		readers   *sql.DB
		dialect   sites.Dialect
		openAdmin = func() (*sql.DB, error) { return rollup.OpenAdmin(dbPath) }
	)
	if cfg.DB == "" {
		readers, err = rollup.OpenReadOnly(dbPath)
	} else {
		readers, err = pgstore.OpenReaders(ctx, cfg.DB)
		dialect = sites.PostgreSQL
		openAdmin = func() (*sql.DB, error) {
			// On the admin API's first write, within that request's time.
			ctx, cancel := context.WithTimeout(ctx, adminOpenTimeout)
			defer cancel()
			return pgstore.OpenAdmin(ctx, cfg.DB)
		}
	}
	if err != nil {
		return err
	}
	closers = append(closers, closer{"read-only database pool", readers.Close})
	registry, err = sites.Load(ctx, readers, sites.Options{Logger: logger, Dialect: dialect})
	if err != nil {
		return err
	}
	registryCtx, stopRegistry := context.WithCancel(context.Background())
	defer stopRegistry()
	var registryDone sync.WaitGroup
	registryDone.Go(func() { registry.Run(registryCtx) })
	closers = append(closers, closer{"sites registry", func() error {
		stopRegistry()
		registryDone.Wait()
		return nil
	}})

	if worker != nil {
		workerDone.Go(func() {
			if err := worker.Run(workerCtx); err != nil {
				logger.Error("rollup worker stopped; stopping the process", "err", err)
				stopWith(err)
			}
		})
		closers = append(closers, closer{"worker", func() error {
			// The listeners are closed by now, so nothing more is appended:
			// give the worker until the shutdown timeout to apply the rest.
			drainWorker(log, worker, cfg.ShutdownTimeout)
			stopWorker()
			workerDone.Wait()
			return nil
		}})
	}

	var servers []*http.Server
	var names []string // of servers, for the log
	if cfg.Mode.ingests() {
		r := newRouter(reg, httpm, func() error {
			switch {
			case !log.Ready():
				return errors.New("log is closed or failed a write")
			case !worker.Running():
				return errors.New("rollup worker is not running")
			}
			return nil
		})
		var checker ingest.SiteChecker // nil: events for any site, from anywhere
		if cfg.StrictSites {
			checker = registry
		}
		// The daily salts of visitor ids, kept apart from the log and the
		// database: deleting them is what makes old ids unlinkable. With
		// --db, the nodes share them in the database, so that a visitor
		// has one id whichever node its events reach.
		var salts *derive.Salts
		if node != nil {
			salts, err = derive.NewSalts(node.store.Salts(), time.Now)
		} else {
			salts, err = derive.OpenSalts(filepath.Join(cfg.DataDir, "salts"), time.Now)
		}
		if err != nil {
			return err
		}
		ingest.New(ingest.Config{
			Logger:         logger,
			Wrap:           httpm.Wrap,
			Sites:          checker,
			RateLimit:      cfg.RateLimit,
			TrustedProxies: cfg.TrustedProxies,
			Salts:          salts,
		}, log, ingest.NewMetrics(reg)).Register(r)
		servers = append(servers, newServer(ctx, cfg.IngestAddr, r))
		names = append(names, "ingest")
	}
	if cfg.Mode.reports() {
		admin := sites.NewAPI(registry, openAdmin, logger)
		closers = append(closers, closer{"admin API database", admin.Close})
		store := report.SQLite
		if cfg.DB != "" {
			store = report.PostgreSQL
		}
		r := newRouter(reg, httpm, func() error { return readers.PingContext(ctx) })
		report.New(readers, report.Config{
			Logger:      logger,
			Wrap:        httpm.Wrap,
			Keys:        registry,
			RequireKeys: cfg.RequireKeys,
			Admin:       admin,
			Store:       store,
		}).Register(r)
		// The dashboard draws the query API's answers, which both stores give.
		dashboard.New(dashboard.Config{
			Keys:        registry,
			RequireKeys: cfg.RequireKeys,
			Sites:       func() []sites.Site { return registry.Snapshot().Sites() },
			Wrap:        httpm.Wrap,
		}).Register(r)
		servers = append(servers, newServer(ctx, cfg.ReportAddr, r))
		names = append(names, "report")
	}

	if cfg.PprofAddr != "" {
		srv := newServer(ctx, cfg.PprofAddr, pprofMux())
		srv.WriteTimeout = 0 // a CPU profile streams for as long as it was asked to
		servers = append(servers, srv)
		names = append(names, "pprof")
	}

	// Listen on every address before serving any, so a taken port fails
	// the start instead of leaving half a server running.
	listeners := make([]net.Listener, len(servers))
	for i, srv := range servers {
		if listeners[i], err = net.Listen("tcp", srv.Addr); err != nil {
			for _, ln := range listeners[:i] {
				ln.Close()
			}
			return fmt.Errorf("listen %s: %w", srv.Addr, err)
		}
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		name := names[i]
		logger.Info("sitelog "+name+" listening", "addr", listeners[i].Addr().String(), "data_dir", cfg.DataDir)
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	select {
	case <-ctx.Done():
		if cause := context.Cause(ctx); errors.Is(cause, rollup.ErrFenced) {
			err = cause
		}
		logger.Info("sitelog shutting down")
	case err = <-errc:
		logger.Error("http server failed", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Side by side, so that each server waits for its own requests in
	// flight for the whole timeout.
	var stopping sync.WaitGroup
	for i, srv := range servers {
		addr := listeners[i].Addr().String()
		stopping.Go(func() {
			start := time.Now()
			if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				logger.Error("http shutdown", "addr", addr, "err", serr)
			}
			logger.Debug("stopped listener", "addr", addr, "took", time.Since(start))
		})
	}
	stopping.Wait()
	return err
}

// closer is a part to stop, named for the log.
type closer struct {
	name  string
	close func() error
}

// drainWorker waits, up to timeout, for the worker to apply every entry
// the log holds. What it does not reach is applied at the next start.
func drainWorker(log *wal.Log, worker *rollup.Worker, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for log.Applied() < log.LastIndex() && worker.Running() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func newServer(ctx context.Context, addr string, h http.Handler) *http.Server {
	fresh := &unstarted{conns: make(map[net.Conn]struct{})}
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnState:         fresh.track,
	}
	srv.RegisterOnShutdown(fresh.close)
	return srv
}

// unstarted holds a server's connections that have not sent a request.
// Shutdown waits for every connection to be idle, and net/http counts one
// that never sent anything as idle only after 5 s: a browser's preconnect
// or a load balancer's TCP check would hold a SIGTERM that long, the
// whole default timeout. Such a connection has no request in flight, so
// it is closed once the listeners are, as net/http does after 5 s.
type unstarted struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool // by Shutdown: a connection accepted just before is closed at once
}

func (u *unstarted) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case state != http.StateNew:
		delete(u.conns, c)
	case u.closed:
		c.Close()
	default:
		u.conns[c] = struct{}{}
	}
}

func (u *unstarted) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	for c := range u.conns {
		c.Close()
	}
	clear(u.conns)
}

// newRouter returns a router with the routes every address serves:
// /metrics, /healthz (the process is alive) and /readyz (ready reports
// whether it can do its work).
func newRouter(reg *prometheus.Registry, httpm *metrics.HTTP, ready func() error) *httprouter.Router {
	r := httprouter.New()
	r.Handler(http.MethodGet, "/metrics", httpm.Wrap("metrics", metrics.Handler(reg)))
	r.Handler(http.MethodGet, "/healthz", httpm.Wrap("healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	r.Handler(http.MethodGet, "/readyz", httpm.Wrap("readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"error": "not ready: " + err.Error()})
			return
		}
		writeStatus(w, http.StatusOK, map[string]string{"status": "ready"})
	})))
	return r
}

func writeStatus(w http.ResponseWriter, code int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// pprofMux serves the runtime profiles on a mux of its own: importing
// net/http/pprof registers them on http.DefaultServeMux, which sitelog
// never serves.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
