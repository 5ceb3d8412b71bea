package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/treeview"
)

// childEnv, set in the environment, makes the test binary run main with
// the arguments in it (space-separated) instead of the tests: the signal
// test re-executes itself that way.
const childEnv = "SERVICE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Args = append([]string{"service"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deadline returns a context that ends after d, or a little before the
// test's deadline.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	if dl, ok := t.Deadline(); ok {
		ctx2, cancel2 := context.WithDeadline(ctx, dl.Add(-2*time.Second))
		t.Cleanup(cancel2)
		ctx = ctx2
	}
	return ctx
}

// svc is the example running in-process on a free loopback port.
type svc struct {
	base   string
	client *http.Client
	stdout *syncBuffer
	stop   context.CancelFunc // the SIGTERM of the in-process run
	done   chan error
}

func start(t *testing.T, ctx context.Context, cfg config) *svc {
	t.Helper()
	s := &svc{stdout: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	cfg.Addr, cfg.ready = "127.0.0.1:0", func(a string) { addr <- a }
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	// Owner: the test; it ends when stop is called, and stopService waits
	// for it.
	go func() { s.done <- run(runCtx, cfg, s.stdout) }()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case err := <-s.done:
		stop()
		t.Fatalf("run returned before serving: %v", err)
	case <-ctx.Done():
		stop()
		t.Fatalf("the service did not start: %v", ctx.Err())
	}
	s.client = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() { s.stopService(t) })
	return s
}

// stopService cancels the run's context, as SIGTERM does in main, and
// checks that run (the errgroup) returned nil.
func (s *svc) stopService(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	s.client.CloseIdleConnections()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run after its context ended: %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return 10s after its context ended")
	}
}

// do sends a request and returns the body; a status other than want
// fails the test.
func (s *svc) do(t *testing.T, ctx context.Context, method, path, body string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s; want %d\n%s", method, path, resp.Status, want, b)
	}
	return string(b)
}

func (s *svc) page(t *testing.T, ctx context.Context) treeview.Page {
	t.Helper()
	var p treeview.Page
	if err := json.Unmarshal([]byte(s.do(t, ctx, http.MethodGet, "/debug/troupe/?format=json", "", http.StatusOK)), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *svc) stats(t *testing.T, ctx context.Context) Stats {
	t.Helper()
	var st Stats
	if err := json.Unmarshal([]byte(s.do(t, ctx, http.MethodGet, "/stats", "", http.StatusOK)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls cond every 5ms until it holds; it fails the test when
// ctx ends first.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// find returns the node at path in the tree, or nil.
func find(nodes []observe.Node, path string) *observe.Node {
	for i := range nodes {
		n := &nodes[i]
		if n.Path == path {
			return n
		}
		if strings.HasPrefix(path, n.Path+"/") {
			return find(n.Children, path)
		}
	}
	return nil
}

func childPaths(n *observe.Node) string {
	var ps []string
	for _, c := range n.Children {
		ps = append(ps, c.Path)
	}
	return strings.Join(ps, " ")
}

func restartedEvent(p treeview.Page, path string) bool {
	for _, e := range p.Events {
		if e.Kind == "restarted" && e.Path == path {
			return true
		}
	}
	return false
}

// TestOneTree drives the service over HTTP: the tree view's JSON shows one
// tree, the actors, the pool's workers and the pipeline's stages and
// workers under the root supervisor /app; a pool worker and a pipeline
// worker made to crash restart in place, in the tree, without losing
// their request; and a SIGTERM-like cancel stops it with nil after the
// pipeline drained what it accepted, a line it still held included
// (goleak checks what is left).
func TestOneTree(t *testing.T) {
	ctx := deadline(t, 15*time.Second)
	// A "hold" line waits in its parse worker until the drain begins (or
	// its attempt is cancelled, when the pipeline is aborted).
	drain, held := make(chan struct{}), make(chan struct{}, 1)
	s := start(t, ctx, config{
		parsed: func(ctx context.Context, text string) error {
			if text != "hold" {
				return nil
			}
			held <- struct{}{}
			select {
			case <-drain:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		draining: func() { close(drain) },
	})

	for i := range 3 {
		out := s.do(t, ctx, http.MethodPost, "/render", fmt.Sprint("hello ", i), http.StatusOK)
		if !strings.HasPrefix(out, "worker-") || !strings.HasSuffix(out, fmt.Sprint(": HELLO ", i, "\n")) {
			t.Errorf("POST /render: %q; want worker-N: HELLO %d", out, i)
		}
	}
	if out := s.do(t, ctx, http.MethodPost, "/events", "click a\nview\n\nclick b\n", http.StatusAccepted); out != "accepted 3\n" {
		t.Errorf("POST /events: %q; want accepted 3", out)
	}
	eventually(t, ctx, "3 events stored", func() bool {
		st := s.stats(t, ctx)
		return st.Events["click"] == 2 && st.Events["view"] == 1
	})

	page := s.page(t, ctx) // also leases the event tail the checks below read
	checkTree(t, page)

	// A pool worker crashes on the request; the restarted worker answers.
	out := s.do(t, ctx, http.MethodPost, "/render?crash=1", "boom", http.StatusOK)
	worker, _, ok := strings.Cut(out, ":")
	if !ok || !strings.HasPrefix(worker, "worker-") {
		t.Fatalf("POST /render?crash=1: %q; want worker-N: BOOM", out)
	}
	path := "/app/render/" + worker
	eventually(t, ctx, path+" restarted in the tree", func() bool {
		p := s.page(t, ctx)
		n := find(p.Nodes, path)
		return n != nil && n.Restarts == 1 && n.Status == observe.StatusRunning && restartedEvent(p, path)
	})

	// A pipeline worker crashes on a line; its stage supervisor restarts it
	// and the line is retried and stored.
	s.do(t, ctx, http.MethodPost, "/events", "crash\n", http.StatusAccepted)
	var crashed string
	eventually(t, ctx, "a parse worker restarted in the tree", func() bool {
		p := s.page(t, ctx)
		for _, w := range []string{"w0", "w1"} {
			path := "/app/ingest/events/parse/" + w
			if n := find(p.Nodes, path); n != nil && n.Restarts == 1 && restartedEvent(p, path) {
				crashed = path
				return true
			}
		}
		return false
	})
	eventually(t, ctx, "the crash line stored after its retry", func() bool { return s.stats(t, ctx).Events["crash"] == 1 })
	page = s.page(t, ctx)
	if len(page.Pipelines) != 1 {
		t.Fatalf("pipelines %+v; want events", page.Pipelines)
	}
	for _, st := range page.Pipelines[0].Stages {
		for _, w := range st.Workers {
			want := uint64(0)
			if w.Path == crashed {
				want = 1
			}
			if w.Restarts != want || w.Status != observe.StatusRunning {
				t.Errorf("pipeline worker %s: %s, %d restarts; want running, %d", w.Path, w.Status, w.Restarts, want)
			}
		}
	}
	if n := find(page.Nodes, "/app"); n == nil || n.Supervisor.Restarts != 0 {
		t.Errorf("/app: %+v; want no restart of the root's children (the crashes stay inside)", n)
	}

	// More lines, one held in the pipeline, then stop: the drain stores
	// every line accepted.
	s.do(t, ctx, http.MethodPost, "/events", "view\nhold\n", http.StatusAccepted)
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the hold line did not reach a parse worker")
	}
	s.stopService(t)
	if out := s.stdout.String(); !strings.Contains(out, "service: serving on http://127.0.0.1:") ||
		!strings.Contains(out, "/debug/troupe/") || !strings.Contains(out, ", 6 events stored\n") {
		t.Errorf("stdout:\n%s\nwant the addresses and the closing line with 6 events stored", out)
	}
}

// checkTree checks that the page holds one tree, rooted at /app, with
// everything at its place.
func checkTree(t *testing.T, page treeview.Page) {
	t.Helper()
	if page.System != "service" || len(page.Nodes) != 1 || page.Nodes[0].Path != "/app" || page.Nodes[0].Supervisor == nil {
		t.Fatalf("system %q, top nodes %+v; want one supervisor /app", page.System, page.Nodes)
	}
	for _, c := range []struct {
		path     string
		typ      observe.NodeType
		kind     string
		children string
	}{
		{"/app", observe.TypeSupervisor, "supervisor", "/app/hits /app/stats /app/render /app/ingest"},
		{"/app/hits", observe.TypeWorker, "hits", ""},
		{"/app/stats", observe.TypeWorker, "stats", ""},
		{"/app/render", observe.TypeSupervisor, "supervisor", "/app/render/worker-1 /app/render/worker-2 /app/render/worker-3"},
		{"/app/render/worker-1", observe.TypeWorker, "pool:render", ""},
		{"/app/render/worker-3", observe.TypeWorker, "pool:render", ""},
		{"/app/ingest", observe.TypeWorker, "pipeline", "/app/ingest/events"},
		{"/app/ingest/events", observe.TypeSupervisor, "supervisor",
			"/app/ingest/events/in /app/ingest/events/parse /app/ingest/events/store"},
		{"/app/ingest/events/in", observe.TypeWorker, "pipeline.inlet", ""},
		{"/app/ingest/events/parse/w0", observe.TypeWorker, "pipeline.worker", ""},
		{"/app/ingest/events/parse", observe.TypeSupervisor, "supervisor", "/app/ingest/events/parse/w0 /app/ingest/events/parse/w1"},
		{"/app/ingest/events/store", observe.TypeSupervisor, "supervisor", "/app/ingest/events/store/w0"},
	} {
		n := find(page.Nodes, c.path)
		if n == nil {
			t.Errorf("no node %s in the tree", c.path)
			continue
		}
		if n.Type != c.typ || n.Kind != c.kind || n.Status != observe.StatusRunning || childPaths(n) != c.children {
			t.Errorf("%s: type %s kind %s status %s children [%s]; want a running %s of kind %s with [%s]",
				c.path, n.Type, n.Kind, n.Status, childPaths(n), c.typ, c.kind, c.children)
		}
	}
	if len(page.Pipelines) != 1 || page.Pipelines[0].Name != "events" || page.Pipelines[0].State != "running" {
		t.Fatalf("pipelines %+v; want events, running", page.Pipelines)
	}
	var got []string
	for _, st := range page.Pipelines[0].Stages {
		var ws []string
		for _, w := range st.Workers {
			ws = append(ws, w.Path)
		}
		got = append(got, fmt.Sprintf("%s%v", st.Name, ws))
	}
	if want := "in[] parse[/app/ingest/events/parse/w0 /app/ingest/events/parse/w1] store[/app/ingest/events/store/w0]"; strings.Join(got, " ") != want {
		t.Errorf("pipeline stages %v; want %s", got, want)
	}
}

// TestStopsAfterDuration: -duration ends the run by itself, with nil.
func TestStopsAfterDuration(t *testing.T) {
	ctx := deadline(t, 8*time.Second)
	var out syncBuffer
	done := make(chan error, 1)
	// Owner: the test; run ends after its -duration.
	go func() { done <- run(ctx, config{Addr: "127.0.0.1:0", Duration: 100 * time.Millisecond}, &out) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("run did not stop after a 100ms -duration")
	}
	if !strings.Contains(out.String(), "service: stopped: 0 requests served, 0 events stored\n") {
		t.Errorf("stdout:\n%s", out.String())
	}
}

// TestBadConfig: a negative -duration and an address that cannot be
// listened on are errors, returned at once, leaving nothing running.
func TestBadConfig(t *testing.T) {
	for _, cfg := range []config{
		{Addr: "127.0.0.1:0", Duration: -time.Second},
		{Addr: "256.0.0.1:0"},
	} {
		if err := run(context.Background(), cfg, io.Discard); err == nil {
			t.Errorf("config %+v: run returned nil; want an error", cfg)
		}
	}
}

// TestSIGTERMStopsCleanly runs the program as a child process, waits until
// it serves, sends it a request and SIGTERM, and expects it to stop by
// itself with exit status 0 and its closing line.
func TestSIGTERMStopsCleanly(t *testing.T) {
	ctx := deadline(t, 10*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// GORACE: a -race child would otherwise sleep 1s at exit.
	cmd.Env = append(os.Environ(), childEnv+"=-addr 127.0.0.1:0", "GORACE=atexit_sleep_ms=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var out []string
	base := ""
	for base == "" && sc.Scan() {
		out = append(out, sc.Text())
		if a, ok := strings.CutPrefix(sc.Text(), "service: serving on "); ok {
			base = a
		}
	}
	if base == "" {
		_ = cmd.Wait()
		t.Fatalf("the child never served: %v\nstdout:\n%s\nstderr:\n%s", sc.Err(), strings.Join(out, "\n"), stderr.String())
	}
	s := &svc{base: base, client: &http.Client{Transport: &http.Transport{}}}
	defer s.client.CloseIdleConnections()
	s.do(t, ctx, http.MethodPost, "/events", "click\n", http.StatusAccepted)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(out, "\n"), stderr.String())
	}
	if last := out[len(out)-1]; last != "service: stopped: 1 requests served, 1 events stored" {
		t.Errorf("last line %q; want the closing line with the event stored", last)
	}
}
