package browser

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/treeview"
)

var updateScreenshot = flag.Bool("update-screenshot", false,
	"write the screenshot to "+screenshotFile+" (the one in the docs) instead of a temporary directory")

const (
	screenshotFile = "../docs/img/treeview.png"
	// testTimeout bounds the whole test, browser start included.
	testTimeout = 60 * time.Second
	// waitTimeout bounds each wait for the page to show something.
	waitTimeout = 15 * time.Second
)

// chromium returns the browser to drive: $CHROME, or chromium on $PATH.
// Without one the test fails, unless TROUPE_BROWSER=off skips it: CI
// installs Chromium, so a missing browser there is a broken setup.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("TROUPE_BROWSER") == "off" {
		t.Skip("TROUPE_BROWSER=off: not driving a browser")
	}
	name := "chromium"
	if c := os.Getenv("CHROME"); c != "" {
		name = c
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("no browser: %v; install Chromium (apt-get install -y chromium), set CHROME to a Chrome or Chromium binary, or set TROUPE_BROWSER=off to skip this test", err)
	}
	return p
}

// worker fails on "fail" and handles anything else.
func worker(id string) supervisor.ChildSpec {
	return supervisor.NewWorker(id, func() actor.Actor[string] {
		return actor.Func[string](func(_ actor.Context, m string) error {
			if m == "fail" {
				return errors.New("connection reset")
			}
			return nil
		})
	}, actor.WithMaxAttempts(1), actor.WithKind("shop."+id), actor.WithMailbox(64, mailbox.Block))
}

// TestTreeView drives the page in Chromium: it shows the tree running
// over its event stream; a killed worker under one-for-one shows
// restarting, then running with one restart, while its siblings stay
// as they were; a failed worker under one-for-all restarts itself and
// its sibling; clicking a failure ID in the recent events highlights
// exactly the nodes that failure restarted. The page's script throws
// nothing and breaks no rule of its Content-Security-Policy.
func TestTreeView(t *testing.T) {
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	start := time.Now()

	sys := actor.NewSystem(actor.WithName("shop"))
	defer sys.Shutdown(context.Background())
	api := supervisor.NewSupervisor("api", []supervisor.ChildSpec{worker("users"), worker("orders")},
		supervisor.WithStrategy(strategy.OneForAll), supervisor.WithIntensity(3, time.Minute))
	app, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{worker("db"), worker("cache"), worker("mailer"), api},
		supervisor.WithStrategy(strategy.OneForOne), supervisor.WithIntensity(5, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	apiSup, ok1 := supervisor.LookupSupervisor(app, "api")
	db, ok2 := supervisor.LookupChild[string](app, "db")
	users, ok3 := supervisor.LookupChild[string](apiSup, "users")
	if !ok1 || !ok2 || !ok3 {
		t.Fatal("the tree lacks api, db or users")
	}
	// Some traffic, so the counters are not all zero.
	for id, n := range map[string]int{"db": 120, "cache": 45, "mailer": 7} {
		r, ok := supervisor.LookupChild[string](app, id)
		if !ok {
			t.Fatalf("no worker %s", id)
		}
		for range n {
			if err := r.Tell(ctx, "ok"); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A pipeline on a System of its own, shown in this one's view: one
	// order in ten waits in price, so its workers show busy and queued.
	orders := make(chan int)
	pl := pipeline.New(pipeline.WithName("orders"), pipeline.WithBatchSize(4))
	release := make(chan struct{})
	priced := pipeline.Map(pipeline.FromChan(pl, "source", orders), "price", func(ctx context.Context, n int) (int, error) {
		if n == 9 {
			select {
			case <-release:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return n * 100, nil
	}, pipeline.WithWorkers(3))
	pipeline.ToFunc(priced, "ledger", func(context.Context, int) error { return nil })
	if err := pl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(release)
		close(orders)
		if err := pl.Wait(ctx); err != nil {
			t.Errorf("the pipeline: %v", err)
		}
	}()
	defer sys.RegisterPipeline(pl.Observe)()
	for n := range 40 {
		select {
		case orders <- n:
		case <-ctx.Done():
			t.Fatal("the pipeline took no orders")
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", treeview.Handler(sys)))
	// The browser asks the site for its icon; that is the application's,
	// not the view's, and a 404 would show as a problem of the page.
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close() // after the browser is gone: Close waits for its open stream

	var out lockedBuffer
	defer func() {
		if t.Failed() {
			// Without a session bus Chromium logs D-Bus errors: noise.
			var lines []string
			for l := range strings.Lines(out.String()) {
				if !strings.Contains(l, "dbus/") {
					lines = append(lines, l)
				}
			}
			t.Logf("browser output:\n%s", strings.Join(lines, ""))
		}
	}()
	// The defaults are quiet (headless, no first run, no background
	// networking, no sync...); the rest keeps Chromium off the network and
	// the GPU. Without them it keeps trying to reach Google.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 960),
		chromedp.CombinedOutput(&out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // kills the browser and waits for it
	var problems console
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	defer cancelBrowser()

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/debug/troupe/")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	t.Logf("browser up and page loaded in %v", time.Since(start).Round(time.Millisecond))
	{
		wctx, cancel := context.WithTimeout(bctx, waitTimeout)
		err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(`li.node[data-path="/app/db"][data-status="running"]`)))
		cancel()
		if err != nil {
			t.Fatalf("waiting for db to show running: %v; the page shows %s", err, shows(bctx))
		}
	}
	waitFor(t, bctx, "the stream is live", `document.getElementById('conn').dataset.state === 'live' ? 'live' : ''`)
	waitFor(t, bctx, "the pipeline shows its three stages", `(() => {
		const p = document.querySelector('[data-pipeline="orders"]');
		return p && p.querySelectorAll('.stage').length === 3 ? 'yes' : '';
	})()`)
	record(t, bctx, "/app/db", "/app/cache", "/app/mailer", "/app/api/users", "/app/api/orders")

	// A kill from outside: one-for-one restarts db alone.
	db.PID().Kill()
	seen := waitFor(t, bctx, "db shows a restart, then runs with one restart", `(() => {
		const s = seen('/app/db'), n = node('/app/db');
		const i = s.findIndex((v) => /^(restarting|backoff) /.test(v));
		return i >= 0 && s.indexOf('running 1', i) > i && n.dataset.status === 'running' && n.dataset.restarts === '1' ? s.join(' → ') : '';
	})()`)
	t.Logf("db showed: %s", seen)
	if got := eval[string](t, bctx, `node('/app/db').querySelector('.stat[title="restarts"]').textContent`); got != "↻ 1" {
		t.Errorf("db's restart counter shows %q; want ↻ 1", got)
	}
	for _, p := range []string{"/app/cache", "/app/mailer", "/app/api/users"} {
		if got := eval[string](t, bctx, `seen('`+p+`').join(' → ')`); got != "running 0" {
			t.Errorf("%s showed %s after db was killed; want it to stay running 0 (one-for-one)", p, got)
		}
	}

	// A failure under one-for-all: users fails, api restarts both.
	if err := users.Tell(ctx, "fail"); err != nil {
		t.Fatal(err)
	}
	seen = waitFor(t, bctx, "users shows a restart, then users and orders run with one restart", `(() => {
		const s = seen('/app/api/users'), u = node('/app/api/users'), o = node('/app/api/orders');
		const i = s.findIndex((v) => /^(restarting|backoff) /.test(v));
		return i >= 0 && s.indexOf('running 1', i) > i && u.dataset.status === 'running' && u.dataset.restarts === '1' &&
			o.dataset.status === 'running' && o.dataset.restarts === '1' ? s.join(' → ') : '';
	})()`)
	t.Logf("users showed: %s", seen)
	for _, p := range []string{"/app/cache", "/app/mailer"} {
		if got := eval[string](t, bctx, `seen('`+p+`').join(' → ')`); got != "running 0" {
			t.Errorf("%s showed %s after users failed; want it to stay running 0 (the restart stays in api)", p, got)
		}
	}

	// Clicking a failure in the recent events highlights what it restarted.
	dbFail := eval[string](t, bctx, `document.querySelector('tr.ev[data-kind="killed"][data-path="/app/db"]').dataset.failure`)
	if got := eval[string](t, bctx, `node('/app/db').dataset.failure`); dbFail == "" || got != dbFail {
		t.Errorf("db's last failure %q; its killed event's failure %q", got, dbFail)
	}
	if got := eval[string](t, bctx, `document.querySelector('tr.ev[data-kind="killed"][data-path="/app/db"] td:nth-child(4)').textContent`); got != "killed" {
		t.Errorf("the kill's detail reads %q; want killed", got)
	}
	highlight(t, bctx, dbFail, `tr.ev[data-kind="killed"][data-path="/app/db"] button.fid`, "/app/db")
	usersFail := eval[string](t, bctx, `document.querySelector('tr.ev[data-kind="failed"][data-path="/app/api/users"]').dataset.failure`)
	if usersFail == "" || usersFail == dbFail {
		t.Fatalf("users' failure ID %q (db's %q)", usersFail, dbFail)
	}
	highlight(t, bctx, usersFail, `tr.ev[data-kind="failed"][data-path="/app/api/users"] button.fid`, "/app/api/orders", "/app/api/users")

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, shot)
	file := filepath.Join(t.TempDir(), "treeview.png")
	if *updateScreenshot {
		file = screenshotFile
	}
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%d bytes) in %s", len(shot), file)
	if p := problems.all(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// prelude defines the helpers of every expression the test evaluates:
// node(path) is the li.node of a path, seen(path) what record saw it
// show, as "status restarts", each change once.
const prelude = `const node = (p) => [...document.querySelectorAll('li.node')].find((n) => n.dataset.path === p);
const seen = (p) => (window.__seen || {})[p] || [];
`

// record makes the page remember every status and restart count it
// shows for paths, from now on, so a state the page shows only briefly
// is not missed by a test that looks later.
func record(t *testing.T, ctx context.Context, paths ...string) {
	t.Helper()
	list := `['` + strings.Join(paths, `','`) + `']`
	eval[string](t, ctx, `(() => {
		window.__seen = {};
		const rec = () => {
			for (const p of `+list+`) {
				const n = node(p), v = n ? n.dataset.status + ' ' + n.dataset.restarts : 'absent', a = window.__seen[p] || (window.__seen[p] = []);
				if (a[a.length - 1] !== v) a.push(v);
			}
		};
		new MutationObserver(rec).observe(document.getElementById('tree'), { subtree: true, childList: true, attributes: true });
		rec();
		return '';
	})()`)
}

// waitFor waits until the expression cond (with the prelude) is a
// non-empty string, which it returns. chromedp checks cond on every
// change of the DOM (no timer), until waitTimeout has passed.
func waitFor(t *testing.T, ctx context.Context, what, cond string) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, waitTimeout+time.Second)
	defer cancel()
	fn := "() => {\n" + prelude + "try { return " + cond + "; } catch (e) { return ''; }\n}"
	v, err := chromedp.Run(wctx, chromedp.PollFunction[string](fn, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		t.Fatalf("waiting until %s: %v; the page shows %s", what, err, shows(ctx))
	}
	return v
}

// eval evaluates expr (with the prelude) in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	v, err := chromedp.Run(wctx, chromedp.Evaluate[T]("(() => {\n"+prelude+"return ("+expr+");\n})()"))
	if err != nil {
		t.Fatalf("evaluating %s: %v; the page shows %s", expr, err, shows(ctx))
	}
	return v
}

// shows describes what the page shows, for a failure message.
func shows(ctx context.Context) string {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := chromedp.Run(wctx, chromedp.Evaluate[string](`(() => {
		const nodes = [...document.querySelectorAll('li.node')].map((n) => n.dataset.path + '=' + n.dataset.status + '/' + n.dataset.restarts);
		const evs = [...document.querySelectorAll('tr.ev')].map((e) => e.dataset.kind + ':' + e.dataset.path + ':' + (e.dataset.failure || ''));
		return 'conn ' + document.getElementById('conn').dataset.state + '; nodes ' + nodes.join(' ') + '; events ' + evs.join(' ') + '; seen ' + JSON.stringify(window.__seen || {});
	})()`))
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	return v
}

// highlight clicks the failure button sel, of the failure fid, and
// checks that exactly the nodes want and the events of fid are
// highlighted, and the banner names fid.
func highlight(t *testing.T, ctx context.Context, fid, sel string, want ...string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	err := chromedp.Do(wctx, chromedp.Click(chromedp.CSS(sel)))
	cancel()
	if err != nil {
		t.Fatalf("clicking %s: %v; the page shows %s", sel, err, shows(ctx))
	}
	banner := waitFor(t, ctx, "failure "+fid+" is highlighted",
		`!document.getElementById('highlight').hidden && document.getElementById('highlight-text').textContent.startsWith('failure `+fid+`:') ? document.getElementById('highlight-text').textContent : ''`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll('li.node.hl')].map((n) => n.dataset.path).sort()`)
	if !slices.Equal(got, want) {
		t.Errorf("failure %s highlights nodes %v; want %v (banner %q)", fid, got, want, banner)
	}
	evs := eval[[]string](t, ctx, `[...document.querySelectorAll('tr.ev.hl')].map((e) => e.dataset.failure)`)
	all := eval[int](t, ctx, `document.querySelectorAll('tr.ev[data-failure="`+fid+`"]').length`)
	if len(evs) < 2 || len(evs) != all || slices.ContainsFunc(evs, func(f string) bool { return f != fid }) {
		t.Errorf("failure %s highlights events of %v; want its %d events", fid, evs, all)
	}
	if want := fmt.Sprintf("failure %s: %d nodes, %d events", fid, len(want), all); banner != want {
		t.Errorf("banner %q; want %q", banner, want)
	}
}

// checkPNG checks that b is a PNG of a page: a reasonable size, not blank.
func checkPNG(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	r := img.Bounds()
	if r.Dx() < 800 || r.Dy() < 400 || r.Dx() > 4000 || r.Dy() > 8000 || len(b) < 20<<10 || len(b) > 4<<20 {
		t.Errorf("screenshot %dx%d, %d bytes; want a page-sized PNG", r.Dx(), r.Dy(), len(b))
	}
	if n := colours(img); n < 16 {
		t.Errorf("screenshot has %d colours; want a drawn page", n)
	}
}

// colours counts the distinct colours of img, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y && len(seen) < 1000; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			seen[[4]uint32{c0, c1, c2, c3}] = true
		}
	}
	return len(seen)
}

// console collects what the page reports as wrong: exceptions, console
// errors and warnings, and browser log errors and warnings (where a
// Content-Security-Policy violation shows).
type console struct {
	mu       sync.Mutex
	problems []string
}

// listen is a chromedp listener: it runs on chromedp's goroutine and
// must not block.
func (c *console) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		p = "exception: " + d.Text
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != "error" && e.Type != "warning" && e.Type != "assert" {
			return
		}
		var args []string
		for _, a := range e.Args {
			args = append(args, string(a.Value)+a.Description)
		}
		p = "console." + string(e.Type) + ": " + strings.Join(args, " ")
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError && e.Entry.Level != log.EntryLevelWarning {
			return
		}
		p = "log " + string(e.Entry.Source) + " " + string(e.Entry.Level) + ": " + e.Entry.Text + " " + e.Entry.URL
	default:
		return
	}
	c.mu.Lock()
	c.problems = append(c.problems, p)
	c.mu.Unlock()
}

func (c *console) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.problems)
}

// lockedBuffer is the browser's output, written by chromedp's goroutine
// and read by the test; it keeps the first 64 KiB.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
