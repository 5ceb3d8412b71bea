package prom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/prom"
	"github.com/troupe-go/troupe/supervisor"
)

// flaky fails every message it gets.
type flaky struct{}

func (flaky) Receive(actor.Context, string) error { return errors.New("flaky: card 4111 declined") }

// testCtx is a context that ends a little before the test's deadline.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Second))
		t.Cleanup(cancel)
	}
	return ctx
}

// value returns the value of the series of family name whose labels
// include want, and whether there is one.
func value(mfs []*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestSystemRestarts: with a real System and supervisor, a child that
// fails N times shows N restarts and N failures for its kind, and its
// supervisor's intensity usage, under the supervisor's spec name.
func TestSystemRestarts(t *testing.T) {
	const n = 3
	ctx := testCtx(t)
	sys := actor.NewSystem(actor.WithName("shop"))
	t.Cleanup(func() {
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	sub := sys.Subscribe(64)
	defer sub.Close()

	spec := supervisor.NewWorker("payments", func() actor.Actor[string] { return flaky{} },
		actor.WithKind("flaky"), actor.WithMaxAttempts(1))
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(n+2, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := supervisor.LookupChild[string](sup, "payments")
	if !ok {
		t.Fatal("no child payments")
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(prom.NewCollector(sys)); err != nil {
		t.Fatal(err)
	}

	// waitStarted waits for the child's next started event: the runtime
	// counts a restart before it emits it.
	waitStarted := func() {
		t.Helper()
		for {
			select {
			case e, ok := <-sub.Events():
				if !ok {
					t.Fatal("event stream closed")
				}
				if e.Kind == "started" && e.Path == "/app/payments" {
					return
				}
			case <-ctx.Done():
				t.Fatal("no started event before the test deadline")
			}
		}
	}
	waitStarted()
	for range n {
		if err := ref.Tell(ctx, "pay"); err != nil {
			t.Fatal(err)
		}
		waitStarted()
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	kind := map[string]string{"troupe_system": "shop", "troupe_actor_kind": "flaky"}
	app := map[string]string{"troupe_system": "shop", "troupe_supervisor": "app"}
	cases := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"troupe_actor_restarts_total", kind, n},
		{"troupe_actor_failures_total", map[string]string{"troupe_actor_kind": "flaky", "error_type": observe.ErrorError}, n},
		{"troupe_actor_spawns_total", kind, 1},
		{"troupe_actor_running", kind, 1},
		// Processed counts the messages handled without failing; with
		// WithMaxAttempts(1) each failed one is a poison dead letter.
		{"troupe_message_processed_total", kind, 0},
		{"troupe_message_dead_lettered_total", map[string]string{"troupe_deadletter_reason": "poison"}, n},
		{"troupe_supervisor_restart_usage", app, n},
		{"troupe_supervisor_restart_limit", app, n + 2},
		{"troupe_supervisor_escalations_total", app, 0},
	}
	for _, c := range cases {
		got, ok := value(mfs, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v); want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Nothing names the child or its path, nor carries its error text.
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetValue() {
				case "payments", "/app/payments", "/app", "flaky: card 4111 declined":
					t.Errorf("%s has label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestSystemClocks: with actor.WithMessageTiming, a real System's messages show
// in the wait and process histograms of their kind, failures under their
// error type.
func TestSystemClocks(t *testing.T) {
	sys := actor.NewSystem(actor.WithName("shop"), actor.WithMessageTiming())
	t.Cleanup(func() {
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	ref, err := actor.Spawn(sys, "echo", func() actor.Actor[actor.Reply[int]] {
		return actor.Func[actor.Reply[int]](func(ctx actor.Context, r actor.Reply[int]) error { return r.Send(ctx, 1) })
	}, actor.WithKind("echo"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	for range n {
		if _, err := actor.Ask(testCtx(t), ref, func(r actor.Reply[int]) actor.Reply[int] { return r }); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prom.NewCollector(sys))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	count := func(name string) uint64 {
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
		return 0
	}
	// The reply is sent before Receive returns, so the last process time
	// may be recorded just after Ask returned: wait and process are
	// counted at least n-1 times, wait exactly n.
	if got := count("troupe_message_wait_duration_seconds"); got != n {
		t.Errorf("wait histogram count: got %d; want %d", got, n)
	}
	if got := count("troupe_message_process_duration_seconds"); got < n-1 || got > n {
		t.Errorf("process histogram count: got %d; want %d or %d", got, n-1, n)
	}
}
