package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// FuzzWholeEnd checks the tail scanner on arbitrary segment bytes: it never
// panics, and the prefix it keeps is a sequence of whole entries ending in
// one whose checksum holds.
func FuzzWholeEnd(f *testing.F) {
	good := func(payloads ...string) []byte {
		var seg []byte
		for _, p := range payloads {
			rec := appendFrame(nil, []byte(p))
			seg = binary.AppendUvarint(seg, uint64(len(rec)))
			seg = append(seg, rec...)
		}
		return seg
	}
	f.Add(good("a", "bc", "def"))
	f.Add(append(good("a", "b"), 0, 0, 0, 0))
	f.Add(good("a", "b")[:9])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(good(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		end := wholeEnd(data)
		if end < 0 || end > int64(len(data)) {
			t.Fatalf("wholeEnd = %d of %d bytes", end, len(data))
		}
		kept := data[:end]
		var lastOK bool
		for len(kept) > 0 {
			n, k := binary.Uvarint(kept)
			if k <= 0 || n > uint64(len(kept)-k) {
				t.Fatalf("kept prefix does not parse as whole entries")
			}
			_, lastOK = unframe(kept[k : k+int(n)])
			kept = kept[k+int(n):]
		}
		if end > 0 && !lastOK {
			t.Fatalf("kept prefix ends in a damaged record")
		}
	})
}

// FuzzOpenDamagedTail appends arbitrary bytes to a log's last segment:
// open never fails, the records before the damage survive intact, and
// reading the rest never fails.
func FuzzOpenDamagedTail(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0x09, 1, 2, 3})
	f.Add([]byte{0x05, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		fill(t, dir, Options{}, 3, rec)
		appendFile(t, lastSegment(t, dir), tail)
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("open with %x appended: %v", tail, err)
		}
		defer l.Close()
		es, err := l.Read(context.Background(), 1, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) < 3 {
			t.Fatalf("%d entries survive, want at least the 3 before the damage", len(es))
		}
		for _, e := range es[:3] {
			if !bytes.Equal(e.Data, rec(int(e.Index))) {
				t.Fatalf("entry %d = %q", e.Index, e.Data)
			}
		}
	})
}
