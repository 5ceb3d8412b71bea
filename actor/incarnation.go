package actor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Phases of an incarnation, for fencing (see incarnation.phase). The
// phase is the low two bits of the phase word; the bits above count the
// incarnation's entries into user code, so a deadline timer armed for one
// entry can never fence a later one.
const (
	phRuntime uint64 = iota // the runtime's own code, or nothing, runs it
	phUser                  // user code (Receive, a hook) runs on its goroutine
	phFenced                // abandoned: its goroutine must vanish
	phMask    uint64 = 3
	phEntry   uint64 = 4 // one entry into user code
)

// incarnation is one life of an actor, from its factory call to its end.
// It is the Context its code gets.
type incarnation[M any] struct {
	p       *proc[M]
	gen     uint64
	actor   Actor[M]
	started int64 // UnixNano of the System clock's start time, set before the incarnation is published

	// phase says who runs the incarnation's goroutine, and which entry
	// into user code it is in. Before user code the goroutine stores
	// next-entry|phUser, having read everything the user code is given
	// (the message above all): that store "synchronizes before" the CAS
	// of a killer that fences it, so the killer and whoever it hands the
	// proc to may reuse those fields. After user code the goroutine CASes
	// entry|phUser back to entry|phRuntime; a killer that won
	// entry|phUser→entry|phFenced owns the incarnation from then on and
	// the goroutine, when the user code returns, vanishes without
	// touching anything but its own incarnation under p.mu.
	phase atomic.Uint64
	// attempt is what Attempt reports. It is written by the goroutine
	// running the incarnation before it enters user code, and read by that
	// user code; a fenced goroutine keeps reading its own incarnation's
	// value, which nobody writes any more (p.attempts belongs to the next
	// incarnation by then).
	attempt int32
	// abort asks the goroutine not to enter user code again (Dekker with
	// phase: the goroutine stores phase then loads abort; the killer
	// stores abort then CASes phase, so one of them sees the other).
	abort atomic.Bool
	// canceled backs the Context's Err. cancel stores it, then loads cx;
	// Done and forRequest make cx, then load canceled under cx.mu: one of
	// the two sees the other (sequentially consistent atomics).
	canceled atomic.Bool

	// guarded by p.mu
	end       incEnd // how far finishInc got (see the state table in proc.go)
	endReason ExitReason
	ctl       *incCtl // rarely needed state, made on demand

	// cx backs the Context's Done and the request Context being handled
	// (see canceled); it is made on first use, so an idle actor's
	// incarnation never needs one.
	cx atomic.Pointer[incCtx]
}

// incCtx is the Context state of an incarnation that needed it.
type incCtx struct {
	mu        sync.Mutex // guards doneCh and reqCancel
	doneCh    chan struct{}
	reqCancel context.CancelFunc // the Context of the request being handled, if it has one
}

// ctxState returns inc's incCtx, making it.
func (inc *incarnation[M]) ctxState() *incCtx {
	if c := inc.cx.Load(); c != nil {
		return c
	}
	c := new(incCtx)
	if inc.cx.CompareAndSwap(nil, c) {
		return c
	}
	return inc.cx.Load()
}

// incEnd is how far an incarnation's end has got, guarded by proc.mu. It
// only moves forward: incLive → incFinishing → incEnded, both steps in
// finishInc.
type incEnd uint8

const (
	incLive      incEnd = iota // finishInc has not begun
	incFinishing               // finishInc began: the end is decided
	incEnded                   // finishInc told the world: exited is closed
)

// incCtl is the part of an incarnation only its end needs. Keeping it out
// of line keeps an idle actor small.
type incCtl struct {
	exited    chan struct{} // closed when ended; made lazily
	abortEnd  ending
	leak      *leakRec
	stopAbort context.CancelFunc // cuts stopChildrenOf short on a kill
	vanished  bool               // its fenced goroutine returned from user code
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Deadline implements context.Context: an incarnation has none.
func (inc *incarnation[M]) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed when the incarnation is asked to
// stop, is killed, or ends.
func (inc *incarnation[M]) Done() <-chan struct{} {
	c := inc.ctxState()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doneCh == nil {
		if inc.canceled.Load() {
			return closedCh
		}
		c.doneCh = make(chan struct{})
	}
	return c.doneCh
}

// Err implements context.Context.
func (inc *incarnation[M]) Err() error {
	if inc.canceled.Load() {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context: an incarnation carries no values.
func (inc *incarnation[M]) Value(any) any { return nil }

func (inc *incarnation[M]) cancel() {
	if inc.canceled.Swap(true) {
		return
	}
	c := inc.cx.Load()
	if c == nil {
		return // nobody took Done or a request Context yet; they will see canceled
	}
	c.mu.Lock()
	if c.doneCh != nil {
		close(c.doneCh)
	}
	if c.reqCancel != nil {
		c.reqCancel()
	}
	c.mu.Unlock()
}

func (inc *incarnation[M]) Self() PID       { return inc.p }
func (inc *incarnation[M]) Path() string    { return inc.p.path }
func (inc *incarnation[M]) System() *System { return inc.p.sys }
func (inc *incarnation[M]) Logger() *zap.Logger {
	return inc.p.sys.log.With(zap.String("actor", inc.p.path))
}
func (inc *incarnation[M]) Attempt() int      { return int(inc.attempt) }
func (inc *incarnation[M]) parentNode() *node { return &inc.p.node }
func (inc *incarnation[M]) handlesExits() bool {
	_, ok := inc.actor.(ExitHandler)
	return ok
}
func (inc *incarnation[M]) isFenced() bool { return inc.phase.Load()&phMask == phFenced }
func (inc *incarnation[M]) String() string { return "actor " + inc.p.path }

// leaveUser marks the end of the user code entered as entry; false means
// the incarnation was fenced meanwhile and the goroutine must vanish.
func (inc *incarnation[M]) leaveUser(entry uint64) bool {
	return inc.phase.CompareAndSwap(entry|phUser, entry|phRuntime)
}

// fence fences the incarnation if its goroutine is in user code. The
// caller then owns the proc's in-flight state.
func (inc *incarnation[M]) fence() bool {
	for {
		v := inc.phase.Load()
		if v&phMask != phUser {
			return false
		}
		if inc.phase.CompareAndSwap(v, v&^phMask|phFenced) {
			return true
		}
	}
}

// fenced is implemented by incarnations, whatever their message type.
type fenced interface{ isFenced() bool }

func isFenced(ctx context.Context) bool {
	f, ok := ctx.(fenced)
	return ok && f.isFenced()
}

type enterResult uint8

const (
	entered  enterResult = iota
	aborted              // abort was requested: do not run user code
	vanished             // fenced: the goroutine must vanish
)

// enterUser marks the start of user code on the incarnation's goroutine
// and returns the entry to give leaveUser. Everything the user code is
// handed must have been read before: see incarnation.phase.
func (inc *incarnation[M]) enterUser() (uint64, enterResult) {
	// Only this goroutine changes the phase out of phRuntime.
	entry := inc.phase.Load()&^phMask + phEntry
	inc.phase.Store(entry | phUser)
	if inc.abort.Load() {
		if inc.phase.CompareAndSwap(entry|phUser, entry|phRuntime) {
			return entry, aborted
		}
		return entry, vanished
	}
	return entry, entered
}

// vanish is what a fenced goroutine does when its user code returns.
//
// It may run before abandon has recorded the leak (the killer won the
// phUser→phFenced CAS but has not taken mu yet). Both sides therefore
// work under mu: vanish marks the incarnation vanished, and abandon
// records no leak for a vanished one; otherwise Leaked would list the
// goroutine forever.
func (p *proc[M]) vanish(inc *incarnation[M]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc.control().vanished = true
	if inc.ctl != nil && inc.ctl.leak != nil {
		p.sys.removeLeak(inc.ctl.leak)
	}
}

func (p *proc[M]) abortEnding(inc *incarnation[M]) ending {
	p.mu.Lock()
	defer p.mu.Unlock()
	if inc.ctl == nil {
		return ending{reason: Killed, err: ErrKilled}
	}
	return inc.ctl.abortEnd
}

// exitedCh returns a channel closed when inc has ended.
func (p *proc[M]) exitedCh(inc *incarnation[M]) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if inc.end == incEnded {
		return closedCh
	}
	c := inc.control()
	if c.exited == nil {
		c.exited = make(chan struct{})
	}
	return c.exited
}

func (p *proc[M]) endReasonOf(inc *incarnation[M]) ExitReason {
	p.mu.Lock()
	defer p.mu.Unlock()
	return inc.endReason
}
