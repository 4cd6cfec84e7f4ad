package ingest

import "slices"

// matcher finds every occurrence of a fixed set of byte strings in a text,
// all in one pass over the text whatever their number (Aho–Corasick). The
// bot check uses it to look for the literals of about 1,500 crawler
// patterns at the cost of one table lookup per byte of a User-Agent.
//
// The automaton is a complete DFA: delta holds, for every state and every
// byte class, the next state, so scanning never follows failure links.
// Bytes that occur in no pattern share one class, which keeps the table to
// a few dozen columns instead of 256.
type matcher struct {
	// class maps a byte to its column in delta.
	class [256]uint8
	// width is the number of columns, the classes.
	width uint32
	// delta[row+class] is the next state's row (its number times width),
	// with hasOutput set when some pattern ends there. Storing rows rather
	// than state numbers saves a multiplication per byte.
	delta []uint32
	// outAt[s] and outAt[s+1] bound, in outs, the indexes of the patterns
	// that end at state s: its own and those that are suffixes of it.
	outAt []uint32
	outs  []int32
}

// hasOutput marks, in delta, a transition into a state where a pattern ends.
const hasOutput = 1 << 31

// newMatcher returns a matcher of patterns, which are identified by their
// index. Patterns must not be empty; duplicates are each reported.
func newMatcher(patterns []string) *matcher {
	m := &matcher{}

	// Byte classes: one per byte that occurs in a pattern, then one for
	// all other bytes, if there are any.
	var used [256]bool
	for _, p := range patterns {
		if p == "" {
			panic("BUG: empty pattern")
		}
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	for b := range used {
		if used[b] {
			m.class[b] = uint8(m.width)
			m.width++
		}
	}
	if m.width < 256 {
		for b := range used {
			if !used[b] {
				m.class[b] = uint8(m.width)
			}
		}
		m.width++
	}
	w := m.width

	// The trie of the patterns, built in delta: in this phase 0 means no
	// edge, since no edge leads back to the root (row 0). Its states are
	// the distinct prefixes of the patterns, counted first so that the
	// table is allocated once.
	states := trieSize(patterns)
	m.delta = make([]uint32, w, states*int(w))
	own := make([][]int32, 1, states) // own[s]: the patterns that are state s's whole path
	for i, p := range patterns {
		row := uint32(0)
		for j := 0; j < len(p); j++ {
			at := row + uint32(m.class[p[j]])
			if m.delta[at] == 0 {
				m.delta[at] = uint32(len(m.delta))
				m.delta = m.delta[:len(m.delta)+int(w)]
				own = append(own, nil)
			}
			row = m.delta[at]
		}
		own[row/w] = append(own[row/w], int32(i))
	}
	if len(own) != states {
		panic("BUG: trie size miscounted")
	}

	// Breadth first, so that a state's failure state (the longest proper
	// suffix of its path that is in the trie, hence shallower) is complete
	// before the state: a missing edge becomes the failure state's edge,
	// and the outputs are the state's own plus its failure state's.
	fail := make([]uint32, states)
	outputs := make([][]int32, states)
	queue := make([]uint32, 0, states)
	for c := uint32(0); c < w; c++ {
		if t := m.delta[c]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		row := queue[0]
		queue = queue[1:]
		s := row / w
		outputs[s] = append(own[s], outputs[fail[s]/w]...)
		for c := uint32(0); c < w; c++ {
			t := m.delta[row+c]
			if t == 0 {
				m.delta[row+c] = m.delta[fail[s]+c]
				continue
			}
			fail[t/w] = m.delta[fail[s]+c]
			queue = append(queue, t)
		}
	}

	m.outAt = make([]uint32, states+1)
	for s, o := range outputs {
		m.outs = append(m.outs, o...)
		m.outAt[s+1] = uint32(len(m.outs))
	}
	for i, t := range m.delta {
		if len(outputs[t/w]) > 0 {
			m.delta[i] = t | hasOutput
		}
	}
	return m
}

// trieSize returns the number of states of the trie of patterns: the root
// and one per distinct non-empty prefix. In sorted order, a pattern adds
// the prefixes longer than the one it shares with the pattern before it.
func trieSize(patterns []string) int {
	sorted := slices.Sorted(slices.Values(patterns))
	n, prev := 1, ""
	for _, p := range sorted {
		common := 0
		for common < len(p) && common < len(prev) && p[common] == prev[common] {
			common++
		}
		n += len(p) - common
		prev = p
	}
	return n
}

// scan calls hit with the index of each pattern found in text and the
// offset just past its end, in order of the end offset, and stops as soon
// as hit returns true; it reports whether one did.
func (m *matcher) scan(text []byte, hit func(pattern, end int) bool) bool {
	row := uint32(0)
	for i, c := range text {
		next := m.delta[row+uint32(m.class[c])]
		row = next &^ hasOutput
		if next&hasOutput == 0 {
			continue
		}
		s := row / m.width
		for _, p := range m.outs[m.outAt[s]:m.outAt[s+1]] {
			if hit(int(p), i+1) {
				return true
			}
		}
	}
	return false
}
