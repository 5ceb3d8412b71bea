package actor

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/internal/sched"
	"github.com/troupe-go/troupe/observe"
)

// The actor runtime's states and transitions.
//
// A proc's state is four interlocking machines plus a few flags. Every
// transition below says who moves it (function, goroutine), under which
// lock or atomic, and the happens-before edge its readers rely on.
//
// 1. proc.state (pstate), guarded by proc.mu; parked mirrors stParked.
//
//	stWaiting→stStarting   start (any goroutine: Spawn's, a supervisor's, the ender running defaultPolicy); mu; gen++ in the same section
//	stStarting→stRunning   start, after factory+Start hook; mu; p.inc.Store(inc) in the same section, then mb.Resume
//	stStarting→prev        start, on a StartError; mu
//	stRunning→stWaiting    finishInc (the goroutine that ends the incarnation); mu; in the same section the mailbox is suspended, p.inc=nil, inc.end=incFinishing
//	stWaiting→stParked     Park (the parent's goroutine); mu; parked.Store(true) inside it: a Tell that loads parked=true refuses, one that loaded false raced with Park and its message is drained by Park or the next start
//	any→stClosing          stopFinal, closeNow; mu; notifyOnClose is set in the same section (it is data of this transition, not a state: folding it into pstate would double every "== stClosing" test)
//	stClosing→stClosed     finish (the goroutine that ended the last incarnation, or found none); mu; parked.Store(false); Done closes after watchers ran
//
// parked cannot be folded into state: Tell reads it lock-free on its hot
// path (ref.go), and state is a plain field under mu.
//
// 2. The incarnation's end (inc.end, incEnd), guarded by proc.mu.
//
//	incLive→incFinishing   finishInc, first call only (later callers return: the end is decided once); mu
//	incFinishing→incEnded  finishInc, after the event was emitted; mu; closes ctl.exited, which kill and endRequested wait on
//
// (Was two bools, finishing and ended, with ended implying finishing.)
//
// 3. The incarnation's phase word (inc.phase, atomic): low two bits the
// phase, the bits above the count of entries into user code.
//
//	phRuntime→phUser       enterUser, on the incarnation's goroutine only (Store); everything the user code is handed was read before
//	phUser→phRuntime       leaveUser (CAS on the same entry); a failed CAS means fenced: the goroutine vanishes
//	phUser→phFenced        fence (kill, on the killer's goroutine) or expired (deadline timer goroutine, CAS on that entry only); the winner owns the proc's in-flight state (cur, bb, attempts) and ends the incarnation (abandon)
//
// inc.abort (atomic) is set once by kill, before it tries to fence: Dekker
// with phase (the goroutine stores phase then loads abort; the killer
// stores abort then loads/CASes phase; seq-cst atomics, so one sees the
// other). It cannot be folded into the phase word: the killer must publish
// it even when the goroutine is in runtime code, and a CAS loop on the
// word would make the goroutine's plain Store in enterUser a CAS (a cost on
// every Receive).
//
// ctl.vanished (under mu) records that a fenced goroutine returned from
// user code: vanish and abandon both run under mu so exactly one of them
// sees the leak record. It cannot become a fourth phase: isFenced must
// still hold for a vanished incarnation (its Context may outlive it), and
// the leak record needs mu anyway.
//
// inc.canceled (atomic; inc.cx has its own lock; neither is proc.mu)
// backs the Context's Done/Err:
// it is set once by cancel (kill, endRequested, finishInc) and read by user
// code through Done/Err, which must not take proc.mu (a fenced goroutine
// may call them while its successor holds mu).
//
// 4. The mailbox's scheduling state (sched.Mailbox.state, atomic).
//
//	idle→running           kick (a poster, then sys.schedule starts run) or TryAcquire (kill or endIdle, ending the incarnation on the caller's goroutine: acquireFor)
//	running→idle           Release (run's goroutine); it re-checks for work and may CAS back to running (the post's enqueue happens before its load of the state)
//	running→suspended      Suspend, by finishInc (under mu), by run when p.inc is nil, by finish
//	suspended→idle(→running) Resume, by start after p.inc.Store(inc); schedules a run if work is queued or pending
//
// The owner of a running mailbox owns hasCur, cur, attempts and bb. The
// ownership passes: to a killer that fenced the goroutine (phase CAS), to a
// TryAcquire caller (mailbox CAS), and to the next incarnation through mu
// (finishInc's section, read by start's). A TryAcquire caller that finds
// its incarnation already finishing gives the mailbox back (acquireFor):
// it took the successor's mailbox.
//
// hasCur stays a flag: a zero envelope is a valid message, so "no message
// in flight" cannot be told from cur alone.

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
	reason ExitReason
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

	mb sched.Mailbox[envelope[M], sysMsg]

	mu   sync.Mutex // guards state, gen, done, notifyOnClose, rare.watchers/final, and incarnation fields so marked
	gen  uint64
	done chan struct{}
	inc  atomic.Pointer[incarnation[M]] // written under mu

	// Owned by whoever owns the mailbox (the run goroutine, or a caller
	// that won TryAcquire, or the ender of a fenced incarnation); handed
	// over through mu or the mailbox state.
	bb       *batchBuf[M] // messages taken in a batch, not yet handled
	cur      envelope[M]  // message in flight: being handled, or awaiting redelivery
	attempts int32        // delivery attempts of cur (at most cfg.maxAttempts, an int32)

	pending   atomic.Int32 // taken from the mailbox, not yet resolved (at most a batch)
	processed atomic.Uint64
	rare      atomic.Pointer[procRare]
	kc        atomic.Pointer[kindStats] // set by the first start that built an actor
}

// procRare is the part of an actor that only failures, dead letters,
// watchers and the final stop need, made on first use so an idle actor
// stays small.
type procRare struct {
	deadLettered, expired, failures, restarts atomic.Uint64

	lastErr  error      // last failure of cur; owned like cur
	watchers []*watcher // guarded by proc.mu
	lastEnd  ending     // how the last incarnation ended; guarded by proc.mu
	lastFail *failRec   // the last failure, for Snapshot; guarded by proc.mu
	final    Terminated // set once under proc.mu when the actor stopped

	labels atomic.Pointer[context.Context] // profiler labels, set with kc under WithProfilerLabels
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

// control returns inc's incCtl, making it. The caller holds p.mu.
func (inc *incarnation[M]) control() *incCtl {
	if inc.ctl == nil {
		inc.ctl = new(incCtl)
	}
	return inc.ctl
}
func (p *proc[M]) isPID()              {}
func (p *proc[M]) Path() string        { return p.path }
func (p *proc[M]) Name() string        { return p.name() }
func (p *proc[M]) String() string      { return "actor " + p.path }
func (p *proc[M]) Running() bool       { return p.inc.Load() != nil }
func (p *proc[M]) Incarnation() uint64 { p.mu.Lock(); defer p.mu.Unlock(); return p.gen }

// Schedule implements sched.Scheduler: a System worker goroutine will
// run p.run (see System.schedule for who owns it).
func (p *proc[M]) Schedule() { p.sys.schedule(p) }
func (p *proc[M]) Kill()     { p.killCurrent(false) }
func (p *proc[M]) Shutdown(ctx context.Context) ExitReason {
	return p.shutdownCurrent(orBackground(ctx))
}

// adoptable reports whether a kept child can be taken over by a new
// incarnation of its parent: it has no incarnation and has not stopped.
func (p *proc[M]) adoptable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == stWaiting || p.state == stParked
}

// endIncarnation implements cell.
func (p *proc[M]) endIncarnation(ctx context.Context) { p.shutdownCurrent(ctx) }

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
		InFlight:     int64(ms.Len) + int64(p.pending.Load()),
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
