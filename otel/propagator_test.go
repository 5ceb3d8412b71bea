package troupeotel_test

import (
	"context"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
	troupeotel "github.com/troupe-go/troupe/otel"
)

// TestPropagatorRoundTrip: what Inject takes from the sender's ctx, Extract
// puts in the receiver's ctx, so a span started in Receive is a child of
// the sender's span; the receiver's ctx keeps its own values and does not
// get the sender's span itself.
func TestPropagatorRoundTrip(t *testing.T) {
	tp, rec := newTracer(t)
	var p observe.Propagator = troupeotel.Propagator{}
	sendCtx, send := tp.Tracer("test").Start(context.Background(), "send")
	carried := p.Inject(sendCtx)
	send.End()

	type key struct{}
	recvCtx := p.Extract(context.WithValue(context.Background(), key{}, "mine"), carried)
	if got := trace.SpanContextFromContext(recvCtx); !got.Equal(send.SpanContext()) {
		t.Fatalf("extracted span context: got %v; want %v", got, send.SpanContext())
	}
	if recvCtx.Value(key{}) != "mine" {
		t.Errorf("extracted ctx lost the receiver's own values")
	}
	if s := trace.SpanFromContext(recvCtx); s == send || s.IsRecording() {
		t.Errorf("span of the extracted ctx: the sender's or recording; want a non-recording stand-in")
	}
	_, child := tp.Tracer("test").Start(recvCtx, "work")
	child.End()
	got := one(t, rec.Ended(), "work")
	if got.Parent().SpanID() != send.SpanContext().SpanID() || got.SpanContext().TraceID() != send.SpanContext().TraceID() {
		t.Errorf("work span: parent %v trace %v; want the send span %v", got.Parent().SpanID(), got.SpanContext().TraceID(), send.SpanContext())
	}

	// An unsampled span context travels too, so the receiver follows the
	// sender's decision rather than starting a root.
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: [16]byte{1}, SpanID: [8]byte{2}})
	c := p.Extract(context.Background(), p.Inject(trace.ContextWithSpanContext(context.Background(), unsampled)))
	if got := trace.SpanContextFromContext(c); !got.Equal(unsampled) {
		t.Errorf("unsampled: got %v; want %v", got, unsampled)
	}
}

// TestPropagatorNothingToCarry: a ctx without a valid span context carries
// nothing, and Extract of nothing (or of a value it does not know) leaves
// the ctx as it is; nil contexts do not panic.
func TestPropagatorNothingToCarry(t *testing.T) {
	p := troupeotel.Propagator{}
	if c := p.Inject(context.Background()); c != nil {
		t.Errorf("Inject without a span: got %v; want nil", c)
	}
	if c := p.Inject(nil); c != nil { //nolint:staticcheck // the nil rule
		t.Errorf("Inject(nil): got %v; want nil", c)
	}
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	for _, carried := range []any{nil, "junk", trace.SpanContext{}} {
		if got := p.Extract(ctx, carried); got != ctx {
			t.Errorf("Extract(%v): ctx changed; want it as it was", carried)
		}
	}
	if got := p.Extract(nil, nil); got == nil { //nolint:staticcheck // the nil rule
		t.Errorf("Extract(nil, nil): got a nil ctx")
	}
}

// TestPropagatorInjectAllocs: the sending side allocates nothing, with or
// without a span.
func TestPropagatorInjectAllocs(t *testing.T) {
	tp, _ := newTracer(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "send")
	defer span.End()
	p := troupeotel.Propagator{}
	for name, c := range map[string]context.Context{"with a span": ctx, "without": context.Background()} {
		if n := testing.AllocsPerRun(100, func() { _ = p.Inject(c) }); n != 0 {
			t.Errorf("Inject %s: %v allocs; want 0", name, n)
		}
	}
}

// TestRegisterDefaultsToGlobalProviders: with no provider option (or a nil
// one), Register uses the global providers as they are when it runs, not
// as they were when the package was initialised.
func TestRegisterDefaultsToGlobalProviders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mp, r := newMeter(t)
		tp, rec := newTracer(t)
		prevM, prevT := otel.GetMeterProvider(), otel.GetTracerProvider()
		otel.SetMeterProvider(mp)
		otel.SetTracerProvider(tp)
		defer func() {
			otel.SetMeterProvider(prevM)
			otel.SetTracerProvider(prevT)
		}()
		src := newFakeSource(testSnapshot())
		reg := register(t, src, troupeotel.WithMeterProvider(nil), troupeotel.WithTracerProvider(nil), nil)
		got, _ := collect(t, r)
		if v := value(t, got, "troupe.actor.spawns", observe.AttrActorKind, "main.worker"); v != 5 {
			t.Errorf("spawns through the global MeterProvider: got %v; want 5", v)
		}
		src.send(observe.Event{Kind: "failed", Path: "/a/w", FailureID: 1})
		synctest.Wait()
		if err := reg.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		one(t, rec.Ended(), observe.SpanSupervise+" a")
	})
}

// TestPropagatorExtractAllocs bounds what the receiving side allocates:
// nothing without a carried span context, two values with one (the
// non-recording stand-in span and the context holding it).
func TestPropagatorExtractAllocs(t *testing.T) {
	tp, _ := newTracer(t)
	ctx, span := tp.Tracer("test").Start(context.Background(), "send")
	defer span.End()
	p := troupeotel.Propagator{}
	carried := p.Inject(ctx)
	bg := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = p.Extract(bg, nil) }); n != 0 {
		t.Errorf("Extract of nothing: %v allocs; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Extract(bg, carried) }); n > 2 {
		t.Errorf("Extract of a span: %v allocs; want <= 2", n)
	}
}
