package event

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	f := func(in Event) {
		t.Helper()
		var out Event
		if err := Decode(in.AppendBinary(nil), &out); err != nil {
			t.Fatalf("decode %+v: %v", in, err)
		}
		if out != in {
			t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
		}
	}
	ts := time.Date(2025, 11, 14, 10, 0, 0, 123456000, time.UTC)
	f(Event{SiteID: "site-123", Type: PageView, Path: "/home", UserID: "u10", Time: ts})
	f(Event{SiteID: "s", Type: "signup", Query: "a=1", Fragment: "top", Time: ts, Bot: true})
	f(Event{SiteID: "s", Type: PageView, Path: "/ünïcode", Time: time.UnixMicro(-5).UTC()})
	f(Event{SiteID: "s", Type: PageView, Path: "/p", Time: ts, Visitor: 1<<63 + 5, Hostname: "example.com",
		Referrer: "https://news.ycombinator.com/item", Source: "Hacker News", UTMSource: "a", UTMMedium: "b",
		UTMCampaign: "c", UTMContent: "d", UTMTerm: "e", Browser: "Firefox", OS: "Linux", Device: "Desktop",
		Country: "DE", ScreenWidth: 1920, Props: `{"k":"v"}`})
}

// A record of version 1, from a log written before the derived fields,
// decodes with them empty and the visitor taken from its user_id.
func TestDecodeVersion1(t *testing.T) {
	ts := time.Date(2025, 11, 14, 10, 0, 0, 0, time.UTC)
	var rec []byte
	rec = append(rec, version1, 0)
	rec = binary.AppendVarint(rec, ts.UnixMicro())
	for _, s := range []string{"s", PageView, "/a", "q=1", "f", "u1"} {
		rec = binary.AppendUvarint(rec, uint64(len(s)))
		rec = append(rec, s...)
	}
	var got Event
	if err := Decode(rec, &got); err != nil {
		t.Fatal(err)
	}
	want := Event{SiteID: "s", Type: PageView, Path: "/a", Query: "q=1", Fragment: "f", UserID: "u1", Time: ts, Visitor: UserVisitor("s", "u1")}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestProps(t *testing.T) {
	enc, err := EncodeProps([]Prop{{"b", "2"}, {"a", "<x>"}})
	if err != nil || enc != `{"a":"\u003cx\u003e","b":"2"}` {
		t.Fatalf("EncodeProps = %q, %v", enc, err)
	}
	props, err := DecodeProps(enc)
	if err != nil || len(props) != 2 || props[0] != (Prop{"a", "<x>"}) || props[1] != (Prop{"b", "2"}) {
		t.Fatalf("DecodeProps = %v, %v", props, err)
	}
	many := make([]Prop, MaxProps+1)
	for i := range many {
		many[i] = Prop{string(rune('a' + i)), ""}
	}
	for name, bad := range map[string][]Prop{
		"too many":  many,
		"empty key": {{"", "v"}},
		"twice":     {{"k", "1"}, {"k", "2"}},
		"long":      {{"k", strings.Repeat("v", MaxPropValue+1)}},
	} {
		if _, err := EncodeProps(bad); !errors.Is(err, ErrProps) {
			t.Errorf("%s: got %v, want ErrProps", name, err)
		}
	}
	if UserVisitor("s", "u") == UserVisitor("s2", "u") || UserVisitor("s", "u") == 0 {
		t.Error("UserVisitor does not tell sites apart")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := (&Event{SiteID: "s", Type: PageView, Path: "/", Time: time.Unix(0, 0).UTC()}).AppendBinary(nil)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{9}, good[1:]...),
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"huge length": {version1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		var e Event
		if err := Decode(data, &e); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Event{SiteID: "s", Type: PageView, Path: "/a", Time: time.Unix(1, 0)}).AppendBinary(nil))
	f.Add([]byte{version1, 1, 2, 0, 0, 0, 0, 0, 0})
	var in Interner // across inputs, as the worker keeps one across batches
	f.Fuzz(func(t *testing.T, data []byte) {
		var e, interned Event
		err := Decode(data, &e)
		if ierr := in.Decode(data, &interned); (ierr == nil) != (err == nil) || interned != e {
			t.Fatalf("interned decode: %+v, %v; want %+v, %v", interned, ierr, e, err)
		}
		if err != nil {
			return
		}
		var again Event
		if err := Decode(e.AppendBinary(nil), &again); err != nil || again != e {
			t.Fatalf("re-encode of %+v: %v %+v", e, err, again)
		}
	})
}

// BenchmarkDecode decodes a record as the worker sees it, with what ingest
// derived, into fresh copies of its strings and through an Interner.
func BenchmarkDecode(b *testing.B) {
	data := (&Event{SiteID: "site-123", Type: PageView, Path: "/blog/some-post", UserID: "u10", Time: time.Now(),
		Browser: "Chrome", OS: "Windows", Device: "Desktop", Source: "Google"}).AppendBinary(nil)
	var in Interner
	for name, decode := range map[string]func([]byte, *Event) error{"copies": Decode, "interned": in.Decode} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var e Event
			for b.Loop() {
				if err := decode(data, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
