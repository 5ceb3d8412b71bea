package actor

import (
	"context"
	"fmt"
	"sync/atomic"
)

// A Reply[T] is the reply slot of one request. The asker puts it in the
// request message; the receiving actor calls Send (or Fail) once. A Reply
// is a small value, safe to copy. The zero Reply is invalid.
type Reply[T any] struct {
	f *future[T]
}

type result[T any] struct {
	v   T
	err error
}

// future states
const (
	fPending int32 = iota
	fReplied
	fGone
)

type future[T any] struct {
	request         // what the asked actor's runtime sees of the Ask
	sys     *System // for dead-lettering a late reply
	path    string  // the asked actor
	state   atomic.Int32
	ch      chan result[T] // cap 1; written once, by the winner of the state CAS
	cb      func(T, error) // NewReply: called once instead of writing ch
}

// Send delivers v to the asker. It returns ErrAlreadyReplied for a second
// reply and ErrFenced when ctx is the Context of an abandoned incarnation.
// When the asker already gave up, v goes to dead letters (reason DeadReply,
// error ErrAskerGone) and Send returns nil: that is not the replier's
// failure.
func (r Reply[T]) Send(ctx context.Context, v T) error {
	return r.complete(ctx, result[T]{v: v})
}

// Fail makes the asker's Ask return err.
func (r Reply[T]) Fail(ctx context.Context, err error) error {
	return r.complete(ctx, result[T]{err: err})
}

func (r Reply[T]) complete(ctx context.Context, res result[T]) error {
	f := r.f
	if f == nil {
		return ErrNilRef
	}
	if ctx != nil && isFenced(ctx) {
		return ErrFenced
	}
	if f.state.CompareAndSwap(fPending, fReplied) {
		if f.cb != nil {
			f.cb(res.v, res.err)
			return nil
		}
		f.ch <- res // never blocks: cap 1, one writer
		return nil
	}
	if f.state.Load() == fGone {
		// Not an error of the replier: the asker's ctx ended. The reply is
		// dead-lettered and Send returns nil, so "return r.Send(ctx, v)"
		// in a Receive does not fail the actor when an asker times out.
		err := res.err
		if err == nil {
			err = ErrAskerGone
		}
		if f.sys != nil { // nil only behind an Endpoint whose System is nil
			f.sys.deadLetter(DeadLetter{Recipient: "(asker of " + f.path + ")", Message: res.v, Reason: DeadReply, Err: err})
		}
		return nil
	}
	return ErrAlreadyReplied
}

// abandon implements asker: the runtime gave up on the request.
func (f *future[T]) abandon(err error) {
	if f.state.CompareAndSwap(fPending, fReplied) {
		if f.cb != nil {
			var zero T
			f.cb(zero, err)
			return
		}
		f.ch <- result[T]{err: err} // never blocks: cap 1, one writer
	}
}

// Ask sends the request that build makes around a fresh Reply[T] and waits
// for the reply or for ctx to end. The reply type is checked at compile
// time. It returns the Tell error if the request was not accepted, or the
// error given to Reply.Fail.
//
// Ask does not wait for an answer that cannot come. If the request goes to
// dead letters instead of being answered (it failed on every delivery
// attempt, a mailbox drop policy discarded it, or the actor stopped or was
// parked with it queued), Ask returns an *UndeliveredError at once, which
// matches ErrPoison (and wraps the last *Failure), ErrDropped or ErrStopped.
//
// ctx travels with the request: the Context that Receive gets for it has
// ctx's deadline and is done when ctx is (as well as when the actor is
// asked to stop), but carries none of ctx's values (only what a
// Propagator installed with WithPropagator injects). A request whose ctx
// ended before it was due is not handled: it goes to dead letters with
// reason DeadExpired (counted in Stats.Expired). If ctx ends first, Ask
// returns an error that names the actor and matches ctx.Err() with
// errors.Is (context.DeadlineExceeded or context.Canceled); a late reply
// then goes to dead letters.
func Ask[M, T any](ctx context.Context, ref Ref[M], build func(Reply[T]) M) (T, error) {
	var zero T
	if ctx == nil {
		ctx = context.Background()
	}
	if isFenced(ctx) {
		return zero, ErrFenced
	}
	if ref.p == nil {
		if ref.x != nil {
			return askExternal(ctx, ref.x, build)
		}
		return zero, ErrNilRef
	}
	f := &future[T]{sys: ref.p.sys, path: ref.p.path, ch: make(chan result[T], 1)}
	f.request = request{ctx: ctx, f: f}
	if s := ref.p.sys; s.perMsg {
		s.stamp(ctx, &f.request)
	}
	if err := ref.p.post(ctx, envelope[M]{m: build(Reply[T]{f: f}), rq: &f.request}); err != nil {
		f.state.Store(fGone)
		return zero, err
	}
	var err error
	select {
	case res := <-f.ch:
		return res.v, res.err
	case <-ctx.Done():
		err = fmt.Errorf("ask actor %s: %w", ref.p.path, ctx.Err())
	case <-ref.p.Done():
		err = fmt.Errorf("actor %s: %w", ref.p.path, ErrStopped)
	}
	if f.state.CompareAndSwap(fPending, fGone) {
		return zero, err
	}
	res := <-f.ch // the reply won the race; it is in the channel or about to be
	return res.v, res.err
}

// Valid reports whether r is a real reply slot (not the zero Reply), so a
// message type can carry an optional Reply.
func (r Reply[T]) Valid() bool { return r.f != nil }
