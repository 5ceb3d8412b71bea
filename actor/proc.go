package actor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
)

// Lifecycle states of a proc, guarded by proc.mu.
type pstate uint8

const (
	stWaiting  pstate = iota // no incarnation; messages queue (restart pending)
	stStarting               // an incarnation is being started
	stRunning                // an incarnation runs
	stParked                 // no incarnation; messages are refused
	stClosing                // stopping for good
	stClosed                 // stopped for good
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

// sysMsg is the sealed set of system messages, served before user ones.
type sysMsg struct {
	kind sysKind
	gen  uint64              // incarnation it is meant for (stop, abort)
	end  ending              // for sysStop
	exit Exit                // for sysExit
	fn   func(Context) error // for sysFunc
	msg  any                 // for sysFunc from Urgent: dead-lettered if never run
}

type sysKind uint8

const (
	sysStop  sysKind = iota + 1 // end the incarnation gracefully
	sysAbort                    // end the incarnation as inc.abortEnd says
	sysExit                     // a managed child's incarnation ended
	sysFunc                     // run fn on the actor's goroutine
)

// ending says how an incarnation ends and who must hear of it.
type ending struct {
	reason Reason
	err    error
	// requested: the parent (or a final stop) asked for it, so the parent
	// is not told and no restart policy runs.
	requested bool
	// fid is the failure this end is, or follows from (0 if none).
	fid observe.FailureID
}

// proc is an actor: the part that survives restarts (identity, mailbox,
// the message in flight) and the current incarnation.
type proc[M any] struct {
	node
	factory func() Actor[M]
	cfg     *config

	// Small fields packed into one word.
	parked        atomic.Bool // mirror of state == stParked
	managed       bool        // incarnation exits go to the parent's HandleExit
	state         pstate      // guarded by mu
	notifyOnClose bool        // guarded by mu: the final stop was not asked by the parent, so a managing parent gets an Exit with Final set
	hasCur        bool        // owned like cur

	mb mailbox.Mailbox[envelope[M], sysMsg]

	mu   sync.Mutex // guards state, gen, done, notifyOnClose, rare.watchers/final, and incarnation fields so marked
	gen  uint64
	done chan struct{}
	inc  atomic.Pointer[incarnation[M]] // written under mu

	// Owned by whoever owns the mailbox (the run goroutine, or a caller
	// that won TryAcquire, or the ender of a fenced incarnation); handed
	// over through mu or the mailbox state.
	bb       *batchBuf[M] // messages taken in a batch, not yet handled
	cur      envelope[M]  // message in flight: being handled, or awaiting redelivery
	attempts int          // delivery attempts of cur

	processed atomic.Uint64
	pending   atomic.Int64 // taken from the mailbox, not yet resolved
	rare      atomic.Pointer[procRare]
	kc        atomic.Pointer[kindStats]       // set by the first start that built an actor
	labels    atomic.Pointer[context.Context] // profiler labels, set with kc under WithProfilerLabels
}

// procRare is the part of an actor that only failures, dead letters,
// watchers and the final stop need, made on first use so an idle actor
// stays small.
type procRare struct {
	deadLettered, expired, failures, restarts atomic.Uint64

	lastErr  error            // last failure of cur; owned like cur
	watchers []*watcher       // guarded by proc.mu
	lastEnd  ending           // how the last incarnation ended; guarded by proc.mu
	lastFail *observe.Failure // the last failure, for Snapshot; guarded by proc.mu
	final    Terminated       // set once under proc.mu when the actor stopped
}

// r returns the actor's procRare, making it.
func (p *proc[M]) r() *procRare {
	if r := p.rare.Load(); r != nil {
		return r
	}
	r := new(procRare)
	if p.rare.CompareAndSwap(nil, r) {
		return r
	}
	return p.rare.Load()
}

// incarnation is one life of an actor, from its factory call to its end.
// It is the Context its code gets.
type incarnation[M any] struct {
	p       *proc[M]
	gen     uint64
	actor   Actor[M]
	started time.Time // set before the incarnation is published

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

	// guarded by p.mu
	finishing bool // finishInc began: the end is decided
	ended     bool // finishInc told the world: exited is closed
	endReason Reason
	canceled  bool    // guarded by cmu, not p.mu
	ctl       *incCtl // rarely needed state, made on demand

	cmu       sync.Mutex // guards doneCh, canceled, reqCancel
	doneCh    chan struct{}
	reqCancel context.CancelFunc // the Context of the request being handled, if it has one
}

// incCtl is the part of an incarnation only its end needs. Keeping it out
// of line keeps an idle actor small.
type incCtl struct {
	exited    chan struct{} // closed when ended; made lazily
	abortEnd  ending
	leak      *leakRec
	stopAbort context.CancelFunc // cuts stopChildrenOf short on a kill
	vanished  bool               // its fenced goroutine returned from user code
}

// control returns inc's incCtl, making it. The caller holds p.mu.
func (inc *incarnation[M]) control() *incCtl {
	if inc.ctl == nil {
		inc.ctl = new(incCtl)
	}
	return inc.ctl
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Deadline implements context.Context: an incarnation has none.
func (inc *incarnation[M]) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed when the incarnation is asked to
// stop, is killed, or ends.
func (inc *incarnation[M]) Done() <-chan struct{} {
	inc.cmu.Lock()
	defer inc.cmu.Unlock()
	if inc.doneCh == nil {
		if inc.canceled {
			return closedCh
		}
		inc.doneCh = make(chan struct{})
	}
	return inc.doneCh
}

// Err implements context.Context.
func (inc *incarnation[M]) Err() error {
	inc.cmu.Lock()
	defer inc.cmu.Unlock()
	if inc.canceled {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context: an incarnation carries no values.
func (inc *incarnation[M]) Value(any) any { return nil }

func (inc *incarnation[M]) cancel() {
	inc.cmu.Lock()
	if !inc.canceled {
		inc.canceled = true
		if inc.doneCh != nil {
			close(inc.doneCh)
		}
		if inc.reqCancel != nil {
			inc.reqCancel()
		}
	}
	inc.cmu.Unlock()
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
func (p *proc[M]) isPID()             {}
func (p *proc[M]) Path() string       { return p.path }
func (p *proc[M]) Name() string       { return p.name() }
func (p *proc[M]) String() string     { return "actor " + p.path }
func (p *proc[M]) Running() bool      { return p.inc.Load() != nil }
func (p *proc[M]) Generation() uint64 { p.mu.Lock(); defer p.mu.Unlock(); return p.gen }

// Schedule implements mailbox.Scheduler: a System worker goroutine will
// run p.run (see System.schedule for who owns it).
func (p *proc[M]) Schedule()                           { p.sys.schedule(p) }
func (p *proc[M]) Kill()                               { p.killCurrent(false) }
func (p *proc[M]) Shutdown(ctx context.Context) Reason { return p.shutdownCurrent(orBackground(ctx)) }

// adoptable reports whether a kept child can be taken over by a new
// incarnation of its parent: it has no incarnation and has not stopped.
func (p *proc[M]) adoptable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == stWaiting || p.state == stParked
}

// endIncarnation implements cell.
func (p *proc[M]) endIncarnation(ctx context.Context) { p.shutdownCurrent(ctx) }

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

// run drains the mailbox on a System worker goroutine. It is called when
// the mailbox went from idle to running; it owns the mailbox (and the
// proc's in-flight fields) until it releases or suspends it, then returns
// and the worker goes back to the pool.
func (p *proc[M]) run() {
	inc := p.inc.Load()
	if inc == nil {
		p.mb.Suspend()
		return
	}
	if p.sys.labels {
		if lc := p.labels.Load(); lc != nil {
			pprof.SetGoroutineLabels(*lc) // the worker clears them when run returns
		}
	}
	for {
		if !p.drain(inc) {
			return
		}
		if p.hasCur || p.batchLeft() {
			// Turn over with work in hand: yield, then go on.
			runtime.Gosched()
			continue
		}
		if inc.abort.Load() {
			p.endInc(inc, p.abortEnding(inc))
			return
		}
		if b := p.bb; b != nil {
			b.items, b.i = b.items[:0], 0
			if cap(b.items) > 64 {
				p.bb = nil
			}
		}
		if !p.mb.Release() {
			return
		}
	}
}

// drain runs one turn: system messages first, then up to throughput user
// messages. It returns false when the goroutine must exit without
// releasing the mailbox (the incarnation ended or was fenced).
func (p *proc[M]) drain(inc *incarnation[M]) bool {
	budget := p.cfg.throughput
	for n := 0; n < budget; n++ {
		if p.mb.HasSystem() {
			if !p.system(inc) {
				return false
			}
			continue
		}
		if p.hasCur {
			if p.attempts >= p.cfg.maxAttempts {
				// Killed or abandoned on its last attempt.
				p.poison()
				continue
			}
		} else if p.batchLeft() {
			var zero envelope[M]
			b := p.bb
			p.cur, p.hasCur, p.attempts = b.items[b.i], true, 0
			b.items[b.i] = zero
			b.i++
		} else {
			l := p.mb.Len()
			if l == 0 {
				return true
			}
			if l == 1 || budget-n == 1 {
				m, ok := p.mb.PopOne()
				if !ok {
					return true
				}
				p.pending.Add(1)
				p.cur, p.hasCur, p.attempts = m, true, 0
			} else {
				if p.bb == nil {
					p.bb = new(batchBuf[M])
				}
				b := p.bb
				b.items, b.i = p.mb.PopBatch(b.items[:0], budget-n), 0
				if len(b.items) == 0 {
					return true
				}
				p.pending.Add(int64(len(b.items)))
				continue
			}
		}
		if !p.deliver(inc) {
			return false
		}
	}
	return true
}

// deliver hands p.cur to the incarnation.
func (p *proc[M]) deliver(inc *incarnation[M]) bool {
	p.attempts++
	inc.attempt = int32(p.attempts)
	env := p.cur // read before enterUser: a killer may reuse p.cur once it fenced us
	ask := env.ask()
	if ask != nil && ask.ctx.Err() != nil {
		// The asker gave up before the request was handled: nobody waits
		// for the answer, so it is not handled.
		p.attempts--
		p.expire()
		return true
	}
	var ctx Context = inc
	var cancel context.CancelFunc
	if ask != nil && ask.ctx.Done() != nil {
		ctx, cancel = inc.forRequest(ask.ctx)
	}
	var began, wait int64 = 0, -1 // with clocks: when the Receive began, how long m waited
	if p.sys.clocks {
		began = p.sys.mono()
		if env.rq != nil && env.rq.sent != 0 && p.attempts == 1 {
			wait = began - env.rq.sent
			if k := p.kc.Load(); k != nil && k.clk != nil {
				k.clk.wait.observe(wait)
			}
		}
	}
	entry, res := inc.enterUser()
	switch res {
	case vanished:
		p.vanish(inc)
		return false
	case aborted:
		p.attempts-- // never handed over
		if cancel != nil {
			inc.doneRequest(cancel)
		}
		p.endInc(inc, p.abortEnding(inc))
		return false
	}
	var t *time.Timer
	if d := p.cfg.deadline; d > 0 {
		t = time.AfterFunc(d, func() { p.expired(inc, entry) })
	}
	err := p.receive(ctx, inc, env.m, env.trace())
	if t != nil {
		t.Stop()
	}
	if cancel != nil {
		inc.doneRequest(cancel) // touches only inc, under its cmu
	}
	if !inc.leaveUser(entry) {
		p.vanish(inc)
		return false
	}
	if began != 0 {
		p.clockProcess(began, wait, err)
	}
	if err == nil {
		p.resolve()
		p.processed.Add(1)
		return true
	}
	if ask != nil && ask.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Receive gave up because the asker did: not a failure of the
		// actor, and nobody waits for the answer.
		p.attempts--
		p.expire()
		return true
	}
	if errors.Is(err, context.Canceled) && inc.Err() != nil && (p.mb.HasSystem() || inc.abort.Load()) {
		// Receive gave up because the incarnation was asked to stop (its
		// ctx was cancelled and the stop is queued): not a failure. The
		// message stays in flight (redelivered after a restart, dead-
		// lettered on a final stop) and the loop serves the stop next.
		p.attempts--
		return true
	}
	return p.fail(inc, err, true)
}

// receive runs the Receive of m, as user code. carried is what the
// Propagator injected into m, nil if nothing.
func (p *proc[M]) receive(ctx Context, inc *incarnation[M], m M, carried any) (err error) {
	if !p.cfg.passPanics {
		defer func() {
			if r := recover(); r != nil {
				err = NewPanicError(r)
			}
		}()
	}
	if carried != nil && p.sys.prop != nil {
		ctx = inc.withTrace(ctx, p.sys.prop, carried)
	}
	if fi := p.sys.faults; fi != nil {
		if err := fi.BeforeReceive(ctx); err != nil {
			return err
		}
	}
	return inc.actor.Receive(ctx, m)
}

// clockProcess records the time of the Receive that began at began (and
// returned err) in the kind's clocks, and tells the clock sinks (wait is
// how long the message waited, -1 for a redelivery).
func (p *proc[M]) clockProcess(began, wait int64, err error) {
	k := p.kc.Load()
	if k == nil || k.clk == nil {
		return
	}
	t := ""
	if err != nil && !errors.Is(err, StopNormal) && !errors.Is(err, StopShutdown) {
		t = ErrorType(err)
	}
	d := p.sys.mono() - began
	k.recordProcess(t, d)
	if sinks := p.sys.sinks.Load(); sinks != nil {
		for _, r := range *sinks {
			r.sink.ObserveMessage(k.name, t, time.Duration(wait), time.Duration(d))
		}
	}
}

// guard runs f as user code with panics turned into errors.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = NewPanicError(r)
		}
	}()
	return f()
}

// resolve forgets the message in flight after it was handled or disposed of.
func (p *proc[M]) resolve() {
	var zero envelope[M]
	p.cur, p.hasCur, p.attempts = zero, false, 0
	if r := p.rare.Load(); r != nil {
		r.lastErr = nil
	}
	p.pending.Add(-1)
}

// poison dead-letters the message in flight after its last attempt.
func (p *proc[M]) poison() {
	r := p.r()
	r.deadLettered.Add(1)
	p.undeliverable(p.cur, DeadPoison, r.lastErr, p.attempts, failureIDOf(r.lastErr))
	p.resolve()
}

// expire dead-letters the request in flight whose asker gave up.
func (p *proc[M]) expire() {
	r := p.r()
	r.deadLettered.Add(1)
	r.expired.Add(1)
	p.deadLetter(DeadLetter{Recipient: p.path, Message: p.cur.m, Reason: DeadExpired, Err: p.cur.ask().ctx.Err(), Attempts: p.attempts})
	p.resolve()
}

// deadLetter hands d to the actor's WithUndelivered hook, or to the
// System's dead letters if there is none or it did not take d.
func (p *proc[M]) deadLetter(d DeadLetter) {
	if f := p.cfg.undelivered; f != nil && f(d) {
		return
	}
	p.sys.deadLetter(d)
}

// undeliverable dead-letters env for reason r and, if it is a request,
// ends its Ask at once with an *UndeliveredError saying why. The caller
// counts it.
func (p *proc[M]) undeliverable(env envelope[M], r DeadLetterReason, err error, attempts int, fid observe.FailureID) {
	p.deadLetter(DeadLetter{Recipient: p.path, Message: env.m, Reason: r, Err: err, Attempts: attempts, FailureID: fid})
	if rq := env.ask(); rq != nil {
		rq.f.abandon(&UndeliveredError{Path: p.path, Reason: r, Attempts: attempts, Err: err})
	}
}

// fail handles an error from user code on the incarnation's goroutine.
// withMsg says whether p.cur was being handled.
func (p *proc[M]) fail(inc *incarnation[M], err error, withMsg bool) bool {
	switch {
	case errors.Is(err, StopNormal):
		if withMsg {
			p.resolve()
			p.processed.Add(1)
		}
		p.endInc(inc, ending{reason: Normal})
		return false
	case errors.Is(err, StopShutdown):
		if withMsg {
			p.resolve()
			p.processed.Add(1)
		}
		// A supervisor that gives up says which failure made it.
		p.endInc(inc, ending{reason: Shutdown, fid: failureIDOf(err)})
		return false
	}
	f := &Failure{Path: p.path, Err: err, ID: p.sys.newFailureID()}
	if withMsg {
		f.Message, f.Attempt, f.trace = p.cur.m, p.attempts, p.cur.trace()
		p.r().lastErr = f
	}
	p.r().failures.Add(1)
	if ce := p.sys.log.Check(zap.WarnLevel, "actor failed"); ce != nil {
		ce.Write(zap.String("actor", p.path), zap.String("error.type", ErrorType(err)),
			zap.Stringer("failure_id", f.ID), zap.Int("attempt", f.Attempt), zap.Error(err))
	}
	if h := p.cfg.failed; h != nil {
		p.failureHook(h, f)
	}
	if withMsg && p.attempts >= p.cfg.maxAttempts {
		p.poison()
	}
	p.endInc(inc, ending{reason: Failed, err: f, fid: f.ID})
	return false
}

// failureHook runs the WithFailure hook h with f on the incarnation's
// goroutine; a panic in h is logged and otherwise ignored.
func (p *proc[M]) failureHook(h func(*Failure), f *Failure) {
	if p.cfg.passPanics {
		h(f)
		return
	}
	if err := guard(func() error { h(f); return nil }); err != nil {
		p.sys.log.Error("actor failure hook panicked", zap.String("actor", p.path),
			zap.Stringer("failure_id", f.ID), zap.Error(err))
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

// system handles one system message; false means the goroutine must exit.
func (p *proc[M]) system(inc *incarnation[M]) bool {
	s, ok := p.mb.PopSystem()
	if !ok {
		return true
	}
	switch s.kind {
	case sysStop:
		if s.gen != inc.gen {
			return true
		}
		p.endInc(inc, s.end)
		return false
	case sysAbort:
		if s.gen != inc.gen {
			return true
		}
		p.endInc(inc, p.abortEnding(inc))
		return false
	case sysExit:
		h, ok := inc.actor.(ExitHandler)
		if !ok {
			return true
		}
		return p.userCall(inc, func() error { return h.HandleExit(inc, s.exit) })
	case sysFunc:
		return p.userCall(inc, func() error { return s.fn(inc) })
	}
	return true
}

// userCall runs a system callback as user code.
func (p *proc[M]) userCall(inc *incarnation[M], f func() error) bool {
	inc.attempt = 1 // system callbacks are delivered once
	entry, res := inc.enterUser()
	switch res {
	case vanished:
		p.vanish(inc)
		return false
	case aborted:
		p.endInc(inc, p.abortEnding(inc))
		return false
	}
	var err error
	if p.cfg.passPanics {
		err = f()
	} else {
		err = guard(f)
	}
	if !inc.leaveUser(entry) {
		p.vanish(inc)
		return false
	}
	if err != nil {
		return p.fail(inc, err, false)
	}
	return true
}

// endInc ends the incarnation on the goroutine that owns it: its children
// stop, its Stop hook runs (unless it is killed), then finishInc.
func (p *proc[M]) endInc(inc *incarnation[M], e ending) {
	p.stopChildrenOf(inc)
	if st, ok := inc.actor.(Stopper); ok && e.reason != Killed {
		entry, res := inc.enterUser()
		switch res {
		case vanished:
			p.vanish(inc)
			return
		case aborted:
			e = p.abortEnding(inc)
		case entered:
			if p.cfg.passPanics {
				st.Stop(inc, e.reason)
			} else {
				_ = guard(func() error { st.Stop(inc, e.reason); return nil })
			}
			if !inc.leaveUser(entry) {
				p.vanish(inc)
				return
			}
		}
	}
	p.finishInc(inc, e)
}

// stopChildrenOf stops inc's children, last spawned first, each within its
// shutdown time. A kill of inc that arrives meanwhile (its own shutdown
// time ran out) cuts it short: the children still running are then killed
// rather than waited for.
func (p *proc[M]) stopChildrenOf(inc *incarnation[M]) {
	if !p.node.hasChildren() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.mu.Lock()
	inc.control().stopAbort = cancel
	p.mu.Unlock()
	p.node.endChildren(ctx, false)
}

// finishInc records the end of an incarnation, then tells whoever must
// know: the closer, the parent, or the default restart policy.
func (p *proc[M]) finishInc(inc *incarnation[M], e ending) {
	inc.cancel()
	p.mu.Lock()
	if inc.finishing {
		p.mu.Unlock()
		return
	}
	inc.finishing = true
	p.mb.Suspend()
	if p.inc.Load() == inc {
		p.inc.Store(nil)
	}
	inc.endReason = e.reason
	p.r().lastEnd = ending{reason: e.reason, err: e.err, fid: e.fid}
	closing := p.state == stClosing
	if !closing {
		p.state = stWaiting
	}
	gen := inc.gen
	p.mu.Unlock()
	p.recordFailure(e)

	if p.sys.observed() {
		ev := Event{Kind: EventStopped, Path: p.path, Reason: e.reason, Err: e.err, FailureID: e.fid}
		switch e.reason {
		case Failed:
			ev.Kind = EventFailed
			var f *Failure
			if errors.As(e.err, &f) {
				ev.Stack, ev.Trace = f.Stack(), f.trace
			}
		case Killed:
			ev.Kind = EventKilled
		}
		p.sys.Emit(ev)
	}
	// Only now wake whoever waits for this end (a parent in Shutdown): the
	// event of a child's end is emitted before anything that follows from
	// it, as OTP records a death before its consequences.
	p.mu.Lock()
	inc.ended = true
	if inc.ctl != nil && inc.ctl.exited != nil {
		close(inc.ctl.exited)
	}
	p.mu.Unlock()
	switch {
	case closing:
		p.finish(ending{reason: e.reason, err: e.err, requested: true})
	case e.requested:
	case p.managed:
		p.parent.cell.postExit(Exit{Child: p, Reason: e.reason, Err: e.err, Generation: gen, FailureID: e.fid})
	default:
		p.defaultPolicy(e)
	}
}

// defaultPolicy is what an actor without a managing parent does when an
// incarnation ends by itself: restart in place after a failure (a kill
// counts as one), stop for good after a normal exit.
func (p *proc[M]) defaultPolicy(e ending) {
	if e.reason == Normal || e.reason == Shutdown {
		p.closeNow(e)
		return
	}
	var err error
	for try := 0; try < p.cfg.maxAttempts; try++ {
		if err = p.start(); err == nil {
			p.sys.Emit(Event{Kind: EventRestarted, Path: p.path, FailureID: e.fid})
			if ce := p.sys.log.Check(zap.InfoLevel, "actor restarted"); ce != nil {
				ce.Write(zap.String("actor", p.path), zap.Stringer("failure_id", e.fid))
			}
			return
		}
		if errors.Is(err, ErrStopped) {
			return
		}
	}
	p.closeNow(ending{reason: Failed, err: err})
}

// closeNow stops an actor that has no incarnation for good.
func (p *proc[M]) closeNow(e ending) {
	p.mu.Lock()
	if p.state == stClosing || p.state == stClosed {
		p.mu.Unlock()
		return
	}
	p.state = stClosing
	p.mu.Unlock()
	p.finish(e)
}

// finish stops the actor for good. It runs once, on the goroutine that
// ended its last incarnation (or found none): queued and in-flight
// messages go to dead letters, watchers are told, the parent forgets it.
func (p *proc[M]) finish(e ending) {
	p.node.stopChildren(context.Background())
	rest := p.mb.Close()
	defer p.drainSystem()
	fid := e.fid
	n := 0
	dl := func(env envelope[M]) {
		n++
		p.undeliverable(env, DeadStopped, nil, 0, fid)
	}
	if p.hasCur {
		dl(p.cur)
		p.resolve()
	}
	p.dropBatch(dl)
	p.bb = nil
	for _, env := range rest {
		dl(env)
	}
	if n > 0 {
		p.r().deadLettered.Add(uint64(n))
	}

	if k := p.kc.Load(); k != nil {
		if e.reason >= Normal && e.reason <= Killed {
			k.stops[e.reason].Add(1)
		}
		k.retired.Add(p.processed.Load())
	}
	// Free the name before Done closes: a Spawn of the same name after
	// Stop returned must succeed.
	p.parent.removeChild(&p.node)
	p.mu.Lock()
	p.state = stClosed
	p.parked.Store(false)
	r := p.r()
	r.final = Terminated{Path: p.path, Reason: e.reason, Err: e.err}
	ws := r.watchers
	r.watchers = nil
	gen := p.gen
	notify := !e.requested || p.notifyOnClose
	p.mu.Unlock()
	p.mb.Suspend()

	// Watchers hear of the stop before Done closes, so a Stop that
	// returned "synchronizes after" every watch notification.
	for _, w := range ws {
		w.fn(r.final)
	}
	p.mu.Lock()
	if p.done == nil {
		p.done = closedCh
	} else {
		close(p.done)
	}
	p.mu.Unlock()
	if p.managed && notify {
		p.parent.cell.postExit(Exit{Child: p, Reason: e.reason, Err: e.err, Generation: gen, Final: true, FailureID: e.fid})
	}
}

// start begins a new incarnation: factory, then Start hook, on the caller's
// goroutine. It is the OTP start function.
func (p *proc[M]) start() error {
	p.mu.Lock()
	prev := p.state
	switch prev {
	case stRunning, stStarting:
		p.mu.Unlock()
		return ErrRunning
	case stClosing, stClosed:
		p.mu.Unlock()
		return ErrStopped
	}
	p.state = stStarting
	p.gen++
	gen := p.gen
	p.mu.Unlock()

	inc := &incarnation[M]{p: p, gen: gen, started: p.sys.now()}
	err := guard(func() error {
		inc.actor = p.factory()
		if inc.actor == nil {
			return ErrNilFactory
		}
		if p.kc.Load() == nil {
			kind := p.cfg.kind
			if kind == "" {
				kind = kindName(inc.actor)
			}
			k := p.sys.kindOf(kind)
			k.spawns.Add(1)
			p.kc.Store(k)
			if p.sys.labels {
				lc := p.profileLabels(k.name)
				p.labels.Store(&lc)
			}
		}
		if fi := p.sys.faults; fi != nil {
			if err := fi.BeforeStart(inc); err != nil {
				return err
			}
		}
		if s, ok := inc.actor.(Starter); ok {
			return s.Start(inc)
		}
		return nil
	})
	if err != nil {
		inc.cancel()
		p.node.endChildren(context.Background(), false)
		p.mu.Lock()
		closing := p.state == stClosing
		if !closing {
			p.state = prev
		}
		p.mu.Unlock()
		se := &StartError{Path: p.path, Err: err, ID: p.sys.newFailureID()}
		err = se
		if ce := p.sys.log.Check(zap.WarnLevel, "actor start failed"); ce != nil {
			ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorStart), zap.Stringer("failure_id", se.ID), zap.Error(se.Err))
		}
		p.recordFailure(ending{reason: Failed, err: se, fid: se.ID})
		p.sys.Emit(Event{Kind: EventFailed, Path: p.path, Reason: Failed, Err: err, FailureID: se.ID})
		if closing {
			p.finish(ending{reason: Failed, err: err, requested: true, fid: se.ID})
		}
		return err
	}
	p.mu.Lock()
	if p.state == stClosing {
		// Stopped while starting: end the incarnation we just made.
		p.inc.Store(inc)
		p.mu.Unlock()
		p.endInc(inc, ending{reason: Shutdown, requested: true})
		return ErrStopped
	}
	p.state = stRunning
	p.parked.Store(false)
	p.inc.Store(inc)
	if gen > 1 { // every start after the first is a restart, in place or by a supervisor
		p.r().restarts.Add(1)
		if k := p.kc.Load(); k != nil {
			k.restarts.Add(1)
		}
	}
	pending := p.hasCur || p.batchLeft()
	p.mu.Unlock()
	p.sys.Emit(Event{Kind: EventStarted, Path: p.path})
	p.mb.Resume(pending)
	return nil
}

// Start implements Child.
func (p *proc[M]) Start(ctx context.Context) error {
	if err := orBackground(ctx).Err(); err != nil {
		return err
	}
	return p.start()
}

// exitedCh returns a channel closed when inc has ended.
func (p *proc[M]) exitedCh(inc *incarnation[M]) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if inc.ended {
		return closedCh
	}
	c := inc.control()
	if c.exited == nil {
		c.exited = make(chan struct{})
	}
	return c.exited
}

func (p *proc[M]) endReasonOf(inc *incarnation[M]) Reason {
	p.mu.Lock()
	defer p.mu.Unlock()
	return inc.endReason
}

// shutdownCurrent stops the current incarnation as its parent asked,
// within the actor's shutdown time; the actor stays, waiting for Start.
func (p *proc[M]) shutdownCurrent(ctx context.Context) Reason {
	inc := p.inc.Load()
	if inc == nil {
		return Shutdown
	}
	return p.endRequested(ctx, inc, ending{reason: Shutdown, requested: true})
}

// endRequested ends inc gracefully (the current message finishes, then
// its Stop hook runs), killing it past the shutdown time or when ctx ends.
func (p *proc[M]) endRequested(ctx context.Context, inc *incarnation[M], e ending) Reason {
	d := p.cfg.shutdown
	if d < 0 {
		return p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: e.requested})
	}
	if p.endIdle(inc, e) {
		return p.endReasonOf(inc)
	}
	// Post the stop before cancelling ctx: a Receive that returns because
	// its ctx was cancelled must find the stop ahead of the next queued
	// message (drain checks the system lane between messages). Cancelling
	// first let the goroutine take and handle queued messages, with a
	// cancelled ctx, before the stop arrived. (kill and finishInc cancel
	// ctx themselves.)
	p.mb.PostSystem(sysMsg{kind: sysStop, gen: inc.gen, end: e})
	inc.cancel()
	ch := p.exitedCh(inc)
	var timeout <-chan time.Time
	if d != Infinity {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return p.endReasonOf(inc)
	case <-timeout:
	case <-ctx.Done():
	}
	return p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: e.requested})
}

// endIdle ends inc on the caller's goroutine when that needs no user code:
// it has no Stop hook and no children, and no goroutine runs it. (inc.actor
// was set before inc was published in p.inc, which is where the caller
// got inc from.)
func (p *proc[M]) endIdle(inc *incarnation[M], e ending) bool {
	if _, hook := inc.actor.(Stopper); hook || p.node.hasChildren() || !p.mb.TryAcquire() {
		return false
	}
	p.finishInc(inc, e)
	return true
}

// killCurrent kills the current incarnation, as OTP's exit(Pid, kill).
func (p *proc[M]) killCurrent(requested bool) {
	if inc := p.inc.Load(); inc != nil {
		e := ending{reason: Killed, err: ErrKilled, requested: requested}
		if !requested {
			e.fid = p.sys.newFailureID() // a kill from outside is a failure
			if ce := p.sys.log.Check(zap.WarnLevel, "actor killed"); ce != nil {
				ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorKilled), zap.Stringer("failure_id", e.fid))
			}
		}
		p.kill(inc, e)
	}
}

// kill ends inc without its Stop hook. If its goroutine is in user code it
// is fenced and abandoned (counted as leaked until it returns).
func (p *proc[M]) kill(inc *incarnation[M], e ending) Reason {
	p.mu.Lock()
	if inc.finishing {
		p.mu.Unlock()
		<-p.exitedCh(inc)
		return p.endReasonOf(inc)
	}
	inc.control().abortEnd = e
	p.mu.Unlock()
	inc.abort.Store(true)
	p.mu.Lock()
	if inc.ctl != nil && inc.ctl.stopAbort != nil {
		inc.ctl.stopAbort()
	}
	p.mu.Unlock()
	inc.cancel()
	if inc.fence() {
		p.abandon(inc, e)
		return Killed
	}
	if p.mb.TryAcquire() {
		p.endInc(inc, e)
		return p.endReasonOf(inc)
	}
	// Its goroutine runs runtime code: it will see abort before any user
	// code, or this system message.
	p.mb.PostSystem(sysMsg{kind: sysAbort, gen: inc.gen})
	<-p.exitedCh(inc)
	return p.endReasonOf(inc)
}

// abandon ends an incarnation whose goroutine was fenced in user code; the
// caller won the phUser→phFenced CAS and now owns the proc's in-flight
// state. The goroutine is counted as leaked until its user code returns.
func (p *proc[M]) abandon(inc *incarnation[M], e ending) {
	rec := &leakRec{path: p.path, typeName: typeName(inc.actor)}
	p.mu.Lock()
	if !inc.control().vanished {
		inc.control().leak = rec
		p.sys.addLeak(rec)
	}
	p.mu.Unlock()
	stack := stacksMentioning(allStacks(), rec.typeName)
	p.sys.log.Warn("actor abandoned", zap.String("actor", p.path), zap.String("stack", stack))
	p.sys.Emit(Event{Kind: EventLeaked, Path: p.path, Reason: e.reason, Err: e.err, Stack: []byte(stack)})
	p.node.endChildren(context.Background(), false)
	p.finishInc(inc, e)
}

// expired runs on a timer goroutine when the Receive entered as entry
// overran its deadline. It fences only that entry: if the goroutine has
// left it (and maybe entered user code again, for a hook or the next
// message), the CAS fails and the timer does nothing.
func (p *proc[M]) expired(inc *incarnation[M], entry uint64) {
	if !inc.phase.CompareAndSwap(entry|phUser, entry|phFenced) {
		return
	}
	stack := stacksMentioning(allStacks(), typeName(inc.actor))
	f := &Failure{Path: p.path, Err: fmt.Errorf("%w after %v", ErrDeadline, p.cfg.deadline), Message: p.cur.m, Attempt: p.attempts, stuck: []byte(stack), ID: p.sys.newFailureID(), trace: p.cur.trace()}
	if ce := p.sys.log.Check(zap.WarnLevel, "actor failed"); ce != nil {
		ce.Write(zap.String("actor", p.path), zap.String("error.type", observe.ErrorTimeout),
			zap.Stringer("failure_id", f.ID), zap.Int("attempt", f.Attempt), zap.Error(f.Err))
	}
	p.r().failures.Add(1)
	p.r().lastErr = f
	if p.attempts >= p.cfg.maxAttempts {
		p.poison()
	}
	p.sys.goStart()
	// Owner: this goroutine ends the fenced incarnation and runs whatever
	// follows (parent notification or restart); counted in sys.gos.
	go func() {
		defer p.sys.goExit()
		p.abandon(inc, ending{reason: Failed, err: f, fid: f.ID})
	}()
}

// typeName returns the name goroutine stacks give a's type: its package
// path and its name without type arguments, like "example.com/pkg.T"
// (stacksMentioning also finds the pointer-receiver form "pkg.(*T)").
// The dots of the path's last element are escaped as in symbol names.
func typeName(a any) string {
	if a == nil {
		return ""
	}
	t := reflect.TypeOf(a)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name, pkg := t.Name(), t.PkgPath()
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if name == "" || pkg == "" {
		return strings.TrimLeft(fmt.Sprintf("%T", a), "*")
	}
	i := strings.LastIndexByte(pkg, '/') + 1
	return pkg[:i] + strings.ReplaceAll(pkg[i:], ".", "%2e") + "." + name
}

// Park implements Child: the actor refuses messages until its next Start,
// and what it had queued goes to dead letters.
func (p *proc[M]) Park() {
	p.mu.Lock()
	if p.state != stWaiting {
		p.mu.Unlock()
		return
	}
	p.state = stParked
	p.parked.Store(true)
	p.mu.Unlock()
	// No goroutine owns the mailbox while waiting: drain it here.
	var fid observe.FailureID
	if r := p.rare.Load(); r != nil {
		fid = r.lastEnd.fid // read without mu: Park runs on the parent's goroutine after the end
	}
	n := 0
	dl := func(env envelope[M]) {
		n++
		p.undeliverable(env, DeadStopped, nil, 0, fid)
	}
	if p.hasCur {
		dl(p.cur)
		p.resolve()
	}
	p.dropBatch(dl)
	for _, env := range p.mb.PopBatch(nil, 0) {
		dl(env)
	}
	if n > 0 {
		p.r().deadLettered.Add(uint64(n))
	}
}

// Close implements Child: stop for good without telling the parent.
func (p *proc[M]) Close(ctx context.Context) error {
	return p.stopFinal(orBackground(ctx), false, false)
}

// Stop implements PID.
func (p *proc[M]) Stop(ctx context.Context) error { return p.stopFinal(orBackground(ctx), false, true) }

// StopNow implements PID.
func (p *proc[M]) StopNow() { _ = p.stopFinal(context.Background(), true, true) }

// stopFinal stops the actor for good: its current incarnation ends (its
// children first), then queued messages go to dead letters. It waits until
// the actor stopped or ctx ended.
func (p *proc[M]) stopFinal(ctx context.Context, kill, notify bool) error {
	p.mu.Lock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	done := p.done
	switch p.state {
	case stClosed:
		// finish may still be telling watchers: Done closes right after.
		p.mu.Unlock()
		return waitDone(ctx, done)
	case stClosing:
		inc := p.inc.Load()
		p.mu.Unlock()
		if kill && inc != nil {
			p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: true})
		}
		return waitDone(ctx, done)
	}
	prev := p.state
	p.state = stClosing
	p.notifyOnClose = notify
	inc := p.inc.Load()
	var last ending
	if r := p.rare.Load(); r != nil {
		last = r.lastEnd
	}
	p.mu.Unlock()
	e := ending{reason: Shutdown, requested: true}
	switch {
	case prev == stStarting:
		// start finishes the stop when the incarnation is built.
	case inc == nil:
		// No incarnation runs (the child is down, parked or waiting for
		// a restart): it ends for good as its last incarnation ended, so
		// watchers see the real reason, as OTP monitors do.
		if last.reason != 0 {
			e.reason, e.err, e.fid = last.reason, last.err, last.fid
		}
		p.finish(e)
	case kill:
		p.kill(inc, ending{reason: Killed, err: ErrKilled, requested: true})
	case p.endIdle(inc, e):
	default:
		p.sys.goStart()
		// Owner: this goroutine ends the incarnation within the actor's
		// shutdown time even if the caller stops waiting (ctx); it exits
		// when the incarnation ended or was abandoned. Counted in sys.gos.
		go func() {
			defer p.sys.goExit()
			p.endRequested(context.Background(), inc, e)
		}()
	}
	return waitDone(ctx, done)
}

func waitDone(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	default:
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done implements PID.
func (p *proc[M]) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = make(chan struct{})
	}
	return p.done
}

// postExit delivers a managed child's exit to this actor's HandleExit.
func (p *proc[M]) postExit(e Exit) {
	p.mb.PostSystem(sysMsg{kind: sysExit, exit: e})
}

// Stats implements PID.
func (p *proc[M]) Stats() Stats {
	ms := p.mb.Stats()
	var dead, expired, fails, restarts uint64
	if r := p.rare.Load(); r != nil {
		dead, expired, fails, restarts = r.deadLettered.Load(), r.expired.Load(), r.failures.Load(), r.restarts.Load()
	}
	return Stats{
		Accepted:     ms.Enqueued,
		Processed:    p.processed.Load(),
		DeadLettered: dead,
		Expired:      expired,
		Dropped:      ms.DroppedNewest + ms.DroppedOldest,
		Rejected:     ms.Rejected,
		InFlight:     int64(ms.Len) + p.pending.Load(),
		Failures:     fails,
		Restarts:     restarts,
		MailboxLen:   ms.Len,
		MailboxCap:   ms.Capacity,
	}
}

// Stats are an actor's counters. At every quiescent point
// Accepted = Processed + DeadLettered + Dropped + InFlight.
type Stats struct {
	// Accepted counts messages the mailbox took (Tell returned nil).
	Accepted uint64
	// Processed counts messages a Receive handled without failing.
	Processed uint64
	// DeadLettered counts accepted messages that went to dead letters
	// (poison, queued when the actor stopped, or expired).
	DeadLettered uint64
	// Expired counts the requests (made by Ask) that were not handled
	// because their asker had given up by the time they were due; they are
	// part of DeadLettered.
	Expired uint64
	// Dropped counts messages a mailbox drop policy discarded.
	Dropped uint64
	// Rejected counts sends refused because the mailbox was full.
	Rejected uint64
	// InFlight counts accepted messages not yet resolved: queued, taken
	// for handling, or awaiting redelivery.
	InFlight int64
	// Failures counts failed incarnations. Restarts counts incarnations
	// started after the first: restarts in place (the default policy) and
	// by a supervisor (after an exit, in a group restart, or by
	// RestartChild). A start that fails is not counted.
	Failures, Restarts     uint64
	MailboxLen, MailboxCap int
}

// parentNode makes a proc a Spawner for lookups of its children.
func (p *proc[M]) parentNode() *node { return &p.node }

// batchBuf holds the messages a turn took from the mailbox in one batch.
type batchBuf[M any] struct {
	items []envelope[M]
	i     int // next to handle
}

func (p *proc[M]) batchLeft() bool { return p.bb != nil && p.bb.i < len(p.bb.items) }

// dropBatch hands the batch's unhandled messages to dl and empties it.
func (p *proc[M]) dropBatch(dl func(envelope[M])) {
	b := p.bb
	if b == nil {
		return
	}
	var zero envelope[M]
	for ; b.i < len(b.items); b.i++ {
		dl(b.items[b.i])
		b.items[b.i] = zero
		p.pending.Add(-1)
	}
	b.items, b.i = b.items[:0], 0
}

// drainSystem dead-letters the Urgent messages left in the system lane of
// a stopped actor; other system messages are moot once it stopped.
func (p *proc[M]) drainSystem() {
	for {
		s, ok := p.mb.PopSystem()
		if !ok {
			return
		}
		if s.kind == sysFunc && s.msg != nil {
			// Not in Stats.DeadLettered: Urgent messages bypass the
			// mailbox, so they are not in Stats.Accepted either.
			p.deadLetter(DeadLetter{Recipient: p.path, Message: s.msg, Reason: DeadStopped})
		}
	}
}
