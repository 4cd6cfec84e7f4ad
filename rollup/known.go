package rollup

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"slices"
)

// The Store remembers part of what the database holds, so that most of a
// batch needs no lookup in SQLite: which visitors are already in the daily
// and all-time visitor sets, and every path stored for recent days. It
// learns only from batches whose transaction has committed, so a batch
// that fails or rolls back teaches it nothing the database does not hold.
// This is sound because the Store is the only writer of the rollup tables
// and nothing deletes from them; whatever changes either (a backend shared
// by several writers, a purge of old days) must drop this knowledge.

// Default bounds of what the Store remembers.
const (
	// knownVisitorsMax bounds each generation of the known visitors of
	// days and of sites. A key is held by its 8-byte hash in a table at
	// most half full, so the two sets hold at most 4 × knownVisitorsMax
	// keys in 8 MB: a busy site's returning visitors fit, and a visitor
	// that does not costs only the insert that every visitor cost without
	// the sets. Half as many applied 4% fewer events a second in
	// BenchmarkApply.
	knownVisitorsMax = 1 << 17
	// knownPathsMax bounds the paths of the days remembered, about 50
	// bytes each: 26 sites' days at the default cap of 10 000 paths, or
	// many more days that have fewer.
	knownPathsMax = 1 << 18
)

// known is a bounded set of the 64-bit hashes of keys known to be stored.
// A key it holds needs no lookup and no insert; a key it lacks may still
// be stored, so its absence only means "ask the database".
//
// It keeps two generations of at most max keys each: when the current one
// is full it becomes the old one and the older is dropped, and a key found
// only in the old one moves to the current. Keys in use stay, keys unused
// for a generation go, without the bookkeeping of an exact LRU.
type known struct {
	cur, old *hashSet // old is nil until the first generation fills
	max      int
}

func newKnown(max int) *known {
	return &known{cur: newHashSet(), max: max}
}

// has reports whether h is known to be stored.
func (s *known) has(h uint64) bool {
	if s.cur.has(h) {
		return true
	}
	if s.old != nil && s.old.has(h) {
		s.add(h)
		return true
	}
	return false
}

// add records that h is stored. Call it only once the transaction that
// stored its key has committed.
func (s *known) add(h uint64) {
	if s.cur.n >= s.max {
		if s.old == nil {
			s.old = newHashSet()
		}
		s.old, s.cur = s.cur, s.old
		s.cur.clear()
	}
	s.cur.add(h)
}

// hashSet is a set of hashes in one flat table, with open addressing and
// linear probing, at most half full. A map[uint64]struct{} takes 36 bytes
// an entry; this takes 16 at most, in one allocation that the garbage
// collector need not scan.
type hashSet struct {
	slots []uint64 // 0 marks an empty slot
	zero  bool     // whether the set holds 0, which has no slot
	n     int
	shift uint // 64 - log2(len(slots))
}

const hashSetBits = 10 // a new set's table: 1,024 slots

func newHashSet() *hashSet {
	return &hashSet{slots: make([]uint64, 1<<hashSetBits), shift: 64 - hashSetBits}
}

// slot is where the probe for h starts. The multiplication spreads the
// hash's high and low bits over the index, in case a hash is weak in some.
func (s *hashSet) slot(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> s.shift }

func (s *hashSet) has(h uint64) bool {
	if h == 0 {
		return s.zero
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(h); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (s *hashSet) add(h uint64) {
	if h == 0 {
		if !s.zero {
			s.zero = true
			s.n++
		}
		return
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := s.slot(h); ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case 0:
			s.slots[i] = h
			s.n++
			return
		}
	}
}

// grow doubles the table and puts every hash in it again.
func (s *hashSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.shift--
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := s.slot(h)
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}

func (s *hashSet) clear() {
	clear(s.slots)
	s.zero = false
	s.n = 0
}

// knownKeys is what the Store knows the database holds.
type knownKeys struct {
	// The visitors by the hash of their key (dayUserKey.hash,
	// siteUserKey.hash): 8 bytes the garbage collector need not scan,
	// against three strings. Two keys share a hash with a probability of
	// about n²/2⁶⁵ for the n keys held, which would leave one visitor
	// uncounted.
	dailyUsers *known
	siteUsers  *known

	days     map[dayKey]*dayMemo
	paths    int // the paths held in days
	maxPaths int
	batch    uint64 // counts the batches committed, for dayMemo.used
}

// dayMemo holds every path stored for one site and day, OtherPath aside:
// all of them, unlike known, so that capPaths knows that a path it lacks
// is new without asking the database. A day has at most PathsPerDay paths,
// so reading them all when a batch first needs the day costs at most what
// the cap allows, once.
type dayMemo struct {
	paths map[string]struct{}
	used  uint64 // the last batch that applied page views to the day
}

func newKnownKeys(maxVisitors, maxPaths int) *knownKeys {
	return &knownKeys{
		dailyUsers: newKnown(maxVisitors),
		siteUsers:  newKnown(maxVisitors),
		days:       make(map[dayKey]*dayMemo),
		maxPaths:   maxPaths,
	}
}

// day returns the memo of the site and day key, reading its paths with
// stmt (site_id, day, OtherPath → path) if the Store holds none. It must
// read before the transaction writes paths: the memo is then right even if
// the transaction fails, for it holds only what was committed before.
func (k *knownKeys) day(ctx context.Context, stmt *sql.Stmt, key dayKey) (*dayMemo, error) {
	if m := k.days[key]; m != nil {
		return m, nil
	}
	m := &dayMemo{paths: make(map[string]struct{})}
	rows, err := stmt.QueryContext(ctx, key.site, key.day, OtherPath)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var path string
	for rows.Next() {
		if err := rows.Scan(&path); err != nil {
			return nil, err
		}
		m.paths[path] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	k.days[key] = m
	k.paths += len(m.paths)
	return m, nil
}

// remember records what b stored, once its transaction has committed:
// the visitors it inserted and the paths it admitted.
func (k *knownKeys) remember(p *pacer, b *batch) {
	for _, u := range b.newDailyUsers {
		p.tick()
		k.dailyUsers.add(u.hash())
	}
	for _, u := range b.newSiteUsers {
		p.tick()
		k.siteUsers.add(u.hash())
	}
	k.batch++
	for _, d := range b.days {
		for path, admitted := range d.known {
			p.tick()
			if _, stored := d.stored.paths[path]; admitted && !stored && path != OtherPath {
				d.stored.paths[path] = struct{}{}
				k.paths++
			}
		}
		d.stored.used = k.batch
	}
	if k.paths > k.maxPaths {
		// Down to half, so that the next batches do not have to forget again.
		k.forgetDays(k.maxPaths / 2)
	}
}

// forgetDays drops the memos of days, least recently applied to first,
// until they hold at most keep paths.
func (k *knownKeys) forgetDays(keep int) {
	if keep == 0 {
		clear(k.days)
		k.paths = 0
		return
	}
	keys := slices.Collect(maps.Keys(k.days))
	slices.SortFunc(keys, func(a, b dayKey) int { return cmp.Compare(k.days[a].used, k.days[b].used) })
	for _, key := range keys {
		if k.paths <= keep {
			return
		}
		k.paths -= len(k.days[key].paths)
		delete(k.days, key)
	}
}

// cache is a bounded map of values known to be stored, kept in two
// generations the way known keeps its keys.
type cache[K comparable, V any] struct {
	cur, old map[K]V
	max      int
}

func newCache[K comparable, V any](max int) *cache[K, V] {
	return &cache[K, V]{cur: make(map[K]V), max: max}
}

func (c *cache[K, V]) get(k K) (V, bool) {
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.old[k]
	if ok {
		c.put(k, v)
	}
	return v, ok
}

// put records that k is stored with value v. Call it only with what a
// committed transaction stored (or what was read from the database).
func (c *cache[K, V]) put(k K, v V) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[K]V, c.max)
	}
	c.cur[k] = v
}
