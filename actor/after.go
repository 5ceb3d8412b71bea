package actor

import (
	"fmt"
	"reflect"
	"time"
)

// After posts m to the actor of ctx itself once d has passed, the way
// Urgent does (ahead of its queued messages, past a full mailbox), and
// returns at once: a delay that does not hold the actor, which goes on
// handling its mailbox meanwhile (a retry backoff, a timeout, a tick).
//
// The delay belongs to ctx's incarnation: once that incarnation is asked
// to stop or has ended, m is not posted, so a restarted actor arms again
// what it still needs (in its Start) and never gets a stale message of
// the one before, save in a narrow race with the end (m posted as the
// incarnation ends reaches the next one); if the actor stopped for good
// by then, m goes to its undelivered hook or the System's dead letters
// like any message to a stopped actor. stop cancels the delay and
// reports whether it did so before m was posted. It starts no goroutine
// until d has passed (a runtime timer). A negative d is 0.
//
// ctx must be the Context of an actor of message type M (as in Receive,
// Start or Stop); any other ctx, nil included, returns an error matching
// ErrWrongType.
func After[M any](ctx Context, d time.Duration, m M) (stop func() bool, err error) {
	var inc *incarnation[M]
	switch c := ctx.(type) {
	case *incarnation[M]:
		inc = c
	case *askCtx[M]:
		inc = c.incarnation
	case *traceCtx[M]:
		inc = c.incarnation
	}
	if inc == nil {
		return nil, fmt.Errorf("actor: After: ctx is not the Context of an actor of %v messages: %w", reflect.TypeFor[M](), ErrWrongType)
	}
	t := time.AfterFunc(max(d, 0), func() {
		if inc.Err() == nil {
			_ = Ref[M]{p: inc.p}.Urgent(m)
		}
	})
	return t.Stop, nil
}
