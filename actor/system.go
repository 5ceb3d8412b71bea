package actor

import (
	"context"
	"fmt"
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

var errFull = mailbox.ErrFull

// A System is the root of an actor tree: it owns every actor spawned under
// it, their goroutines, the dead-letter sink and the event sink. Build one
// with NewSystem and end it with Shutdown. A System must not be copied.
type System struct {
	log    *zap.Logger
	dead   func(DeadLetter)
	events func(Event)
	now    func() time.Time
	faults FaultInjector

	root node // top-level actors

	closing atomic.Bool

	// Goroutine accounting: every goroutine the runtime starts is counted
	// in gos; Shutdown waits for the count to reach zero.
	gos    atomic.Int64
	zeroMu sync.Mutex    // guards zeroCh
	zeroCh chan struct{} // closed when gos reaches zero while Shutdown waits

	deadCount atomic.Uint64

	// Worker pool: goroutines that finished draining an actor park here
	// (at most maxIdle of them) and are handed the next actor to drain, so
	// a wake-up reuses a goroutine and its grown stack instead of starting
	// a fresh one. Parked workers belong to the System, not to an actor.
	poolMu     sync.Mutex // guards parked, poolClosed
	parked     []*worker  // LIFO: the most recently parked has the warmest stack
	poolClosed bool
	idle       atomic.Int32 // len(parked), for Goroutines
	maxIdle    int

	leakMu sync.Mutex
	leaked map[*leakRec]struct{} // abandoned incarnations still running

	failSeq       atomic.Uint64 // failure IDs
	subMu         sync.Mutex    // guards changes of subs, subsClosed
	subs          atomic.Pointer[[]*subscription]
	subsClosed    bool
	eventsDropped atomic.Uint64
	dlSince       atomic.Uint64 // dead letters since the last log line
	dlLogged      atomic.Int64  // unix nanos of the last dead-letter log line
	deadBy        [deadReasons]atomic.Uint64
	name          string
	kinds         kinds
	pipeMu        sync.Mutex // guards pipes
	pipes         []*pipeReg

	// Opt-in per-message instruments (hot.go), fixed by NewSystem.
	prop   observe.Propagator
	clocks bool
	labels bool
	perMsg bool       // prop != nil || clocks: a Tell may carry a request
	epoch  time.Time  // origin of mono
	sinkMu sync.Mutex // guards changes of sinks
	sinks  atomic.Pointer[[]*sinkReg]
}

type leakRec struct {
	path     string
	typeName string
}

// An Option configures a System.
type Option interface{ apply(*System) }

type optionFunc func(*System)

func (f optionFunc) apply(s *System) { f(s) }

// WithLogger sets the system's logger. The default is a no-op logger.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(s *System) {
		if l != nil {
			s.log = l
		}
	})
}

// WithDeadLetters sets the dead-letter sink. It is called synchronously on
// the goroutine that dead-letters the message, so it must be fast and must
// not block; it may be called concurrently. The default only counts them.
func WithDeadLetters(f func(DeadLetter)) Option {
	return optionFunc(func(s *System) {
		if f != nil {
			s.dead = f
		}
	})
}

// WithEvents sets the event sink. It is called synchronously, in causal
// order for each actor, on the goroutine where the event happens, so it
// must be fast and must not block; it may be called concurrently.
func WithEvents(f func(Event)) Option {
	return optionFunc(func(s *System) {
		if f != nil {
			s.events = f
		}
	})
}

// WithClock sets the time source used for event timestamps. Tests use it;
// the default is time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(s *System) {
		if now != nil {
			s.now = now
		}
	})
}

// A FaultInjector is consulted by the runtime before every Receive and
// every start of an incarnation, when set with WithFaultInjector. Chaos
// tests use it (see package chaos) to kill, slow down or stall actors
// chosen by path. Each runs on the goroutine that runs the user code that
// follows it (BeforeReceive on the goroutine draining the actor,
// BeforeStart on the one that starts the incarnation; see Starter), as
// part of that user code, and both must be safe for concurrent use.
type FaultInjector interface {
	// BeforeReceive runs just before Receive. A returned error or a panic
	// is a failure of that message, exactly as if Receive had failed;
	// blocking delays the message (and past a deadline or a shutdown time
	// the incarnation is abandoned like any stuck Receive, so a stall
	// should end when ctx is done).
	BeforeReceive(ctx Context) error
	// BeforeStart runs before the Start hook; an error fails the start.
	BeforeStart(ctx Context) error
}

// WithFaultInjector installs a FaultInjector. Without one (the default)
// the runtime pays one nil check per message.
func WithFaultInjector(f FaultInjector) Option {
	return optionFunc(func(s *System) {
		if f != nil {
			s.faults = f
		}
	})
}

// NewSystem returns a running System. Nil options are skipped.
func NewSystem(opts ...Option) *System {
	s := &System{
		log:     zap.NewNop(),
		name:    "troupe",
		now:     time.Now,
		maxIdle: 4 * runtime.GOMAXPROCS(0),
	}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	s.root.sys = s
	s.perMsg = s.prop != nil || s.clocks
	s.epoch = time.Now()
	return s
}

// Logger returns the system's logger.
func (s *System) Logger() *zap.Logger { return s.log }

// DeadLetters returns how many messages went to dead letters.
func (s *System) DeadLetters() uint64 { return s.deadCount.Load() }

func (s *System) deadLetter(d DeadLetter) {
	s.deadCount.Add(1)
	if int(d.Reason) < len(s.deadBy) {
		s.deadBy[d.Reason].Add(1)
	}
	if s.dead != nil {
		s.dead(d)
	}
	if s.observed() {
		s.Emit(Event{Kind: EventDeadLetter, Path: d.Recipient, Err: d.Err, FailureID: d.FailureID, DeadReason: d.Reason})
	}
	s.logDeadLetter(d)
}

// runner is an actor whose mailbox needs draining.
type runner interface{ run() }

// A worker is a pool goroutine; it parks on its own channel so waking one
// touches no channel shared with the others.
type worker struct {
	next chan runner // cap 1; nil means exit
}

// schedule hands r to a parked worker, or starts a new one.
func (s *System) schedule(r runner) {
	s.poolMu.Lock()
	if n := len(s.parked); n > 0 {
		w := s.parked[n-1]
		s.parked[n-1] = nil
		s.parked = s.parked[:n-1]
		s.idle.Add(-1)
		s.poolMu.Unlock()
		w.next <- r // never blocks: cap 1 and the worker took the last one
		return
	}
	s.poolMu.Unlock()
	s.goStart()
	// Owner: the System. The worker drains r, then parks for the next
	// actor while fewer than maxIdle workers are parked; it exits when too
	// many are parked or when Shutdown closes the pool. Counted in gos, so
	// Shutdown waits for it.
	go s.work(&worker{next: make(chan runner, 1)}, r)
}

func (s *System) work(w *worker, r runner) {
	defer s.goExit()
	for r != nil {
		r.run()
		if s.labels {
			pprof.SetGoroutineLabels(context.Background())
		}
		s.poolMu.Lock()
		if s.poolClosed || len(s.parked) >= s.maxIdle {
			s.poolMu.Unlock()
			return
		}
		s.parked = append(s.parked, w)
		s.idle.Add(1)
		s.poolMu.Unlock()
		r = <-w.next
	}
}

// closePool makes parked workers exit, and later ones not park.
func (s *System) closePool() {
	s.poolMu.Lock()
	s.poolClosed = true
	parked := s.parked
	s.parked = nil
	s.idle.Add(-int32(len(parked)))
	s.poolMu.Unlock()
	for _, w := range parked {
		w.next <- nil
	}
}

// goStart counts a goroutine about to be started; goExit uncounts it.
func (s *System) goStart() { s.gos.Add(1) }

func (s *System) goExit() {
	if s.gos.Add(-1) == 0 {
		s.zeroMu.Lock()
		if s.zeroCh != nil && s.gos.Load() == 0 {
			close(s.zeroCh)
			s.zeroCh = nil
		}
		s.zeroMu.Unlock()
	}
}

// Goroutines returns the number of goroutines the runtime currently runs
// for this system's actors: workers draining a mailbox, and abandoned
// incarnations. An idle actor holds none. Workers parked in the pool,
// waiting for the next actor to drain (at most 4×GOMAXPROCS), are not
// counted; Shutdown ends them.
func (s *System) Goroutines() int { return int(s.gos.Load() - int64(s.idle.Load())) }

func (s *System) addLeak(r *leakRec) {
	s.leakMu.Lock()
	if s.leaked == nil {
		s.leaked = make(map[*leakRec]struct{})
	}
	s.leaked[r] = struct{}{}
	s.leakMu.Unlock()
}

func (s *System) removeLeak(r *leakRec) {
	s.leakMu.Lock()
	delete(s.leaked, r)
	s.leakMu.Unlock()
}

// Leaked returns the incarnations that were abandoned after their
// shutdown time or deadline and whose goroutine is still running.
func (s *System) Leaked() []Stuck {
	s.leakMu.Lock()
	recs := make([]*leakRec, 0, len(s.leaked))
	for r := range s.leaked {
		recs = append(recs, r)
	}
	s.leakMu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	all := allStacks()
	out := make([]Stuck, len(recs))
	for i, r := range recs {
		out[i] = Stuck{Path: r.path, Stack: stacksMentioning(all, r.typeName)}
	}
	return out
}

// Shutdown stops every actor, children before their parents and siblings
// in reverse spawn order, each within its shutdown time, then waits until
// every goroutine the runtime started has exited. If ctx ends first it
// returns a *ShutdownError listing what is still running (errors.Is(err,
// context.DeadlineExceeded) holds for a deadline). Spawn fails with
// ErrSystemStopped once Shutdown has begun. Shutdown is safe to call more
// than once and from several goroutines. A nil ctx waits as long as it
// takes.
func (s *System) Shutdown(ctx context.Context) error {
	ctx = orBackground(ctx)
	s.closing.Store(true)
	s.root.stopChildren(ctx)
	s.closePool()
	defer s.closeSubscriptions()
	for {
		s.zeroMu.Lock()
		if s.gos.Load() == 0 {
			s.zeroMu.Unlock()
			return nil
		}
		if s.zeroCh == nil {
			s.zeroCh = make(chan struct{})
		}
		ch := s.zeroCh
		s.zeroMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			stuck := s.Leaked()
			if len(stuck) == 0 {
				stuck = []Stuck{{Path: "(runtime)", Stack: fmt.Sprintf("%d goroutines still running", s.gos.Load())}}
			}
			return &ShutdownError{Err: ctx.Err(), Stuck: stuck}
		}
	}
}

func allStacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// stacksMentioning returns the goroutine stacks in all that mention the
// type name (see typeName): a frame of a method with a value receiver
// reads "pkg.T.M" (or "pkg.T[...].M"), one with a pointer receiver
// "pkg.(*T).M" (or "pkg.(*T[...]).M").
func stacksMentioning(all, name string) string {
	if name == "" {
		return ""
	}
	pats := []string{name + ".", name + "["}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		ptr := name[:i] + ".(*" + name[i+1:]
		pats = append(pats, ptr+")", ptr+"[")
	}
	var b strings.Builder
	for _, g := range strings.Split(all, "\n\n") {
		if containsAny(g, pats) {
			b.WriteString(g)
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// DeadLetterReason says why a message became a dead letter.
type DeadLetterReason uint8

const (
	// DeadStopped means the recipient had stopped, or stopped before
	// handling it.
	DeadStopped DeadLetterReason = iota + 1
	// DeadPoison means the message failed on every delivery attempt.
	DeadPoison
	// DeadDropped means a mailbox drop policy discarded it.
	DeadDropped
	// DeadReply means the message was a reply whose asker had gone.
	DeadReply
	// DeadExpired means the message was a request (made by Ask) whose
	// asker had given up by the time it was due; it was not handled.
	DeadExpired
	// DeadLost means a transport (the remote module) had accepted the
	// message for an actor of another process and did not know it
	// delivered when the connection to that process was lost ("lost in
	// transit").
	DeadLost
	// DeadUndecodable means a message from another process could not be
	// decoded (an unknown type or bad bytes); Message holds what arrived.
	DeadUndecodable

	deadReasons = iota + 1 // size of a table indexed by reason
)

// String returns the reason's name.
func (r DeadLetterReason) String() string {
	switch r {
	case DeadStopped:
		return "stopped"
	case DeadPoison:
		return "poison"
	case DeadDropped:
		return "dropped"
	case DeadReply:
		return "reply"
	case DeadExpired:
		return "expired"
	case DeadLost:
		return "lost"
	case DeadUndecodable:
		return "undecodable"
	}
	return fmt.Sprintf("DeadLetterReason(%d)", uint8(r))
}

// A DeadLetter is a message that could not be delivered or handled.
type DeadLetter struct {
	Recipient string
	Message   any
	Reason    DeadLetterReason
	// Err is the last failure for a poison message, the asker's
	// ctx.Err() for an expired request, else nil.
	Err      error
	Attempts int
	// FailureID is the failure that sent the message to dead letters: the
	// last failure of a poison message, or the failure that stopped the
	// actor for good; 0 if none.
	FailureID observe.FailureID
}

// EventKind identifies an Event.
type EventKind uint8

// Event kinds. The actor runtime emits Started, Stopped, Failed, Restarted,
// Killed, Leaked and DeadLetter; supervisors emit Restarted, Backoff,
// GaveUp and Escalated (a nested supervisor that gave up).
const (
	EventStarted EventKind = iota + 1
	EventStopped
	EventFailed
	EventRestarted
	EventKilled
	EventDeadLetter
	EventBackoff
	EventEscalated
	EventGaveUp
	EventLeaked
)

var eventNames = [...]string{"", "started", "stopped", "failed", "restarted", "killed", "dead-letter", "backoff", "escalated", "gave-up", "leaked"}

// String returns the kind's name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k > 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// An Event is a lifecycle notification from the runtime or a supervisor.
type Event struct {
	Kind   EventKind
	Path   string
	Reason ExitReason
	Err    error
	// Stack is set for failures caused by a panic and for killed or
	// leaked incarnations when a stack could be found.
	Stack []byte
	// Delay is the backoff delay of an EventBackoff.
	Delay time.Duration
	Time  time.Time
	// FailureID is the failure this event is, or follows from: a
	// restart, backoff, escalation, give-up or dead letter caused by a
	// failure carries that failure's ID. 0 if none.
	FailureID observe.FailureID
	// ErrorType classifies Err (see ErrorType).
	ErrorType string
	// DeadReason is the reason of an EventDeadLetter.
	DeadReason DeadLetterReason
	// Trace is what the Propagator carried with the message that was
	// being handled when a failure happened; nil otherwise.
	Trace any
}

func (e Event) String() string {
	s := e.Kind.String() + " " + e.Path
	if e.Reason != 0 {
		s += " " + e.Reason.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
