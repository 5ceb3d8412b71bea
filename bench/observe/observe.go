// Package observe measures what troupe's observability costs on the hot
// path: tell 1→1 and the ask round trip of bench/cases, with the
// System bare and with each adapter or opt-in instrument installed.
//
// Variants ([Variants], in table order):
//
//   - none: actor.NewSystem() with the defaults, as in bench/cases.
//   - prom: a prom.Collector registered on a fresh prometheus.Registry,
//     gathered (a scrape without HTTP) every ScrapeEvery while the case
//     runs, and once more at its end.
//   - otel: troupeotel.Register with an SDK MeterProvider (a ManualReader,
//     collected every ScrapeEvery) and an SDK TracerProvider (a tracetest
//     SpanRecorder, sampling everything), so its event subscription is on.
//   - propagator: actor.WithPropagator(troupeotel.Propagator{}), and every
//     Tell and Ask made under a ctx with a valid span context, so a carrier
//     travels with each message and Extract runs for each Receive.
//   - clocks: actor.WithMessageTiming(), no adapter.
//
// Everything else (mailbox bound, actor, message type) is as in
// bench/cases/troupe.go.
package observe

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	troupeotel "github.com/troupe-go/troupe/otel"
	"github.com/troupe-go/troupe/prom"
)

// ScrapeEvery is how often the prom and otel variants collect while a
// case runs.
const ScrapeEvery = 10 * time.Millisecond

// Variants names the variants in table order; the first is the baseline.
var Variants = []string{"none", "prom", "otel", "propagator", "clocks"}

// Cases names the cases in table order.
var Cases = []string{"tell-1to1", "ask"}

// Func returns the benchmark of a case under a variant, or nil.
func Func(c, variant string) func(*testing.B) {
	switch c {
	case "tell-1to1":
		return func(b *testing.B) { tell(b, variant) }
	case "ask":
		return func(b *testing.B) { ask(b, variant) }
	}
	return nil
}

// setup is one variant installed: the System, the ctx to send under, and
// the function that ends the variant's helpers.
type setup struct {
	sys  *actor.System
	ctx  context.Context
	stop func()
}

func install(b *testing.B, variant string) setup {
	s := setup{ctx: context.Background(), stop: func() {}}
	switch variant {
	case "none":
		s.sys = actor.NewSystem()
	case "clocks":
		s.sys = actor.NewSystem(actor.WithMessageTiming())
	case "propagator":
		s.sys = actor.NewSystem(actor.WithPropagator(troupeotel.Propagator{}))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		ctx, span := tp.Tracer("bench").Start(context.Background(), "sender")
		s.ctx = ctx
		s.stop = func() { span.End(); _ = tp.Shutdown(context.Background()) }
	case "prom":
		s.sys = actor.NewSystem()
		reg := prometheus.NewRegistry()
		if err := reg.Register(prom.NewCollector(s.sys)); err != nil {
			b.Fatalf("prom register: %v", err)
		}
		s.stop = every(func() {
			if _, err := reg.Gather(); err != nil {
				b.Errorf("prom gather: %v", err)
			}
		})
	case "otel":
		s.sys = actor.NewSystem()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
		r, err := troupeotel.Register(s.sys, troupeotel.WithMeterProvider(mp), troupeotel.WithTracerProvider(tp))
		if err != nil {
			b.Fatalf("otel register: %v", err)
		}
		end := every(func() {
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				b.Errorf("otel collect: %v", err)
			}
		})
		s.stop = func() {
			end()
			_ = r.Close()
			_ = mp.Shutdown(context.Background())
			_ = tp.Shutdown(context.Background())
		}
	default:
		b.Fatalf("unknown variant %q", variant)
	}
	return s
}

// every runs f every ScrapeEvery on its own goroutine, and once more when
// the returned function is called, which waits for the goroutine.
func every(f func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	// Owner: the variant's setup; stop ends it and waits for it.
	go func() {
		defer close(done)
		t := time.NewTicker(ScrapeEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		f()
	}
}

func (s setup) end(b *testing.B) {
	if err := s.sys.Shutdown(context.Background()); err != nil {
		b.Fatalf("troupe shutdown: %v", err)
	}
	s.stop()
}

func tell(b *testing.B, variant string) {
	s := install(b, variant)
	defer s.end(b)
	done := make(chan struct{})
	n, seen := b.N, 0
	ref, err := actor.Spawn(s.sys, "", func() actor.Actor[int] {
		return actor.Func[int](func(_ actor.Context, _ int) error {
			seen++
			if seen == n {
				close(done)
			}
			return nil
		})
	}, actor.WithMailbox(1024, mailbox.Block), actor.WithKind("bench.counter"))
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ref.Tell(s.ctx, i); err != nil {
			b.Fatalf("troupe tell: %v", err)
		}
	}
	<-done
	b.StopTimer()
}

type req struct {
	n     int
	reply actor.Reply[int]
}

func ask(b *testing.B, variant string) {
	s := install(b, variant)
	defer s.end(b)
	ref, err := actor.Spawn(s.sys, "", func() actor.Actor[req] {
		return actor.Func[req](func(ctx actor.Context, m req) error {
			return m.reply.Send(ctx, m.n+1)
		})
	}, actor.WithMailbox(1024, mailbox.Block), actor.WithKind("bench.echo"))
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := actor.Ask(s.ctx, ref, func(r actor.Reply[int]) req { return req{i, r} })
		if err != nil || v != i+1 {
			b.Fatalf("troupe ask: got %d, %v; want %d", v, err, i+1)
		}
	}
	b.StopTimer()
}
