// Package browsertest starts Debian's Chromium, headless, for tests that
// drive real pages through chromedp. Without Chromium those tests skip,
// saying how to install it, except under CI (the CI environment variable
// set), where a missing browser must not pass for a passing test.
package browsertest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// fallbackPath is where Debian's chromium package puts the browser, for
// when PATH does not lead there.
const fallbackPath = "/usr/bin/chromium"

// Path returns the Chromium executable: chromium (or chromium-browser) on
// PATH, else /usr/bin/chromium. Without one it skips t, or fails it when
// the CI environment variable is set.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := exec.LookPath(fallbackPath); err == nil {
		return fallbackPath
	}
	const msg = "browsertest: no Chromium on PATH or at " + fallbackPath + "; install it with: apt-get install chromium"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails rather than skips)")
	}
	t.Skip(msg)
	return ""
}

// New starts a headless Chromium with a new profile in a temporary
// directory and returns the chromedp context of its first tab, for
// chromedp.Run. The browser is closed, and its process waited for, when t
// ends; if t failed, the browser's own output is logged.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Path(t)
	// Made before the cleanups below, so removed after the browser exits.
	profile := t.TempDir()
	out := &syncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		// Containers and CI runners as root have no user namespaces
		// for the sandbox; the pages are the test's own.
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		// The rest keep the browser from reaching out on its own:
		// tests see only the requests their pages make.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.CombinedOutput(out),
	)
	t.Cleanup(func() {
		cancelAlloc() // waits for the browser process to exit
		if t.Failed() && out.Len() > 0 {
			t.Logf("browsertest: Chromium's output:\n%s", out.String())
		}
	})
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// Start the browser now, so that a browser that cannot start fails
	// here rather than in the test's first action.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	return ctx
}

// syncBuffer collects the browser's output, which chromedp copies from
// its own goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
