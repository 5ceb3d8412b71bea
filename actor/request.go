package actor

import (
	"context"
	"fmt"
	"time"
)

// envelope is a message in an actor's mailbox: the user's message and,
// for a request made by Ask, what the runtime needs to answer for it. A
// plain Tell leaves rq nil, so it costs one pointer per queued message;
// with a Propagator or the clocks installed (hot.go) a Tell may carry a
// request too, with no asker.
type envelope[M any] struct {
	m  M
	rq *request
}

// request is what travels with a message besides the message: the
// asker's side of a message sent by Ask, and for any message the trace
// the Propagator injected and the time it was posted.
type request struct {
	// ctx is the asker's context: its deadline and cancellation reach
	// the Receive that handles the request, and a request whose ctx ended
	// before it was handled is not handled at all. nil for a Tell.
	ctx context.Context
	f   asker // nil for a Tell
	// trace is what the Propagator injected, nil if nothing.
	trace any
	// sent is when the message was posted (System.mono), 0 without clocks.
	sent int64
}

// ask returns env's request if it is one made by Ask, else nil.
func (env *envelope[M]) ask() *request {
	if rq := env.rq; rq != nil && rq.f != nil {
		return rq
	}
	return nil
}

// trace returns what the Propagator injected into env, nil if nothing.
func (env *envelope[M]) trace() any {
	if env.rq != nil {
		return env.rq.trace
	}
	return nil
}

// asker is the future of an Ask, whatever its reply type.
type asker interface {
	// abandon ends the Ask at once with err, unless it already ended.
	abandon(err error)
}

// askCtx is the Context of a Receive handling a request whose asker can
// give up: the incarnation's identity, with a context.Context that has the
// asker's deadline and is done when the asker gave up or the incarnation
// is asked to stop. It carries no values (traceCtx adds the
// Propagator's).
type askCtx[M any] struct {
	*incarnation[M]
	req context.Context
}

// Deadline returns the asker's deadline.
func (c *askCtx[M]) Deadline() (time.Time, bool) { return c.req.Deadline() }

// Done is closed when the asker gave up or the incarnation is asked to
// stop.
func (c *askCtx[M]) Done() <-chan struct{} { return c.req.Done() }

// Err is context.DeadlineExceeded or context.Canceled once Done is closed.
func (c *askCtx[M]) Err() error { return c.req.Err() }

// Value returns nil: the asker's context values stay with the asker.
func (c *askCtx[M]) Value(any) any { return nil }

// forRequest returns the Context for a Receive of a request from asker,
// and the function that releases it when the Receive returned. It runs
// on the incarnation's goroutine before it enters user code.
func (inc *incarnation[M]) forRequest(asker context.Context) (Context, context.CancelFunc) {
	rctx, cancel := context.WithCancel(asker)
	c := inc.ctxState()
	c.mu.Lock()
	if inc.canceled.Load() {
		cancel()
	} else {
		c.reqCancel = cancel
	}
	c.mu.Unlock()
	return &askCtx[M]{incarnation: inc, req: rctx}, cancel
}

// doneRequest releases the Context that forRequest made. It touches only
// the incarnation, under its incCtx's lock, so a fenced goroutine may
// call it.
func (inc *incarnation[M]) doneRequest(cancel context.CancelFunc) {
	c := inc.ctxState()
	c.mu.Lock()
	c.reqCancel = nil
	c.mu.Unlock()
	cancel()
}

// An UndeliveredError is what Ask returns when its request will never be
// answered: it went to dead letters as poison after its attempts (Err is
// the last *Failure), was dropped by the mailbox's policy, or was still
// queued when the actor stopped or was parked. errors.Is matches it with
// ErrPoison, ErrDropped or ErrStopped by its Reason.
type UndeliveredError struct {
	Path     string // the asked actor
	Reason   DeadLetterReason
	Attempts int   // delivery attempts made
	Err      error // the last failure, for DeadPoison
}

// Error names the asked actor and why its request was not handled.
func (e *UndeliveredError) Error() string {
	switch e.Reason {
	case DeadPoison:
		return fmt.Sprintf("actor %s: request dead-lettered as poison after %d attempts: %v", e.Path, e.Attempts, e.Err)
	case DeadDropped:
		return fmt.Sprintf("actor %s: request dropped by the mailbox policy", e.Path)
	}
	return fmt.Sprintf("actor %s: request not handled: %v", e.Path, ErrStopped)
}

// Unwrap returns the last failure of a poison request.
func (e *UndeliveredError) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's Reason.
func (e *UndeliveredError) Is(target error) bool {
	switch e.Reason {
	case DeadPoison:
		return target == ErrPoison
	case DeadDropped:
		return target == ErrDropped
	case DeadStopped:
		return target == ErrStopped
	}
	return false
}
