package troupeotel

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/troupe-go/troupe/observe"
)

// SpanBackoff names the span of a delayed restart's wait, a child of its
// supervise span (the other span names are observe's).
const SpanBackoff = "troupe.backoff"

const (
	// retainEnded is how long the span context of an ended supervise span
	// is kept, so that a restart which comes late is still its child.
	retainEnded = time.Minute
	// maxSpans bounds the supervise spans kept, open or ended; past it the
	// one due first is ended and forgotten.
	maxSpans = 4096
	// eventBuffer is the subscription's buffer.
	eventBuffer = 1024
)

// Decisions (observe.AttrDecision) of a supervise span.
const (
	decisionRestart  = "restart"
	decisionStop     = "stop"
	decisionEscalate = "escalate"
)

// spanKey names the handling of one failure by one supervisor.
type spanKey struct {
	fid observe.FailureID
	sup string // the supervisor's path
}

// supSpan is a supervise span, open or ended.
type supSpan struct {
	span trace.Span
	ctx  context.Context // carries the span's context, for its children
	// last is the time of its latest event, the span's end time; cursor
	// is where the next restart span starts.
	last, cursor time.Time
	// backoff holds the delay of a child's pending restart, by path.
	backoff map[string]float64
	// deadline is when it ends (open) or is forgotten (ended), by the
	// local clock.
	deadline time.Time
	ended    bool
}

// tracing turns the event stream into supervision spans and records the
// backoff histogram. Only its goroutine (run) touches it.
type tracing struct {
	tracer trace.Tracer
	m      *metrics
	system string
	sys    attribute.KeyValue
	settle time.Duration
	spans  map[spanKey]*supSpan

	timer *time.Timer
	armed bool
	next  time.Time
}

func newTracing(tracer trace.Tracer, m *metrics, system string, settle time.Duration) *tracing {
	t := &tracing{tracer: tracer, m: m, system: system, sys: attribute.String(observe.AttrSystem, system),
		settle: settle, spans: map[spanKey]*supSpan{}, timer: time.NewTimer(time.Hour)}
	t.timer.Stop()
	return t
}

// run handles events until the stream ends or stop is closed, then ends
// every open span.
func (t *tracing) run(events <-chan observe.Event, stop <-chan struct{}) {
	defer t.endAll()
	defer t.timer.Stop()
	for {
		var tick <-chan time.Time
		if t.armed {
			tick = t.timer.C
		}
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			t.handle(ev, time.Now())
		case now := <-tick:
			t.armed = false
			t.sweep(now)
		case <-stop:
			return
		}
	}
}

// parentPath returns the path of the actor above path ("" at the top).
func parentPath(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return ""
}

// baseName returns the last name of path.
func baseName(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

func (t *tracing) handle(ev observe.Event, now time.Time) {
	fid := ev.FailureID
	if fid == 0 {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	fidAttr := attribute.String(observe.AttrFailureID, fid.String())
	pathAttr := attribute.String(observe.AttrActorPath, ev.Path)
	switch ev.Kind {
	case "failed", "killed":
		link := spanContextOf(ev.Trace)
		if link.IsValid() {
			link = t.process(ev, link, fidAttr, pathAttr)
		}
		s := t.get(spanKey{fid, parentPath(ev.Path)}, ev.Time, nil, link, now)
		s.event(ev.Kind, ev.Time, pathAttr, attribute.String(observe.AttrErrorType, ev.ErrorType))
		t.touch(s, ev.Time, now, 0)

	case "restarted":
		s := t.get(spanKey{fid, parentPath(ev.Path)}, ev.Time, nil, trace.SpanContext{}, now)
		start := s.cursor
		if start.After(ev.Time) {
			start = ev.Time
		}
		attrs := []attribute.KeyValue{t.sys, pathAttr, fidAttr}
		if d, ok := s.backoff[ev.Path]; ok {
			attrs = append(attrs, attribute.Float64(observe.AttrBackoffDelay, d))
			delete(s.backoff, ev.Path)
		}
		_, span := t.tracer.Start(s.ctx, observe.SpanRestart, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		span.End(trace.WithTimestamp(ev.Time))
		s.decide(decisionRestart)
		s.cursor = ev.Time
		t.touch(s, ev.Time, now, 0)

	case "backoff":
		sup := parentPath(ev.Path)
		s := t.get(spanKey{fid, sup}, ev.Time, nil, trace.SpanContext{}, now)
		delay := time.Duration(ev.DelaySeconds * float64(time.Second))
		end := ev.Time.Add(delay)
		_, span := t.tracer.Start(s.ctx, SpanBackoff, trace.WithTimestamp(ev.Time),
			trace.WithAttributes(t.sys, pathAttr, fidAttr, attribute.Float64(observe.AttrBackoffDelay, ev.DelaySeconds)))
		span.End(trace.WithTimestamp(end))
		if s.backoff == nil {
			s.backoff = map[string]float64{}
		}
		s.backoff[ev.Path] = ev.DelaySeconds
		if end.After(s.cursor) {
			s.cursor = end
		}
		t.touch(s, ev.Time, now, delay)
		if t.m != nil {
			t.m.recordBackoff(context.Background(), t.system, baseName(sup), ev.DelaySeconds)
		}

	case "gave-up":
		// The supervisor at ev.Path gave up handling the failure.
		s := t.get(spanKey{fid, ev.Path}, ev.Time, nil, trace.SpanContext{}, now)
		s.event(ev.Kind, ev.Time, pathAttr)
		s.decide(decisionStop)
		t.touch(s, ev.Time, now, 0)

	case "escalated":
		// The supervisor at ev.Path gave up and its parent takes over: the
		// parent's handling is a child of the escalate span, in this trace.
		s := t.get(spanKey{fid, ev.Path}, ev.Time, nil, trace.SpanContext{}, now)
		s.decide(decisionEscalate)
		ctx, span := t.tracer.Start(s.ctx, observe.SpanEscalate, trace.WithTimestamp(ev.Time),
			trace.WithAttributes(t.sys, pathAttr, fidAttr))
		span.End(trace.WithTimestamp(ev.Time))
		t.touch(s, ev.Time, now, 0)
		p := t.get(spanKey{fid, parentPath(ev.Path)}, ev.Time, ctx, trace.SpanContext{}, now)
		t.touch(p, ev.Time, now, 0)

	case "stopped", "dead-letter":
		// These only annotate a handling under way.
		if s := t.spans[spanKey{fid, parentPath(ev.Path)}]; s != nil {
			s.event(ev.Kind, ev.Time, pathAttr, attribute.String("troupe.reason", ev.Reason))
			t.touch(s, ev.Time, now, 0)
		}
	}
}

// process records the failure of the message that carried the span
// context sender: a "troupe.process" span, child of sender, at the time
// of the failure, with status Error and the failure's error.type and ID
// (never its text). It returns that span's context, which the supervise
// span links to.
func (t *tracing) process(ev observe.Event, sender trace.SpanContext, attrs ...attribute.KeyValue) trace.SpanContext {
	parent := trace.ContextWithSpanContext(context.Background(), sender)
	errType := attribute.String(observe.AttrErrorType, ev.ErrorType)
	_, span := t.tracer.Start(parent, observe.SpanProcess, trace.WithTimestamp(ev.Time), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(attrs, t.sys, errType)...))
	span.AddEvent(ev.Kind, trace.WithTimestamp(ev.Time), trace.WithAttributes(errType))
	span.SetStatus(codes.Error, ev.ErrorType)
	span.End(trace.WithTimestamp(ev.Time))
	if sc := span.SpanContext(); sc.IsValid() {
		return sc
	}
	return sender
}

// get returns the span of k, starting it if there is none: a child of
// parent's span if parent is not nil, else a new root linked to link (if
// valid). A link that comes after the span started is added to it.
func (t *tracing) get(k spanKey, at time.Time, parent context.Context, link trace.SpanContext, now time.Time) *supSpan {
	if s := t.spans[k]; s != nil {
		if link.IsValid() && !s.ended {
			s.span.AddLink(trace.Link{SpanContext: link})
		}
		return s
	}
	if len(t.spans) >= maxSpans {
		t.evict()
	}
	name := observe.SpanSupervise
	supName := baseName(k.sup)
	if supName != "" {
		name += " " + supName
	}
	opts := []trace.SpanStartOption{
		trace.WithTimestamp(at),
		trace.WithAttributes(t.sys, attribute.String(observe.AttrSupervisor, supName),
			attribute.String(observe.AttrActorPath, k.sup), attribute.String(observe.AttrFailureID, k.fid.String())),
	}
	if parent == nil {
		parent = context.Background()
		opts = append(opts, trace.WithNewRoot())
		if link.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: link}))
		}
	}
	ctx, span := t.tracer.Start(parent, name, opts...)
	s := &supSpan{span: span, ctx: ctx, last: at, cursor: at}
	t.spans[k] = s
	return s
}

func (s *supSpan) event(name string, at time.Time, attrs ...attribute.KeyValue) {
	if !s.ended {
		s.span.AddEvent(name, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	}
}

func (s *supSpan) decide(d string) {
	if !s.ended {
		s.span.SetAttributes(attribute.String(observe.AttrDecision, d))
	}
}

// touch records an event of s at the core's time at: an open span stays
// open for the settle time from now, plus extra.
func (t *tracing) touch(s *supSpan, at, now time.Time, extra time.Duration) {
	if at.After(s.last) {
		s.last = at
	}
	if s.ended {
		return
	}
	if d := now.Add(t.settle + extra); d.After(s.deadline) {
		s.deadline = d
	}
	t.arm(s.deadline)
}

func (t *tracing) arm(deadline time.Time) {
	if t.armed && !deadline.Before(t.next) {
		return
	}
	t.armed, t.next = true, deadline
	t.timer.Reset(time.Until(deadline))
}

// sweep ends the open spans that are due and forgets the ended ones that
// are, then arms the timer for the next.
func (t *tracing) sweep(now time.Time) {
	var next time.Time
	for k, s := range t.spans {
		if !s.deadline.After(now) {
			if s.ended {
				delete(t.spans, k)
				continue
			}
			s.end()
			s.deadline = now.Add(retainEnded)
		}
		if next.IsZero() || s.deadline.Before(next) {
			next = s.deadline
		}
	}
	if !next.IsZero() {
		t.arm(next)
	}
}

// evict ends and forgets the span due first.
func (t *tracing) evict() {
	var first spanKey
	var due *supSpan
	for k, s := range t.spans {
		if due == nil || s.deadline.Before(due.deadline) {
			first, due = k, s
		}
	}
	if due != nil {
		due.end()
		delete(t.spans, first)
	}
}

func (s *supSpan) end() {
	if !s.ended {
		s.ended = true
		s.span.End(trace.WithTimestamp(s.last))
	}
}

func (t *tracing) endAll() {
	for k, s := range t.spans {
		s.end()
		delete(t.spans, k)
	}
}
