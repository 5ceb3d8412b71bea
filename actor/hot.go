package actor

import (
	"context"
	"fmt"
	"math"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/observe"
)

// This file holds the opt-in per-message instruments: trace propagation
// (WithPropagator), message clocks (WithMessageTiming) and profiler labels
// (WithProfilerLabels). With none of them installed a Tell costs what it
// did before: one nil pointer in the envelope, one flag test, no call.

// WithPropagator installs p, which carries the sender's trace context
// with every message: Tell and Ask call p.Inject(ctx) on the sending
// goroutine with the ctx they were given, and a non-nil result travels
// with the message. The Context of the Receive that handles it then
// returns the values of p.Extract(rctx, carried), where rctx is the
// Receive's Context without them (its Deadline, Done and Err are not
// changed, and an asker's own values still stay with the asker). Extract
// runs on the actor's goroutine as part of the Receive: a panic there is a
// failure of the message. A failure while handling a carried message
// reports the carried value in Event.Trace (and observe.Event.Trace).
// TryTell and Urgent take no ctx, so they carry nothing. A nil p installs
// nothing.
func WithPropagator(p observe.Propagator) Option {
	return optionFunc(func(s *System) {
		if p != nil {
			s.prop = p
		}
	})
}

// WithMessageTiming times every message: how long it waited in its mailbox (from
// the Tell, TryTell or Ask that posted it to the start of its first
// delivery) and how long each Receive took, aggregated per actor kind into
// histograms with the bounds observe.LatencyBuckets, shown in
// Snapshot.Kinds (WaitDuration, ProcessDuration, ProcessFailed). It costs
// two clock reads on the sending side and two on the receiving side of
// every message, and one small allocation per Tell. Without it (the
// default) nothing is timed.
func WithMessageTiming() Option {
	return optionFunc(func(s *System) { s.clocks = true })
}

// WithProfilerLabels runs the actors' code under runtime/pprof labels, so
// a CPU or goroutine profile says which kind of actor spent the time:
// troupe.actor.kind (the kind given with WithKind, or the default kind),
// troupe.supervisor (the path of the actor's parent, "/" at the top) and
// those given with WithExtraProfilerLabels. The labels are set once each time a
// goroutine of the System's pool starts draining an actor's mailbox (not
// per message), and cleared when it is done, so Receive runs under them,
// and so do Stop hooks when they run on that goroutine. Start hooks run
// on the goroutine of whoever starts the actor (the caller of Spawn, or
// the parent), whose own labels the runtime can neither read nor put
// back, so they run under that goroutine's labels. Off by default, and then free.
func WithProfilerLabels() Option {
	return optionFunc(func(s *System) { s.labels = true })
}

// WithExtraProfilerLabels adds pprof labels (key, value pairs) to the actor's
// labels under WithProfilerLabels, like troupe.pipeline and troupe.stage
// for the workers of a pipeline stage. Without WithProfilerLabels on the
// System it does nothing. An odd number of strings is an error
// (ErrInvalidOption).
func WithExtraProfilerLabels(kv ...string) SpawnOption {
	return spawnFunc(func(c *config) error {
		if len(kv)%2 != 0 {
			return fmt.Errorf("%w: profile labels need key, value pairs (got %d strings)", ErrInvalidOption, len(kv))
		}
		c.labels = append(c.labels[:len(c.labels):len(c.labels)], kv...)
		return nil
	})
}

// Profiler label keys set under WithProfilerLabels.
const (
	labelKind       = observe.AttrActorKind
	labelSupervisor = observe.AttrSupervisor
)

// profileLabels returns the context with p's profiler labels; kind is the
// actor's kind.
func (p *proc[M]) profileLabels(kind string) context.Context {
	sup := p.parent.path
	if sup == "" {
		sup = "/"
	}
	kv := append([]string{labelKind, kind, labelSupervisor, sup}, p.cfg.labels...)
	return pprof.WithLabels(context.Background(), pprof.Labels(kv...))
}

// AddTimingSink adds a sink that hears the clocks of every message as it
// is handled, under WithMessageTiming (without it no sink is ever called); see
// observe.TimingSink. remove takes it out again. The OTel adapter uses it.
// A nil s adds nothing.
func (s *System) AddTimingSink(sink observe.TimingSink) (remove func()) {
	if sink == nil {
		return func() {}
	}
	r := &sinkReg{sink: sink}
	s.sinkMu.Lock()
	var list []*sinkReg
	if old := s.sinks.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, r)
	s.sinks.Store(&list)
	s.sinkMu.Unlock()
	return func() {
		s.sinkMu.Lock()
		defer s.sinkMu.Unlock()
		old := s.sinks.Load()
		if old == nil {
			return
		}
		var list []*sinkReg
		for _, o := range *old {
			if o != r {
				list = append(list, o)
			}
		}
		if len(list) == 0 {
			s.sinks.Store(nil)
		} else {
			s.sinks.Store(&list)
		}
	}
}

// sinkReg is one AddTimingSink (a pointer, so that the same sink added
// twice is removed once per remove).
type sinkReg struct{ sink observe.TimingSink }

var _ observe.TimingSource = (*System)(nil)

// stamp fills in what rq carries besides the message: the trace the
// Propagator injects from ctx (none for a nil ctx) and, with the clocks,
// the time it was posted.
func (s *System) stamp(ctx context.Context, rq *request) {
	if s.prop != nil && ctx != nil {
		rq.trace = s.prop.Inject(ctx)
	}
	if s.clocks {
		rq.sent = s.mono()
	}
}

// tellRequest returns what a Tell under ctx carries besides its message
// when a Propagator or the clocks are installed: nil if nothing.
func (s *System) tellRequest(ctx context.Context) *request {
	var rq request
	s.stamp(ctx, &rq)
	if rq.trace == nil && rq.sent == 0 {
		return nil
	}
	out := new(request)
	*out = rq
	return out
}

// mono returns the time since the System began, on the monotonic clock,
// in nanoseconds (never 0).
func (s *System) mono() int64 { return int64(time.Since(s.epoch)) + 1 }

// traceCtx is the Context of a Receive handling a message that carries a
// trace: askCtx (the incarnation, and the asker's deadline for a request)
// with the values the Propagator extracted.
type traceCtx[M any] struct {
	askCtx[M]
	vals context.Context
}

// Value returns the values the Propagator extracted.
func (c *traceCtx[M]) Value(key any) any { return c.vals.Value(key) }

// withTrace returns ctx with the values prop extracts from carried.
func (inc *incarnation[M]) withTrace(ctx Context, prop observe.Propagator, carried any) Context {
	t := &traceCtx[M]{}
	if a, ok := ctx.(*askCtx[M]); ok {
		t.askCtx = *a
	} else {
		t.askCtx = askCtx[M]{incarnation: inc, req: inc}
	}
	// Extract wraps the Context without values, so a key it does not
	// know ends at askCtx.Value (nil) and never loops back here.
	t.vals = prop.Extract(&t.askCtx, carried)
	if t.vals == nil {
		return ctx
	}
	return t
}

// latencyBounds are observe.LatencyBuckets in nanoseconds.
var latencyBounds = func() [nLatency]int64 {
	if len(observe.LatencyBuckets) != nLatency {
		panic("actor: nLatency does not match observe.LatencyBuckets")
	}
	var b [nLatency]int64
	for i, s := range observe.LatencyBuckets {
		b[i] = int64(math.Round(s * 1e9))
	}
	return b
}()

const nLatency = 18

// histogram is a latency histogram updated with atomics only: one
// per-bucket counter (the last one is +Inf) and the sum.
type histogram struct {
	buckets [nLatency + 1]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d int64) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < nLatency && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(d)
}

// snapshot returns h as cumulative buckets, nil if it is empty.
func (h *histogram) snapshot() *observe.Buckets {
	var counts [nLatency + 1]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return nil
	}
	out := &observe.Buckets{Bounds: observe.LatencyBuckets, Counts: make([]uint64, nLatency), Count: total, Sum: float64(h.sum.Load()) / 1e9}
	var run uint64
	for i := 0; i < nLatency; i++ {
		run += counts[i]
		out.Counts[i] = run
	}
	return out
}

// kindClocks are the message clocks of one kind.
type kindClocks struct {
	wait, process histogram
	// failed holds the process times of failed Receives by error type;
	// guarded by kindStats.mu (failures are the slow path).
	failed map[string]*histogram
}

// recordProcess records the time a Receive took; errType is "" when it
// did not fail.
func (k *kindStats) recordProcess(errType string, d int64) {
	c := k.clk
	if errType == "" {
		c.process.observe(d)
		return
	}
	k.mu.Lock()
	h := c.failed[errType]
	if h == nil {
		if c.failed == nil {
			c.failed = map[string]*histogram{}
		}
		h = new(histogram)
		c.failed[errType] = h
	}
	k.mu.Unlock()
	h.observe(d)
}

// clockStats fills the histograms of out.
func (k *kindStats) clockStats(out *observe.KindStats) {
	c := k.clk
	if c == nil {
		return
	}
	out.WaitDuration = c.wait.snapshot()
	out.ProcessDuration = c.process.snapshot()
	k.mu.Lock()
	for t, h := range c.failed {
		if s := h.snapshot(); s != nil {
			if out.ProcessFailed == nil {
				out.ProcessFailed = map[string]*observe.Buckets{}
			}
			out.ProcessFailed[t] = s
		}
	}
	k.mu.Unlock()
}
