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
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/treeview"
)

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
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

// service is the example running in-process on a free loopback port.
type service struct {
	base   string
	client *http.Client
	stdout *syncBuffer
	logs   *syncBuffer
	stop   context.CancelFunc
	done   chan error
}

// deadline returns a context that ends a little before the test's
// deadline, and at most after d.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	if dl, ok := t.Deadline(); ok {
		ctx2, cancel2 := context.WithDeadline(ctx, dl.Add(-2*time.Second))
		t.Cleanup(cancel2)
		ctx = ctx2
	}
	t.Cleanup(cancel)
	return ctx
}

// start runs the example with a fast monkey and returns once it serves.
func start(t *testing.T, ctx context.Context, cfg config) *service {
	t.Helper()
	s := &service{stdout: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1)}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	cfg.Log = zap.New(zapcore.NewCore(enc, zapcore.AddSync(s.logs), zap.InfoLevel))
	addr := make(chan string, 1)
	cfg.Addr = "127.0.0.1:0"
	cfg.ready = func(a string) { addr <- a }
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

// stopService stops the example and checks it returned nil.
func (s *service) stopService(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return 10s after its context ended")
	}
	s.client.CloseIdleConnections()
}

func (s *service) get(t *testing.T, ctx context.Context, path string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return body
}

// TestServiceEndToEnd drives the example as a user would: the tree view's
// JSON has the whole tree with the pipeline's workers in it, the event
// stream shows restarts caused by the monkey, of a tree worker and of a
// pipeline worker, the logs carry those failures, /metrics has
// the troupe_* families with the restart counted, and the service stops
// cleanly (goleak checks what is left).
func TestServiceEndToEnd(t *testing.T) {
	ctx := deadline(t, 8*time.Second)
	cfg := defaultConfig()
	cfg.ChaosEvery, cfg.Tick = 50*time.Millisecond, 2*time.Millisecond
	s := start(t, ctx, cfg)

	var page treeview.Page
	if err := json.Unmarshal(s.get(t, ctx, "/debug/troupe/?format=json"), &page); err != nil {
		t.Fatal(err)
	}
	if page.Schema != observe.SchemaVersion || page.System != "shop" {
		t.Errorf("page schema %d system %q; want %d shop", page.Schema, page.System, observe.SchemaVersion)
	}
	checkTree(t, page)

	fids := waitForRestarts(t, ctx, s, "/app/api/", "/app/cache/", "/app/outbox/", "/app/orders/orders/")
	logs := s.logs.String()
	for prefix, fid := range fids {
		if !strings.Contains(logs, `"msg":"actor failed"`) || !strings.Contains(logs, `"failure_id":"`+fid.String()+`"`) {
			t.Errorf("the logs lack the failure %s of the restart under %s:\n%s", fid, prefix, logs)
		}
	}
	if !strings.Contains(logs, `"msg":"child restarted"`) {
		t.Errorf("the logs lack a restart:\n%s", logs)
	}

	checkMetrics(t, s.get(t, ctx, "/metrics"))

	s.stopService(t)
	out := s.stdout.String()
	for _, want := range []string{"/debug/troupe/", "/metrics", "observe: stopped after"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// checkTree checks the tree and pipeline of the page: one tree, the
// pipeline's workers in it.
func checkTree(t *testing.T, page treeview.Page) {
	t.Helper()
	if len(page.Nodes) != 1 || page.Nodes[0].Path != "/app" || page.Nodes[0].Supervisor == nil {
		t.Fatalf("top nodes %+v; want one supervisor /app", page.Nodes)
	}
	want := map[string]struct {
		strategy string
		workers  []string
	}{
		"/app/api":    {"one_for_one", []string{"users", "orders", "payments"}},
		"/app/cache":  {"one_for_all", []string{"store", "index"}},
		"/app/outbox": {"one_for_one", []string{"mailer"}},
	}
	app := page.Nodes[0]
	if got := len(app.Children); got != len(want)+1 {
		t.Errorf("/app has %d children; want %d", got, len(want)+1)
	}
	for _, sub := range app.Children {
		if sub.Path == "/app/orders" {
			checkOrdersChild(t, sub)
			continue
		}
		w, ok := want[sub.Path]
		if !ok {
			t.Errorf("unexpected child %s of /app", sub.Path)
			continue
		}
		if sub.Type != observe.TypeSupervisor || sub.Supervisor == nil || sub.Supervisor.Strategy != w.strategy {
			t.Errorf("%s: type %s supervisor %+v; want a %s supervisor", sub.Path, sub.Type, sub.Supervisor, w.strategy)
		}
		var names []string
		for _, c := range sub.Children {
			if c.Type != observe.TypeWorker {
				t.Errorf("%s: type %s; want worker", c.Path, c.Type)
			}
			names = append(names, c.Name)
		}
		if fmt.Sprint(names) != fmt.Sprint(w.workers) {
			t.Errorf("%s: workers %v; want %v in start order", sub.Path, names, w.workers)
		}
	}
	if len(page.Pipelines) != 1 || page.Pipelines[0].Name != "orders" {
		t.Fatalf("pipelines %+v; want orders", page.Pipelines)
	}
	var stages []string
	for _, st := range page.Pipelines[0].Stages {
		var ws []string
		for _, w := range st.Workers {
			ws = append(ws, w.Path)
		}
		stages = append(stages, st.Name+fmt.Sprint(ws))
	}
	if got, want := strings.Join(stages, " "), "source[] price[/app/orders/orders/price/w0 /app/orders/orders/price/w1] ledger[/app/orders/orders/ledger/w0]"; got != want {
		t.Errorf("orders stages %s; want %s", got, want)
	}
}

// checkOrdersChild checks the pipeline child /app/orders: the run's root
// supervisor /app/orders/orders over the stage supervisors and their
// workers.
func checkOrdersChild(t *testing.T, n observe.Node) {
	t.Helper()
	if n.Type != observe.TypeWorker || n.Kind != "pipeline" || len(n.Children) != 1 {
		t.Fatalf("/app/orders: type %s kind %s, %d children; want the pipeline child with its run's root", n.Type, n.Kind, len(n.Children))
	}
	root := n.Children[0]
	if root.Path != "/app/orders/orders" || root.Supervisor == nil {
		t.Fatalf("/app/orders's child %s (supervisor %v); want the supervisor /app/orders/orders", root.Path, root.Supervisor != nil)
	}
	var got []string
	for _, st := range root.Children {
		var ws []string
		for _, w := range st.Children {
			ws = append(ws, w.Path)
		}
		got = append(got, st.Path+fmt.Sprint(ws))
	}
	if want := "/app/orders/orders/price[/app/orders/orders/price/w0 /app/orders/orders/price/w1] /app/orders/orders/ledger[/app/orders/orders/ledger/w0]"; strings.Join(got, " ") != want {
		t.Errorf("/app/orders/orders: %v; want %s", got, want)
	}
}

// waitForRestarts reads the tree view's event stream until it has seen a
// restart of a worker under each of the path prefixes, and returns their
// failure IDs by prefix.
func waitForRestarts(t *testing.T, ctx context.Context, s *service, prefixes ...string) map[string]observe.FailureID {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, s.base+"/debug/troupe/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET /events: %s, %s", resp.Status, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	fids := map[string]observe.FailureID{}
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "event":
			var e treeview.TailEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				t.Fatalf("bad event %q: %v", line, err)
			}
			if e.Kind != "restarted" || e.FailureID == 0 {
				continue
			}
			for _, p := range prefixes {
				if _, seen := fids[p]; !seen && strings.HasPrefix(e.Path, p) {
					fids[p] = e.FailureID
				}
			}
			if len(fids) == len(prefixes) {
				return fids
			}
		}
	}
	t.Fatalf("the event stream ended with restarts seen under %v only, of %v: %v (context: %v)", fids, prefixes, sc.Err(), ctx.Err())
	return nil
}

// checkMetrics checks a /metrics scrape: the troupe_* families a Snapshot
// gives are all there, with the restarts the monkey caused counted.
func checkMetrics(t *testing.T, body []byte) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("bad exposition: %v\n%s", err, body)
	}
	for _, name := range []string{
		"troupe_actor_spawns_total", "troupe_actor_running", "troupe_actor_failures_total",
		"troupe_actor_restarts_total", "troupe_supervisor_escalations_total",
		"troupe_supervisor_restart_usage", "troupe_supervisor_restart_limit",
		"troupe_mailbox_depth", "troupe_mailbox_depth_max", "troupe_mailbox_limit",
		"troupe_message_processed_total", "troupe_stage_received_total", "troupe_stage_emitted_total",
		"troupe_stage_failures_total", "troupe_stage_in_flight", "troupe_telemetry_kind_overflow_total",
	} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// sum adds the samples of a family whose labels include want.
	sum := func(name string, want map[string]string) (float64, int) {
		var v float64
		n := 0
		f := fams[name]
		if f == nil {
			return 0, 0
		}
	next:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["troupe_system"] != "shop" {
				t.Errorf("%s: a series without troupe_system=shop: %v", name, labels)
			}
			for k, w := range want {
				if labels[k] != w {
					continue next
				}
			}
			n++
			v += value(f.GetType(), m)
		}
		return v, n
	}
	if v, _ := sum("troupe_actor_restarts_total", nil); v < 1 {
		t.Errorf("troupe_actor_restarts_total sums to %v; want at least the restart seen", v)
	}
	if v, _ := sum("troupe_actor_failures_total", map[string]string{"error_type": "panic"}); v < 1 {
		t.Errorf("troupe_actor_failures_total{error_type=panic} is %v; want the monkey's kills", v)
	}
	for sup, limit := range map[string]float64{"app": 5, "api": 10, "cache": 10, "outbox": 10} {
		if v, n := sum("troupe_supervisor_restart_limit", map[string]string{"troupe_supervisor": sup}); n != 1 || v != limit {
			t.Errorf("troupe_supervisor_restart_limit{troupe_supervisor=%q}: %v in %d series; want %v in 1", sup, v, n, limit)
		}
	}
	if v, n := sum("troupe_mailbox_limit", map[string]string{"troupe_actor_kind": "handler"}); n != 1 || v != 3*64 {
		t.Errorf("troupe_mailbox_limit{kind=handler}: %v in %d series; want 192 (3 mailboxes of 64)", v, n)
	}
	if v, n := sum("troupe_actor_spawns_total", map[string]string{"troupe_actor_kind": "handler"}); n != 1 || v != 3 {
		t.Errorf("troupe_actor_spawns_total{kind=handler}: %v in %d series; want 3 (restarts are not spawns)", v, n)
	}
	if v, _ := sum("troupe_stage_received_total", map[string]string{"troupe_pipeline": "orders", "troupe_stage": "source"}); v < 1 {
		t.Errorf("troupe_stage_received_total{orders/source} is %v; want the orders read", v)
	}
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// TestStopsAfterDuration: -duration ends the run by itself, with nil.
func TestStopsAfterDuration(t *testing.T) {
	cfg := defaultConfig()
	cfg.Addr, cfg.Duration, cfg.ChaosEvery = "127.0.0.1:0", 200*time.Millisecond, 0
	var out syncBuffer
	done := make(chan error, 1)
	// Owner: the test; run ends after cfg.Duration.
	go func() { done <- run(context.Background(), cfg, &out) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("run did not stop 8s after a 200ms -duration")
	}
	if !strings.Contains(out.String(), "observe: stopped after") {
		t.Errorf("stdout:\n%s", out.String())
	}
}

// TestBadConfig: flags out of range and an address that cannot be
// listened on are errors, returned at once, leaving nothing running.
func TestBadConfig(t *testing.T) {
	for _, f := range []func(*config){
		func(c *config) { c.Tick = 0 },
		func(c *config) { c.Duration = -time.Second },
		func(c *config) { c.ChaosEvery = -time.Second },
		func(c *config) { c.Addr = "256.0.0.1:0" },
	} {
		cfg := defaultConfig()
		cfg.Addr = "127.0.0.1:0"
		f(&cfg)
		if err := run(context.Background(), cfg, io.Discard); err == nil {
			t.Errorf("config %+v: run returned nil; want an error", cfg)
		}
	}
}

func splitArgs(s string) []string { return strings.Fields(s) }

// TestSIGINTStopsCleanly runs the program as a child process, waits until
// it serves, sends it SIGINT and expects it to stop by itself with exit
// status 0 and its closing line.
func TestSIGINTStopsCleanly(t *testing.T) {
	ctx := deadline(t, 8*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// GORACE: a -race child would otherwise sleep 1s at exit.
	cmd.Env = append(os.Environ(), childEnv+"=-addr 127.0.0.1:0 -chaos-every 200ms", "GORACE=atexit_sleep_ms=0")
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
	serving := false
	for !serving && sc.Scan() {
		out = append(out, sc.Text())
		serving = strings.Contains(sc.Text(), "serving on http://127.0.0.1:")
	}
	if !serving {
		_ = cmd.Wait()
		t.Fatalf("the child never served: %v\nstdout:\n%s\nstderr:\n%s", sc.Err(), strings.Join(out, "\n"), stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(out, "\n"), stderr.String())
	}
	if last := out[len(out)-1]; !strings.HasPrefix(last, "observe: stopped after") {
		t.Errorf("last line %q; want the closing line", last)
	}
}
