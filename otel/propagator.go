package troupeotel

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
)

// Propagator is the observe.Propagator of OpenTelemetry span contexts:
// install it on a System and the span context of the ctx given to Tell or
// Ask is the parent of the spans that the Receive handling the message
// starts from its Context. It allocates nothing on the sending side; it
// needs no provider (it carries contexts, it starts no span).
type Propagator struct{}

var _ observe.Propagator = Propagator{}

// Inject returns the span of ctx when its span context is valid (sampled
// or not, so that the receiver follows the sender's sampling decision),
// and nil otherwise, so that nothing travels with the message.
func (Propagator) Inject(ctx context.Context) any {
	if ctx == nil {
		return nil
	}
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return nil
	}
	return span
}

// Extract returns ctx with the carried span context as its span context,
// as a parent for the spans Receive starts. The carried span itself does
// not reach Receive: trace.SpanFromContext there gives a non-recording
// span, so the receiver cannot end or annotate the sender's span. The
// span context is marked local (not remote): the message never left the
// process. A carried value that holds no valid span context leaves ctx as
// it is.
func (Propagator) Extract(ctx context.Context, carried any) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	sc := spanContextOf(carried)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, sc)
}

// spanContextOf returns the span context in a value carried by Propagator
// (a trace.Span), or given as a trace.SpanContext; else the zero one.
func spanContextOf(carried any) trace.SpanContext {
	switch v := carried.(type) {
	case trace.Span:
		return v.SpanContext()
	case trace.SpanContext:
		return v
	case *trace.SpanContext:
		if v != nil {
			return *v
		}
	}
	return trace.SpanContext{}
}
