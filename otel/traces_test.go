package troupeotel_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
	troupeotel "github.com/troupe-go/troupe/otel"
)

// newTracer returns a TracerProvider that records every span.
func newTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// messageSpan starts the span of a sender and returns what Propagator
// carries with its message.
func messageSpan(t *testing.T, tp trace.TracerProvider) (trace.SpanContext, any) {
	t.Helper()
	ctx, span := tp.Tracer("test").Start(context.Background(), "send")
	span.End()
	carried := troupeotel.Propagator{}.Inject(ctx)
	if carried == nil {
		t.Fatal("Inject of a ctx with a span: got nil")
	}
	return span.SpanContext(), carried
}

func attrOf(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}

func byName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func one(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := byName(spans, name)
	if len(got) != 1 {
		t.Fatalf("spans named %q: got %d; want 1 (all: %v)", name, len(got), names(spans))
	}
	return got[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func checkChild(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	if child.Parent().SpanID() != parent.SpanContext().SpanID() || child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("%s: parent %v trace %v; want a child of %s (%v, trace %v)", child.Name(), child.Parent().SpanID(),
			child.SpanContext().TraceID(), parent.Name(), parent.SpanContext().SpanID(), parent.SpanContext().TraceID())
	}
}

// checkProcess checks the one troupe.process span that records the
// failure of the message sent under msg: a child of msg in msg's trace,
// at the failure's time, with status Error and its error.type.
func checkProcess(t *testing.T, spans []sdktrace.ReadOnlySpan, msg trace.SpanContext, errType string, at time.Time) sdktrace.ReadOnlySpan {
	t.Helper()
	p := one(t, spans, observe.SpanProcess)
	if p.Parent().SpanID() != msg.SpanID() || p.SpanContext().TraceID() != msg.TraceID() {
		t.Errorf("troupe.process: parent %v in trace %v; want a child of the message span %v", p.Parent().SpanID(), p.SpanContext().TraceID(), msg.SpanID())
	}
	if p.Status().Code != codes.Error {
		t.Errorf("troupe.process: status %v; want Error", p.Status())
	}
	checkAttr(t, p, observe.AttrErrorType, errType)
	if !p.StartTime().Equal(at) || !p.EndTime().Equal(at) {
		t.Errorf("troupe.process: %v..%v; want at the failure, %v", p.StartTime(), p.EndTime(), at)
	}
	return p
}

func checkAttr(t *testing.T, s sdktrace.ReadOnlySpan, key, want string) {
	t.Helper()
	if got, ok := attrOf(s, key); !ok || got != want {
		t.Errorf("%s: %s=%q (set %v); want %q", s.Name(), key, got, ok, want)
	}
}

// TestTraceOneForAll: one failure under one_for_all with 4 children gives
// exactly one troupe.supervise root, linked to the failing message's span,
// with 4 troupe.restart children that share the failure ID; the span ends
// once the settle time passes with no more events, at its last event.
func TestTraceOneForAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		mp, _ := newMeter(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		register(t, src, troupeotel.WithTracerProvider(tp), troupeotel.WithMeterProvider(mp))
		msg, carried := messageSpan(t, tp)
		const fid = observe.FailureID(0x2a)
		t0 := time.Now()
		at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
		src.send(observe.Event{Kind: "failed", Path: "/app/grp/c2", FailureID: fid, ErrorType: "panic", Time: at(0), Trace: carried})
		for i := 1; i <= 4; i++ {
			if i != 2 { // the siblings' stops carry no failure ID
				src.send(observe.Event{Kind: "stopped", Path: fmt.Sprintf("/app/grp/c%d", i), Reason: "shutdown", Time: at(i)})
			}
		}
		for i := 1; i <= 4; i++ {
			src.send(observe.Event{Kind: "restarted", Path: fmt.Sprintf("/app/grp/c%d", i), FailureID: fid, Time: at(10 + i)})
		}
		synctest.Wait()
		if n := len(byName(rec.Ended(), observe.SpanSupervise+" grp")); n != 0 {
			t.Fatalf("supervise spans ended before the settle time: %d; want 0", n)
		}
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		sup := one(t, spans, observe.SpanSupervise+" grp")
		if sup.Parent().IsValid() {
			t.Errorf("supervise: parent %v; want a root", sup.Parent())
		}
		proc := checkProcess(t, spans, msg, "panic", at(0))
		if l := sup.Links(); len(l) != 1 || !l[0].SpanContext.Equal(proc.SpanContext()) {
			t.Errorf("supervise links: got %v; want the message's troupe.process span %v", l, proc.SpanContext())
		}
		checkAttr(t, sup, observe.AttrFailureID, fid.String())
		checkAttr(t, sup, observe.AttrSupervisor, "grp")
		checkAttr(t, sup, observe.AttrSystem, "shop")
		checkAttr(t, sup, observe.AttrDecision, "restart")
		if !sup.StartTime().Equal(at(0)) || !sup.EndTime().Equal(at(14)) {
			t.Errorf("supervise: %v..%v; want %v..%v (first to last event)", sup.StartTime(), sup.EndTime(), at(0), at(14))
		}
		restarts := byName(spans, observe.SpanRestart)
		if len(restarts) != 4 {
			t.Fatalf("restart spans: got %d; want 4 (all: %v)", len(restarts), names(spans))
		}
		paths := map[string]bool{}
		for _, r := range restarts {
			checkChild(t, r, sup)
			checkAttr(t, r, observe.AttrFailureID, fid.String())
			p, _ := attrOf(r, observe.AttrActorPath)
			paths[p] = true
		}
		if len(paths) != 4 {
			t.Errorf("restart spans' paths: got %v; want the 4 children", paths)
		}
		if n := len(spans); n != 7 { // send, process, supervise, 4 restarts
			t.Errorf("spans: got %d %v; want 7", n, names(spans))
		}
	})
}

// TestTraceEscalation: a failure that escalates two levels up stays in one
// trace: low's supervise root → escalate → mid's supervise → escalate →
// top's supervise → the restart of mid.
func TestTraceEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		register(t, src, troupeotel.WithTracerProvider(tp))
		msg, carried := messageSpan(t, tp)
		const fid = observe.FailureID(9)
		ev := func(kind, path string) observe.Event {
			return observe.Event{Kind: kind, Path: path, FailureID: fid, Time: time.Now()}
		}
		failed := ev("failed", "/top/mid/low/w")
		failed.Trace = carried
		src.send(failed,
			ev("gave-up", "/top/mid/low"), ev("escalated", "/top/mid/low"), ev("stopped", "/top/mid/low"),
			ev("gave-up", "/top/mid"), ev("escalated", "/top/mid"), ev("stopped", "/top/mid"),
			ev("restarted", "/top/mid"))
		synctest.Wait()
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		low := one(t, spans, observe.SpanSupervise+" low")
		mid := one(t, spans, observe.SpanSupervise+" mid")
		top := one(t, spans, observe.SpanSupervise+" top")
		esc := byName(spans, observe.SpanEscalate)
		if len(esc) != 2 {
			t.Fatalf("escalate spans: got %d; want 2 (all: %v)", len(esc), names(spans))
		}
		if esc[0].Parent().SpanID() != low.SpanContext().SpanID() {
			esc[0], esc[1] = esc[1], esc[0]
		}
		if low.Parent().IsValid() {
			t.Errorf("low's supervise: parent %v; want a root", low.Parent())
		}
		proc := checkProcess(t, spans, msg, "", failed.Time)
		if l := low.Links(); len(l) != 1 || !l[0].SpanContext.Equal(proc.SpanContext()) {
			t.Errorf("low's supervise links: got %v; want the message's troupe.process span", l)
		}
		checkChild(t, esc[0], low)
		checkChild(t, mid, esc[0])
		checkChild(t, esc[1], mid)
		checkChild(t, top, esc[1])
		checkChild(t, one(t, spans, observe.SpanRestart), top)
		checkAttr(t, low, observe.AttrDecision, "escalate")
		checkAttr(t, mid, observe.AttrDecision, "escalate")
		checkAttr(t, top, observe.AttrDecision, "restart")
		for _, s := range []sdktrace.ReadOnlySpan{low, mid, top} {
			checkAttr(t, s, observe.AttrFailureID, fid.String())
			if s != low && len(s.Links()) != 0 {
				t.Errorf("%s: links %v; want none (it is in the failure's trace)", s.Name(), s.Links())
			}
		}
		roots := 0
		for _, s := range spans {
			if !s.Parent().IsValid() && s.Name() != "send" {
				roots++
			}
		}
		if roots != 1 {
			t.Errorf("supervision roots: got %d; want 1 (all: %v)", roots, names(spans))
		}
	})
}

// TestTraceBackoff: a delayed restart keeps the supervise span open for its
// delay, gets a troupe.backoff span over the delay, and its restart span
// starts when the delay ends; the backoff delay is recorded in the
// histogram under the supervisor's name.
func TestTraceBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		mp, r := newMeter(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		register(t, src, troupeotel.WithTracerProvider(tp), troupeotel.WithMeterProvider(mp))
		const fid, delay = observe.FailureID(5), 30 * time.Second
		t0 := time.Now()
		src.send(observe.Event{Kind: "failed", Path: "/sup/w", FailureID: fid, Time: t0},
			observe.Event{Kind: "backoff", Path: "/sup/w", FailureID: fid, DelaySeconds: delay.Seconds(), Time: t0})
		synctest.Wait()
		time.Sleep(delay)
		src.send(observe.Event{Kind: "restarted", Path: "/sup/w", FailureID: fid, Time: time.Now()})
		synctest.Wait()
		if n := len(byName(rec.Ended(), observe.SpanSupervise+" sup")); n != 0 {
			t.Fatalf("supervise ended during the backoff: %d; want 0", n)
		}
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()

		spans := rec.Ended()
		sup := one(t, spans, observe.SpanSupervise+" sup")
		bo := one(t, spans, troupeotel.SpanBackoff)
		rs := one(t, spans, observe.SpanRestart)
		checkChild(t, bo, sup)
		checkChild(t, rs, sup)
		if !bo.StartTime().Equal(t0) || !bo.EndTime().Equal(t0.Add(delay)) {
			t.Errorf("backoff span: %v..%v; want %v..%v", bo.StartTime(), bo.EndTime(), t0, t0.Add(delay))
		}
		if !rs.StartTime().Equal(t0.Add(delay)) {
			t.Errorf("restart span starts %v; want %v (the end of the backoff)", rs.StartTime(), t0.Add(delay))
		}
		checkAttr(t, rs, observe.AttrBackoffDelay, attribute.Float64Value(delay.Seconds()).Emit())
		if !sup.EndTime().Equal(t0.Add(delay)) {
			t.Errorf("supervise ends %v; want %v (its last event)", sup.EndTime(), t0.Add(delay))
		}
		got, _ := collect(t, r)
		if v := value(t, got, "troupe.supervisor.backoff.delay", observe.AttrSupervisor, "sup", observe.AttrSystem, "shop"); v != delay.Seconds() {
			t.Errorf("backoff histogram sum: got %v; want %v", v, delay.Seconds())
		}
	})
}

// TestTraceUnlinked: a failure whose message carried no span context still
// gets a supervise root, without a link; a restart whose failed event was
// never seen gets a root of its own; events without a failure ID make no
// span.
func TestTraceUnlinked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		register(t, src, troupeotel.WithTracerProvider(tp))
		src.send(observe.Event{Kind: "failed", Path: "/a/w", FailureID: 1, Time: time.Now()},
			observe.Event{Kind: "restarted", Path: "/b/w", FailureID: 2, Time: time.Now()},
			observe.Event{Kind: "started", Path: "/c/w", Time: time.Now()},
			observe.Event{Kind: "restarted", Path: "/c/w", Time: time.Now()})
		synctest.Wait()
		time.Sleep(troupeotel.DefaultSettleTime)
		synctest.Wait()
		spans := rec.Ended()
		a := one(t, spans, observe.SpanSupervise+" a")
		b := one(t, spans, observe.SpanSupervise+" b")
		if len(a.Links()) != 0 || a.Parent().IsValid() || b.Parent().IsValid() {
			t.Errorf("a: links %v parent %v, b: parent %v; want unlinked roots", a.Links(), a.Parent(), b.Parent())
		}
		checkChild(t, one(t, spans, observe.SpanRestart), b)
		if len(spans) != 3 {
			t.Errorf("spans: got %v; want supervise a, supervise b, restart", names(spans))
		}
	})
}

// TestCloseEndsOpenSpans: Close ends the supervise spans still open (at
// their last event) and the event goroutine (goleak, TestMain).
func TestCloseEndsOpenSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		reg := register(t, src, troupeotel.WithTracerProvider(tp), troupeotel.WithSettleTime(time.Hour))
		t0 := time.Now()
		src.send(observe.Event{Kind: "failed", Path: "/a/w", FailureID: 1, Time: t0})
		synctest.Wait()
		if n := len(rec.Ended()); n != 0 {
			t.Fatalf("ended before Close: %d; want 0", n)
		}
		if err := reg.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s := one(t, rec.Ended(), observe.SpanSupervise+" a")
		if !s.EndTime().Equal(t0) {
			t.Errorf("end: got %v; want %v", s.EndTime(), t0)
		}
	})
}

// TestStreamEndEndsSpans: when the System closes the event stream (at its
// shutdown), the goroutine ends the open spans and exits; Close still
// works.
func TestStreamEndEndsSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		reg := register(t, src, troupeotel.WithTracerProvider(tp), troupeotel.WithSettleTime(time.Hour))
		src.send(observe.Event{Kind: "failed", Path: "/a/w", FailureID: 1, Time: time.Now()})
		src.sub.Close()
		synctest.Wait()
		one(t, rec.Ended(), observe.SpanSupervise+" a")
		if err := reg.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// TestTraceLateRestart: a restart that comes after its supervise span ended
// (a start slower than the settle time) is still that span's child for a
// minute; after that it gets a root of its own.
func TestTraceLateRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tp, rec := newTracer(t)
		src := newFakeSource(observe.Snapshot{System: "shop"})
		register(t, src, troupeotel.WithTracerProvider(tp))
		src.send(observe.Event{Kind: "failed", Path: "/a/w", FailureID: 1, Time: time.Now()})
		synctest.Wait()
		time.Sleep(2 * troupeotel.DefaultSettleTime)
		sup := one(t, rec.Ended(), observe.SpanSupervise+" a")
		src.send(observe.Event{Kind: "restarted", Path: "/a/w", FailureID: 1, Time: time.Now()})
		synctest.Wait()
		checkChild(t, one(t, rec.Ended(), observe.SpanRestart), sup)

		time.Sleep(2 * time.Minute)
		src.send(observe.Event{Kind: "restarted", Path: "/a/w", FailureID: 1, Time: time.Now()})
		synctest.Wait()
		time.Sleep(2 * troupeotel.DefaultSettleTime)
		if n := len(byName(rec.Ended(), observe.SpanSupervise+" a")); n != 2 {
			t.Errorf("supervise spans after the retention: got %d; want 2 (a new root)", n)
		}
	})
}
