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
	m        *metrics
	sys      attribute.KeyValue
	maxKinds int

	sets sync.Map // clockKey → *clockSets; read without a lock

	mu       sync.Mutex // guards admitted, the slow path of a new key
	admitted map[string]bool
}

type clockKey struct{ kind, errType string }

// clockSets are the attribute sets of one kind and error type.
type clockSets struct{ wait, process metric.MeasurementOption }

func newClockSink(m *metrics, system string, maxKinds int) *clockSink {
	return &clockSink{m: m, sys: attribute.String(observe.AttrSystem, system), maxKinds: maxKinds, admitted: map[string]bool{}}
}

// ObserveMessage implements observe.ClockSink.
func (c *clockSink) ObserveMessage(kind, errType string, wait, process time.Duration) {
	ctx := context.Background()
	sets := c.setsOf(kind, errType)
	if wait >= 0 {
		c.m.waitDur.Record(ctx, wait.Seconds(), sets.wait)
	}
	c.m.processDur.Record(ctx, process.Seconds(), sets.process)
}

// setsOf returns the attribute sets of kind and errType; kinds past the
// cap are "other", as in the metrics read from the Snapshot.
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
	name := kind
	if !c.admitted[name] {
		if len(c.admitted) < c.maxKinds {
			c.admitted[name] = true
		} else {
			name = observe.ErrorOtherKind
		}
	}
	kindAttr := attribute.String(observe.AttrActorKind, name)
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
