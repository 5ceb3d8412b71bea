package troupeotel_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	troupeotel "github.com/troupe-go/troupe/otel"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// worker panics on the first delivery of "panic" (the runtime delivers a
// failed message again, and each failure is one of its own) and sends its Ref to refs at each start.
type worker struct{ refs chan<- actor.Ref[string] }

func (w *worker) Start(ctx actor.Context) error {
	self, _ := actor.Self[string](ctx)
	w.refs <- self
	return nil
}

func (w *worker) Receive(ctx actor.Context, m string) error {
	if m == "panic" && ctx.Attempt() == 1 {
		panic("boom")
	}
	return nil
}

func workerSpec(id string, refs chan actor.Ref[string]) supervisor.ChildSpec {
	return supervisor.NewWorker(id, func() actor.Actor[string] { return &worker{refs: refs} }, actor.WithKind("test.worker"))
}

// newSystem returns a System named shop, shut down at the end of the test.
func newSystem(t *testing.T) *actor.System {
	sys := actor.NewSystem(actor.WithName("shop"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return sys
}

// TestIntegrationOneForAll runs a real System: one panic under a
// one_for_all supervisor of 4 children gives one troupe.supervise root with
// 4 troupe.restart children sharing the failure ID, and the metrics of the
// System's Snapshot have the canonical attributes and the counts.
func TestIntegrationOneForAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		tp, rec := newTracer(t)
		sys := newSystem(t)
		register(t, sys, troupeotel.WithMeterProvider(mp), troupeotel.WithTracerProvider(tp))
		refs := make(chan actor.Ref[string], 64)
		var specs []supervisor.ChildSpec
		for i := 1; i <= 4; i++ {
			specs = append(specs, workerSpec(fmt.Sprintf("c%d", i), refs))
		}
		sup, err := supervisor.Start(sys, "grp", specs,
			supervisor.WithStrategy(strategy.OneForAll), supervisor.WithIntensity(10, time.Minute))
		if err != nil {
			t.Fatalf("supervisor.Start: %v", err)
		}
		c2, err := supervisor.FindChild[string](sup, "c2")
		if err != nil {
			t.Fatalf("FindChild: %v", err)
		}
		if err := c2.Tell(context.Background(), "panic"); err != nil {
			t.Fatalf("Tell: %v", err)
		}
		synctest.Wait()
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		root := one(t, spans, "troupe.supervise grp")
		if root.Parent().IsValid() {
			t.Errorf("supervise: parent %v; want a root", root.Parent())
		}
		fid, _ := attrOf(root, observe.AttrFailureID)
		if fid == "" {
			t.Fatalf("supervise: no %s", observe.AttrFailureID)
		}
		restarts := byName(spans, observe.SpanRestart)
		if len(restarts) != 4 {
			t.Fatalf("restart spans: got %d; want 4 (all: %v)", len(restarts), names(spans))
		}
		for _, s := range restarts {
			checkChild(t, s, root)
			checkAttr(t, s, observe.AttrFailureID, fid)
		}

		got, _ := collect(t, r)
		checkCanonical(t, got, "shop")
		for _, c := range []struct {
			name  string
			attrs []string
			want  float64
		}{
			{"troupe.actor.restarts", []string{observe.AttrActorKind, "test.worker"}, 4},
			{"troupe.actor.running", []string{observe.AttrActorKind, "test.worker"}, 4},
			{"troupe.actor.failures", []string{observe.AttrActorKind, "test.worker", observe.AttrErrorType, observe.ErrorPanic}, 1},
			{"troupe.supervisor.restart.usage", []string{observe.AttrSupervisor, "grp"}, 1},
			{"troupe.supervisor.restart.limit", []string{observe.AttrSupervisor, "grp"}, 10},
			{"troupe.supervisor.escalations", []string{observe.AttrSupervisor, "grp"}, 0},
		} {
			if v := value(t, got, c.name, c.attrs...); v != c.want {
				t.Errorf("%s %v: got %v; want %v", c.name, c.attrs, v, c.want)
			}
		}
	})
}

// TestIntegrationEscalation runs a real System: a panic under low (no
// restart allowed) inside mid (none either) inside top gives one trace,
// low's supervise root → escalate → mid's → escalate → top's → the restart
// of mid.
func TestIntegrationEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		sys := newSystem(t)
		register(t, sys, troupeotel.WithTracerProvider(tp))
		escalate(t, sys)
		synctest.Wait()
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		lowS := one(t, spans, "troupe.supervise low")
		midS := one(t, spans, "troupe.supervise mid")
		topS := one(t, spans, "troupe.supervise top")
		esc := byName(spans, observe.SpanEscalate)
		if len(esc) != 2 {
			t.Fatalf("escalate spans: got %d; want 2 (all: %v)", len(esc), names(spans))
		}
		if esc[0].Parent().SpanID() != lowS.SpanContext().SpanID() {
			esc[0], esc[1] = esc[1], esc[0]
		}
		if lowS.Parent().IsValid() {
			t.Errorf("low's supervise: parent %v; want a root", lowS.Parent())
		}
		checkChild(t, esc[0], lowS)
		checkChild(t, midS, esc[0])
		checkChild(t, esc[1], midS)
		checkChild(t, topS, esc[1])
		rs := one(t, spans, observe.SpanRestart)
		checkChild(t, rs, topS)
		checkAttr(t, rs, observe.AttrActorPath, "/top/mid")
		fid, _ := attrOf(lowS, observe.AttrFailureID)
		for _, s := range []string{"troupe.supervise mid", "troupe.supervise top"} {
			checkAttr(t, one(t, spans, s), observe.AttrFailureID, fid)
		}

	})
}

// escalate starts top > mid > low > w, where neither low nor mid may
// restart anything, makes w panic, and returns once top restarted mid
// (and so w started again).
func escalate(t *testing.T, sys *actor.System) {
	t.Helper()
	refs := make(chan actor.Ref[string], 64)
	none := supervisor.WithIntensity(0, time.Minute)
	low := supervisor.NewSupervisor("low", []supervisor.ChildSpec{workerSpec("w", refs)}, none)
	mid := supervisor.NewSupervisor("mid", []supervisor.ChildSpec{low}, none)
	if _, err := supervisor.Start(sys, "top", []supervisor.ChildSpec{mid}, supervisor.WithIntensity(10, time.Minute)); err != nil {
		t.Fatalf("supervisor.Start: %v", err)
	}
	w := <-refs
	if err := w.Tell(context.Background(), "panic"); err != nil {
		t.Fatalf("Tell: %v", err)
	}
	<-refs // w again, after top restarted mid
}

// TestIntegrationNestedMetrics: the escalation counters of nested
// supervisors that gave up count one each.
func TestIntegrationNestedMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		sys := newSystem(t)
		register(t, sys, troupeotel.WithMeterProvider(mp))
		escalate(t, sys)
		synctest.Wait()

		got, _ := collect(t, r)
		checkCanonical(t, got, "shop")
		for sup, want := range map[string]float64{"low": 1, "mid": 1, "top": 0} {
			if v := value(t, got, "troupe.supervisor.escalations", observe.AttrSupervisor, sup); v != want {
				t.Errorf("escalations of %s: got %v; want %v", sup, v, want)
			}
		}
	})
}

// TestIntegrationPropagation runs a real System with actor.WithPropagator
// (troupeotel.Propagator) and actor.WithMessageTiming: the span a Receive starts
// from its Context is a child of the span of the Tell that sent the
// message; the message's failure is a troupe.process span (status Error),
// child of the sender's span, which the supervise root links to; and the
// message clocks reach troupe.message.process.duration and
// troupe.message.wait.duration with the kind and, for the failure, its
// error.type.
func TestIntegrationPropagation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		tp, rec := newTracer(t)
		sys := actor.NewSystem(actor.WithName("shop"), actor.WithPropagator(troupeotel.Propagator{}), actor.WithMessageTiming())
		t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
		register(t, sys, troupeotel.WithMeterProvider(mp), troupeotel.WithTracerProvider(tp))
		handled := make(chan struct{}, 4)
		ref, err := actor.Spawn(sys, "w", func() actor.Actor[string] {
			return actor.Func[string](func(ctx actor.Context, m string) error {
				_, span := tp.Tracer("worker").Start(ctx, "handle "+m)
				defer span.End()
				defer func() { handled <- struct{}{} }()
				if m == "panic" && ctx.Attempt() == 1 {
					panic("boom")
				}
				return nil
			})
		}, actor.WithKind("test.worker"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, send := tp.Tracer("test").Start(context.Background(), "send")
		for _, m := range []string{"ok", "panic"} {
			if err := ref.Tell(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		send.End()
		for range 3 { // ok, panic, panic again
			<-handled
		}
		if err := ref.Stop(context.Background()); err != nil { // every clock is in
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		sender := one(t, spans, "send")
		for _, name := range []string{"handle ok", "handle panic"} {
			for _, s := range byName(spans, name) {
				checkChild(t, s, sender)
			}
		}
		if n := len(byName(spans, "handle panic")); n != 2 {
			t.Errorf("handle panic spans: got %d; want 2 (the failed delivery and the redelivery)", n)
		}
		proc := checkProcess(t, spans, sender.SpanContext(), observe.ErrorPanic, timeOfFailure(t, spans))
		sup := one(t, spans, observe.SpanSupervise)
		if l := sup.Links(); len(l) != 1 || !l[0].SpanContext.Equal(proc.SpanContext()) {
			t.Errorf("supervise links: got %v; want the troupe.process span %v", l, proc.SpanContext())
		}

		got, _ := collect(t, r)
		counts := map[string]uint64{}
		for _, name := range []string{"troupe.message.process.duration", "troupe.message.wait.duration"} {
			h, ok := got[name].Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s: got %T; want a float64 histogram", name, got[name].Data)
			}
			for _, p := range h.DataPoints {
				a := attrMap(p.Attributes)
				counts[name+" "+a[observe.AttrActorKind]+" "+a[observe.AttrErrorType]+" "+a[observe.AttrSystem]] += p.Count
				if len(p.Bounds) != len(observe.LatencyBuckets) {
					t.Errorf("%s: %d bounds; want observe.LatencyBuckets", name, len(p.Bounds))
				}
			}
		}
		want := map[string]uint64{
			"troupe.message.process.duration test.worker  shop":      2, // ok, and the redelivery
			"troupe.message.process.duration test.worker panic shop": 1,
			"troupe.message.wait.duration test.worker  shop":         2, // not counted again on redelivery
		}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("clock histogram counts: got %v; want %v", counts, want)
		}
	})
}

// timeOfFailure returns the time of the failed event of the supervise
// span.
func timeOfFailure(t *testing.T, spans []sdktrace.ReadOnlySpan) time.Time {
	t.Helper()
	for _, e := range one(t, spans, observe.SpanSupervise).Events() {
		if e.Name == "failed" {
			return e.Time
		}
	}
	t.Fatal("supervise span has no failed event")
	return time.Time{}
}
