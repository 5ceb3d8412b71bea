package prom_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/prom"
)

// fakeSource returns a fixed Snapshot. With block set, Snapshot waits for
// block to close, ignoring its context (a misbehaving Source); with
// honorCtx, it waits for its context to end and then returns the
// snapshot (what actor.System does with a stuck supervisor).
type fakeSource struct {
	mu       sync.Mutex
	snap     observe.Snapshot
	block    chan struct{}
	honorCtx bool
	panics   bool
	calls    atomic.Int32
}

func (f *fakeSource) set(s observe.Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

func (f *fakeSource) Snapshot(ctx context.Context, _ observe.SnapshotOptions) observe.Snapshot {
	f.calls.Add(1)
	if f.block != nil {
		<-f.block
	}
	if f.honorCtx {
		<-ctx.Done()
	}
	if f.panics {
		panic("snapshot exploded")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeSource) Subscribe(int) observe.Subscription { return closedSub{} }

type closedSub struct{}

func (closedSub) Events() <-chan observe.Event {
	ch := make(chan observe.Event)
	close(ch)
	return ch
}
func (closedSub) Dropped() uint64 { return 0 }
func (closedSub) Close()          {}

// fixture is a Snapshot with every exported metric present: two kinds,
// nested supervisors (two of them share the spec name "carts"), a
// dynamic worker whose path, name and failure text must not show, dead
// letters and one pipeline.
func fixture() observe.Snapshot {
	worker := observe.Node{
		Name: "cart-user-42", Path: "/app/carts/cart-user-42", Kind: "main.cart", Type: observe.TypeWorker,
		Status: observe.StatusRunning, Restarts: 4,
		LastFailure: &observe.Failure{ID: 7, ErrorType: observe.ErrorPanic, Message: "card 4111 declined"},
	}
	return observe.Snapshot{
		Schema: observe.SchemaVersion,
		System: "shop",
		Nodes: []observe.Node{{
			Name: "app", Path: "/app", Kind: "supervisor.sup", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
			Supervisor: &observe.Supervisor{Strategy: "one_for_one", MaxRestarts: 3, RestartsInWindow: 1},
			Children: []observe.Node{
				{
					Name: "carts", Path: "/app/carts", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
					Supervisor: &observe.Supervisor{MaxRestarts: 5, RestartsInWindow: 2, GaveUp: 1},
					Children:   []observe.Node{worker},
				},
				{
					Name: "eu", Path: "/app/eu", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
					Supervisor: &observe.Supervisor{MaxRestarts: 1, Unresponsive: true},
					Children: []observe.Node{{
						Name: "carts", Path: "/app/eu/carts", Type: observe.TypeSupervisor, Status: observe.StatusRunning,
						Supervisor: &observe.Supervisor{MaxRestarts: 5, RestartsInWindow: 1, GaveUp: 2},
					}},
				},
			},
		}},
		Kinds: []observe.KindStats{
			{
				Kind: "main.cart", Spawns: 3, Running: 2, Restarts: 4,
				Stops:     map[string]uint64{"normal": 1},
				Failures:  map[string]uint64{observe.ErrorPanic: 3, observe.ErrorError: 1},
				Processed: 120, MailboxDepth: 5, MailboxMax: 4, MailboxLimit: 200,
				Dropped: map[string]uint64{"drop_newest": 7},
			},
			{
				Kind: "main.payment", Spawns: 1, Running: 1, Processed: 9,
				WaitDuration:    &observe.Buckets{Bounds: []float64{0.001, 0.01}, Counts: []uint64{6, 9}, Count: 10, Sum: 0.5},
				ProcessDuration: &observe.Buckets{Bounds: []float64{0.001, 0.01}, Counts: []uint64{8, 9}, Count: 9, Sum: 0.02},
				ProcessFailed:   map[string]*observe.Buckets{observe.ErrorPanic: {Bounds: []float64{0.001, 0.01}, Counts: []uint64{0, 1}, Count: 1, Sum: 0.005}},
			},
		},
		DeadLetters: map[string]uint64{"stopped": 2, "no_receiver": 1},
		Pipelines: []observe.Pipeline{{
			Name: "orders",
			Stages: []observe.Stage{
				{Name: "parse", Received: 10, Emitted: 9, Failures: 1, BlockedSeconds: 0.5},
				{Name: "enrich", Received: 9, Emitted: 9, InFlight: 2, BlockedSeconds: 1.25},
			},
		}},
	}
}

const fixtureText = `
# HELP troupe_actor_failures_total Failed incarnations.
# TYPE troupe_actor_failures_total counter
troupe_actor_failures_total{error_type="error",troupe_actor_kind="main.cart",troupe_system="shop"} 1
troupe_actor_failures_total{error_type="panic",troupe_actor_kind="main.cart",troupe_system="shop"} 3
# HELP troupe_actor_restarts_total Restarts of actors.
# TYPE troupe_actor_restarts_total counter
troupe_actor_restarts_total{troupe_actor_kind="main.cart",troupe_system="shop"} 4
troupe_actor_restarts_total{troupe_actor_kind="main.payment",troupe_system="shop"} 0
# HELP troupe_actor_running Actors with a running incarnation.
# TYPE troupe_actor_running gauge
troupe_actor_running{troupe_actor_kind="main.cart",troupe_system="shop"} 2
troupe_actor_running{troupe_actor_kind="main.payment",troupe_system="shop"} 1
# HELP troupe_actor_spawns_total Actors spawned.
# TYPE troupe_actor_spawns_total counter
troupe_actor_spawns_total{troupe_actor_kind="main.cart",troupe_system="shop"} 3
troupe_actor_spawns_total{troupe_actor_kind="main.payment",troupe_system="shop"} 1
# HELP troupe_actor_stops_total Actors stopped for good.
# TYPE troupe_actor_stops_total counter
troupe_actor_stops_total{troupe_actor_kind="main.cart",troupe_stop_reason="normal",troupe_system="shop"} 1
# HELP troupe_mailbox_depth Messages queued, summed over the actors of a kind.
# TYPE troupe_mailbox_depth gauge
troupe_mailbox_depth{troupe_actor_kind="main.cart",troupe_system="shop"} 5
troupe_mailbox_depth{troupe_actor_kind="main.payment",troupe_system="shop"} 0
# HELP troupe_mailbox_depth_max The deepest mailbox of a kind.
# TYPE troupe_mailbox_depth_max gauge
troupe_mailbox_depth_max{troupe_actor_kind="main.cart",troupe_system="shop"} 4
troupe_mailbox_depth_max{troupe_actor_kind="main.payment",troupe_system="shop"} 0
# HELP troupe_mailbox_dropped_total Messages dropped by a mailbox policy.
# TYPE troupe_mailbox_dropped_total counter
troupe_mailbox_dropped_total{troupe_actor_kind="main.cart",troupe_mailbox_policy="drop_newest",troupe_system="shop"} 7
# HELP troupe_mailbox_limit Capacities of the bounded mailboxes of a kind, summed.
# TYPE troupe_mailbox_limit gauge
troupe_mailbox_limit{troupe_actor_kind="main.cart",troupe_system="shop"} 200
troupe_mailbox_limit{troupe_actor_kind="main.payment",troupe_system="shop"} 0
# HELP troupe_message_dead_lettered_total Messages that went to dead letters.
# TYPE troupe_message_dead_lettered_total counter
troupe_message_dead_lettered_total{troupe_deadletter_reason="no_receiver",troupe_system="shop"} 1
troupe_message_dead_lettered_total{troupe_deadletter_reason="stopped",troupe_system="shop"} 2
# HELP troupe_message_processed_total Messages handled.
# TYPE troupe_message_processed_total counter
troupe_message_processed_total{troupe_actor_kind="main.cart",troupe_system="shop"} 120
troupe_message_processed_total{troupe_actor_kind="main.payment",troupe_system="shop"} 9
# HELP troupe_message_process_duration_seconds Time to handle a message.
# TYPE troupe_message_process_duration_seconds histogram
troupe_message_process_duration_seconds_bucket{error_type="",troupe_actor_kind="main.payment",troupe_system="shop",le="0.001"} 8
troupe_message_process_duration_seconds_bucket{error_type="",troupe_actor_kind="main.payment",troupe_system="shop",le="0.01"} 9
troupe_message_process_duration_seconds_bucket{error_type="",troupe_actor_kind="main.payment",troupe_system="shop",le="+Inf"} 9
troupe_message_process_duration_seconds_sum{error_type="",troupe_actor_kind="main.payment",troupe_system="shop"} 0.02
troupe_message_process_duration_seconds_count{error_type="",troupe_actor_kind="main.payment",troupe_system="shop"} 9
troupe_message_process_duration_seconds_bucket{error_type="panic",troupe_actor_kind="main.payment",troupe_system="shop",le="0.001"} 0
troupe_message_process_duration_seconds_bucket{error_type="panic",troupe_actor_kind="main.payment",troupe_system="shop",le="0.01"} 1
troupe_message_process_duration_seconds_bucket{error_type="panic",troupe_actor_kind="main.payment",troupe_system="shop",le="+Inf"} 1
troupe_message_process_duration_seconds_sum{error_type="panic",troupe_actor_kind="main.payment",troupe_system="shop"} 0.005
troupe_message_process_duration_seconds_count{error_type="panic",troupe_actor_kind="main.payment",troupe_system="shop"} 1
# HELP troupe_message_wait_duration_seconds Time a message waited in its mailbox.
# TYPE troupe_message_wait_duration_seconds histogram
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="main.payment",troupe_system="shop",le="0.001"} 6
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="main.payment",troupe_system="shop",le="0.01"} 9
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="main.payment",troupe_system="shop",le="+Inf"} 10
troupe_message_wait_duration_seconds_sum{troupe_actor_kind="main.payment",troupe_system="shop"} 0.5
troupe_message_wait_duration_seconds_count{troupe_actor_kind="main.payment",troupe_system="shop"} 10
# HELP troupe_stage_blocked_time_seconds_total Time a stage waited on a full downstream.
# TYPE troupe_stage_blocked_time_seconds_total counter
troupe_stage_blocked_time_seconds_total{troupe_pipeline="orders",troupe_stage="enrich",troupe_system="shop"} 1.25
troupe_stage_blocked_time_seconds_total{troupe_pipeline="orders",troupe_stage="parse",troupe_system="shop"} 0.5
# HELP troupe_stage_emitted_total Items a stage emitted.
# TYPE troupe_stage_emitted_total counter
troupe_stage_emitted_total{troupe_pipeline="orders",troupe_stage="enrich",troupe_system="shop"} 9
troupe_stage_emitted_total{troupe_pipeline="orders",troupe_stage="parse",troupe_system="shop"} 9
# HELP troupe_stage_failures_total Items that failed in a stage.
# TYPE troupe_stage_failures_total counter
troupe_stage_failures_total{troupe_pipeline="orders",troupe_stage="enrich",troupe_system="shop"} 0
troupe_stage_failures_total{troupe_pipeline="orders",troupe_stage="parse",troupe_system="shop"} 1
# HELP troupe_stage_in_flight Items inside a stage.
# TYPE troupe_stage_in_flight gauge
troupe_stage_in_flight{troupe_pipeline="orders",troupe_stage="enrich",troupe_system="shop"} 2
troupe_stage_in_flight{troupe_pipeline="orders",troupe_stage="parse",troupe_system="shop"} 0
# HELP troupe_stage_received_total Items a stage received.
# TYPE troupe_stage_received_total counter
troupe_stage_received_total{troupe_pipeline="orders",troupe_stage="enrich",troupe_system="shop"} 9
troupe_stage_received_total{troupe_pipeline="orders",troupe_stage="parse",troupe_system="shop"} 10
# HELP troupe_supervisor_escalations_total Times a supervisor gave up because its restart intensity was exceeded.
# TYPE troupe_supervisor_escalations_total counter
troupe_supervisor_escalations_total{troupe_supervisor="app",troupe_system="shop"} 0
troupe_supervisor_escalations_total{troupe_supervisor="carts",troupe_system="shop"} 3
troupe_supervisor_escalations_total{troupe_supervisor="eu",troupe_system="shop"} 0
# HELP troupe_supervisor_restart_limit The supervisor's restart intensity (MaxR).
# TYPE troupe_supervisor_restart_limit gauge
troupe_supervisor_restart_limit{troupe_supervisor="app",troupe_system="shop"} 3
troupe_supervisor_restart_limit{troupe_supervisor="carts",troupe_system="shop"} 5
troupe_supervisor_restart_limit{troupe_supervisor="eu",troupe_system="shop"} 1
# HELP troupe_supervisor_restart_usage Restarts inside the supervisor's current intensity period.
# TYPE troupe_supervisor_restart_usage gauge
troupe_supervisor_restart_usage{troupe_supervisor="app",troupe_system="shop"} 1
troupe_supervisor_restart_usage{troupe_supervisor="carts",troupe_system="shop"} 2
troupe_supervisor_restart_usage{troupe_supervisor="eu",troupe_system="shop"} 0
# HELP troupe_telemetry_kind_overflow_total Actor kinds folded into "other" past the cap.
# TYPE troupe_telemetry_kind_overflow_total counter
troupe_telemetry_kind_overflow_total{troupe_system="shop"} 0
`

func TestCollectAndCompare(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	c := prom.NewCollector(src)
	if err := testutil.CollectAndCompare(c, strings.NewReader(fixtureText)); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("Snapshot called %d times for one scrape; want 1", n)
	}
}

// TestNoIdentityInLabels: paths, the names of dynamic actors and error
// text never reach the exposition.
func TestNoIdentityInLabels(t *testing.T) {
	out, err := testutil.CollectAndFormat(prom.NewCollector(&fakeSource{snap: fixture()}), expfmt.TypeTextPlain)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/app", "cart-user-42", "4111", "declined", "f00000007"} {
		if strings.Contains(string(out), bad) {
			t.Errorf("exposition contains %q:\n%s", bad, out)
		}
	}
}

func TestGatherAndLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prom.NewCollector(&fakeSource{snap: fixture()}))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// notExported are the metrics of observe.Metrics that a Snapshot cannot
// give (see the package doc).
var notExported = []string{
	"troupe_supervisor_backoff_delay_seconds",
	"troupe_ask_duration_seconds",
	"troupe_stage_process_duration_seconds",
	"troupe_chaos_faults_total",
	"troupe_stage_batch_size",
}

// TestExportsTheCanonicalNames: every family the collector exports is in
// observe.Metrics with the labels of its attribute keys, and every metric
// of observe.Metrics is exported except the documented ones.
func TestExportsTheCanonicalNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prom.NewCollector(&fakeSource{snap: fixture()}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
		i := slices.IndexFunc(observe.Metrics, func(m observe.Metric) bool { return m.PromName == mf.GetName() })
		if i < 0 {
			t.Errorf("%s is not in observe.Metrics", mf.GetName())
			continue
		}
		var want []string
		for _, a := range observe.Metrics[i].Attributes {
			want = append(want, strings.ReplaceAll(a, ".", "_"))
		}
		slices.Sort(want)
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
			if !slices.Equal(labels, want) {
				t.Errorf("%s has labels %v; want %v", mf.GetName(), labels, want)
			}
		}
	}
	for _, m := range observe.Metrics {
		if skip := slices.Contains(notExported, m.PromName); skip == got[m.PromName] {
			t.Errorf("%s: exported %v; want %v", m.PromName, got[m.PromName], !skip)
		}
	}
}

func kinds(names ...string) observe.Snapshot {
	s := observe.Snapshot{System: "s"}
	for _, n := range names {
		s.Kinds = append(s.Kinds, observe.KindStats{Kind: n, Spawns: 1, Running: 1, MailboxMax: len(n)})
	}
	return s
}

// TestKindCap: past the cap, kinds fold into "other" (with the Source's
// own "other"), the kinds let in first keep their series on later
// scrapes, and the overflow counts the folded kinds.
func TestKindCap(t *testing.T) {
	src := &fakeSource{snap: kinds("a", "bb", "ccc", "dddd", observe.ErrorOtherKind)}
	c := prom.NewCollector(src, prom.WithMaxKinds(2))
	names := []string{"troupe_actor_spawns_total", "troupe_mailbox_depth_max", "troupe_telemetry_kind_overflow_total"}
	want := `
# HELP troupe_actor_spawns_total Actors spawned.
# TYPE troupe_actor_spawns_total counter
troupe_actor_spawns_total{troupe_actor_kind="a",troupe_system="s"} 1
troupe_actor_spawns_total{troupe_actor_kind="bb",troupe_system="s"} 1
troupe_actor_spawns_total{troupe_actor_kind="other",troupe_system="s"} 3
# HELP troupe_mailbox_depth_max The deepest mailbox of a kind.
# TYPE troupe_mailbox_depth_max gauge
troupe_mailbox_depth_max{troupe_actor_kind="a",troupe_system="s"} 1
troupe_mailbox_depth_max{troupe_actor_kind="bb",troupe_system="s"} 2
troupe_mailbox_depth_max{troupe_actor_kind="other",troupe_system="s"} 5
# HELP troupe_telemetry_kind_overflow_total Actor kinds folded into "other" past the cap.
# TYPE troupe_telemetry_kind_overflow_total counter
troupe_telemetry_kind_overflow_total{troupe_system="s"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// A new kind, and the old ones in another order: a and bb keep
	// their series.
	src.set(kinds("eeeee", "dddd", "ccc", "bb", "a"))
	// other: eeeee, dddd and ccc; the overflow: three kinds.
	want = strings.ReplaceAll(want, `{troupe_system="s"} 2`, `{troupe_system="s"} 3`)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// Fewer folded kinds later do not make the counter go down.
	src.set(kinds("a"))
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP troupe_telemetry_kind_overflow_total Actor kinds folded into "other" past the cap.
# TYPE troupe_telemetry_kind_overflow_total counter
troupe_telemetry_kind_overflow_total{troupe_system="s"} 3
`), "troupe_telemetry_kind_overflow_total"); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultKindCap: the default cap is observe.DefaultMaxKinds.
func TestDefaultKindCap(t *testing.T) {
	var names []string
	for i := range observe.DefaultMaxKinds + 3 {
		names = append(names, "k"+strings.Repeat("x", i))
	}
	c := prom.NewCollector(&fakeSource{snap: kinds(names...)})
	if n := testutil.CollectAndCount(c, "troupe_actor_spawns_total"); n != observe.DefaultMaxKinds+1 {
		t.Errorf("%d kind series; want %d and other", n, observe.DefaultMaxKinds)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP troupe_telemetry_kind_overflow_total Actor kinds folded into "other" past the cap.
# TYPE troupe_telemetry_kind_overflow_total counter
troupe_telemetry_kind_overflow_total{troupe_system="s"} 3
`), "troupe_telemetry_kind_overflow_total"); err != nil {
		t.Fatal(err)
	}
}

// gatherErrIs reports whether Gather failed with an error matching target.
func gatherErrIs(err, target error) bool {
	var me prometheus.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			if errors.Is(e, target) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, target)
}

// TestSnapshotTimeout: a Source whose Snapshot never returns fails the
// scrape after the timeout instead of hanging it, and later scrapes wait
// for the same Snapshot rather than start another goroutine.
func TestSnapshotTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture(), block: make(chan struct{})}
		reg := prometheus.NewRegistry()
		reg.MustRegister(prom.NewCollector(src, prom.WithSnapshotTimeout(3*time.Second)))
		for range 2 {
			start := time.Now()
			_, err := reg.Gather()
			if !gatherErrIs(err, prom.ErrSnapshotTimeout) {
				t.Fatalf("Gather: %v; want ErrSnapshotTimeout", err)
			}
			if d := time.Since(start); d != 3*time.Second {
				t.Errorf("Gather returned after %v; want the timeout, 3s", d)
			}
		}
		if n := src.calls.Load(); n != 1 {
			t.Errorf("Snapshot called %d times; want 1 (the second scrape joins the first)", n)
		}
		close(src.block)
		synctest.Wait()
		// The Source answers again: so does the collector.
		src.block = nil
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("Gather after the Source recovered: %v", err)
		}
		if n := src.calls.Load(); n != 2 {
			t.Errorf("Snapshot called %d times; want 2", n)
		}
	})
}

// TestSnapshotContext: the Source's context ends before the scrape's
// timeout, so a Source that answers when it ends (a stuck supervisor
// marked unresponsive) is still exported.
func TestSnapshotContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{snap: fixture(), honorCtx: true}
		c := prom.NewCollector(src, prom.WithSnapshotTimeout(4*time.Second))
		start := time.Now()
		if err := testutil.CollectAndCompare(c, strings.NewReader(fixtureText)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("scrape took %v; want 3s, three quarters of the timeout", d)
		}
	})
}

func TestSourcePanic(t *testing.T) {
	src := &fakeSource{snap: fixture(), panics: true}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(src))
	if _, err := reg.Gather(); !gatherErrIs(err, prom.ErrSourcePanic) || !strings.Contains(err.Error(), "snapshot exploded") {
		t.Fatalf("Gather: %v; want ErrSourcePanic with the panic value", err)
	}
	src.panics = false
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather after the panic: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	cases := []struct {
		name string
		c    *prom.Collector
		want error
	}{
		{"nil source", prom.NewCollector(nil), prom.ErrNilSource},
		{"max kinds 0", prom.NewCollector(src, prom.WithMaxKinds(0)), prom.ErrInvalidOption},
		{"timeout 0", prom.NewCollector(src, prom.WithSnapshotTimeout(0)), prom.ErrInvalidOption},
		{"negative timeout", prom.NewCollector(src, prom.WithSnapshotTimeout(-time.Second)), prom.ErrInvalidOption},
		{"empty system", prom.NewCollector(src, prom.WithSystemName("")), prom.ErrInvalidOption},
		{"bad utf-8 system", prom.NewCollector(src, prom.WithSystemName("a\xffb")), prom.ErrInvalidOption},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := prometheus.NewRegistry().Register(tc.c); !errors.Is(err, tc.want) {
				t.Errorf("Register: %v; want %v", err, tc.want)
			}
			// Registered where nothing is checked, it fails the gather.
			reg := prometheus.NewRegistry()
			reg.MustRegister(unchecked{tc.c})
			if _, err := reg.Gather(); !gatherErrIs(err, tc.want) {
				t.Errorf("Gather: %v; want %v", err, tc.want)
			}
		})
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("an invalid collector took %d snapshots", n)
	}
}

// unchecked registers a collector as unchecked (Describe sends nothing).
type unchecked struct{ c prometheus.Collector }

func (unchecked) Describe(chan<- *prometheus.Desc)      {}
func (u unchecked) Collect(ch chan<- prometheus.Metric) { u.c.Collect(ch) }

func TestNilOptionSkipped(t *testing.T) {
	c := prom.NewCollector(&fakeSource{snap: fixture()}, nil, prom.WithMaxKinds(5), nil)
	if err := testutil.CollectAndCompare(c, strings.NewReader(fixtureText)); err != nil {
		t.Fatal(err)
	}
}

func TestSystemName(t *testing.T) {
	c := prom.NewCollector(&fakeSource{snap: fixture()}, prom.WithSystemName("checkout"))
	want := strings.ReplaceAll(fixtureText, `troupe_system="shop"`, `troupe_system="checkout"`)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestEmptySnapshot: a System with nothing in it exports only the
// overflow counter.
func TestEmptySnapshot(t *testing.T) {
	c := prom.NewCollector(&fakeSource{snap: observe.Snapshot{System: "idle"}})
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP troupe_telemetry_kind_overflow_total Actor kinds folded into "other" past the cap.
# TYPE troupe_telemetry_kind_overflow_total counter
troupe_telemetry_kind_overflow_total{troupe_system="idle"} 0
`)); err != nil {
		t.Fatal(err)
	}
}

// TestBadLabelValues: a kind, supervisor, reason or stage name that is not
// valid UTF-8 is repaired rather than failing the scrape, and two that
// repair to the same value share a series.
func TestBadLabelValues(t *testing.T) {
	snap := observe.Snapshot{
		System: "s\xff",
		Kinds: []observe.KindStats{
			{Kind: "k\xfe", Spawns: 1, Failures: map[string]uint64{"e\xff": 1}},
			{Kind: "k\xfd", Spawns: 2},
		},
		Nodes:       []observe.Node{{Name: "sup\xff", Supervisor: &observe.Supervisor{MaxRestarts: 1}}},
		DeadLetters: map[string]uint64{"r\xff": 1},
		Pipelines:   []observe.Pipeline{{Name: "p\xff", Stages: []observe.Stage{{Name: "st\xff", Received: 1}}}},
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prom.NewCollector(&fakeSource{snap: snap}))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(`
# HELP troupe_actor_spawns_total Actors spawned.
# TYPE troupe_actor_spawns_total counter
troupe_actor_spawns_total{troupe_actor_kind="k?",troupe_system="s?"} 3
`, "?", "\uFFFD")
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "troupe_actor_spawns_total"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentScrapes: scrapes from several goroutines are safe (run
// with -race) and each sees the whole fixture.
func TestConcurrentScrapes(t *testing.T) {
	src := &fakeSource{snap: fixture()}
	c := prom.NewCollector(src, prom.WithMaxKinds(1))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			reg := prometheus.NewPedanticRegistry()
			if err := reg.Register(c); err != nil {
				errs <- err
				return
			}
			for range 20 {
				if _, err := reg.Gather(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClockHistogramsFold: the clock histograms of kinds folded into
// "other" are added bucket by bucket, without changing the Snapshot.
func TestClockHistogramsFold(t *testing.T) {
	b := func(n uint64) *observe.Buckets {
		return &observe.Buckets{Bounds: []float64{0.001}, Counts: []uint64{n}, Count: n, Sum: float64(n) / 1000}
	}
	snap := observe.Snapshot{System: "s", Kinds: []observe.KindStats{
		{Kind: "a", WaitDuration: b(1)},
		{Kind: "b", WaitDuration: b(2), ProcessFailed: map[string]*observe.Buckets{"panic": b(3)}},
		{Kind: "c", WaitDuration: b(4), ProcessFailed: map[string]*observe.Buckets{"panic": b(5)}},
	}}
	c := prom.NewCollector(&fakeSource{snap: snap}, prom.WithMaxKinds(1))
	want := `
# HELP troupe_message_wait_duration_seconds Time a message waited in its mailbox.
# TYPE troupe_message_wait_duration_seconds histogram
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="a",troupe_system="s",le="0.001"} 1
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="a",troupe_system="s",le="+Inf"} 1
troupe_message_wait_duration_seconds_sum{troupe_actor_kind="a",troupe_system="s"} 0.001
troupe_message_wait_duration_seconds_count{troupe_actor_kind="a",troupe_system="s"} 1
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="other",troupe_system="s",le="0.001"} 6
troupe_message_wait_duration_seconds_bucket{troupe_actor_kind="other",troupe_system="s",le="+Inf"} 6
troupe_message_wait_duration_seconds_sum{troupe_actor_kind="other",troupe_system="s"} 0.006
troupe_message_wait_duration_seconds_count{troupe_actor_kind="other",troupe_system="s"} 6
# HELP troupe_message_process_duration_seconds Time to handle a message.
# TYPE troupe_message_process_duration_seconds histogram
troupe_message_process_duration_seconds_bucket{error_type="panic",troupe_actor_kind="other",troupe_system="s",le="0.001"} 8
troupe_message_process_duration_seconds_bucket{error_type="panic",troupe_actor_kind="other",troupe_system="s",le="+Inf"} 8
troupe_message_process_duration_seconds_sum{error_type="panic",troupe_actor_kind="other",troupe_system="s"} 0.008
troupe_message_process_duration_seconds_count{error_type="panic",troupe_actor_kind="other",troupe_system="s"} 8
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "troupe_message_wait_duration_seconds", "troupe_message_process_duration_seconds"); err != nil {
		t.Fatal(err)
	}
	if got := snap.Kinds[1].WaitDuration.Counts[0]; got != 2 {
		t.Errorf("the Snapshot's histogram changed: got %d; want 2", got)
	}
}
