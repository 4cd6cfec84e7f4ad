package derive

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"sitelog/internal/durable"

	"sitelog/event"
)

// SaltSize is the size of a daily salt in bytes.
const SaltSize = 32

// keepDays is how many days of salts are kept: today's and yesterday's.
// Older ones are deleted, after which nobody, the operator included, can
// tell whether two of those days' visitor ids are the same person.
const keepDays = 2

// saltsFile is the name of the file in the salts directory.
const saltsFile = "salts.json"

// Salts hands out the salt of each UTC day that visitor ids are hashed
// under, so one visitor has one id per site for a day and an unrelated one
// the next. Salts are random, made at a day's first use and kept by a
// SaltKeeper (dir/salts.json for OpenSalts) so a restart keeps the day's
// ids; salts older than two days are deleted. Safe for concurrent use.
type Salts struct {
	keeper SaltKeeper
	now    func() time.Time
	rand   io.Reader

	// today is the salt of the day Visitor last saw, read without a lock.
	today atomic.Pointer[daySalt]

	mu   sync.Mutex
	days map[int64][]byte // by UTC day number (days since 1970-01-01)
}

// SaltKeeper keeps the daily salts where every process that hashes visitor
// ids for the same sites finds them: a file in the data directory, or, for
// several ingest nodes, their shared database, so that a visitor has one
// id whichever node its events reach. Days are UTC day numbers (days since
// 1970-01-01).
type SaltKeeper interface {
	// Salts returns the salts kept, by day.
	Salts() (map[int64][]byte, error)
	// Keep keeps salt as day's salt unless the day has one already, and
	// returns the day's salt: the one kept first.
	Keep(day int64, salt []byte) ([]byte, error)
	// Forget deletes the salts of day and the days before it.
	Forget(day int64) error
}

type daySalt struct {
	day  int64
	salt []byte
}

// OpenSalts opens the salts kept in dir, creating dir (mode 0700) when it
// does not exist, and deletes the ones too old to keep. now tells the time
// (time.Now outside tests).
func OpenSalts(dir string, now func() time.Time) (*Salts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("derive: salts: %w", err)
	}
	days, err := readSalts(filepath.Join(dir, saltsFile))
	if err != nil {
		return nil, err
	}
	return NewSalts(&fileKeeper{dir: dir, days: days}, now)
}

// NewSalts opens the salts that k keeps, and deletes the ones too old to
// keep. now tells the time (time.Now outside tests).
func NewSalts(k SaltKeeper, now func() time.Time) (*Salts, error) {
	days, err := k.Salts()
	if err != nil {
		return nil, fmt.Errorf("derive: salts: %w", err)
	}
	s := &Salts{keeper: k, now: now, rand: rand.Reader, days: days}
	if today := dayOf(now()); s.prune(today) {
		if err := k.Forget(today - keepDays); err != nil {
			return nil, fmt.Errorf("derive: salts: %w", err)
		}
	}
	return s, nil
}

// Visitor returns the id of the visitor of site with address ip and
// User-Agent ua today: event.HashVisitor under today's salt. Neither ip
// nor ua is kept.
func (s *Salts) Visitor(site string, ip netip.Addr, ua string) uint64 {
	return event.HashVisitor(s.salt(dayOf(s.now())), site, ip.String(), ua)
}

// salt returns the salt of day, making it if need be. A day's first call
// asks the keeper to keep it; every other call only reads an atomic
// pointer.
func (s *Salts) salt(day int64) []byte {
	if t := s.today.Load(); t != nil && t.day == day {
		return t.salt
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	salt, ok := s.days[day]
	if !ok {
		salt = make([]byte, SaltSize)
		if _, err := io.ReadFull(s.rand, salt); err != nil {
			panic("BUG: derive: no random salt: " + err.Error())
		}
		// If the keeper fails (a full disk, a database away) the salt is
		// used all the same: visitors are then counted afresh if the
		// process restarts today, or by another node, which is better
		// than not counting them.
		if kept, err := s.keeper.Keep(day, salt); err == nil {
			salt = kept
		}
		s.days[day] = salt
		if s.prune(day) {
			_ = s.keeper.Forget(day - keepDays) // tried again with the next day's salt
		}
	}
	s.today.Store(&daySalt{day, salt})
	return salt
}

// prune deletes the salts of days more than keepDays-1 before today and
// reports whether it deleted any. Salts of later days (the clock went
// back) are kept. s.mu must be held, or s not yet shared.
func (s *Salts) prune(today int64) bool {
	pruned := false
	for day := range s.days {
		if day <= today-keepDays {
			delete(s.days, day)
			pruned = true
		}
	}
	return pruned
}

// fileKeeper keeps the salts in dir/salts.json.
type fileKeeper struct {
	dir  string
	days map[int64][]byte // as the file holds them
}

func (k *fileKeeper) Salts() (map[int64][]byte, error) { return maps.Clone(k.days), nil }

// Keep writes the file with salt as day's: a salt in use is on disk before
// a restart could make a second one for its day. On a failed write the
// next day's salt writes this one again, while it is kept.
func (k *fileKeeper) Keep(day int64, salt []byte) ([]byte, error) {
	if have, ok := k.days[day]; ok {
		return have, nil
	}
	k.days[day] = salt
	return salt, k.write()
}

func (k *fileKeeper) Forget(day int64) error {
	for d := range k.days {
		if d <= day {
			delete(k.days, d)
		}
	}
	return k.write()
}

// write replaces the salts file with k.days: it writes a temporary file,
// fsyncs it, renames it over the old one and fsyncs the directory, so
// after a crash the file is either the old or the new one, whole.
func (k *fileKeeper) write() error {
	f := saltsJSON{Salts: map[string]string{}}
	for day, salt := range k.days {
		f.Salts[time.Unix(day*86400, 0).UTC().Format(time.DateOnly)] = hex.EncodeToString(salt)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("derive: salts: %w", err)
	}
	// Mode 0600: a salt lets whoever holds it test guesses of an address
	// against visitor ids.
	if err := durable.WriteFile(filepath.Join(k.dir, saltsFile), data, 0o600); err != nil {
		return fmt.Errorf("derive: salts: %w", err)
	}
	return nil
}

// saltsJSON is the content of salts.json: each day's salt in hex, by
// "YYYY-MM-DD" (UTC).
type saltsJSON struct {
	Salts map[string]string `json:"salts"`
}

// readSalts reads a salts file; a missing one holds no salts.
func readSalts(path string) (map[int64][]byte, error) {
	days := map[int64][]byte{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return days, nil
	}
	if err != nil {
		return nil, fmt.Errorf("derive: salts: %w", err)
	}
	var f saltsJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("derive: salts: %s: %w (remove it to start with new salts)", path, err)
	}
	for date, h := range f.Salts {
		t, err := time.Parse(time.DateOnly, date)
		salt, herr := hex.DecodeString(h)
		if err != nil || herr != nil || len(salt) != SaltSize {
			return nil, fmt.Errorf("derive: salts: %s: bad salt for %q (remove it to start with new salts)", path, date)
		}
		days[dayOf(t)] = salt
	}
	return days, nil
}

// dayOf returns the UTC day of t as days since 1970-01-01.
func dayOf(t time.Time) int64 {
	sec := t.Unix()
	day := sec / 86400
	if sec%86400 < 0 {
		day--
	}
	return day
}
