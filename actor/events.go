package actor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/observe"
)

// newFailureID returns a fresh failure ID, unique within the System.
func (s *System) newFailureID() observe.FailureID {
	return observe.FailureID(s.failSeq.Add(1))
}

// failureIDOf returns the failure ID err carries (a *Failure, a
// *StartError, or any error with a FailureID method), or 0.
func failureIDOf(err error) observe.FailureID {
	var c interface{ FailureID() observe.FailureID }
	if err != nil && errors.As(err, &c) {
		return c.FailureID()
	}
	return 0
}

// ErrorType classifies err for the error.type attribute of metrics and
// logs: observe.ErrorPanic, ErrorTimeout (a message deadline overrun),
// ErrorCanceled, ErrorStart, ErrorKilled or ErrorError. The result is
// one of a fixed set, never the error text.
func ErrorType(err error) string {
	var pe *PanicError
	var se *StartError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return observe.ErrorStart
	case errors.As(err, &pe):
		return observe.ErrorPanic
	case errors.Is(err, ErrDeadline):
		return observe.ErrorTimeout
	case errors.Is(err, ErrKilled):
		return observe.ErrorKilled
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return observe.ErrorCanceled
	}
	return observe.ErrorError
}

// observed reports whether anyone listens to events, so the runtime
// builds them only then.
func (s *System) observed() bool { return s.events != nil || s.subs.Load() != nil }

// Emit sends e to the event sink and to every subscription, filling in
// its time and, for an error, its ErrorType. Supervisors and pipelines
// built on the runtime use it for their own events. It never blocks on a
// subscriber.
func (s *System) Emit(e Event) {
	subs := s.subs.Load()
	if s.events == nil && subs == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if e.ErrorType == "" && e.Err != nil {
		e.ErrorType = ErrorType(e.Err)
	}
	if e.FailureID == 0 {
		e.FailureID = failureIDOf(e.Err)
	}
	if s.events != nil {
		s.events(e)
	}
	if subs != nil {
		oe := e.observe()
		for _, sub := range *subs {
			sub.offer(oe)
		}
	}
}

// observe returns e as observe data.
func (e Event) observe() observe.Event {
	oe := observe.Event{
		Kind:      e.Kind.String(),
		Path:      e.Path,
		Time:      e.Time,
		FailureID: e.FailureID,
		ErrorType: e.ErrorType,
		Trace:     e.Trace,
	}
	if e.Reason != 0 {
		oe.Reason = e.Reason.String()
	}
	if e.DeadReason != 0 {
		oe.Reason = e.DeadReason.String()
	}
	if e.Err != nil {
		oe.Message = e.Err.Error()
	}
	if e.Delay > 0 {
		oe.DelaySeconds = e.Delay.Seconds()
	}
	return oe
}

// A subscription is one observe.Subscription of a System.
type subscription struct {
	sys     *System
	ch      chan observe.Event
	dropped atomic.Uint64

	mu     sync.Mutex // guards closed, and sends on ch against its close
	closed bool
}

// Subscribe returns a subscription to the System's events with room for
// buffer events (at least 1). The runtime never waits for it: an event
// that finds the buffer full is dropped and counted (Dropped, and
// Snapshot's EventsDropped). The channel is closed by Close and at the end
// of Shutdown. Subscribe implements observe.Source.
func (s *System) Subscribe(buffer int) observe.Subscription {
	if buffer < 1 {
		buffer = 1
	}
	sub := &subscription{sys: s, ch: make(chan observe.Event, buffer)}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.subsClosed {
		sub.closed = true
		close(sub.ch)
		return sub
	}
	var list []*subscription
	if old := s.subs.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, sub)
	s.subs.Store(&list)
	return sub
}

func (sub *subscription) offer(e observe.Event) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return
	}
	select {
	case sub.ch <- e:
	default:
		sub.dropped.Add(1)
		sub.sys.eventsDropped.Add(1)
	}
}

// Events implements observe.Subscription.
func (sub *subscription) Events() <-chan observe.Event { return sub.ch }

// Dropped implements observe.Subscription.
func (sub *subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close implements observe.Subscription.
func (sub *subscription) Close() {
	s := sub.sys
	s.subMu.Lock()
	if old := s.subs.Load(); old != nil {
		var list []*subscription
		for _, o := range *old {
			if o != sub {
				list = append(list, o)
			}
		}
		if len(list) == 0 {
			s.subs.Store(nil)
		} else {
			s.subs.Store(&list)
		}
	}
	s.subMu.Unlock()
	sub.end()
}

func (sub *subscription) end() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.closed {
		sub.closed = true
		close(sub.ch)
	}
}

// closeSubscriptions ends every subscription (at the end of Shutdown).
func (s *System) closeSubscriptions() {
	s.subMu.Lock()
	s.subsClosed = true
	old := s.subs.Load()
	s.subs.Store(nil)
	s.subMu.Unlock()
	if old != nil {
		for _, sub := range *old {
			sub.end()
		}
	}
}

// deadLetterLogEvery is how often, at most, dead letters are logged.
const deadLetterLogEvery = time.Second

// logDeadLetter logs dead letters at Warn, at most once per
// deadLetterLogEvery, with how many there were since the last line.
func (s *System) logDeadLetter(d DeadLetter) {
	if !s.log.Core().Enabled(zap.WarnLevel) {
		return
	}
	s.dlSince.Add(1)
	now := s.now().UnixNano()
	last := s.dlLogged.Load()
	if last != 0 && now-last < int64(deadLetterLogEvery) {
		return
	}
	if !s.dlLogged.CompareAndSwap(last, now) {
		return
	}
	n := s.dlSince.Swap(0)
	fields := []zap.Field{
		zap.String("recipient", d.Recipient),
		zap.String("reason", d.Reason.String()),
		zap.Uint64("count", n),
		zap.Uint64("total", s.deadCount.Load()),
	}
	if d.FailureID != 0 {
		fields = append(fields, zap.Stringer("failure_id", d.FailureID))
	}
	if d.Err != nil {
		fields = append(fields, zap.String("error.type", ErrorType(d.Err)))
	}
	s.log.Warn("dead letters", fields...)
}
