package rollup

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"sitelog/event"
	"sitelog/wal"
)

// ErrNotNext is returned by Apply for a batch that does not continue the
// checkpoint: entries would be skipped.
var ErrNotNext = errors.New("rollup: batch does not start right after the checkpoint")

// zone is the time zone of a site's days: Options.Zone's, or UTC; during a
// rebuild, the registry's.
func (s *Store) zone(site string) *time.Location {
	if s.rebuildZones != nil {
		if loc := s.rebuildZones[site]; loc != nil {
			return loc
		}
		return time.UTC
	}
	if s.opts.Zone != nil {
		if loc := s.opts.Zone(site); loc != nil {
			return loc
		}
	}
	return time.UTC
}

// Apply applies entries of the log with the given identity in one
// transaction: the raw events, every rollup and the checkpoint. Entries
// at or below the checkpoint are dropped, so applying a range again after
// a crash changes nothing; the rest must continue the checkpoint without a
// gap (ErrNotNext). An entry with nil Data is a no-op; one that does not
// decode is logged, counted and skipped. Either way its index is applied.
// Cancelling ctx aborts the transaction and applies nothing; the worker
// passes a context without cancellation, so that a batch in progress at
// shutdown commits.
func (s *Store) Apply(ctx context.Context, identity string, entries []wal.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.apply(ctx, identity, entries); err != nil {
		// A failed commit may still be on disk (an fsync that failed after
		// the write), so the paths of days are read again rather than
		// trusted. The known visitors stay: a row that may or may not be
		// stored was never added to them.
		s.known.forgetDays(0)
		s.an.forget()
		return fmt.Errorf("rollup: apply: %w", err)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, identity string, entries []wal.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	for i, e := range entries[1:] {
		if e.Index != entries[i].Index+1 {
			return fmt.Errorf("%w: entry %d follows %d", ErrNotNext, e.Index, entries[i].Index)
		}
	}
	start := time.Now()
	tx, err := beginWrite(ctx, s.db)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	// Deferred after the rollback, so it runs first: no insert of raw
	// events is left running on the transaction.
	defer s.b.bg.wait()

	logID, applied, err := s.logRow(ctx, tx, identity)
	if err != nil {
		return err
	}
	last := entries[len(entries)-1].Index
	if last <= applied {
		return nil // all applied before: a replay after a crash
	}
	if applied >= entries[0].Index {
		entries = entries[applied-entries[0].Index+1:]
	}
	if entries[0].Index != applied+1 {
		return fmt.Errorf("%w: log %s is applied up to %d, the batch starts at %d", ErrNotNext, identity, applied, entries[0].Index)
	}

	b := s.b
	b.reset()
	// After a batch that took long, the worker is behind: this one does
	// not yield to ingest (pace.go).
	s.pace.off = s.lastTook > hurryAfter
	b.bg.pace.off = s.pace.off
	if err := s.an.begin(ctx, sqliteAnalytics{tx, s.st, &b.anArgs, s.pace}); err != nil {
		return err
	}
	for rest := entries; len(rest) > 0; {
		n := min(s.chunk, len(rest))
		if err := s.addChunk(ctx, tx, b, identity, logID, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	if err := s.write(ctx, tx, b); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, s.st.setCheckpoint).ExecContext(ctx, last, s.opts.Now().Unix(), logID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.known.remember(s.pace, b)
	s.an.commit()
	s.lastTook = time.Since(start)
	s.m.ObserveBatch(len(entries), s.lastTook)
	s.maybeCheckpoint(ctx)
	return nil
}

// logRow returns the row id and checkpoint of the log, creating its row
// for an identity never seen.
func (s *Store) logRow(ctx context.Context, tx *writeTx, identity string) (id int64, applied uint64, err error) {
	row := tx.StmtContext(ctx, s.st.logRow)
	err = row.QueryRowContext(ctx, identity).Scan(&id, &applied)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err = tx.StmtContext(ctx, s.st.insertLog).ExecContext(ctx, identity); err != nil {
			return 0, 0, err
		}
		err = row.QueryRowContext(ctx, identity).Scan(&id, &applied)
	}
	return id, applied, err
}

// write stores the raw events of b and adds its deltas to the rollups.
// Each rollup key is written once, and in sorted order: writers that take
// row locks in the same order cannot deadlock (SQLite has one writer, but
// a PostgreSQL backend shared by several ingest nodes will not).
func (s *Store) write(ctx context.Context, tx *writeTx, b *batch) error {
	// The paths that the batch's days had before it, read before anything
	// is written; the Store holds them for days it applied to lately.
	if err := s.readDays(ctx, tx, b); err != nil {
		return fmt.Errorf("paths: %w", err)
	}
	// Finding the visitors that the Store does not know yet and capping
	// the paths are work on maps alone, done while SQLite inserts the last
	// chunk of raw events (a rebuild's raw events are all still here).
	if err := s.flushEvents(ctx, tx, b); err != nil {
		return err
	}
	b.newDailyUsers = unknownKeys(s.pace, b.newDailyUsers[:0], b.dailyUsers, s.known.dailyUsers)
	b.newSiteUsers = unknownKeys(s.pace, b.newSiteUsers[:0], b.siteUsers, s.known.siteUsers)
	s.capPaths(b)
	// The /stats rollups go in while the analytics model prepares its rows.
	if err := b.bg.start(func() error { return s.writeRollups(ctx, tx, b) }); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if err := s.an.write(ctx); err != nil {
		return err
	}
	return b.bg.wait()
}

// writeRollups adds the batch's deltas to the rollups of /stats.
func (s *Store) writeRollups(ctx context.Context, tx *writeTx, b *batch) error {
	if err := s.addUsers(ctx, tx, b); err != nil {
		return fmt.Errorf("users: %w", err)
	}

	args := b.args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.daily) {
		c := b.daily[k]
		args = append(args, k.site, k.day, c.views, c.events, c.users, c.bots, c.paths)
	}
	if err := s.st.daily.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("daily: %w", err)
	}
	args = args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.dailyTypes) {
		args = append(args, k.site, k.day, k.typ, b.dailyTypes[k])
	}
	if err := s.st.dailyTypes.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("daily types: %w", err)
	}
	args = args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.dailyPaths) {
		b.bg.pace.tick()
		args = append(args, k.site, k.day, k.path, b.dailyPaths[k])
	}
	if err := s.st.dailyPaths.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("daily paths: %w", err)
	}
	args = args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.sites) {
		c := b.sites[k]
		args = append(args, k.site, c.views, c.events, c.users, c.bots)
	}
	if err := s.st.sites.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("sites: %w", err)
	}
	args = args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.siteTypes) {
		args = append(args, k.site, k.typ, b.siteTypes[k])
	}
	if err := s.st.siteTypes.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("site types: %w", err)
	}
	args = args[:0]
	for _, k := range sortedKeys(&b.bg.pace, b.sitePaths) {
		b.bg.pace.tick()
		args = append(args, k.site, k.path, b.sitePaths[k])
	}
	if err := s.st.sitePaths.exec(ctx, tx, args); err != nil {
		return fmt.Errorf("site paths: %w", err)
	}
	b.args = args
	return nil
}

// add counts one event in the batch and the analytics model, in the day
// of the site's time zone.
func (s *Store) add(ctx context.Context, tx *writeTx, b *batch, logID int64, index uint64, e *event.Event) error {
	day, hour := s.clock.local(e.Time.In(s.zone(e.SiteID)))
	var visit int64
	if !e.Bot {
		var err error
		if visit, err = s.an.add(ctx, e, day, hour); err != nil {
			return err
		}
	}
	b.add(logID, index, e, visit, day)
	return nil
}

// rawChunk is how many entries are decoded and counted, and their raw
// events inserted, at a time. SQLite inserts one chunk on another
// goroutine while this one counts the next in the same transaction, and
// the batch holds the arguments of two chunks at most instead of all its
// events'.
const rawChunk = 4096

// addChunk decodes and counts entries, with the latest visits of their
// visitors read in one statement, and hands their raw events to the
// batch's background goroutine. An entry with nil Data is a no-op; one that does not decode
// is logged, counted and skipped.
func (s *Store) addChunk(ctx context.Context, tx *writeTx, b *batch, identity string, logID int64, entries []wal.Entry) error {
	evs, idx := b.decoded[:0], b.indexes[:0]
	for _, e := range entries {
		s.pace.tick()
		if e.Data == nil {
			continue
		}
		evs = append(evs, event.Event{})
		if err := b.intern.Decode(e.Data, &evs[len(evs)-1]); err != nil {
			s.logger.Warn("rollup: skipping a log record that does not decode", "log", identity, "index", e.Index, "err", err)
			s.m.skippedRecord()
			evs = evs[:len(evs)-1]
			continue
		}
		idx = append(idx, e.Index)
	}
	b.decoded, b.indexes = evs, idx
	if err := s.an.prefetch(ctx, evs); err != nil {
		return err
	}
	for i := range evs {
		s.pace.tick()
		if err := s.add(ctx, tx, b, logID, idx[i], &evs[i]); err != nil {
			return err
		}
	}
	return s.flushEvents(ctx, tx, b)
}

// flushEvents hands the raw events counted since the last flush to the
// batch's background goroutine, once it has inserted the chunk before
// them. An error of that chunk is returned here, or by its wait.
func (s *Store) flushEvents(ctx context.Context, tx *writeTx, b *batch) error {
	if len(b.events) == 0 {
		return nil
	}
	rows := b.events
	insert := func() error { return s.st.events.exec(ctx, tx, rows) }
	if b.rebuilding {
		insert = func() error { return s.setSessions(ctx, tx, rows) }
	}
	if err := b.bg.start(insert); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	// The chunk before is inserted: its buffer takes the next one.
	clear(b.spare)
	b.events, b.spare = b.spare[:0], rows
	return nil
}

// background runs a batch's statements, one function at a time, on a
// goroutine of its own while the batch's goroutine goes on counting or
// preparing rows. What the two write at the same time are different
// tables, and what the batch's goroutine reads meanwhile is in tables that
// the background does not write. database/sql runs one statement at a
// time on the transaction's connection.
type background struct {
	busy bool
	done chan error
	pace pacer // the goroutine's; what it runs ticks it
}

// start waits for the function before, then runs f, unless the one
// before failed: its error is returned and f is not run.
func (g *background) start(f func() error) error {
	if err := g.wait(); err != nil {
		return err
	}
	if g.done == nil {
		g.done = make(chan error, 1)
	}
	g.busy = true
	go func() { g.done <- f() }()
	return nil
}

// wait returns the error of the function running once it is done; nil
// when none is.
func (g *background) wait() error {
	if !g.busy {
		return nil
	}
	g.busy = false
	return <-g.done
}

// localClock formats local days and hours, remembering those it formatted:
// formatting each event's time allocated two strings, and a batch's events
// spread over days (a backlog, late events, the load tool's default 30
// days) change hours from one event to the next. The last hour is kept
// apart, as events mostly come in bursts of the same hour.
type localClock struct {
	last  localHour
	text  hourText
	hours map[localHour]hourText // up to maxLocalHours
}

// localHour is an hour of local time.
type localHour struct{ year, yday, hour int }

type hourText struct{ day, hour string }

// maxLocalHours bounds the hours a localClock remembers: half a year of
// them, about 300 KB. Past it, they are all dropped.
const maxLocalHours = 1 << 12

// local returns the day ('YYYY-MM-DD') and hour ('00'..'23') of lt.
func (c *localClock) local(lt time.Time) (day, hour string) {
	h := localHour{lt.Year(), lt.YearDay(), lt.Hour()}
	if h != c.last || c.text.day == "" {
		t, ok := c.hours[h]
		if !ok {
			switch {
			case c.hours == nil:
				c.hours = make(map[localHour]hourText)
			case len(c.hours) >= maxLocalHours:
				clear(c.hours)
			}
			t = hourText{lt.Format(time.DateOnly), lt.Format("15")}
			c.hours[h] = t
		}
		c.last, c.text = h, t
	}
	return c.text.day, c.text.hour
}

// setSessions stores the visit of each raw event of rows, which a rebuild
// reads back rather than inserts.
func (s *Store) setSessions(ctx context.Context, tx *writeTx, rows []any) error {
	st := tx.StmtContext(ctx, s.st.setSession)
	for row := rows; len(row) > 0; row = row[eventCols:] {
		if _, err := st.ExecContext(ctx, row[11], row[0], row[1]); err != nil {
			return err
		}
	}
	return nil
}

// addUsers inserts the batch's visitors into the daily and all-time
// visitor sets and adds the ones that were new to the user counts. The
// visitors that the Store knows to be in a set already are left out: most
// visitors return, and each would cost an insert that finds its row.
func (s *Store) addUsers(ctx context.Context, tx *writeTx, b *batch) error {
	args := b.args[:0]
	for _, k := range b.newDailyUsers {
		b.bg.pace.tick()
		args = append(args, k.site, k.day, k.user)
	}
	var k dayKey
	err := s.st.dailyUsers.query(ctx, tx, args, func(r *sql.Rows) error {
		if err := r.Scan(&k.site, &k.day); err != nil {
			return err
		}
		b.daily[k].users++
		return nil
	})
	if err != nil {
		return err
	}
	args = args[:0]
	for _, k := range b.newSiteUsers {
		b.bg.pace.tick()
		args = append(args, k.site, k.user)
	}
	var site siteKey
	err = s.st.siteUsers.query(ctx, tx, args, func(r *sql.Rows) error {
		if err := r.Scan(&site.site); err != nil {
			return err
		}
		b.sites[site].users++
		return nil
	})
	b.args = args
	return err
}

// readDays finds what the Store knows of each day with page views in the
// batch, reading the paths of a day it does not hold.
func (s *Store) readDays(ctx context.Context, tx *writeTx, b *batch) error {
	var stmt *sql.Stmt
	for k, c := range b.daily {
		if c.views == 0 {
			continue
		}
		if stmt == nil {
			stmt = tx.StmtContext(ctx, s.st.dailyPathsOf)
		}
		m, err := s.known.day(ctx, stmt, k)
		if err != nil {
			return err
		}
		b.days[k] = &dayPaths{stored: m, known: make(map[string]bool)}
	}
	return nil
}

// capPaths counts the batch's page views per path, under OtherPath for a
// new path of a day that already has PathsPerDay paths. New paths are
// admitted in the order of their first page view in the log, so the paths
// that make it under the cap do not depend on how the log was cut into
// batches. It needs no lookup: readDays found every path of each day.
func (s *Store) capPaths(b *batch) {
	for _, pv := range b.pageViews {
		s.pace.tick()
		k := dayKey{pv.site, pv.day}
		d := b.days[k]
		path := pv.path
		admitted, seen := d.known[path]
		if !seen {
			_, stored := d.stored.paths[path]
			switch {
			case stored || path == OtherPath:
				admitted = true
			case len(d.stored.paths)+d.added < s.opts.PathsPerDay:
				admitted = true
				d.added++
			}
			d.known[path] = admitted
		}
		if !admitted {
			path = OtherPath
		}
		b.dailyPaths[dayPathKey{k.site, k.day, path}]++
		b.sitePaths[sitePathKey{k.site, path}]++
	}
	for k, d := range b.days {
		b.daily[k].paths += int64(d.added)
	}
}

// dayPaths is what capPaths knows of one site and day.
type dayPaths struct {
	stored *dayMemo        // every path committed before the batch
	added  int             // new paths admitted by the batch
	known  map[string]bool // path → admitted, for paths seen in the batch
}

// batch collects the raw events and rollup deltas of one Apply. Its maps
// and slices are kept between batches.
type batch struct {
	events     []any // raw event rows not yet inserted, as arguments of the insert
	spare      []any // the buffer of the chunk inserted before
	bg         background
	decoded    []event.Event  // the chunk being counted (addChunk)
	intern     event.Interner // decodes it, across batches
	indexes    []uint64       // their log indexes
	rebuilding bool           // the raw events are stored already: set their visits only
	args       []any          // scratch for the upserts of the /stats rollups
	anArgs     []any          // scratch for the analytics model's statements
	pageViews  []dayPathKey
	daily      map[dayKey]*dayCounts
	dailyTypes map[dayTypeKey]int64
	dailyUsers map[dayUserKey]struct{}
	dailyPaths map[dayPathKey]int64
	sites      map[siteKey]*siteCounts
	siteTypes  map[siteTypeKey]int64
	siteUsers  map[siteUserKey]struct{}
	sitePaths  map[sitePathKey]int64
	days       map[dayKey]*dayPaths // the days with page views

	// The visitors that the Store did not know to be in their sets: the
	// batch inserts these, and counts those that were new.
	newDailyUsers []dayUserKey
	newSiteUsers  []siteUserKey
}

func newBatch() *batch {
	return &batch{
		daily:      make(map[dayKey]*dayCounts),
		dailyTypes: make(map[dayTypeKey]int64),
		dailyUsers: make(map[dayUserKey]struct{}),
		dailyPaths: make(map[dayPathKey]int64),
		sites:      make(map[siteKey]*siteCounts),
		siteTypes:  make(map[siteTypeKey]int64),
		siteUsers:  make(map[siteUserKey]struct{}),
		sitePaths:  make(map[sitePathKey]int64),
		days:       make(map[dayKey]*dayPaths),
	}
}

func (b *batch) reset() {
	b.bg.wait() // idle: every Apply waits for it before it returns
	clear(b.events)
	b.events = b.events[:0]
	clear(b.spare)
	clear(b.decoded)
	b.decoded = b.decoded[:0]
	clear(b.args)
	b.args = b.args[:0]
	clear(b.anArgs)
	b.anArgs = b.anArgs[:0]
	b.pageViews = b.pageViews[:0]
	clear(b.daily)
	clear(b.dailyTypes)
	clear(b.dailyUsers)
	clear(b.dailyPaths)
	clear(b.sites)
	clear(b.siteTypes)
	clear(b.siteUsers)
	clear(b.sitePaths)
	clear(b.days)
	clear(b.newDailyUsers)
	b.newDailyUsers = b.newDailyUsers[:0]
	clear(b.newSiteUsers)
	b.newSiteUsers = b.newSiteUsers[:0]
}

// add counts one event. Bots count only as bots; every other event counts
// as an event of its type and its user as a visitor; page views count as
// views, and per path once capPaths has decided under which.
func (b *batch) add(logID int64, index uint64, e *event.Event, visit int64, day string) {
	bot := int64(0)
	if e.Bot {
		bot = 1
	}
	// eventCols values, in the order of the events statement.
	b.events = append(b.events, logID, int64(index), e.SiteID, e.Type, e.Path, text(e.Query), text(e.Fragment), text(e.UserID), e.Time.UnixMicro(), bot,
		int64(e.Visitor), visit, text(e.Hostname), text(e.Referrer), text(e.Source), text(e.UTMSource), text(e.UTMMedium), text(e.UTMCampaign), text(e.UTMContent), text(e.UTMTerm),
		text(e.Browser), text(e.OS), text(e.Device), text(e.Country), int64(e.ScreenWidth), text(e.Props))

	dk := dayKey{e.SiteID, day}
	sk := siteKey{e.SiteID}
	dc := b.daily[dk]
	if dc == nil {
		dc = new(dayCounts)
		b.daily[dk] = dc
	}
	sc := b.sites[sk]
	if sc == nil {
		sc = new(siteCounts)
		b.sites[sk] = sc
	}
	switch {
	case e.Bot:
		dc.bots++
		sc.bots++
	default:
		dc.events++
		sc.events++
		b.dailyTypes[dayTypeKey{e.SiteID, day, e.Type}]++
		b.siteTypes[siteTypeKey{e.SiteID, e.Type}]++
		if e.UserID != "" {
			b.dailyUsers[dayUserKey{e.SiteID, day, e.UserID}] = struct{}{}
			b.siteUsers[siteUserKey{e.SiteID, e.UserID}] = struct{}{}
		}
		if e.Type == event.PageView {
			dc.views++
			sc.views++
			b.pageViews = append(b.pageViews, dayPathKey{e.SiteID, day, e.Path})
		}
	}
}

// eventCols is the number of values of a raw event row.
const eventCols = 26

type dayCounts struct{ views, events, users, bots, paths int64 }
type siteCounts struct{ views, events, users, bots int64 }

// Rollup keys, each ordered field by field.
type (
	dayKey      struct{ site, day string }
	dayTypeKey  struct{ site, day, typ string }
	dayUserKey  struct{ site, day, user string }
	dayPathKey  struct{ site, day, path string }
	siteKey     struct{ site string }
	siteTypeKey struct{ site, typ string }
	siteUserKey struct{ site, user string }
	sitePathKey struct{ site, path string }
)

func (a dayKey) compare(b dayKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day))
}
func (a dayTypeKey) compare(b dayTypeKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.typ, b.typ))
}
func (a dayUserKey) compare(b dayUserKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.user, b.user))
}
func (a dayPathKey) compare(b dayPathKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.day, b.day), strings.Compare(a.path, b.path))
}
func (a siteKey) compare(b siteKey) int { return strings.Compare(a.site, b.site) }
func (a siteTypeKey) compare(b siteTypeKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.typ, b.typ))
}
func (a siteUserKey) compare(b siteUserKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.user, b.user))
}
func (a sitePathKey) compare(b sitePathKey) int {
	return cmp.Or(strings.Compare(a.site, b.site), strings.Compare(a.path, b.path))
}

// The hashes under which the Store remembers stored visitors.
func (k dayUserKey) hash() uint64  { return keyHash(k.site, k.day, k.user) }
func (k siteUserKey) hash() uint64 { return keyHash(k.site, k.user) }

// unknownKeys appends to dst the keys of m whose hash set does not hold,
// in ascending order.
func unknownKeys[K interface {
	comparable
	compare(K) int
	hash() uint64
}](p *pacer, dst []K, m map[K]struct{}, set *known) []K {
	for k := range m {
		p.tick()
		if !set.has(k.hash()) {
			dst = append(dst, k)
		}
	}
	sortPaced(p, dst, K.compare)
	return dst
}
