package ingest

import (
	"encoding/json"
	"strconv"

	"sitelog/event"
)

// wireProps is the props of an event as sent: a JSON object whose values
// are strings, numbers or bools. Numbers and bools are kept as their JSON
// text ("3", "1.5", "true"); a null or "" value means the property is
// absent; a key sent twice keeps its last value, as JSON parsers commonly
// do. Nested objects and arrays are refused: a property is one dimension
// value in the reports.
type wireProps struct {
	list []event.Prop
}

// propsRule is the error for props of the wrong shape.
const propsRule = "must be an object of string, number or bool values"

// UnmarshalJSON reads the props object. encoding/json has checked that b
// is one valid JSON value before calling it, so this reads it with a
// small scanner rather than through a map; it still checks every index,
// so that a bug here is an error, not a panic. It stops at the first
// property past MaxProps, bounding the work a hostile body makes.
func (p *wireProps) UnmarshalJSON(b []byte) error {
	p.list = p.list[:0]
	s := propScanner{b: b}
	s.space()
	switch s.peek() {
	case 'n':
		return nil // null: no props
	case '{':
		s.i++
	default:
		return invalid("props", propsRule)
	}
	s.space()
	if s.peek() == '}' {
		return nil
	}
	for {
		key, ok := s.str()
		if !ok {
			return invalid("props", "invalid JSON")
		}
		s.space()
		if s.peek() != ':' {
			return invalid("props", "invalid JSON")
		}
		s.i++
		s.space()
		value, present, err := s.value(key)
		if err != nil {
			return err
		}
		if err := p.set(key, value, present); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
			s.space()
		case '}':
			return nil
		default:
			return invalid("props", "invalid JSON")
		}
	}
}

// set records key's value, or its absence, replacing an earlier value.
func (p *wireProps) set(key, value string, present bool) error {
	for i := range p.list {
		if p.list[i].Key == key {
			if present {
				p.list[i].Value = value
			} else {
				p.list = append(p.list[:i], p.list[i+1:]...)
			}
			return nil
		}
	}
	if !present {
		return nil
	}
	if len(p.list) == MaxProps {
		return invalid("props", "more than "+strconv.Itoa(MaxProps)+" properties")
	}
	p.list = append(p.list, event.Prop{Key: key, Value: value})
	return nil
}

// check applies the rules of event.EncodeProps to each property, with
// messages that name it, and refuses control characters, which would
// corrupt the terminals and CSV files the values are shown in.
func (p *wireProps) check() error {
	for _, prop := range p.list {
		switch {
		case prop.Key == "":
			return invalid("props", "keys must not be empty")
		case len(prop.Key) > MaxPropKey:
			return invalid("props", "key "+quote(prop.Key)+" longer than "+strconv.Itoa(MaxPropKey)+" bytes")
		case len(prop.Value) > MaxPropValue:
			return invalid("props", "value of "+quote(prop.Key)+" longer than "+strconv.Itoa(MaxPropValue)+" bytes")
		}
		if msg := checkText(prop.Key); msg != "" {
			return invalid("props", "key "+quote(prop.Key)+" "+msg)
		}
		if msg := checkText(prop.Value); msg != "" {
			return invalid("props", "value of "+quote(prop.Key)+" "+msg)
		}
	}
	return nil
}

// quote quotes a client's key for an error message, cut to 40 bytes.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

// propScanner reads one JSON value that encoding/json has validated.
type propScanner struct {
	b []byte
	i int
}

func (s *propScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *propScanner) space() { s.i = skipSpace(s.b, s.i) }

// str reads a JSON string. One without escapes is copied as it is; one
// with escapes is rare enough to leave to encoding/json.
func (s *propScanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	escaped := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			raw := s.b[s.i : j+1]
			s.i = j + 1
			if !escaped {
				return string(raw[1 : len(raw)-1]), true
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", false
			}
			return v, true
		}
	}
	return "", false
}

// value reads the value of key: its text, and whether the property is
// present (not null, not "").
func (s *propScanner) value(key string) (string, bool, error) {
	switch c := s.peek(); {
	case c == '"':
		v, ok := s.str()
		if !ok {
			return "", false, invalid("props", "invalid JSON")
		}
		return v, v != "", nil
	case c == '{':
		return "", false, invalid("props", "value of "+quote(key)+" must be a string, number or bool, not an object")
	case c == '[':
		return "", false, invalid("props", "value of "+quote(key)+" must be a string, number or bool, not an array")
	}
	// A literal: true, false, null or a number, up to the next delimiter.
	start := s.i
	for s.i < len(s.b) && !delimiter(s.b[s.i]) {
		s.i++
	}
	lit := s.b[start:s.i]
	switch string(lit) {
	case "":
		return "", false, invalid("props", "invalid JSON")
	case "null":
		return "", false, nil
	case "true":
		return "true", true, nil
	case "false":
		return "false", true, nil
	}
	return string(lit), true, nil
}

// delimiter reports whether c ends a JSON literal inside an object.
func delimiter(c byte) bool {
	switch c {
	case ',', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
