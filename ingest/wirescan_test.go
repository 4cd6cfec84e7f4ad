package ingest

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestScanWire says which bodies scan reads itself, and checks that it
// reads them as encoding/json does; the rest it must leave to encoding/json.
func TestScanWire(t *testing.T) {
	f := func(body string, wantScanned bool) {
		t.Helper()
		var got wireEvent
		scanned := got.scan([]byte(body))
		if scanned != wantScanned {
			t.Errorf("scan(%s) = %v, want %v", body, scanned, wantScanned)
		}
		if !scanned {
			return
		}
		var want wireEvent
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Errorf("scan(%s) read a body encoding/json refuses: %v", body, err)
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scan(%s) = %+v, encoding/json reads %+v", body, got, want)
		}
	}

	// What trackers and servers send.
	f(seedEvent, true)
	f(browserEvent, true)
	f(`{}`, true)
	f(" \t\r\n{ \"site_id\" : \"s\" , \"path\" : \"/\" } \n", true)
	f(`{"site_id":"s","path":"/ü/日本","user_id":"ü"}`, true)
	f(`{"site_id":"s","screen_width":0}`, true)
	f(`{"site_id":"s","screen_width":-0}`, true)
	f(`{"site_id":"s","screen_width":-12}`, true)
	f(`{"site_id":"s","screen_width":999999999999999999}`, true)
	f(`{"site_id":"s","path":"/","props":{"a":"1","b":2.5e-3,"c":true,"d":null,"e":""}}`, true)
	f(`{"site_id":"s","props":{}}`, true)
	f(`{"site_id":"s","props":null}`, true)
	// null leaves a field as it was, the last of a repeated name wins.
	f(`{"site_id":"s","path":null,"event_type":null,"screen_width":null}`, true)
	f(`{"site_id":"a","site_id":"b","path":"/x","path":null,"screen_width":5,"screen_width":null}`, true)
	f(`{"site_id":"s","props":{"a":"1"},"props":{"b":"2"}}`, true)
	// Fields it does not name may hold any valid JSON.
	f(`{"site_id":"s","x":{"y":[1,-2.5E+3,"a\"\\\/\b\f\n\r\t\u00fC",true,false,null,{},[]]},"z":0}`, true)
	f(`{"site_id":"s","Unknown":1,"sitE":2}`, true)

	// Left to encoding/json: escapes, other letter case, wrong types.
	f(`{"site_id":"s","path":"\/home"}`, false)
	f(`{"site_id":"s","path":"/\u00e9"}`, false)
	f(`{"si\u0074e_id":"s"}`, false)
	f(`{"Site_ID":"s","PATH":"/"}`, false)
	f(`{"ſite_id":"s"}`, false)
	f(`{"ü":"s"}`, false)
	f(`{"site_id":1}`, false)
	f(`{"site_id":true}`, false)
	f(`{"site_id":["s"]}`, false)
	f(`{"screen_width":"1"}`, false)
	f(`{"screen_width":1.0}`, false)
	f(`{"screen_width":1e3}`, false)
	f(`{"screen_width":1E3}`, false)
	f(`{"screen_width":9999999999999999999}`, false)
	f(`{"props":"a"}`, false)
	f(`{"props":{"a":{"b":1}}}`, false)
	f(`{"props":[]}`, false)
	f(`{"x":`+nested(maxScanDepth+1)+`}`, false)
	f(`{"x":`+nested(maxScanDepth)+`}`, true)

	// Invalid JSON, whose errors are encoding/json's to word.
	for _, body := range []string{
		``, ` `, `[]`, `null`, `{`, `{"site_id"}`, `{"site_id":}`, `{"site_id":"s",}`, `{"site_id":"s"}}`,
		`{"site_id":"s"} x`, `{"site_id":"s" "path":"/"}`, `{site_id:"s"}`, `{'site_id':'s'}`,
		"{\"site_id\":\"a\tb\"}", `{"site_id":"s`, `{"screen_width":01}`, `{"screen_width":-}`,
		`{"screen_width":1x}`, `{"x":tru}`, `{"x":nul}`, `{"x":truex}`, `{"x":1.}`, `{"x":.5}`, `{"x":1e}`,
		`{"x":+1}`, `{"x":01}`, `{"x":-}`, `{"x":"\x"}`, `{"x":"\u12"}`, `{"x":"\u12G4"}`, `{"x":[1,]}`,
		`{"x":[1 2]}`, `{"x":{"a"}}`, `{"x":{"a":1,}}`, `{"x":{1:2}}`, `{"x":NaN}`, `{"props":{"a":1.5.5}}`,
		`{"props":{"a":"1"`, `{"x":"\`,
	} {
		f(body, false)
	}
}

// nested returns depth arrays, one inside the other.
func nested(depth int) string {
	s := "1"
	for range depth {
		s = "[" + s + "]"
	}
	return s
}

// FuzzScanWire holds scan to encoding/json: whatever body scan reads,
// json.Unmarshal reads without error and into the same wireEvent.
func FuzzScanWire(f *testing.F) {
	for _, seed := range []string{
		seedEvent, browserEvent,
		`{"site_id":"s","path":"/","x":{"y":[1,"2",null]},"event_type":null}`,
		`{"site_id":"s","props":{"k":"1","k":"2","\u00fc":"\ud800","":""},"screen_width":-0}`,
		`{"Site_ID":"s","PATH":"/","screen_width":1e3}`,
		`{"x":[1,-2.5E+3,"a\"\\\/\b\f\n\r\t\u00fC",true,false,null,{},[]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkObject(body) != nil {
			return // decodeEvent refuses it before scan
		}
		var got wireEvent
		if !got.scan(body) {
			return
		}
		var want wireEvent
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scan read %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scan read %q as %+v, encoding/json as %+v", body, got, want)
		}
	})
}

// TestScanBatch says which batches scanBatch reads itself, and checks
// that it reads them as encoding/json does; the rest, errors included, it
// must leave to encoding/json.
func TestScanBatch(t *testing.T) {
	now := testNow()
	f := func(body string, wantScanned bool) {
		t.Helper()
		var w wireEvent
		got, scanned := scanBatch([]byte(body), now, &w, nil)
		if scanned != wantScanned {
			t.Errorf("scanBatch(%.80s) = %v, want %v", body, scanned, wantScanned)
		}
		if !scanned {
			return
		}
		want, err := decodeBatchJSON([]byte(body), body[skipSpace([]byte(body), 0)] == '[', now, &w, nil)
		if err != nil {
			t.Errorf("scanBatch(%.80s) read a batch encoding/json refuses: %v", body, err)
			return
		}
		if !slices.Equal(got, want) {
			t.Errorf("scanBatch(%.80s) = %+v, encoding/json reads %+v", body, got, want)
		}
	}
	f(`[`+seedEvent+`]`, true)
	f(` [ `+seedEvent+` , `+browserEvent+` ] `, true)
	f(seedEvent+"\n"+browserEvent+"\r\n", true)
	f(seedEvent+browserEvent, true)
	f(`[`+strings.TrimSuffix(strings.Repeat(seedEvent+",", MaxBatchEvents), ",")+`]`, true)

	f(`[`+strings.TrimSuffix(strings.Repeat(seedEvent+",", MaxBatchEvents+1), ",")+`]`, false)
	f(`[]`, false)
	f(`[`+seedEvent+`,]`, false)
	f(`[`+seedEvent+` `+seedEvent+`]`, false)
	f(`[`+seedEvent+`] x`, false)
	f(`[`+seedEvent+`]]`, false)
	f(`[`+seedEvent, false)
	f(`[`+seedEvent+`,1]`, false)
	f(seedEvent+` ]`, false)
	f(seedEvent+` 1`, false)
	f(`[{"site_id":"s","path":"\/"}]`, false)             // an escape
	f(`[{"site_id":"s"}]`, false)                         // a page view without a path
	f(`[{"site_id":"s","path":"/"},{"path":"/"}]`, false) // the second without site_id
}

// FuzzScanBatch holds scanBatch to encoding/json: whatever batch it reads,
// decodeBatchJSON reads without error and into the same events.
func FuzzScanBatch(f *testing.F) {
	for _, seed := range []string{
		`[` + seedEvent + `,` + browserEvent + `]`,
		seedEvent + "\n" + browserEvent + "\n",
		`[{"site_id":"a","url":"https://a.example/?source=x","props":{"k":true}},{"site_id":"b","path":"/","screen_width":390}]`,
		`[{"site_id":"a","path":"/"}] x`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	now := testNow()
	f.Fuzz(func(t *testing.T, body []byte) {
		i := skipSpace(body, 0)
		if i == len(body) || body[i] != '[' && body[i] != '{' || !utf8.Valid(body) {
			return // decodeBatch refuses it before scanBatch
		}
		var w wireEvent
		got, ok := scanBatch(body, now, &w, nil)
		if !ok {
			return
		}
		want, err := decodeBatchJSON(body, body[i] == '[', now, &w, nil)
		if err != nil {
			t.Fatalf("scanBatch read %q, which encoding/json refuses: %v", body, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("scanBatch read %q as %+v, encoding/json as %+v", body, got, want)
		}
	})
}
