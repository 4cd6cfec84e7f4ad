package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestNew(t *testing.T) {
	ctx := New(t)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.userAgent`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s: %s", Path(t), got)
}
