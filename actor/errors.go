package actor

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/troupe-go/troupe/observe"
)

// Errors returned by the actor runtime. They are sentinels: compare with
// [errors.Is], since they may be wrapped.
var (
	// ErrStopped is returned when a message is sent to an actor that has
	// stopped (or is down and not awaiting a restart). The message goes to
	// dead letters.
	ErrStopped = errors.New("actor: stopped")
	// ErrNilRef is returned by every method of a zero Ref.
	ErrNilRef = errors.New("actor: nil ref")
	// ErrFull is returned by TryTell on a full bounded mailbox, and by
	// Tell when the mailbox policy is Reject. It is [mailbox.ErrFull].
	ErrFull = errFull
	// ErrNameTaken is returned by Spawn when the parent already has a child
	// of that name.
	ErrNameTaken = errors.New("actor: name already taken")
	// ErrInvalidName is returned by Spawn for a name containing '/'.
	ErrInvalidName = errors.New("actor: invalid name")
	// ErrNilFactory is returned by Spawn when the factory is nil or returns
	// a nil actor.
	ErrNilFactory = errors.New("actor: nil factory or nil actor")
	// ErrSystemStopped is returned by Spawn after System.Shutdown began.
	ErrSystemStopped = errors.New("actor: system shut down")
	// ErrFenced is returned when an abandoned incarnation (killed after
	// its shutdown time, or past its message deadline) tries to send or
	// reply: it no longer speaks for the actor.
	ErrFenced = errors.New("actor: incarnation fenced")
	// ErrRunning is returned by Child.Start when the child already runs,
	// and (as supervisor.ErrRunning) by a supervisor refusing to restart or
	// delete a running child.
	ErrRunning = errors.New("actor: child running")
	// ErrAlreadyReplied is returned by a second Reply.Send or Reply.Fail.
	ErrAlreadyReplied = errors.New("actor: already replied")
	// ErrAskerGone is the error of a reply dead-lettered because its asker
	// gave up (its context ended).
	ErrAskerGone = errors.New("actor: asker gone")
	// ErrNotParent is returned by SpawnChild when the parent actor does not
	// implement ExitHandler.
	ErrNotParent = errors.New("actor: parent does not handle child exits")
	// ErrInvalidOption is returned by Spawn for an invalid option value.
	ErrInvalidOption = errors.New("actor: invalid option")
	// ErrDeadline is the failure of a receive that ran past its message
	// deadline (see WithDeadline).
	ErrDeadline = errors.New("actor: message deadline exceeded")
	// ErrKilled is the failure reported for an incarnation that was killed.
	ErrKilled = errors.New("actor: killed")
	// ErrPoison matches the *UndeliveredError of an Ask whose request
	// failed on every delivery attempt and went to dead letters.
	ErrPoison = errors.New("actor: poison message")
	// ErrDropped matches the *UndeliveredError of an Ask whose request a
	// mailbox drop policy discarded.
	ErrDropped = errors.New("actor: dropped by the mailbox policy")
	// ErrNotFound is returned by Find and FindChild when the parent has no
	// child of that name, and (as supervisor.ErrNotFound) by a supervisor
	// given an id it has no child for.
	ErrNotFound = errors.New("actor: child not found")
	// ErrWrongType is matched by the *TypeError that Find and FindChild
	// return when the child exists but handles another message type.
	ErrWrongType = errors.New("actor: wrong message type")
)

// A TypeError is returned by Find and FindChild when the child exists but
// its message type is not the one asked for. It matches ErrWrongType.
type TypeError struct {
	Path string // the child
	Want string // the message type asked for, like "main.Job"
	Have string // the child's message type
}

// Error names the child and both message types.
func (e *TypeError) Error() string {
	return fmt.Sprintf("actor %s: handles %s, not %s", e.Path, e.Have, e.Want)
}

// Is reports whether target is ErrWrongType.
func (e *TypeError) Is(target error) bool { return target == ErrWrongType }

// Sentinels a Receive returns to stop its actor by itself, without a
// failure. They map to the exit reasons Normal and Shutdown (OTP's exit
// reasons normal and shutdown): a supervisor restarts only permanent
// children after them.
var (
	// StopNormal, returned by Receive, stops the actor with reason Normal.
	StopNormal = errors.New("actor: stop normal")
	// StopShutdown, returned by Receive, stops the actor with reason
	// Shutdown.
	StopShutdown = errors.New("actor: stop shutdown")
)

// A PanicError is the failure made from a panic in Receive, Start or a
// hook. It keeps the panic value and the program counters of the panicking
// goroutine; Stack formats them on demand (capturing counters costs well
// under a microsecond, formatting a stack tens of them).
type PanicError struct {
	Value any

	pcs   []uintptr
	once  sync.Once
	stack []byte
}

// NewPanicError makes a PanicError from the value v of a recovered panic,
// capturing the stack of the panicking goroutine. Call it from the
// deferred function that called recover, so the stack is still there.
func NewPanicError(v any) *PanicError {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	return &PanicError{Value: v, pcs: pcs[:n]}
}

// Stack returns the stack of the goroutine where the panic happened, from
// the panicking function outwards, one "function\n\tfile:line" entry per
// frame.
func (e *PanicError) Stack() []byte {
	e.once.Do(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "panic: %v\n\n", e.Value)
		frames := runtime.CallersFrames(e.pcs)
		skipping := true
		for {
			f, more := frames.Next()
			if skipping {
				// Frames up to runtime.gopanic are the recovery machinery.
				if f.Function == "runtime.gopanic" {
					skipping = false
				}
				if more {
					continue
				}
			}
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
			if !more {
				break
			}
		}
		e.stack = []byte(b.String())
	})
	return e.stack
}

// Error returns "actor: panic: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("actor: panic: %v", e.Value) }

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// A Failure describes why an incarnation failed: the error (a *PanicError
// for a panic), the message being handled (nil when the failure happened in
// Start or a system callback) and the delivery attempt of that message.
type Failure struct {
	Path    string
	Err     error
	Message any
	Attempt int
	// ID names this failure; everything it causes carries it.
	ID    observe.FailureID
	stuck []byte // stacks of a handler that overran its deadline
	trace any    // what the Propagator injected into Message, nil if nothing
}

// FailureID returns f.ID.
func (f *Failure) FailureID() observe.FailureID { return f.ID }

// Stack returns the stack of the failing goroutine for a panic, or the
// stacks found running the actor's code for a handler that overran its
// deadline; nil otherwise.
func (f *Failure) Stack() []byte {
	if f.stuck != nil {
		return f.stuck
	}
	var pe *PanicError
	if errors.As(f.Err, &pe) {
		return pe.Stack()
	}
	return nil
}

// Error names the actor and the attempt, then the error.
func (f *Failure) Error() string {
	return fmt.Sprintf("actor %s failed (attempt %d): %v", f.Path, f.Attempt, f.Err)
}

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }

// A StartError is returned when an actor's factory or Start hook failed.
type StartError struct {
	Path string
	Err  error
	// ID names this failure; everything it causes carries it.
	ID observe.FailureID
}

// FailureID returns e.ID.
func (e *StartError) FailureID() observe.FailureID { return e.ID }

// Error names the actor whose start failed, then the error.
func (e *StartError) Error() string { return fmt.Sprintf("actor %s: start failed: %v", e.Path, e.Err) }

// Unwrap returns the underlying error.
func (e *StartError) Unwrap() error { return e.Err }

// A Stuck describes a goroutine that did not stop in time: an incarnation
// abandoned after its shutdown time or deadline, or one still running when
// System.Shutdown gave up.
type Stuck struct {
	Path string
	// Stack holds the stacks of the goroutines found running the actor's
	// code (matched by the actor's type name), or of the goroutine itself
	// when it is known.
	Stack string
}

// A ShutdownError is returned by System.Shutdown when its context ended
// before every actor goroutine exited. It lists the stuck ones.
type ShutdownError struct {
	Err   error // the context's error
	Stuck []Stuck
}

// Error says how many actors were stuck and lists their paths.
func (e *ShutdownError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "actor: shutdown incomplete (%v): %d stuck", e.Err, len(e.Stuck))
	for _, s := range e.Stuck {
		b.WriteString(" ")
		b.WriteString(s.Path)
	}
	return b.String()
}

// Unwrap returns the context's error.
func (e *ShutdownError) Unwrap() error { return e.Err }

func asFailure(err error, f **Failure) bool       { return errors.As(err, f) }
func asStartError(err error, e **StartError) bool { return errors.As(err, e) }
func asPanic(err error, e **PanicError) bool      { return errors.As(err, e) }
