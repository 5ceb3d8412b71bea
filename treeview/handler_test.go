package treeview

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/observe"
)

func decodePage(t *testing.T, w *httptest.ResponseRecorder) Page {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var p Page
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("not a Page: %v\n%s", err, w.Body)
	}
	return p
}

func TestContentTypes(t *testing.T) {
	h := Handler(&fakeSource{snap: fixture()})
	cases := []struct {
		target string
		hdr    []string
		code   int
		ctype  string
	}{
		{"/", nil, 200, "text/html; charset=utf-8"},
		{"", nil, 200, "text/html; charset=utf-8"}, // the mount point itself, after StripPrefix
		{"/", []string{"Accept", "text/html,application/xhtml+xml,application/json;q=0.9"}, 200, "text/html; charset=utf-8"},
		{"/", []string{"Accept", "application/json"}, 200, "application/json"},
		{"/?format=json", nil, 200, "application/json"},
		{"/?format=json", []string{"Accept", "text/html"}, 200, "application/json"},
		{"/?format=dot", nil, 200, "text/vnd.graphviz; charset=utf-8"},
		{"/?format=mermaid", nil, 200, "text/plain; charset=utf-8"},
		{"/?format=xml", nil, 400, "text/plain; charset=utf-8"},
		{"/?limit=0", nil, 400, "text/plain; charset=utf-8"},
		{"/?limit=x", nil, 400, "text/plain; charset=utf-8"},
		{"/index.html", nil, 404, "text/plain; charset=utf-8"},
		{"/events/x", nil, 404, "text/plain; charset=utf-8"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = ""
		if path, q, ok := strings.Cut(c.target, "?"); ok {
			r.URL.Path, r.URL.RawQuery = path, q
		} else {
			r.URL.Path = c.target
		}
		r.RemoteAddr = "127.0.0.1:1"
		for i := 0; i+1 < len(c.hdr); i += 2 {
			r.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code || w.Header().Get("Content-Type") != c.ctype {
			t.Errorf("GET %q %v: %d %q; want %d %q", c.target, c.hdr, w.Code, w.Header().Get("Content-Type"), c.code, c.ctype)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %q: Cache-Control %q; want no-store", c.target, got)
		}
		if c.ctype == "application/json" {
			decodePage(t, w)
		}
	}
}

func TestReadOnly(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	h := Handler(src)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "KILL"} {
		for _, path := range []string{"/", "/events", "/nothing"} {
			w := do(h, m, path, "127.0.0.1:1")
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q; want 405, GET, HEAD", m, path, w.Code, w.Header().Get("Allow"))
			}
		}
	}
	if w := do(h, http.MethodHead, "/", "127.0.0.1:1"); w.Code != http.StatusOK {
		t.Errorf("HEAD /: %d; want 200", w.Code)
	}
	if len(src.opts) != 1 {
		t.Errorf("the Source took %d snapshots; want 1 (for the HEAD only)", len(src.opts))
	}
}

func TestAuthorize(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	def := Handler(src)
	for remote, want := range map[string]int{
		"127.0.0.1:5000": 200, "[::1]:5000": 200, "127.8.9.10:1": 200,
		"192.0.2.1:1234": 403, "[2001:db8::1]:80": 403, "10.0.0.1:1": 403, "garbage": 403, "": 403,
	} {
		if w := do(def, http.MethodGet, "/?format=json", remote); w.Code != want {
			t.Errorf("default, RemoteAddr %q: %d; want %d", remote, w.Code, want)
		}
	}
	var asked *http.Request
	deny := Handler(src, WithAuthorize(func(r *http.Request) (bool, bool) { asked = r; return false, true }))
	for _, path := range []string{"/", "/?format=json", "/events", "/missing"} {
		w := do(deny, http.MethodGet, path, "127.0.0.1:1")
		if w.Code != http.StatusForbidden {
			t.Errorf("denied %s: %d; want 403", path, w.Code)
		}
		if strings.Contains(w.Body.String(), "shop") {
			t.Errorf("denied %s: the body shows the system: %s", path, w.Body)
		}
	}
	if asked == nil {
		t.Error("the authorization function was not called")
	}
	remote := Handler(src, WithAuthorize(func(*http.Request) (bool, bool) { return true, false }))
	if w := do(remote, http.MethodGet, "/?format=json", "192.0.2.1:1234"); w.Code != 200 {
		t.Errorf("allowed remote client: %d; want 200", w.Code)
	}
	if w := do(Handler(src, WithAuthorize(nil)), http.MethodGet, "/", "192.0.2.1:1234"); w.Code != 403 {
		t.Errorf("WithAuthorize(nil) lets a remote client in: %d; want the default, 403", w.Code)
	}
}

func TestRedaction(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	plain := Handler(src)
	sens := Handler(src, WithAuthorize(func(*http.Request) (bool, bool) { return true, true }))
	for _, h := range []http.Handler{plain, sens} {
		get(h, "/") // subscribe
	}
	src.emit(fixtureEvents()...)
	for _, format := range []string{"json", "html", "dot", "mermaid"} {
		body := get(plain, "/?format="+format).Body.String()
		if strings.Contains(body, "hunter2") || strings.Contains(body, "goroutine 7") {
			t.Errorf("%s: a reader without sensitive access sees a message or a stack:\n%s", format, body)
		}
	}
	p := decodePage(t, get(plain, "/?format=json"))
	if !p.Redacted || p.Nodes[0].Children[0].LastFailure.ErrorType != "panic" || len(p.Events) != 4 || p.Events[0].FailureID != 0x2a {
		t.Errorf("redacted page lost what is not sensitive: redacted=%v, events %v", p.Redacted, p.Events)
	}
	// The handler did not blank the Source's own snapshot.
	p = decodePage(t, get(sens, "/?format=json"))
	lf := p.Nodes[0].Children[0].LastFailure
	if p.Redacted || !strings.Contains(lf.Message, secret) || !strings.Contains(lf.Stack, "goroutine 7") {
		t.Errorf("sensitive page: redacted=%v, last failure %+v; want message and stack", p.Redacted, lf)
	}
	if len(p.Events) != 4 || !strings.Contains(p.Events[0].Message, secret) {
		t.Errorf("sensitive page events: %+v; want the messages", p.Events)
	}
	if html := get(sens, "/").Body.String(); !strings.Contains(html, secret) || !strings.Contains(html, "goroutine 7") {
		t.Error("sensitive HTML does not show the failure message and stack")
	}
}

func TestLimit(t *testing.T) {
	snap := fixture()
	snap.Truncated = 10 // what the Source itself left out
	src := &fakeSource{snap: snap}
	h := Handler(src, WithLimit(3))
	p := decodePage(t, get(h, "/?format=json"))
	// Walk order: app, db, cache; inner, its child and loner are cut;
	// so are the workers past 3 in a stage (none) .
	if got := paths(p.Nodes); strings.Join(got, " ") != "/app /app/db /app/cache" {
		t.Errorf("limit 3: nodes %v", got)
	}
	if p.Truncated != 10+fixtureNodes-3 || p.Limit != 3 {
		t.Errorf("limit 3: truncated %d, limit %d; want %d, 3", p.Truncated, p.Limit, 10+fixtureNodes-3)
	}
	p = decodePage(t, get(h, "/?format=json&limit=2"))
	if got := paths(p.Nodes); len(got) != 2 || p.Truncated != 10+fixtureNodes-2+1 { // and enrich's third worker
		t.Errorf("limit=2: nodes %v, truncated %d", got, p.Truncated)
	}
	if n := len(p.Pipelines[0].Stages[1].Workers); n != 2 {
		t.Errorf("limit=2: enrich shows %d workers; want 2", n)
	}
	p = decodePage(t, get(h, "/?format=json&limit=100")) // a query cannot raise the cap
	if p.Limit != 3 {
		t.Errorf("limit=100 over WithLimit(3): limit %d; want 3", p.Limit)
	}
	for i, o := range src.opts {
		if want := []int{3, 2, 3}[i]; o.Limit != want {
			t.Errorf("snapshot %d asked the Source for limit %d; want %d", i, o.Limit, want)
		}
	}
	if body := get(h, "/?format=dot").Body.String(); !strings.Contains(body, "13 nodes not shown") {
		t.Errorf("DOT does not say what it left out:\n%s", body)
	}
	if body := get(h, "/").Body.String(); !strings.Contains(body, `id="truncated">13 nodes not shown (limit 3)`) {
		t.Errorf("HTML does not say what it left out")
	}
	p = decodePage(t, get(Handler(src, WithLimit(-1)), "/?format=json"))
	if p.Limit != defaultLimit {
		t.Errorf("WithLimit(-1): limit %d; want the default %d", p.Limit, defaultLimit)
	}
}

func paths(ns []observe.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Path)
		out = append(out, paths(n.Children)...)
	}
	return out
}

// TestEscaping checks that a name that is markup stays text in every
// format: escaped in the HTML, a quoted string in DOT, entity codes in
// Mermaid.
func TestEscaping(t *testing.T) {
	snap := fixture()
	snap.System = `"sys</title><script>x</script>`
	h := Handler(&fakeSource{snap: snap})
	html := get(h, "/").Body.String()
	if strings.Contains(html, "<script>alert") || strings.Contains(html, "<script>x") {
		t.Errorf("HTML has the name as markup:\n%s", html)
	}
	if !strings.Contains(html, `<span class="name">&lt;script&gt;alert(1)&lt;/script&gt;</span>`) ||
		!strings.Contains(html, `data-path="/app/inner/&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Errorf("HTML does not show the name escaped")
	}
	if n := strings.Count(html, "<script"); n != 1 {
		t.Errorf("HTML has %d script elements; want 1, its own", n)
	}

	dot := get(h, "/?format=dot").Body.String()
	for i, line := range strings.Split(strings.TrimSpace(dot), "\n") {
		rest := strings.ReplaceAll(dotStrings.ReplaceAllString(line, "Q"), "->", " ") // every quoted string, escapes included
		if !dotTokens.MatchString(rest) || strings.Count(rest, "[") > 1 {
			t.Errorf("DOT line %d: something outside quoted strings: %q", i+1, line)
		}
	}
	if !strings.Contains(dot, `label="<script>alert(1)</script>\nworker (evil\"kind\\N)\nrunning"`) {
		t.Errorf("DOT does not quote the names:\n%s", dot)
	}

	mm := get(h, "/?format=mermaid").Body.String()
	for _, m := range mermaidLabels.FindAllStringSubmatch(mm, -1) {
		if strings.ContainsAny(strings.ReplaceAll(m[1], "<br/>", ""), "\"<>[]{}|`&") {
			t.Errorf("Mermaid label %q has a character that is syntax", m[1])
		}
	}
	if !strings.Contains(mm, `#60;script#62;alert(1)#60;/script#62;`) || strings.Contains(mm, "<script") {
		t.Errorf("Mermaid does not encode the name:\n%s", mm)
	}
}

var (
	dotStrings    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	dotTokens     = regexp.MustCompile(`^[\t A-Za-z0-9_=,;{}\[\]]*$`)
	mermaidLabels = regexp.MustCompile(`\["(.*?)"\]`)
)

// TestCSP checks the page is self-contained: a strict policy whose hashes
// are those of the page's own inline script and style, and no reference
// to anything outside it.
func TestCSP(t *testing.T) {
	w := get(Handler(&fakeSource{snap: fixture()}), "/")
	policy := w.Header().Get("Content-Security-Policy")
	body := w.Body.String()
	for _, want := range []string{"default-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(policy, want) {
			t.Errorf("CSP %q lacks %q", policy, want)
		}
	}
	if strings.Contains(policy, "unsafe") {
		t.Errorf("CSP %q allows something unsafe", policy)
	}
	for _, el := range []struct{ open, close, dir string }{{"<script>", "</script>", "script-src"}, {"<style>", "</style>", "style-src"}} {
		_, rest, ok := strings.Cut(body, el.open)
		inline, _, ok2 := strings.Cut(rest, el.close)
		if !ok || !ok2 || len(inline) < 100 {
			t.Fatalf("no inline %s in the page", el.open)
		}
		sum := sha256.Sum256([]byte(inline))
		if want := el.dir + " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(policy, want) {
			t.Errorf("CSP %q lacks %q: the browser would block the page's own %s", policy, want, el.open)
		}
	}
	for _, bad := range []string{"http://", "https://", "src=", "href=", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("the page refers to something outside it: %q", bad)
		}
	}
}

// TestHTMLView checks what the page draws of the fixture: the stable
// attributes a browser test waits on, status tones, the backoff
// countdown, mailbox and intensity gauges, pipelines and the events tail.
func TestHTMLView(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	h := Handler(src)
	get(h, "/")
	src.emit(fixtureEvents()...)
	html := get(h, "/").Body.String()
	for _, want := range []string{
		`<li class="node tone-ok" data-path="/app/db" data-status="running" data-type="worker" data-restarts="2" data-failure="f0000002a">`,
		`<li class="node tone-warn" data-path="/app/cache" data-status="backoff" data-type="worker" data-restarts="4">`,
		`<li class="node tone-bad" data-path="/app/inner" data-status="running" data-type="supervisor" data-restarts="0" data-unresponsive="true">`,
		`<li class="node tone-off" data-path="/loner" data-status="stopped" data-type="actor" data-restarts="0">`,
		`<span class="countdown" data-next-start="2026-01-02T03:04:07.5Z">in 2.5s</span>`,
		`<meter min="0" max="16" low="8" high="12.8" optimum="0" value="13"></meter> 13/16`,
		`4 dropped`,
		`<meter min="0" max="5" value="2" low="2.5" high="4" optimum="0"></meter> 2/5 in 10s`,
		`<button type="button" class="fid" data-failure="f0000002a"`,
		`<div class="pipe" data-pipeline="orders" data-state="running">`,
		`<tr class="worker tone-warn" data-path="/orders/enrich/1" data-status="restarting">`,
		`<tr class="ev kind-backoff" data-seq="4" data-kind="backoff" data-path="/app/cache" data-failure="f0000002b">`,
		`up 1m30s`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if i, j := strings.Index(html, `data-seq="4"`), strings.Index(html, `data-seq="1"`); i < 0 || j < i {
		t.Error("events are not newest first")
	}
}

// TestNoGlobalState checks that the package registers nothing on
// http.DefaultServeMux, before or after serving.
func TestNoGlobalState(t *testing.T) {
	h := Handler(&fakeSource{snap: fixture()})
	mux := http.NewServeMux()
	mux.Handle("/debug/troupe/", http.StripPrefix("/debug/troupe", h))
	if w := get(mux, "/debug/troupe/?format=json"); w.Code != 200 {
		t.Fatalf("through a mux: %d", w.Code)
	}
	for _, path := range []string{"/", "/events", "/debug/troupe/", "/debug/troupe/events", "/debug/pprof/", "/debug/vars"} {
		if w := get(http.DefaultServeMux, path); w.Code != http.StatusNotFound {
			t.Errorf("http.DefaultServeMux serves %s: %d; want 404", path, w.Code)
		}
	}
}

func TestNilSourceAndOptions(t *testing.T) {
	h := Handler(nil, nil, WithLimit(5), nil)
	if w := get(h, "/"); w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "nil Source") {
		t.Errorf("nil Source: %d %q; want 500 saying so", w.Code, w.Body)
	}
	if w := get(h, "/events"); w.Code != http.StatusInternalServerError {
		t.Errorf("nil Source, /events: %d; want 500", w.Code)
	}
}

// TestSnapshotTimeout checks that a Source that does not answer until
// its context ends costs a request the snapshot timeout, not more, and
// that the response says so.
func TestSnapshotTimeout(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		want time.Duration
	}{{nil, defaultSnapshotTimeout}, {[]Option{WithSnapshotTimeout(time.Second)}, time.Second}, {[]Option{WithSnapshotTimeout(-1)}, defaultSnapshotTimeout}} {
		synctest.Test(t, func(t *testing.T) {
			src := &fakeSource{snap: fixture(), block: true}
			h := Handler(src, c.opts...)
			start := time.Now()
			p := decodePage(t, get(h, "/?format=json"))
			if took := time.Since(start); took != c.want {
				t.Errorf("request took %v; want the snapshot timeout %v", took, c.want)
			}
			if !p.TimedOut || p.System != "shop" {
				t.Errorf("timed_out %v, system %q; want true, shop", p.TimedOut, p.System)
			}
			start = time.Now()
			if w := get(h, "/"); w.Code != 200 || !strings.Contains(w.Body.String(), `id="timedout"`) || time.Since(start) != c.want {
				t.Errorf("HTML of a stuck Source: %d after %v; want 200 after %v, saying it timed out", w.Code, time.Since(start), c.want)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		p := decodePage(t, get(Handler(&fakeSource{snap: fixture()}), "/?format=json"))
		if p.TimedOut {
			t.Error("a Source that answers at once: timed_out true")
		}
	})
}

// TestEventDetail checks that an event's detail names its error type
// only when it says more than its reason: a kill reads "killed", not
// "killed killed".
func TestEventDetail(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	h := Handler(src)
	get(h, "/")
	src.emit(observe.Event{Kind: "killed", Path: "/app/db", Time: t0, FailureID: 0x2c, Reason: "killed", ErrorType: observe.ErrorKilled},
		observe.Event{Kind: "failed", Path: "/app/cache", Time: t0, FailureID: 0x2d, Reason: "failure", ErrorType: observe.ErrorPanic})
	html := get(h, "/").Body.String()
	for _, want := range []string{
		`<td class="kind">killed</td><td class="path">/app/db</td><td>killed</td>`,
		`<td class="kind">failed</td><td class="path">/app/cache</td><td>failure panic</td>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
