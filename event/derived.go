package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// UserVisitor is the visitor of an event sent with a user_id: the same for
// every event of that user on that site, on every day.
func UserVisitor(site, userID string) uint64 {
	return HashVisitor([]byte("user"), site, userID)
}

// HashVisitor hashes the parts under salt into a visitor id. Parts are
// length-prefixed, so no two different lists hash alike by concatenation.
// It never returns 0, which means "no visitor".
func HashVisitor(salt []byte, parts ...string) uint64 {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write(binary.AppendUvarint(n[:0], uint64(len(salt))))
	h.Write(salt)
	for _, p := range parts {
		h.Write(binary.AppendUvarint(n[:0], uint64(len(p))))
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	v := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	if v == 0 {
		v = 1
	}
	return v
}

// Limits of custom properties.
const (
	MaxProps     = 30
	MaxPropKey   = 300  // bytes
	MaxPropValue = 2000 // bytes
)

// PropsRule says what EncodeProps accepts, for error messages.
const PropsRule = "props must be an object of at most 30 properties, keys of 1-300 bytes and values of at most 2000 bytes"

// Prop is one custom property.
type Prop struct{ Key, Value string }

// ErrProps is returned by EncodeProps for properties that break PropsRule.
var ErrProps = errors.New(PropsRule)

// EncodeProps returns the canonical encoding of props that Event.Props
// holds: a JSON object with keys in ascending order, or "" for none. Keys
// must be unique.
func EncodeProps(props []Prop) (string, error) {
	if len(props) == 0 {
		return "", nil
	}
	if len(props) > MaxProps {
		return "", fmt.Errorf("%w: %d properties", ErrProps, len(props))
	}
	sorted := slices.Clone(props)
	slices.SortFunc(sorted, func(a, b Prop) int { return strings.Compare(a.Key, b.Key) })
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range sorted {
		switch {
		case p.Key == "" || len(p.Key) > MaxPropKey:
			return "", fmt.Errorf("%w: key %.40q", ErrProps, p.Key)
		case len(p.Value) > MaxPropValue:
			return "", fmt.Errorf("%w: value of %.40q", ErrProps, p.Key)
		case !utf8.ValidString(p.Key) || !utf8.ValidString(p.Value):
			return "", fmt.Errorf("%w: not UTF-8", ErrProps)
		case i > 0 && p.Key == sorted[i-1].Key:
			return "", fmt.Errorf("%w: key %.40q twice", ErrProps, p.Key)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		v, _ := json.Marshal(p.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// DecodeProps returns the properties of an encoding made by EncodeProps,
// in ascending key order.
func DecodeProps(s string) ([]Prop, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("event: props: %w", err)
	}
	props := make([]Prop, 0, len(m))
	for k, v := range m {
		props = append(props, Prop{k, v})
	}
	slices.SortFunc(props, func(a, b Prop) int { return strings.Compare(a.Key, b.Key) })
	return props, nil
}
