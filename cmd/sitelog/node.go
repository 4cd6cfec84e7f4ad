package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sitelog/event"
	"sitelog/internal/durable"
	"sitelog/rollup"
	"sitelog/rollup/pgstore"
	"sitelog/sites"
	"sitelog/wal"
)

// nodeIDFile keeps, in the data directory beside the log, the id that the
// PostgreSQL store allocated to this node at its first start.
const nodeIDFile = "node-id"

// Clock checks: a node stamps events that carry no time with its own
// clock, so one that differs from the database's by more than
// maxClockOffset says so, in the log and in sitelog_node_clock_offset_seconds.
const (
	maxClockOffset = time.Second
	clockEvery     = time.Minute
)

// Housekeeping on PostgreSQL, which every node runs (advisory locks make
// the nodes take turns), every housekeepEvery:
//   - raw-event retention drops whole days; retainMargin covers events
//     whose own time lies before their receipt: a client's timestamp, or a
//     batch sent late;
//   - days that ended foldAfter ago (in UTC: more than any site's zone is
//     behind) are folded from one row per node into one, so that reads of
//     long ranges do not grow with the number of nodes.
const (
	housekeepEvery = time.Hour
	retainMargin   = 48 * time.Hour
	foldAfter      = 2 * 24 * time.Hour
)

// pgNode is this process as a node of a PostgreSQL store, the rollup
// worker's target: it applies the node's log into the shared database.
type pgNode struct {
	store  *pgstore.Store
	node   *pgstore.Node
	log    *wal.Log
	logger *slog.Logger
	m      *rollup.Metrics // the worker's, nil for none
	// moved is when the checkpoint last moved (Unix nanoseconds), for
	// sitelog_node_checkpoint_age_seconds.
	moved  atomic.Int64
	offset prometheus.Gauge
	peek   []wal.Entry
	ev     event.Event
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// attachNode opens the PostgreSQL store at cfg.DB and attaches this data
// directory's log to it as a node: the id saved in the directory, or a
// new one that it saves. The log must not have been prepared yet: the
// node's checkpoint, from the database, is what prepares it. zone gives
// the sites' time zones, whose days the rollups count in.
func attachNode(ctx context.Context, cfg config, log *wal.Log, logger *slog.Logger, reg prometheus.Registerer, m *rollup.Metrics, zone func(string) *time.Location) (*pgNode, error) {
	store, err := pgstore.Open(ctx, cfg.DB, pgstore.Options{Logger: logger, Zone: zone, PathsPerDay: cfg.PathsPerDay, BeforeCommit: log.BeforeDBCommit})
	if err != nil {
		return nil, err
	}
	p, err := attach(ctx, store, cfg.DataDir, log, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	p.m = m
	p.register(reg)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	p.wg.Go(func() { p.watchClock(bg) })
	p.wg.Go(func() { p.housekeep(bg, cfg.RetainRaw) })
	return p, nil
}

// attach attaches the log of dataDir as a node of store, and prepares the
// log with the node's checkpoint.
func attach(ctx context.Context, store *pgstore.Store, dataDir string, log *wal.Log, logger *slog.Logger) (*pgNode, error) {
	idPath := filepath.Join(dataDir, nodeIDFile)
	id, err := readNodeID(idPath)
	if err != nil {
		return nil, err
	}
	first, err := log.FirstIndex()
	if err != nil {
		return nil, err
	}
	n, err := store.Attach(ctx, pgstore.Local{
		Identity:   log.Identity(),
		NodeID:     id,
		First:      first,
		Last:       log.LastIndex(),
		MaxPadding: wal.MaxPadding,
	})
	if err != nil {
		return nil, err
	}
	if n.ID() != id {
		if err := writeNodeID(idPath, n.ID()); err != nil {
			return nil, err
		}
	}
	if err := log.Prepare(n.Applied()); err != nil {
		return nil, err
	}
	logger.Info("attached to PostgreSQL as a node", "node_id", n.ID(), "epoch", n.Epoch(), "applied", n.Applied(), "log", log.Identity())
	p := &pgNode{store: store, node: n, log: log, logger: logger}
	p.moved.Store(time.Now().UnixNano())
	return p, nil
}

// close stops the node's background work and closes its connections.
// The worker must have stopped.
func (p *pgNode) close() error {
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
	p.store.Close()
	return nil
}

// Applied is the node's checkpoint, as of its last commit: the log's
// identity is the node's.
func (p *pgNode) Applied(string) (uint64, error) { return p.node.Applied(), nil }

// Apply applies a batch of the node's log. It publishes, as the node's
// low-watermark, the time of the event that follows the batch in the log
// (none when the batch reaches the log's end): the oldest a retention pass
// must keep for this node.
func (p *pgNode) Apply(ctx context.Context, _ string, entries []wal.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	start := time.Now()
	err := p.node.Apply(ctx, entries, p.nextTime(ctx, entries[len(entries)-1].Index))
	if errors.Is(err, pgstore.ErrFenced) {
		return fmt.Errorf("%w: %w", rollup.ErrFenced, err)
	}
	if err == nil {
		p.moved.Store(time.Now().UnixNano())
		p.m.ObserveBatch(len(entries), time.Since(start))
	}
	return err
}

// peekWait bounds the wait for the entry after a batch to be durable (with
// --fsync=interval, up to the next fsync): the batch does not wait for it.
const peekWait = 5 * time.Millisecond

// nextTime is the time of the event at index last+1 of the log, or zero
// when there is none yet, or it cannot be read at once.
func (p *pgNode) nextTime(ctx context.Context, last uint64) time.Time {
	if p.log.LastIndex() <= last {
		return time.Time{}
	}
	ctx, cancel := context.WithTimeout(ctx, peekWait)
	defer cancel()
	var err error
	p.peek, err = p.log.Read(ctx, last+1, 1, p.peek)
	if err != nil || len(p.peek) == 0 || p.peek[0].Data == nil || event.Decode(p.peek[0].Data, &p.ev) != nil {
		return time.Time{}
	}
	return p.ev.Time
}

// register adds the node's collectors: its id, how long its checkpoint
// has lagged, and its clock's offset from the database's. The queue lag
// of its log is the log's own (sitelog_queue_lag_events).
func (p *pgNode) register(reg prometheus.Registerer) {
	id := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sitelog_node_id",
		Help: "This process's node id in the PostgreSQL store.",
	})
	id.Set(float64(p.node.ID()))
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sitelog_node_checkpoint_age_seconds",
		Help: "Seconds since this node's checkpoint in PostgreSQL last moved while its log held unapplied events; 0 when it has applied everything.",
	}, func() float64 {
		if p.log.Applied() >= p.log.LastIndex() {
			return 0
		}
		return time.Since(time.Unix(0, p.moved.Load())).Seconds()
	})
	p.offset = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sitelog_node_clock_offset_seconds",
		Help: "This node's clock minus the PostgreSQL server's, measured every minute; events without a timestamp carry the node's time.",
	})
	reg.MustRegister(id, age, p.offset)
}

// watchClock measures the node's clock offset from the database's every
// clockEvery, until ctx ends.
func (p *pgNode) watchClock(ctx context.Context) {
	tick := time.NewTicker(clockEvery)
	defer tick.Stop()
	for {
		offset, err := p.store.ClockOffset(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.logger.Warn("could not read the PostgreSQL server's clock", "err", err)
		case err == nil:
			p.offset.Set(offset.Seconds())
			if offset > maxClockOffset || offset < -maxClockOffset {
				p.logger.Warn("this node's clock differs from the PostgreSQL server's: events without a timestamp get this node's time; synchronise the clocks (NTP)",
					"offset", offset, "bound", maxClockOffset)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// housekeep folds closed days and, when keep is not 0, drops the days of
// raw events older than keep (rollups keep them counted), every
// housekeepEvery until ctx ends.
func (p *pgNode) housekeep(ctx context.Context, keep time.Duration) {
	tick := time.NewTicker(housekeepEvery)
	defer tick.Stop()
	for {
		before := time.Now().UTC().Add(-foldAfter).Format(time.DateOnly)
		folded, err := p.store.Fold(ctx, before)
		switch {
		case err != nil && ctx.Err() == nil:
			p.logger.Error("could not fold the rollups of closed days; trying again later", "err", err)
		case folded > 0:
			p.logger.Info("folded the rollups of closed days into one row per key", "before", before, "rows", folded)
		}
		if keep > 0 {
			dropped, visits, err := p.store.Retain(ctx, time.Now().Add(-keep), retainMargin)
			switch {
			case err != nil && ctx.Err() == nil:
				p.logger.Error("could not drop old raw events; trying again later", "err", err)
			case len(dropped) > 0 || visits > 0:
				p.logger.Info("dropped days of raw events, and their visits, past retention", "days", len(dropped), "visits", visits)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readNodeID reads the node id saved at path, 0 if there is none yet.
func readNodeID(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%s does not hold a node id (%q): restore it, or remove the whole data directory to join as a new node", path, b)
	}
	return id, nil
}

// writeNodeID saves id at path so that it survives a crash whole. Were it
// lost, the database would still find the node by its log's identity.
func writeNodeID(path string, id int64) error {
	if err := durable.WriteFile(path, []byte(strconv.FormatInt(id, 10)+"\n"), 0o640); err != nil {
		return fmt.Errorf("save the node id: %w", err)
	}
	return nil
}

// runNode is `sitelog node retire [--data-dir D] [--db URL]`: take a
// stopped node out of a PostgreSQL cluster for good. It attaches the node
// (which fences off any copy of it still running elsewhere), applies what
// its log still holds, checks that the checkpoint has reached the log's
// last entry and marks the node retired; its id is never used again, and
// retention stops waiting for it.
func runNode(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	const usage = "usage: sitelog node retire [--data-dir DIR] [--db URL] [--timeout D]\n\nRetires the stopped node whose data directory is DIR from the PostgreSQL store at URL:\napplies what its log still holds, then marks it retired. Stop the node first (SIGTERM).\n"
	if len(args) == 0 || args[0] != "retire" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("sitelog node retire", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dataDir string
	dataDirFlag(fs, getenv, &dataDir, "the node's data directory")
	db := fs.String("db", getenv("SITELOG_DB"), "the PostgreSQL store's URL [SITELOG_DB]")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the log to be applied")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sitelog node retire: %v\n", err)
		return 1
	}
	if *db == "" {
		return fail(errors.New("--db (or SITELOG_DB) must name the PostgreSQL store"))
	}
	if err := checkDB(*db); err != nil {
		return fail(err)
	}
	idPath := filepath.Join(dataDir, nodeIDFile)
	if _, err := os.Stat(idPath); err != nil {
		return fail(fmt.Errorf("%s: no node here (%w)", dataDir, err))
	}
	log, err := wal.Open(filepath.Join(dataDir, "wal"), wal.Options{})
	if errors.Is(err, wal.ErrLocked) {
		return fail(errors.New("the node is running: stop it first (SIGTERM applies what it can), then retire it"))
	}
	if err != nil {
		return fail(err)
	}
	defer log.Close()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// What the log still holds counts in the sites' zones of the shared
	// registry, as the node would have counted it. (The cap on paths per
	// day is the default one.) The store first: it brings the schema, the
	// registry's included, up to date.
	var registry *sites.Registry
	store, err := pgstore.Open(ctx, *db, pgstore.Options{Logger: logger, Zone: func(site string) *time.Location { return registry.Zone(site) }})
	if err != nil {
		return fail(err)
	}
	readers, err := pgstore.OpenReaders(ctx, *db)
	if err != nil {
		store.Close()
		return fail(err)
	}
	defer readers.Close()
	if registry, err = sites.Load(ctx, readers, sites.Options{Logger: logger, Dialect: sites.PostgreSQL}); err != nil {
		store.Close()
		return fail(err)
	}
	p, err := attach(ctx, store, dataDir, log, logger)
	if err != nil {
		store.Close()
		return fail(err)
	}
	defer p.close()

	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	worker := rollup.NewWorker(p, log, rollup.WorkerConfig{Logger: logger})
	done := make(chan error, 1)
	go func() { done <- worker.Run(wctx) }()
	for log.Applied() < log.LastIndex() && wctx.Err() == nil && len(done) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		return fail(err)
	}
	last := log.LastIndex()
	if log.Applied() < last {
		return fail(fmt.Errorf("applied %d of %d entries within %v; run it again to go on", log.Applied(), last, *timeout))
	}
	if err := p.node.Retire(ctx, last); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "node %d retired: its log is applied up to entry %d; %s may be removed\n", p.node.ID(), last, dataDir)
	return 0
}
