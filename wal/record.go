package wal

import (
	"encoding/binary"
	"hash/crc32"
)

// tidwall/wal stores an entry as uvarint(len) ‖ data with no checksum, so a
// flipped byte reads back as good data and zero bytes appended to a segment
// read back as empty entries. Every record we write is therefore framed as
// crc32c(payload) ‖ payload, and a record shorter than the checksum or whose
// checksum does not match is damaged.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const crcSize = 4

// appendFrame appends the framed form of payload to dst.
func appendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...)
}

// unframe returns the payload of a framed record and whether it is whole.
// An empty payload is a valid no-op record (padding).
func unframe(data []byte) ([]byte, bool) {
	if len(data) < crcSize {
		return nil, false
	}
	payload := data[crcSize:]
	if binary.LittleEndian.Uint32(data) != crc32.Checksum(payload, castagnoli) {
		return nil, false
	}
	return payload, true
}

// entrySize is the number of bytes tidwall/wal writes for an entry of n
// data bytes in its binary format.
func entrySize(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n)) + n
}
