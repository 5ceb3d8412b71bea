package troupeotel

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/troupe-go/troupe/observe"
)

// clockSink records the message clocks of a System that times messages
// (actor.WithMessageTiming) into troupe.message.process.duration and
// troupe.message.wait.duration, as each message is handled: the OTel API
// has no asynchronous histogram, so they cannot be read from a Snapshot.
// It is called on the actors' goroutines, concurrently.
type clockSink struct {
	m   *metrics
	sys attribute.KeyValue

	sets sync.Map   // clockKey → *clockSets; read without a lock
	mu   sync.Mutex // serializes the slow path of a new key
}

type clockKey struct{ kind, errType string }

// clockSets are the attribute sets of one kind and error type.
type clockSets struct{ wait, process metric.MeasurementOption }

func newClockSink(m *metrics, system string) *clockSink {
	return &clockSink{m: m, sys: attribute.String(observe.AttrSystem, system)}
}

// ObserveMessage implements observe.TimingSink.
func (c *clockSink) ObserveMessage(kind, errType string, wait, process time.Duration) {
	ctx := context.Background()
	sets := c.setsOf(kind, errType)
	if wait >= 0 {
		c.m.waitDur.Record(ctx, wait.Seconds(), sets.wait)
	}
	c.m.processDur.Record(ctx, process.Seconds(), sets.process)
}

// setsOf returns the attribute sets of kind and errType; kinds past the
// cap are "other", by the same KindCap as the metrics read from the
// Snapshot.
func (c *clockSink) setsOf(kind, errType string) *clockSets {
	k := clockKey{kind, errType}
	if v, ok := c.sets.Load(k); ok {
		return v.(*clockSets)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.sets.Load(k); ok {
		return v.(*clockSets)
	}
	kindAttr := attribute.String(observe.AttrActorKind, c.m.kinds.Name(kind))
	process := []attribute.KeyValue{c.sys, kindAttr}
	if errType != "" {
		process = append(process, attribute.String(observe.AttrErrorType, errType))
	}
	s := &clockSets{
		wait:    metric.WithAttributeSet(attribute.NewSet(c.sys, kindAttr)),
		process: metric.WithAttributeSet(attribute.NewSet(process...)),
	}
	c.sets.Store(k, s)
	return s
}
