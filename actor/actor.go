package actor

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/observe"
)

// An Actor handles messages of type M, one at a time.
//
// Receive is called on a goroutine owned by the runtime, never
// concurrently with itself or with the actor's hooks, so the actor's
// fields need no locking. Messages from one sender arrive in the order
// they were sent: a Tell that returned nil "synchronizes before" the
// Receive of that message.
//
// A returned error or a panic is a failure of this incarnation: the actor
// stops handling messages, its Stop hook (if any) runs with reason
// Failed, and its parent decides what happens next (a supervisor applies
// its strategy; the default restarts it in place). The message being
// handled is redelivered to the fresh incarnation, up to the actor's
// attempt limit, then dead-lettered. Returning StopNormal or StopShutdown
// stops the actor by itself without a failure.
//
// Receive must not keep goroutines running after it returns unless it
// owns them and stops them in a Stop hook. The ctx it gets is cancelled
// when the incarnation is asked to stop; a Receive that ignores it delays
// the stop until its shutdown time, after which the incarnation is
// abandoned and reported as killed.
type Actor[M any] interface {
	Receive(ctx Context, msg M) error
}

// Func adapts a function to the Actor interface.
type Func[M any] func(ctx Context, msg M) error

// Receive calls f(ctx, msg).
func (f Func[M]) Receive(ctx Context, msg M) error { return f(ctx, msg) }

// Starter is implemented by actors that need to initialise each
// incarnation. Start (and the factory before it) runs before the first
// message of an incarnation, on the goroutine that starts the
// incarnation: the caller of Spawn for the first one; the caller of
// Child.Start for a managed child (a supervisor starts its children on
// its own goroutine); and for the restart in place of an actor without a
// managing parent, the goroutine that ended the previous incarnation: the
// runtime goroutine that ran the failed Receive, the one the runtime
// starts for an overrun deadline, or the caller of PID.Kill. An error or
// panic fails the start.
type Starter interface {
	Start(ctx Context) error
}

// Stopper is implemented by actors that need to clean up. Stop runs once
// at the end of every incarnation that started, after the incarnation's
// children stopped, with the reason it ends: Shutdown when it was asked to
// stop, Normal or Shutdown when it stopped by itself, Failed when it
// failed. It does not run for a killed incarnation. A Stop that blocks
// past the actor's shutdown time gets the incarnation abandoned and
// reported killed.
type Stopper interface {
	Stop(ctx Context, reason ExitReason)
}

// Context is what Receive and the hooks get: a [context.Context] that is
// cancelled when the incarnation is asked to stop, plus the actor's
// identity. It is valid only for the incarnation it was given to.
type Context interface {
	context.Context
	// Self returns the actor's lifecycle handle.
	Self() PID
	// Path returns the actor's path, like "/sup/worker-3".
	Path() string
	// System returns the actor's system.
	System() *System
	// Logger returns the system logger, named after the actor's path.
	Logger() *zap.Logger
	// Attempt returns the delivery attempt of the message being handled:
	// 1 the first time, 2 on the first redelivery after a failure, ...
	Attempt() int

	parentNode() *node
}

// Self returns the typed Ref of the actor that ctx belongs to. It reports
// false if ctx is not the Context of an actor of message type M.
func Self[M any](ctx Context) (Ref[M], bool) {
	switch c := ctx.(type) {
	case *incarnation[M]:
		return Ref[M]{p: c.p}, true
	case *askCtx[M]:
		return Ref[M]{p: c.p}, true
	case *traceCtx[M]:
		return Ref[M]{p: c.p}, true
	}
	return Ref[M]{}, false
}

// ExitReason is why an incarnation or an actor ended.
type ExitReason uint8

const (
	// Normal means it stopped by itself (Receive returned StopNormal).
	Normal ExitReason = iota + 1
	// Shutdown means it was asked to stop, or returned StopShutdown.
	Shutdown
	// Failed means Receive, Start or a hook returned an error or
	// panicked.
	Failed
	// Killed means it was killed, or abandoned after its shutdown time.
	Killed
	// NoConnection means the actor runs in another process that could not be
	// reached any more (it died, hung or was cut off), so how it ended is
	// unknown (OTP's noconnection). Only a Ref made by RefTo reports it;
	// a supervisor treats it as a failure.
	NoConnection
)

// String returns "normal", "shutdown", "failure", "killed" or
// "noconnection".
func (r ExitReason) String() string {
	switch r {
	case Normal:
		return "normal"
	case Shutdown:
		return "shutdown"
	case Failed:
		return "failure"
	case Killed:
		return "killed"
	case NoConnection:
		return "noconnection"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// An Exit reports to a parent that one incarnation of its child ended by
// itself (not because the parent stopped it).
type Exit struct {
	Child  Child
	Reason ExitReason
	// Err is the failure (*Failure, *StartError...) for Failed and Killed.
	Err error
	// Incarnation is the incarnation that ended (see Child.Incarnation).
	Incarnation uint64
	// Final is true when the child stopped for good (its Ref is dead).
	Final bool
	// FailureID is the failure that ended the incarnation (0 if none).
	FailureID observe.FailureID
}

// ExitHandler is implemented by parent actors that manage their children
// (supervisors). HandleExit runs on the parent's goroutine, ahead of its
// queued messages, once for each Exit of a child spawned with SpawnChild.
// An error or panic is a failure of the parent.
type ExitHandler interface {
	HandleExit(ctx Context, e Exit) error
}

// Terminated is the notification a watcher gets when an actor stopped for
// good.
type Terminated struct {
	Path   string
	Reason ExitReason
	Err    error
}
