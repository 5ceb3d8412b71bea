package troupeotel

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/troupe-go/troupe/observe"
)

// metrics are the instruments read from a Snapshot, and the backoff
// histogram recorded from events.
type metrics struct {
	src     observe.Source
	timeout time.Duration
	kinds   *observe.KindCap

	spawns, stops, running, failures, restarts         metric.Int64Observable
	escalations, restartUsage, restartLimit            metric.Int64Observable
	depth, depthMax, mbLimit, dropped, processed, dead metric.Int64Observable
	received, emitted, stageFailures, inFlight         metric.Int64Observable
	kindOverflow                                       metric.Int64Observable
	blocked                                            metric.Float64Observable
	backoff                                            metric.Float64Histogram
	processDur, waitDur                                metric.Float64Histogram

	attrs attrCache
}

// lookupMetric returns the canonical definition of name.
func lookupMetric(name string) (observe.Metric, error) {
	for _, m := range observe.Metrics {
		if m.Name == name {
			return m, nil
		}
	}
	return observe.Metric{}, fmt.Errorf("troupeotel: observe.Metrics has no %q", name)
}

// builder creates instruments from their canonical definitions, keeping
// the first error.
type builder struct {
	meter metric.Meter
	err   error
	all   []metric.Observable
}

func (b *builder) def(name string) (observe.Metric, bool) {
	if b.err != nil {
		return observe.Metric{}, false
	}
	d, err := lookupMetric(name)
	if err != nil {
		b.err = err
		return d, false
	}
	return d, true
}

// int64 creates the observable int64 instrument of name, of the kind
// observe.Metrics gives it.
func (b *builder) int64(name string) metric.Int64Observable {
	d, ok := b.def(name)
	if !ok {
		return nil
	}
	desc, unit := metric.WithDescription(d.Description), metric.WithUnit(d.Unit)
	var inst metric.Int64Observable
	var err error
	switch d.Instrument {
	case observe.Counter:
		inst, err = b.meter.Int64ObservableCounter(d.Name, desc, unit)
	case observe.UpDownCounter:
		inst, err = b.meter.Int64ObservableUpDownCounter(d.Name, desc, unit)
	case observe.Gauge:
		inst, err = b.meter.Int64ObservableGauge(d.Name, desc, unit)
	default:
		err = fmt.Errorf("troupeotel: %s is a %s, not an observable instrument", d.Name, d.Instrument)
	}
	if err != nil {
		b.err = err
		return nil
	}
	b.all = append(b.all, inst)
	return inst
}

// float64Counter creates the observable float64 counter of name.
func (b *builder) float64Counter(name string) metric.Float64Observable {
	d, ok := b.def(name)
	if !ok {
		return nil
	}
	if d.Instrument != observe.Counter {
		b.err = fmt.Errorf("troupeotel: %s is a %s, not a counter", d.Name, d.Instrument)
		return nil
	}
	inst, err := b.meter.Float64ObservableCounter(d.Name, metric.WithDescription(d.Description), metric.WithUnit(d.Unit))
	if err != nil {
		b.err = err
		return nil
	}
	b.all = append(b.all, inst)
	return inst
}

func (b *builder) histogram(name string, bounds []float64) metric.Float64Histogram {
	d, ok := b.def(name)
	if !ok {
		return nil
	}
	if d.Instrument != observe.Histogram {
		b.err = fmt.Errorf("troupeotel: %s is a %s, not a histogram", d.Name, d.Instrument)
		return nil
	}
	h, err := b.meter.Float64Histogram(d.Name, metric.WithDescription(d.Description), metric.WithUnit(d.Unit),
		metric.WithExplicitBucketBoundaries(bounds...))
	if err != nil {
		b.err = err
		return nil
	}
	return h
}

// newMetrics creates the instruments and registers the callback that
// observes them; unregister it with the returned Registration.
func newMetrics(meter metric.Meter, src observe.Source, cfg *config) (*metrics, metric.Registration, error) {
	m := &metrics{src: src, timeout: cfg.timeout, kinds: observe.NewKindCap(cfg.maxKinds)}
	b := &builder{meter: meter}
	m.spawns = b.int64("troupe.actor.spawns")
	m.stops = b.int64("troupe.actor.stops")
	m.running = b.int64("troupe.actor.running")
	m.failures = b.int64("troupe.actor.failures")
	m.restarts = b.int64("troupe.actor.restarts")
	m.escalations = b.int64("troupe.supervisor.escalations")
	m.restartUsage = b.int64("troupe.supervisor.restart.usage")
	m.restartLimit = b.int64("troupe.supervisor.restart.limit")
	m.depth = b.int64("troupe.mailbox.depth")
	m.depthMax = b.int64("troupe.mailbox.depth.max")
	m.mbLimit = b.int64("troupe.mailbox.limit")
	m.dropped = b.int64("troupe.mailbox.dropped")
	m.processed = b.int64("troupe.message.processed")
	m.dead = b.int64("troupe.message.dead_lettered")
	m.received = b.int64("troupe.stage.received")
	m.emitted = b.int64("troupe.stage.emitted")
	m.stageFailures = b.int64("troupe.stage.failures")
	m.inFlight = b.int64("troupe.stage.in_flight")
	m.blocked = b.float64Counter("troupe.stage.blocked.time")
	m.kindOverflow = b.int64("troupe.telemetry.kind_overflow")
	m.backoff = b.histogram("troupe.supervisor.backoff.delay", observe.BackoffBuckets)
	m.processDur = b.histogram("troupe.message.process.duration", observe.LatencyBuckets)
	m.waitDur = b.histogram("troupe.message.wait.duration", observe.LatencyBuckets)
	if b.err != nil {
		return nil, nil, b.err
	}
	reg, err := meter.RegisterCallback(m.collect, b.all...)
	if err != nil {
		return nil, nil, err
	}
	return m, reg, nil
}

// collect is the callback: one Snapshot, every instrument observed from it.
func (m *metrics) collect(ctx context.Context, o metric.Observer) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	snap := m.src.Snapshot(ctx, observe.SnapshotOptions{})
	sys := snap.System
	a := &m.attrs

	t := m.kinds.Totals(snap, nil)
	for i := range t.Kinds {
		g := &t.Kinds[i]
		base := a.get(observe.AttrSystem, sys, observe.AttrActorKind, g.Kind, "", "")
		o.ObserveInt64(m.spawns, clamp(g.Spawns), base)
		o.ObserveInt64(m.running, int64(g.Running), base)
		o.ObserveInt64(m.restarts, clamp(g.Restarts), base)
		o.ObserveInt64(m.processed, clamp(g.Processed), base)
		o.ObserveInt64(m.depth, int64(g.MailboxDepth), base)
		o.ObserveInt64(m.depthMax, int64(g.MailboxMax), base)
		o.ObserveInt64(m.mbLimit, int64(g.MailboxLimit), base)
		for r, n := range g.Stops {
			o.ObserveInt64(m.stops, clamp(n), a.get(observe.AttrSystem, sys, observe.AttrActorKind, g.Kind, observe.AttrStopReason, r))
		}
		for e, n := range g.Failures {
			o.ObserveInt64(m.failures, clamp(n), a.get(observe.AttrSystem, sys, observe.AttrActorKind, g.Kind, observe.AttrErrorType, e))
		}
		for p, n := range g.Dropped {
			o.ObserveInt64(m.dropped, clamp(n), a.get(observe.AttrSystem, sys, observe.AttrActorKind, g.Kind, observe.AttrMailboxPolicy, p))
		}
	}
	o.ObserveInt64(m.kindOverflow, clamp(t.KindOverflow), a.get(observe.AttrSystem, sys, "", "", "", ""))

	for _, g := range t.Supervisors {
		opt := a.get(observe.AttrSystem, sys, observe.AttrSupervisor, g.Name, "", "")
		o.ObserveInt64(m.escalations, clamp(g.GaveUp), opt)
		o.ObserveInt64(m.restartUsage, int64(g.RestartsInWindow), opt)
		o.ObserveInt64(m.restartLimit, int64(g.MaxRestarts), opt)
	}

	for r, n := range snap.DeadLetters {
		o.ObserveInt64(m.dead, clamp(n), a.get(observe.AttrSystem, sys, observe.AttrDeadLetterReason, r, "", ""))
	}

	for _, g := range t.Stages {
		opt := a.get(observe.AttrSystem, sys, observe.AttrPipeline, g.Pipeline, observe.AttrStage, g.Stage)
		o.ObserveInt64(m.received, clamp(g.Received), opt)
		o.ObserveInt64(m.emitted, clamp(g.Emitted), opt)
		o.ObserveInt64(m.stageFailures, clamp(g.Failures), opt)
		o.ObserveInt64(m.inFlight, g.InFlight, opt)
		o.ObserveFloat64(m.blocked, g.BlockedSeconds, opt)
	}
	return nil
}

// recordBackoff records one backoff delay of the supervisor named sup.
func (m *metrics) recordBackoff(ctx context.Context, sys, sup string, seconds float64) {
	if !m.backoff.Enabled(ctx) {
		return
	}
	m.backoff.Record(ctx, seconds, m.attrs.get(observe.AttrSystem, sys, observe.AttrSupervisor, sup, "", ""))
}

func clamp(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// attrCacheMax bounds the cached attribute sets; past it the cache starts
// over (the sets are bounded by code, so this only guards against a
// System whose supervisors or stages are named at run time).
const attrCacheMax = 4096

// attrKey is up to three key/value pairs; an empty key ends the list.
type attrKey struct{ k1, v1, k2, v2, k3, v3 string }

// attrCache keeps the measurement option of each attribute set, so a
// collection does not build the same sets again.
type attrCache struct {
	mu sync.Mutex
	m  map[attrKey]metric.MeasurementOption
}

func (c *attrCache) get(k1, v1, k2, v2, k3, v3 string) metric.MeasurementOption {
	key := attrKey{k1, v1, k2, v2, k3, v3}
	c.mu.Lock()
	defer c.mu.Unlock()
	if opt, ok := c.m[key]; ok {
		return opt
	}
	kvs := make([]attribute.KeyValue, 0, 3)
	for _, p := range [...][2]string{{k1, v1}, {k2, v2}, {k3, v3}} {
		if p[0] != "" {
			kvs = append(kvs, attribute.String(p[0], p[1]))
		}
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kvs...))
	if c.m == nil || len(c.m) >= attrCacheMax {
		c.m = make(map[attrKey]metric.MeasurementOption)
	}
	c.m[key] = opt
	return opt
}
