package event

// Interner decodes events whose text fields share one string per value
// seen lately, instead of a new copy in every event; String does the same
// for other text read in bulk, such as the rows of a raw-event query. The
// worker decodes tens of thousands of events a batch whose site, event
// type, path, browser, OS, device, source and country repeat from event
// to event: each copy was an allocation, and the visits, rows and caches
// that kept those values alive kept as many copies. Equal interned
// strings also compare by their pointer first. The zero value is ready to
// use; an Interner is not safe for concurrent use.
type Interner struct {
	m map[string]string
}

// Bounds of an Interner. Values longer than internMaxLen are copied,
// never kept: long values rarely repeat. When internMax values are kept,
// they are all dropped, so that a stream of values that do not repeat (a
// long tail of paths, many referrers) costs about 3 MB at most, and what
// does repeat is found again.
const (
	internMaxLen = 128
	internMax    = 1 << 14
)

// interned are the fields, by their index on the log (Event.strings),
// whose values repeat across events. The query and fragment, the user ID
// and the props are mostly unique to an event, and not interned.
var interned = func() (f [fields2]bool) {
	for i := range f {
		f[i] = true
	}
	f[3], f[4], f[5], f[18] = false, false, false, false
	return f
}()

// Decode is Decode, with the repeating strings interned.
func (in *Interner) Decode(data []byte, e *Event) error {
	return decode(data, e, in)
}

// field returns the string of field i's bytes b: the interned one for a
// field that repeats, a copy otherwise or when in is nil.
func (in *Interner) field(i int, b []byte) string {
	if in == nil || !interned[i] {
		return string(b)
	}
	return in.String(b)
}

// String returns b as a string: the one kept for an equal value if there
// is one, else a copy, kept unless it is longer than internMaxLen.
func (in *Interner) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // the conversion does not allocate
		return s
	}
	switch {
	case in.m == nil:
		in.m = make(map[string]string)
	case len(in.m) >= internMax:
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}
