package load

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// reference is the bare server a run is compared with: net/http and
// encoding/json and nothing else. It decodes each event into a struct and
// answers 202 as sitelog does, but validates nothing and stores nothing,
// so sitelog's figures divided by its figures measure the cost of all that
// sitelog does beyond HTTP and JSON.
type reference struct {
	URL     string // base URL, http://127.0.0.1:port
	srv     *http.Server
	done    chan error
	decoded atomic.Uint64 // events decoded, for tests
}

// referenceEvent is the event as the reference decodes it.
type referenceEvent struct {
	SiteID    string `json:"site_id"`
	EventType string `json:"event_type"`
	Path      string `json:"path"`
	UserID    string `json:"user_id"`
	Timestamp string `json:"timestamp"`
}

// Body limits as sitelog's, so that a workload either server refuses is
// refused by both.
const (
	referenceMaxEvent = 8 << 10
	referenceMaxBatch = 1 << 20
)

// startReference serves the reference on a free port of 127.0.0.1 until
// close.
func startReference() (*reference, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("load: reference: listen: %w", err)
	}
	ref := &reference{URL: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /event", ref.serveEvent)
	mux.HandleFunc("POST /events", ref.serveEvents)
	ref.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { ref.done <- ref.srv.Serve(ln) }()
	return ref, nil
}

func (ref *reference) serveEvent(w http.ResponseWriter, r *http.Request) {
	var ev referenceEvent
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, referenceMaxEvent)).Decode(&ev); err != nil {
		http.Error(w, `{"error":"invalid JSON"}`, http.StatusBadRequest)
		return
	}
	ref.decoded.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"queued"}`+"\n")
}

func (ref *reference) serveEvents(w http.ResponseWriter, r *http.Request) {
	var evs []referenceEvent
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, referenceMaxBatch)).Decode(&evs); err != nil {
		http.Error(w, `{"error":"invalid JSON"}`, http.StatusBadRequest)
		return
	}
	ref.decoded.Add(uint64(len(evs)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"queued","accepted":`+strconv.Itoa(len(evs))+"}\n")
}

// close stops the reference. It is called once a run is over, when no
// request is in flight, so it closes every connection at once: a graceful
// Shutdown would wait up to 5 s for a connection the client dialed but
// never used, which net/http does not count as idle until then.
func (ref *reference) close() error {
	err := ref.srv.Close()
	if serr := <-ref.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("load: reference: close: %w", err)
	}
	return nil
}
