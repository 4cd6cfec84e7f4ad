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
	// days and of sites. A key with its strings and its share of the map
	// takes about 150 bytes, so the two sets hold at most
	// 4 × knownVisitorsMax keys, some 80 MB: a busy site's returning
	// visitors fit, and a visitor that does not costs only the insert
	// that every visitor cost without the sets. Half as many applied 4%
	// fewer events a second in BenchmarkApply.
	knownVisitorsMax = 1 << 17
	// knownPathsMax bounds the paths of the days remembered, about 50
	// bytes each: 26 sites' days at the default cap of 10 000 paths, or
	// many more days that have fewer.
	knownPathsMax = 1 << 18
)

// known is a bounded set of keys known to be stored. A key it holds needs
// no lookup and no insert; a key it lacks may still be stored, so its
// absence only means "ask the database".
//
// It keeps two generations of at most max keys each: when the current one
// is full it becomes the old one and the older is dropped, and a key found
// only in the old one moves to the current. Keys in use stay, keys unused
// for a generation go, without the bookkeeping of an exact LRU.
type known[K comparable] struct {
	cur, old map[K]struct{}
	max      int
}

func newKnown[K comparable](max int) *known[K] {
	return &known[K]{cur: make(map[K]struct{}), max: max}
}

// has reports whether k is known to be stored.
func (s *known[K]) has(k K) bool {
	if _, ok := s.cur[k]; ok {
		return true
	}
	if _, ok := s.old[k]; ok {
		s.add(k)
		return true
	}
	return false
}

// add records that k is stored. Call it only once the transaction that
// stored k has committed.
func (s *known[K]) add(k K) {
	if len(s.cur) >= s.max {
		s.old, s.cur = s.cur, make(map[K]struct{}, s.max)
	}
	s.cur[k] = struct{}{}
}

// knownKeys is what the Store knows the database holds.
type knownKeys struct {
	// The visitors by the hash of their key (dayUserKey.hash,
	// siteUserKey.hash): 8 bytes the garbage collector need not scan,
	// against three strings. Two keys share a hash with a probability of
	// about n²/2⁶⁵ for the n keys held, which would leave one visitor
	// uncounted.
	dailyUsers *known[uint64]
	siteUsers  *known[uint64]

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
		dailyUsers: newKnown[uint64](maxVisitors),
		siteUsers:  newKnown[uint64](maxVisitors),
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
func (k *knownKeys) remember(b *batch) {
	for _, u := range b.newDailyUsers {
		k.dailyUsers.add(u.hash())
	}
	for _, u := range b.newSiteUsers {
		k.siteUsers.add(u.hash())
	}
	k.batch++
	for _, d := range b.days {
		for path, admitted := range d.known {
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
