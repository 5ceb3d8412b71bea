package actor

import (
	"context"
	"errors"
	"fmt"
)

// An Endpoint is the far end of a Ref that does not point at an actor of
// this process: a transport (the remote module) implements it, and RefTo
// turns it into an ordinary Ref[M], so code that Tells, Asks and watches
// does not know where the actor runs.
//
// Tell and TryTell have Ref's contract: Tell may wait for room (the
// endpoint's credit) until ctx ends, TryTell never waits and returns
// ErrFull when there is no room, and both return ErrStopped once the
// actor is known to be gone. PID is the actor's lifecycle handle, nil
// while there is none (the Ref's PID is then nil, its Path empty, and its
// Stop returns ErrNilRef); an implementation outside this package embeds
// ExternalPID in it. System is
// the local System the endpoint belongs to: a reply that comes after its
// asker gave up goes to that System's dead letters (a nil System loses
// it).
//
// An Endpoint must be safe for concurrent use.
type Endpoint[M any] interface {
	Tell(ctx context.Context, m M) error
	TryTell(m M) error
	PID() PID
	System() *System
}

// ExternalPID makes a type declared outside this package a PID: embed it
// in the lifecycle handle an Endpoint returns. It adds no behaviour.
type ExternalPID struct{}

func (ExternalPID) isPID() {}

// external is the indirection behind a Ref made by RefTo. A Ref to a
// local actor leaves it nil, so the local path pays one nil test for it.
type external[M any] struct{ e Endpoint[M] }

// RefTo returns a Ref whose messages go to e. Tell, TryTell, Ask, Stop,
// StopNow, Stats, Path and Name go through e (Path and Name through
// e.PID()); Urgent, which needs the local system lane, returns an error
// matching errors.ErrUnsupported; Len returns 0. A nil e gives the zero
// Ref.
func RefTo[M any](e Endpoint[M]) Ref[M] {
	if e == nil {
		return Ref[M]{}
	}
	return Ref[M]{x: &external[M]{e: e}}
}

// pid returns the endpoint's PID, or a stand-in with an empty path and
// zero counters if the endpoint has none yet.
func (x *external[M]) pid() PID {
	if pid := x.e.PID(); pid != nil {
		return pid
	}
	return noPID{}
}

// noPID is the PID of an endpoint that has no actor behind it yet: it
// has no path, stopping it is refused, and it never ends.
type noPID struct{ ExternalPID }

func (noPID) Path() string                  { return "" }
func (noPID) Name() string                  { return "" }
func (noPID) Stop(context.Context) error    { return ErrNilRef }
func (noPID) StopNow()                      {}
func (noPID) Kill()                         {}
func (noPID) Done() <-chan struct{}         { return nil }
func (noPID) Watch(func(Terminated)) func() { return func() {} }
func (noPID) Stats() Stats                  { return Stats{} }

// NewReply returns a Reply whose Send and Fail call complete once with
// the value or the error (complete gets the zero T with an error). A
// transport uses it to stand for a remote asker: the receiving actor
// answers as usual, and complete sends the answer back. A second Send or
// Fail returns ErrAlreadyReplied without calling complete. A nil complete
// gives the zero (invalid) Reply.
func NewReply[T any](complete func(T, error)) Reply[T] {
	if complete == nil {
		return Reply[T]{}
	}
	return Reply[T]{f: &future[T]{cb: complete}}
}

// askExternal is Ask through an Endpoint: the request travels as a plain
// Tell; the endpoint's transport answers it through the Reply in it (see
// NewReply), fails it when the connection is lost, or the PID's Done
// ends the wait.
func askExternal[M, T any](ctx context.Context, x *external[M], build func(Reply[T]) M) (T, error) {
	var zero T
	pid := x.pid()
	path := pid.Path()
	f := &future[T]{sys: x.e.System(), path: path, ch: make(chan result[T], 1)}
	f.request = request{ctx: ctx, f: f}
	if err := x.e.Tell(ctx, build(Reply[T]{f: f})); err != nil {
		f.state.Store(fGone)
		return zero, err
	}
	var err error
	select {
	case res := <-f.ch:
		return res.v, res.err
	case <-ctx.Done():
		err = fmt.Errorf("ask actor %s: %w", path, ctx.Err())
	case <-pid.Done():
		err = fmt.Errorf("actor %s: %w", path, ErrStopped)
	}
	if f.state.CompareAndSwap(fPending, fGone) {
		return zero, err
	}
	res := <-f.ch // the reply won the race
	return res.v, res.err
}

func (x *external[M]) urgent() error {
	return fmt.Errorf("actor %s: urgent message to an actor of another process: %w", x.pid().Path(), errors.ErrUnsupported)
}

// TellRequest tells ref m, a request carrying r, the way Ask sends one:
// ctx's deadline and cancellation reach the Receive that handles it, a
// request whose ctx ended before it was due is not handled, and if m goes
// to dead letters instead of being answered, r completes at once with an
// *UndeliveredError (as Ask returns it). A transport uses it to hand a
// remote asker's request (r from NewReply) to a local actor, so that the
// asker hears of every request that cannot be answered. A zero r makes it
// a plain Tell; so does a ref made by RefTo (its endpoint carries r).
func TellRequest[M, T any](ctx context.Context, ref Ref[M], r Reply[T], m M) error {
	if ctx == nil {
		ctx = context.Background()
	}
	p, f := ref.p, r.f
	if p == nil || f == nil || f.cb == nil {
		return ref.Tell(ctx, m)
	}
	if isFenced(ctx) {
		return ErrFenced
	}
	if f.request.f != nil {
		return fmt.Errorf("actor %s: %w: the reply already travels with a request", p.path, ErrAlreadyReplied)
	}
	f.sys, f.path = p.sys, p.path
	f.request = request{ctx: ctx, f: f}
	if s := p.sys; s.perMsg {
		s.stamp(ctx, &f.request)
	}
	return p.post(ctx, envelope[M]{m: m, rq: &f.request})
}

// DeadLetter records d in the System's dead letters, as the runtime does
// for its own (counted in DeadLetters and Snapshot, passed to the
// WithDeadLetters sink, emitted as an event, logged). It is for layers
// that accept messages outside a mailbox (transports): a message they
// took and can no longer deliver is dead-lettered, not lost. A d without
// a Reason is refused: it is not recorded.
func (s *System) DeadLetter(d DeadLetter) {
	if s == nil || d.Reason == 0 {
		return
	}
	s.deadLetter(d)
}
