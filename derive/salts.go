package derive

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
// the next. Salts are random, made at a day's first use and kept in
// dir/salts.json so a restart keeps the day's ids; salts older than two
// days are deleted. Safe for concurrent use.
type Salts struct {
	dir  string
	now  func() time.Time
	rand io.Reader

	// today is the salt of the day Visitor last saw, read without a lock.
	today atomic.Pointer[daySalt]

	mu   sync.Mutex
	days map[int64][]byte // by UTC day number (days since 1970-01-01)
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
	s := &Salts{dir: dir, now: now, rand: rand.Reader, days: days}
	if s.prune(dayOf(now())) {
		if err := s.write(); err != nil {
			return nil, err
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
// writes the file; every other call only reads an atomic pointer.
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
		s.days[day] = salt
		s.prune(day)
		// On a failed write (a full disk) the salt is used all the same:
		// visitors are then counted afresh if the process restarts today,
		// which is better than not counting them. The next day's salt
		// writes the file again, this one included while it is kept.
		_ = s.write()
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

// write replaces the salts file with s.days: it writes a temporary file,
// fsyncs it, renames it over the old one and fsyncs the directory, so
// after a crash the file is either the old or the new one, whole, and a
// salt in use is on disk before a restart could make a second one for its
// day. s.mu must be held, or s not yet shared.
func (s *Salts) write() error {
	f := saltsJSON{Salts: map[string]string{}}
	for day, salt := range s.days {
		f.Salts[time.Unix(day*86400, 0).UTC().Format(time.DateOnly)] = hex.EncodeToString(salt)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("derive: salts: %w", err)
	}
	// Mode 0600: a salt lets whoever holds it test guesses of an address
	// against visitor ids.
	if err := durable.WriteFile(filepath.Join(s.dir, saltsFile), data, 0o600); err != nil {
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
