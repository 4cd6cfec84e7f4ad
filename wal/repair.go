package wal

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sitelog/internal/durable"
)

// Repair is what Open did to a damaged tail.
type Repair struct {
	Segment string // path of the segment that was cut
	Offset  int64  // its length after the cut: the end of its last whole record
	Cut     int64  // bytes cut off
	Saved   string // where the cut bytes were kept for inspection
}

// wholeEnd scans a segment and returns the end offset of its last whole
// record: one whose length prefix fits in the file and whose checksum
// matches. Everything after it is a torn write, zeros, or a damaged record
// with nothing whole behind it, i.e. the tail of an interrupted write.
// A damaged record followed by whole ones stays in place; reads skip it.
func wholeEnd(data []byte) int64 {
	var end, pos int
	for pos < len(data) {
		n, k := binary.Uvarint(data[pos:])
		if k <= 0 || n > uint64(len(data)-pos-k) {
			break
		}
		rec := data[pos+k : pos+k+int(n)]
		pos += k + int(n)
		if _, ok := unframe(rec); ok {
			end = pos
		}
	}
	return int64(end)
}

// repairTail cuts the last segment of dir back to its last whole record,
// keeping the cut bytes in dir/corrupt/ for inspection. It returns nil when
// there was nothing to cut. A crash in mid-write leaves exactly this kind
// of damage, and tidwall/wal cannot open a log with a torn tail at all.
func repairTail(dir string, now time.Time) (*Repair, error) {
	starts, err := segments(dir)
	if err != nil || len(starts) == 0 {
		return nil, err
	}
	path := segmentPath(dir, starts[len(starts)-1])
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	end := wholeEnd(data)
	if end == int64(len(data)) {
		return nil, nil
	}
	r := &Repair{Segment: path, Offset: end, Cut: int64(len(data)) - end}
	// Keep the cut bytes first and make them durable: if we crash between
	// the two steps, the damage is still in the segment and is cut again.
	if err := os.MkdirAll(filepath.Join(dir, corruptDir), 0o755); err != nil {
		return nil, err
	}
	r.Saved = filepath.Join(dir, corruptDir, fmt.Sprintf("%s.%d.corrupt", filepath.Base(path), now.UnixNano()))
	if err := durable.WriteFile(r.Saved, data[end:], 0o644); err != nil {
		return nil, fmt.Errorf("save cut tail: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := f.Truncate(end); err != nil {
		return nil, err
	}
	// The cut must be on disk before anything is appended after it, or a
	// power loss could bring the damaged bytes back between whole records.
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := durable.SyncDir(dir); err != nil {
		return nil, err
	}
	return r, nil
}
