package event

import (
	"errors"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Event
		if Decode(data, &e) != nil {
			return
		}
		var again Event
		if err := Decode(e.AppendBinary(nil), &again); err != nil || again != e {
			t.Fatalf("re-encode of %+v: %v %+v", e, err, again)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := (&Event{SiteID: "site-123", Type: PageView, Path: "/blog/some-post", UserID: "u10", Time: time.Now()}).AppendBinary(nil)
	b.ReportAllocs()
	var e Event
	for b.Loop() {
		if err := Decode(data, &e); err != nil {
			b.Fatal(err)
		}
	}
}
