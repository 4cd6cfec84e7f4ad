package derive

import (
	"net/url"
	"strings"
	"testing"
)

func TestUTM(t *testing.T) {
	long := strings.Repeat("x", 250)
	longUTF8 := strings.Repeat("x", 199) + "é" // é is 2 bytes: 199+2 > 200
	tests := []struct {
		query string
		want  UTMs
	}{
		{"", UTMs{}},
		{"utm_source=news&utm_medium=email&utm_campaign=spring&utm_content=logo&utm_term=shoes",
			UTMs{"news", "email", "spring", "logo", "shoes"}},
		{"utm_source=%20news%20&utm_medium=+email+", UTMs{Source: "news", Medium: "email"}},

		// Source falls back to ref, then source.
		{"ref=producthunt", UTMs{Source: "producthunt"}},
		{"source=newsletter", UTMs{Source: "newsletter"}},
		{"ref=a&source=b", UTMs{Source: "a"}},
		{"utm_source=a&ref=b&source=c", UTMs{Source: "a"}},
		{"utm_source=&ref=b", UTMs{Source: "b"}},
		{"utm_source=+&ref=+&source=c", UTMs{Source: "c"}},
		{"utm_source=&utm_source=second", UTMs{Source: "second"}},

		// Capped at 200 bytes, on a character boundary, valid UTF-8.
		{"utm_campaign=" + long, UTMs{Campaign: long[:200]}},
		{"utm_term=" + url.QueryEscape(longUTF8), UTMs{Term: longUTF8[:199]}},
		{"utm_content=" + strings.Repeat("y", 199) + "+z", UTMs{Content: strings.Repeat("y", 199)}},
		{"utm_medium=a%FFb", UTMs{Medium: "a\uFFFDb"}},

		{"utm_medium=cpc&other=1", UTMs{Medium: "cpc"}},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := UTM(q); got != tt.want {
			t.Errorf("UTM(%.60q) = %+v, want %+v", tt.query, got, tt.want)
		}
	}
}
