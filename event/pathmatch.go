package event

import "strings"

// PathMatches reports whether path matches pattern, where '*' matches any
// run of characters and everything else itself: a goal's page path, as
// the worker counts it and the query API filters raw events by it.
func PathMatches(pattern, path string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == path
	}
	if !strings.HasPrefix(path, parts[0]) {
		return false
	}
	path = path[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(path, p)
		if i < 0 {
			return false
		}
		path = path[i+len(p):]
	}
	return len(path) >= len(last) && strings.HasSuffix(path, last)
}
