package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sitelog/derive"
	"sitelog/event"
	"sitelog/wal"
)

// seedEvent is the README's example event.
const seedEvent = `{"site_id":"site-123","event_type":"page_view","path":"/home","user_id":"u10","timestamp":"2025-11-14T10:00:00Z"}`

// browserUA is a common browser's User-Agent, the usual case for isBot.
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

// browserEvent is a page view as a tracker in a browser sends it: no
// user_id, so its visitor is the salted hash; a url with UTM tags, a
// referrer, props and the screen width.
const browserEvent = `{"site_id":"site-123","url":"https://www.example.com/blog/hello-world?utm_source=newsletter&utm_medium=email",` +
	`"referrer":"https://www.google.com/","screen_width":1440,"props":{"author":"ann","logged_in":false}}`

func BenchmarkDecodeEvent(b *testing.B) {
	body := []byte(seedEvent)
	now := testNow()
	var w wireEvent
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := decodeEvent(body, now, &w, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBrowserEvent(b *testing.B) {
	body := []byte(browserEvent)
	now := testNow()
	var w wireEvent
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := decodeEvent(body, now, &w, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte("[" + strings.TrimSuffix(strings.Repeat(seedEvent+",", 100), ",") + "]")
	now := testNow()
	var w wireEvent
	var evs []event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		if evs, err = decodeBatch(body, now, &w, evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHandler runs parallel requests of body to path through h, without a
// network in between, and fails on any answer but want. Beside ns/op it
// reports the process's CPU time per request (cpu-µs/op), the figure to
// compare on a machine whose cores other work shares.
func benchHandler(b *testing.B, h http.Handler, path, body string, want int) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	before := cpuTime(b)
	defer func() {
		b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			req.Header.Set("User-Agent", browserUA)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				panic(fmt.Sprintf("%d %s", rec.Code, rec.Body))
			}
		}
	})
}

// BenchmarkHandleEvent runs 16 clients per CPU, as a busy server has many
// more requests in flight than CPUs: they are what group commit groups.
func BenchmarkHandleEvent(b *testing.B) {
	for _, fsync := range []wal.FsyncMode{wal.FsyncInterval, wal.FsyncAlways} {
		b.Run("fsync="+fsync.String(), func(b *testing.B) {
			l, err := wal.Open(b.TempDir(), wal.Options{Fsync: fsync})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetParallelism(16)
			benchHandler(b, New(Config{}, l, nil), "/event", seedEvent, http.StatusAccepted)
		})
	}
}

// BenchmarkHandleBrowserEvent is BenchmarkHandleEvent (interval) with
// browserEvent and the salts main opens: every derivation ingest makes.
func BenchmarkHandleBrowserEvent(b *testing.B) {
	l, err := wal.Open(b.TempDir(), wal.Options{Fsync: wal.FsyncInterval})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	salts, err := derive.OpenSalts(b.TempDir(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	benchHandler(b, New(Config{Salts: salts}, l, nil), "/event", browserEvent, http.StatusAccepted)
}

func BenchmarkHandleBatch(b *testing.B) {
	l, err := wal.Open(b.TempDir(), wal.Options{Fsync: wal.FsyncInterval})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	body := "[" + strings.TrimSuffix(strings.Repeat(seedEvent+",", 100), ",") + "]"
	benchHandler(b, New(Config{}, l, nil), "/events", body, http.StatusAccepted)
}

// BenchmarkBareHandler is the yardstick for BenchmarkHandleEvent: a bare
// net/http handler that decodes the event with encoding/json and answers,
// with no validation and no log.
func BenchmarkBareHandler(b *testing.B) {
	b.SetParallelism(16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			SiteID    string    `json:"site_id"`
			EventType string    `json:"event_type"`
			Path      string    `json:"path"`
			UserID    string    `json:"user_id"`
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"status":"queued"}`))
	})
	benchHandler(b, h, "/event", seedEvent, http.StatusAccepted)
}
