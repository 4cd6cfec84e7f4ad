package wal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"sitelog/internal/durable"
)

// Files that sit beside the segments. tidwall/wal ignores names shorter
// than 20 characters and directories, so these never look like segments.
const (
	lockFile     = "LOCK"
	identityFile = "IDENTITY"
	corruptDir   = "corrupt"
)

// lockDir takes an exclusive, non-blocking flock on dir/LOCK. The kernel
// drops it when the process dies, so a kill -9 never leaves a stale lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another sitelog process writing this data directory", ErrLocked, filepath.Join(dir, lockFile))
		}
		return nil, err
	}
	return f, nil
}

// segments lists the first index of every segment file in dir, ascending.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var starts []uint64
	for _, e := range ents {
		if e.IsDir() || len(e.Name()) != 20 {
			continue
		}
		if i, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && i > 0 {
			starts = append(starts, i)
		}
	}
	sort.Slice(starts, func(a, b int) bool { return starts[a] < starts[b] })
	return starts, nil
}

// hasPendingTruncation reports whether tidwall/wal left a .START or .END
// file behind (a crash in the middle of a truncation); its Open finishes
// that work.
func hasPendingTruncation(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".START") || strings.HasSuffix(e.Name(), ".END") {
			return true, nil
		}
	}
	return false, nil
}

func segmentPath(dir string, start uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d", start))
}

// identity reads the log's identity, creating it when the directory holds
// no segments yet. A directory with segments but no identity is refused:
// giving it a fresh identity would make the database apply its entries a
// second time.
func identity(dir string, hasSegments bool) (string, error) {
	path := filepath.Join(dir, identityFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) != 32 {
			return "", fmt.Errorf("malformed identity in %s", path)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if hasSegments {
		return "", fmt.Errorf("%s holds log segments but no %s file; restore that file, or move the segments away to start a new log", dir, identityFile)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	if err := durable.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		return "", err
	}
	return id, nil
}
