package load

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startTestReference(t *testing.T) *reference {
	t.Helper()
	ref, err := startReference()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ref.close(); err != nil {
			t.Error(err)
		}
	})
	return ref
}

func TestReferenceDecodesGeneratedBodies(t *testing.T) {
	ref := startTestReference(t)
	g := newGenerator(testWorkload())
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(ref.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	f := func(path, body string, wantCode int, wantBody string, wantDecoded uint64) {
		t.Helper()
		before := ref.decoded.Load()
		code, got := post(path, body)
		if code != wantCode || got != wantBody || ref.decoded.Load()-before != wantDecoded {
			t.Errorf("POST %s %.40q… = %d %s, %d decoded; want %d %s, %d",
				path, body, code, got, ref.decoded.Load()-before, wantCode, wantBody, wantDecoded)
		}
	}
	f("/event", string(g.appendEvent(nil, 0)), 202, `{"status":"queued"}`, 1)
	f("/events", string(g.appendBatch(nil, 0, 100)), 202, `{"status":"queued","accepted":100}`, 100)
	f("/event", "not json", 400, `{"error":"invalid JSON"}`, 0)
	f("/events", string(g.appendEvent(nil, 0)), 400, `{"error":"invalid JSON"}`, 0) // an object is not an array
}

func TestRunAgainstReference(t *testing.T) {
	// 1050 events in batches of 100: ten full requests and one of 50,
	// every event decoded once.
	ref := startTestReference(t)
	d := testDriver(ref.URL, realClock{})
	d.client = newClient(3, 10*time.Second)
	d.endpoint = ref.URL + "/events"
	d.concurrency, d.batch, d.events = 3, 100, 1050
	got := d.run(context.Background())
	if got.Requests != 11 || got.Events != 1050 || len(got.Errors) != 0 || ref.decoded.Load() != 1050 {
		t.Errorf("%d requests, %d events, errors %v, %d decoded; want 11, 1050, none, 1050",
			got.Requests, got.Events, got.Errors, ref.decoded.Load())
	}
}
