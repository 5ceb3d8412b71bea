package actor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/mailbox"
)

// A Ref[M] is the address of an actor that handles messages of type M. It
// stays valid across the actor's restarts: the mailbox and the identity
// survive, only the actor's state is rebuilt. A Ref is a small value, safe
// to copy and to use from any goroutine. The zero Ref is invalid: its
// methods return ErrNilRef (or do nothing).
//
// Nothing in a Ref's contract assumes the actor lives in this process; a
// Ref to a stopped actor refuses messages with ErrStopped.
type Ref[M any] struct {
	p *proc[M]
	x *external[M] // a Ref made by RefTo (p is then nil)
}

// PID is the lifecycle handle of an actor, independent of its message
// type: identity, stop, watch and counters.
type PID interface {
	// Path returns the actor's path, like "/sup/worker-3".
	Path() string
	// Name returns the last element of the path.
	Name() string
	// Stop stops the actor for good and gracefully: the message being
	// handled finishes, its children stop (last spawned first), its Stop
	// hook runs, and what is still queued goes to dead letters. Past the
	// actor's shutdown time it is abandoned and reported killed. Stop
	// waits until the actor stopped or ctx ended (then it returns
	// ctx.Err() and the stop goes on). It is idempotent and safe to call
	// from several goroutines.
	Stop(ctx context.Context) error
	// StopNow stops the actor for good without waiting for the message
	// being handled: its incarnation is killed (abandoned if it is in user
	// code), and no Stop hook runs. It returns when the actor stopped.
	StopNow()
	// Kill kills the actor's current incarnation from outside, as OTP's
	// exit(Pid, kill): no Stop hook runs, and a goroutine stuck in user
	// code is abandoned. Its parent treats it as a failure with reason
	// Killed (a supervisor applies its strategy; the default restarts it).
	// Without a managing parent, that restart (factory and Start hook)
	// can run on the caller's goroutine before Kill returns.
	Kill()
	// Done returns a channel closed when the actor stopped for good.
	Done() <-chan struct{}
	// Watch calls fn once when the actor stops for good (at once, on the
	// caller's goroutine, if it already has). fn runs on the goroutine
	// that stops the actor and must not block. unwatch cancels it.
	Watch(fn func(Terminated)) (unwatch func())
	// Stats returns the actor's counters.
	Stats() Stats
	isPID()
}

// Child is the handle a managing parent (a supervisor) has on a child
// spawned with SpawnChild. It controls the child's incarnations; the
// child's Ref and mailbox stay the same throughout.
type Child interface {
	PID
	// Start starts a new incarnation (the OTP start function): it calls
	// the factory and the Start hook on the caller's goroutine. It returns
	// ErrRunning if one runs, ErrStopped after Close, or a *StartError.
	Start(ctx context.Context) error
	// Shutdown ends the current incarnation the way its shutdown option
	// says: gracefully within the shutdown time (Shutdown), or killed
	// (Killed) when the time ran out, ctx ended, or it is BrutalKill. The
	// parent gets no Exit for it. Messages keep queueing for the next
	// Start.
	Shutdown(ctx context.Context) ExitReason
	// Park makes a child without an incarnation refuse messages (to dead
	// letters) until its next Start; what it had queued goes to dead
	// letters.
	Park()
	// Close stops the child for good without an Exit to the parent.
	Close(ctx context.Context) error
	// Running reports whether an incarnation runs.
	Running() bool
	// Incarnation counts the incarnations started so far.
	Incarnation() uint64
}

// Durations with a special meaning for WithShutdown.
const (
	// BrutalKill means stopping the actor kills it at once (OTP brutal_kill).
	BrutalKill time.Duration = -1
	// Infinity means stopping the actor waits as long as it takes.
	Infinity time.Duration = math.MaxInt64
)

// Defaults of the spawn options.
const (
	DefaultThroughput  = 64
	DefaultMaxAttempts = 3
	DefaultShutdown    = 5 * time.Second
)

type config struct {
	mailbox     *mailbox.Config
	throughput  int
	maxAttempts int
	deadline    time.Duration
	shutdown    time.Duration
	passPanics  bool
	keep        bool
	kind        string
	labels      []string // WithExtraProfilerLabels
	undelivered func(DeadLetter) bool
	failed      func(*Failure) // WithFailure
}

var defaultConfig = config{
	throughput:  DefaultThroughput,
	maxAttempts: DefaultMaxAttempts,
	shutdown:    DefaultShutdown,
}

// A SpawnOption configures one actor.
type SpawnOption interface{ applySpawn(*config) error }

type spawnFunc func(*config) error

func (f spawnFunc) applySpawn(c *config) error { return f(c) }

// WithMailbox bounds the actor's mailbox to capacity messages with the
// given overflow policy. The default mailbox is unbounded. The actor takes
// up to WithThroughput messages out of its mailbox at a time for its turn,
// so up to capacity + throughput accepted messages can be waiting to be
// handled; use WithThroughput(1) for a strict bound of capacity + 1.
func WithMailbox(capacity int, policy mailbox.Policy) SpawnOption {
	return WithMailboxConfig(mailbox.Config{Capacity: capacity, Policy: policy})
}

// WithMailboxConfig sets the full mailbox configuration (watermarks
// included).
func WithMailboxConfig(cfg mailbox.Config) SpawnOption {
	return spawnFunc(func(c *config) error {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		c.mailbox = &cfg
		return nil
	})
}

// WithThroughput sets how many messages the actor handles per turn before
// it yields its goroutine (fairness). Default DefaultThroughput.
func WithThroughput(n int) SpawnOption {
	return spawnFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: throughput %d < 1", ErrInvalidOption, n)
		}
		c.throughput = n
		return nil
	})
}

// WithMaxAttempts sets how many times a message is delivered before a
// failing one goes to dead letters as poison. Default DefaultMaxAttempts.
// A value above math.MaxInt32 counts as math.MaxInt32 (no limit in
// practice).
func WithMaxAttempts(n int) SpawnOption {
	return spawnFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max attempts %d < 1", ErrInvalidOption, n)
		}
		c.maxAttempts = min(n, math.MaxInt32)
		return nil
	})
}

// WithDeadline sets a per-message deadline: a Receive that runs longer is
// a failure (ErrDeadline) supervised like a panic; its goroutine is
// abandoned (fenced, reported with its stack, counted as leaked until it
// returns) and the incarnation ends. Zero (the default) means none.
func WithDeadline(d time.Duration) SpawnOption {
	return spawnFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative deadline", ErrInvalidOption)
		}
		c.deadline = d
		return nil
	})
}

// WithShutdown sets how long a stop waits for the actor before killing it:
// a duration, BrutalKill or Infinity. Default DefaultShutdown.
func WithShutdown(d time.Duration) SpawnOption {
	return spawnFunc(func(c *config) error {
		if d < 0 && d != BrutalKill {
			return fmt.Errorf("%w: shutdown %v", ErrInvalidOption, d)
		}
		c.shutdown = d
		return nil
	})
}

// WithPassThroughPanics makes panics in the actor's code crash the
// program instead of becoming failures. For debugging only.
func WithPassThroughPanics() SpawnOption {
	return spawnFunc(func(c *config) error { c.passPanics = true; return nil })
}

// WithKeepOnParentRestart makes a managed child (SpawnChild) outlive the
// incarnations of its parent: when the parent's incarnation ends, the
// child's current incarnation ends too (within its shutdown time, as any
// child's), but its Ref, its mailbox and the messages queued in it stay.
// The next incarnation of the parent that calls SpawnChild with the same
// name and message type gets that child back (with the factory and
// options it was first spawned with) and starts it again; meanwhile
// messages keep queueing (a bounded mailbox pushes back). The child stops
// for good when its parent does, or when the parent closes it. This is
// how a supervisor's children keep their Refs across restarts of the
// supervisor. Spawn rejects it with ErrInvalidOption.
func WithKeepOnParentRestart() SpawnOption {
	return spawnFunc(func(c *config) error { c.keep = true; return nil })
}

// WithUndelivered sets the actor's own hook for the messages it could
// not handle: those queued when it stopped for good or sent after
// (DeadStopped, Urgent ones included), those a drop policy discarded
// (DeadDropped), poison messages (DeadPoison) and requests whose asker
// gave up (DeadExpired). f is called instead of the System's dead-letter
// sink (WithDeadLetters) with the dead letter it would have got, on the
// same goroutine and under the same rules: fast, non-blocking, possibly
// concurrent. It reports whether it took the message; one it took is not
// a dead letter of the System (not in System.DeadLetters, no
// EventDeadLetter, not logged), one it did not take goes to the System's
// sink as usual. The actor's Stats count both kinds in DeadLettered, and
// a request's Ask ends with an *UndeliveredError either way. A layer that
// owns an actor's messages (a pipeline's workers) uses it to take them
// back without a System-wide sink. A nil f is skipped.
func WithUndelivered(f func(DeadLetter) bool) SpawnOption {
	return spawnFunc(func(c *config) error {
		if f != nil {
			c.undelivered = f
		}
		return nil
	})
}

// WithFailure sets a hook the runtime calls with each failure of the
// actor's code: a Receive, an Urgent message or a HandleExit that
// returned an error or panicked (the runtime recovers the panic into a
// *PanicError, unless WithPassPanics). f runs on the actor's goroutine
// right after the failing call, before anything follows from the
// failure: the incarnation's children and Stop hook, the poison
// decision, the parent's or the restart policy's, the redelivery. So f
// may update what the actor keeps across its incarnations without
// locks, as the failed incarnation could have, and the next incarnation
// sees it. f.Message and f.Attempt are the failed mailbox message and
// its delivery attempt (nil and 0 for an Urgent message or HandleExit):
// the message is redelivered to the next incarnation, or dead-lettered
// as poison right after f if that was its last attempt
// (WithMaxAttempts). A layer that handles its messages in parts (a
// pipeline worker's batch of items) uses it to record which part failed,
// so that the redelivered message resumes there, and leaves recovering
// and restarting to the runtime.
//
// StopNormal, StopShutdown, a kill, a failed Start hook and a Receive
// that overran its deadline (WithDeadline: it may still be running) are
// not passed to f. f must be fast and must not block: a kill cannot cut
// it short. A panic in f is recovered and logged; the failure is then
// handled as if f had returned. A nil f is skipped.
func WithFailure(f func(*Failure)) SpawnOption {
	return spawnFunc(func(c *config) error {
		if f != nil {
			c.failed = f
		}
		return nil
	})
}

// A Spawner is where an actor can be spawned: a *System (top level) or an
// actor's Context (a child of that actor).
type Spawner interface {
	parentNode() *node
}

func (s *System) parentNode() *node { return &s.root }

var autoName atomic.Uint64

// Spawn creates an actor under parent and starts its first incarnation:
// factory is called (now and on every restart) to build the actor, and
// its Start hook, if any, runs on the caller's goroutine before Spawn
// returns. name must be unique among parent's children; "" picks one.
// factory is called exactly once per incarnation that starts (or fails
// to start); a factory that returns nil fails the start with
// ErrNilFactory.
//
// The actor's failures are handled in place: it restarts with a fresh
// actor from factory, keeping its Ref and mailbox, and the failed message
// is redelivered up to WithMaxAttempts times, then dead-lettered. If a
// restart's Start hook fails WithMaxAttempts times in a row, the actor
// stops for good (reason Failed). Use the supervisor package for OTP
// strategies, restart intensity and backoff.
func Spawn[M any](parent Spawner, name string, factory func() Actor[M], opts ...SpawnOption) (Ref[M], error) {
	p, err := newProc(parent, name, factory, false, opts)
	if err != nil {
		return Ref[M]{}, err
	}
	if err := p.start(); err != nil {
		p.closeNow(ending{reason: Failed, err: err, requested: true})
		if errors.Is(err, ErrStopped) && p.sys.closing.Load() {
			// Shutdown stopped it while it was starting.
			err = fmt.Errorf("actor %s: %w", p.path, ErrSystemStopped)
		}
		return Ref[M]{}, err
	}
	return Ref[M]{p: p}, nil
}

// SpawnChild creates a managed child of the actor that ctx belongs to,
// without starting it: the caller starts it with Child.Start and gets an
// Exit through its ExitHandler each time an incarnation ends by itself.
// It returns ErrNotParent if that actor does not implement ExitHandler.
// This is how supervisors are built.
func SpawnChild[M any](ctx Context, name string, factory func() Actor[M], opts ...SpawnOption) (Ref[M], Child, error) {
	if h, ok := ctx.(interface{ handlesExits() bool }); !ok || !h.handlesExits() {
		return Ref[M]{}, nil, ErrNotParent
	}
	p, err := newProc(ctx, name, factory, true, opts)
	if err != nil {
		return Ref[M]{}, nil, err
	}
	return Ref[M]{p: p}, p, nil
}

func newProc[M any](parent Spawner, name string, factory func() Actor[M], managed bool, opts []SpawnOption) (*proc[M], error) {
	if parent == nil {
		return nil, fmt.Errorf("actor: nil parent: %w", ErrNilRef)
	}
	if c, ok := parent.(context.Context); ok && isFenced(c) {
		return nil, ErrFenced
	}
	if factory == nil {
		return nil, ErrNilFactory
	}
	pn := parent.parentNode()
	if pn.sys.closing.Load() {
		return nil, ErrSystemStopped
	}
	cfg := &defaultConfig
	if len(opts) > 0 {
		c := defaultConfig
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o.applySpawn(&c); err != nil {
				return nil, err
			}
		}
		cfg = &c
	}
	if cfg.keep {
		if !managed || name == "" {
			return nil, fmt.Errorf("%w: WithKeepOnParentRestart needs SpawnChild and a name", ErrInvalidOption)
		}
		if n := pn.child(name); n != nil {
			// A kept child of an earlier incarnation of the parent.
			if p, ok := n.cell.(*proc[M]); ok && p.cfg.keep && p.adoptable() {
				// Spawned again, in effect: it stops in the parent's
				// new spawn order.
				pn.toEnd(n)
				return p, nil
			}
			return nil, fmt.Errorf("actor %s/%s: %w", pn.path, name, ErrNameTaken)
		}
	}
	auto := name == ""
	if auto {
		name = "$" + strconv.FormatUint(autoName.Add(1), 10)
	} else if strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	p := &proc[M]{factory: factory, cfg: cfg, managed: managed}
	p.node.init(pn, name, p)
	if err := p.mb.Init(cfg.mailbox, p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	p.mb.Suspend()
	if err := pn.addChild(&p.node, auto); err != nil {
		return nil, fmt.Errorf("actor %s: %w", p.path, err)
	}
	return p, nil
}

// Tell sends m to the actor. It returns once the mailbox took m; on a full
// bounded mailbox with the Block policy it waits for space or for ctx to
// end (returning ctx.Err()). It returns ErrStopped if the actor stopped
// (m goes to dead letters), ErrFull under the Reject policy, ErrFenced when
// ctx is the Context of an abandoned incarnation, ErrNilRef for a zero
// Ref. Under a drop policy it returns nil even when m (DropNewest) or an
// older message (DropOldest) was dropped; drops are counted and
// dead-lettered with reason DeadDropped. With a Propagator installed
// (WithPropagator), what it injects from ctx travels with m.
func (r Ref[M]) Tell(ctx context.Context, m M) error {
	p := r.p
	if ctx == nil {
		ctx = context.Background()
	} else if isFenced(ctx) {
		return ErrFenced
	}
	if p == nil {
		if r.x != nil {
			return r.x.e.Tell(ctx, m)
		}
		return ErrNilRef
	}
	env := envelope[M]{m: m}
	if p.sys.perMsg {
		env.rq = p.sys.tellRequest(ctx)
	}
	return p.post(ctx, env)
}

// post puts env in the mailbox, as Tell does.
func (p *proc[M]) post(ctx context.Context, env envelope[M]) error {
	if p.parked.Load() {
		return p.refuse(env.m)
	}
	dropped, was, err := p.mb.Post(ctx, env)
	return p.posted(env.m, dropped, was, err)
}

// TryTell is Tell that never waits: on a full bounded mailbox it returns
// ErrFull (with the Block and Reject policies). It takes no ctx, so it
// carries no trace; use Tell for a message that should.
func (r Ref[M]) TryTell(m M) error {
	p := r.p
	if p == nil {
		if r.x != nil {
			return r.x.e.TryTell(m)
		}
		return ErrNilRef
	}
	if p.parked.Load() {
		return p.refuse(m)
	}
	env := envelope[M]{m: m}
	if p.sys.perMsg {
		env.rq = p.sys.tellRequest(nil) // no ctx: the clocks only
	}
	dropped, was, err := p.mb.TryPost(env)
	return p.posted(m, dropped, was, err)
}

func (p *proc[M]) refuse(m M) error {
	p.deadLetter(DeadLetter{Recipient: p.path, Message: m, Reason: DeadStopped})
	return fmt.Errorf("actor %s: %w", p.path, ErrStopped)
}

func (p *proc[M]) posted(m M, dropped envelope[M], was bool, err error) error {
	switch {
	case err == nil:
		if was {
			// Counted by the mailbox (Stats.Dropped); a dropped request
			// ends its Ask at once.
			p.undeliverable(dropped, DeadDropped, nil, 0, 0)
			if k := p.kc.Load(); k != nil {
				k.addDropped(p.cfg.mailbox)
			}
		}
		return nil
	case err == mailbox.ErrClosed:
		return p.refuse(m)
	}
	return err
}

// Path returns the actor's path ("" for a zero Ref).
func (r Ref[M]) Path() string {
	if r.p == nil {
		if r.x != nil {
			return r.x.pid().Path()
		}
		return ""
	}
	return r.p.path
}

// Name returns the last element of the actor's path ("" for a zero Ref).
func (r Ref[M]) Name() string {
	if r.p == nil {
		if r.x != nil {
			return r.x.pid().Name()
		}
		return ""
	}
	return r.p.Name()
}

// PID returns the actor's lifecycle handle (nil for a zero Ref).
func (r Ref[M]) PID() PID {
	if r.p == nil {
		if r.x != nil {
			return r.x.e.PID()
		}
		return nil
	}
	return r.p
}

// Stop stops the actor for good; see PID.Stop. A nil ctx waits as long as
// the stop takes.
func (r Ref[M]) Stop(ctx context.Context) error {
	if r.p == nil {
		if r.x != nil {
			return r.x.pid().Stop(orBackground(ctx))
		}
		return ErrNilRef
	}
	return r.p.Stop(orBackground(ctx))
}

// orBackground is the package's rule for a nil context: it is
// context.Background().
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// StopNow stops the actor for good without waiting; see PID.StopNow.
func (r Ref[M]) StopNow() error {
	if r.p == nil {
		if r.x != nil {
			r.x.pid().StopNow()
			return nil
		}
		return ErrNilRef
	}
	r.p.StopNow()
	return nil
}

// Stats returns the actor's counters.
func (r Ref[M]) Stats() Stats {
	if r.p == nil {
		if r.x != nil {
			return r.x.pid().Stats()
		}
		return Stats{}
	}
	return r.p.Stats()
}

// String returns "actor PATH".
func (r Ref[M]) String() string { return "actor " + r.Path() }

// Urgent delivers m ahead of every queued message, through the system
// lane, ignoring the mailbox bound. It is meant for control messages
// (timers, watch notifications), not for data. It returns ErrStopped if
// the actor stopped.
func (r Ref[M]) Urgent(m M) error {
	p := r.p
	if p == nil {
		if r.x != nil {
			return r.x.urgent()
		}
		return ErrNilRef
	}
	if p.mb.Closed() {
		return p.refuse(m)
	}
	p.mb.PostSystem(sysMsg{kind: sysFunc, msg: m, fn: func(ctx Context) error {
		inc := ctx.(*incarnation[M])
		return inc.actor.Receive(inc, m)
	}})
	if p.mb.Closed() {
		// The actor stopped while we posted: make sure the message is not
		// left behind in the lane (finish may have drained it already).
		p.drainSystem()
		return fmt.Errorf("actor %s: %w", p.path, ErrStopped)
	}
	return nil
}

// LookupChild is FindChild with a bool: it reports false both when there
// is no such child and when its message type is not M.
func LookupChild[M any](parent PID, name string) (Ref[M], bool) {
	ref, err := FindChild[M](parent, name)
	return ref, err == nil
}

// Lookup is Find with a bool: it reports false both when there is no such
// child and when its message type is not M.
func Lookup[M any](parent Spawner, name string) (Ref[M], bool) {
	ref, err := Find[M](parent, name)
	return ref, err == nil
}

// FindChild finds the child name of the actor behind parent; see Find.
func FindChild[M any](parent PID, name string) (Ref[M], error) {
	sp, ok := parent.(Spawner)
	if !ok {
		return Ref[M]{}, fmt.Errorf("actor: nil parent: %w", ErrNilRef)
	}
	return Find[M](sp, name)
}

// Find finds the child name of parent and returns its Ref. It returns an
// error matching ErrNotFound if parent has no child of that name (actors
// spawned with an empty, automatic name are never found), and a
// *TypeError matching ErrWrongType, naming both types, if the child's
// message type is not M. A nil parent gives an error matching ErrNilRef.
func Find[M any](parent Spawner, name string) (Ref[M], error) {
	if parent == nil {
		return Ref[M]{}, fmt.Errorf("actor: nil parent: %w", ErrNilRef)
	}
	pn := parent.parentNode()
	n := pn.child(name)
	if n == nil {
		return Ref[M]{}, fmt.Errorf("actor %s: child %q: %w", pathOrRoot(pn.path), name, ErrNotFound)
	}
	p, ok := n.cell.(*proc[M])
	if !ok {
		have := "?"
		if t, ok := n.cell.(interface{ msgType() string }); ok {
			have = t.msgType()
		}
		return Ref[M]{}, &TypeError{Path: n.path, Want: reflect.TypeFor[M]().String(), Have: have}
	}
	return Ref[M]{p: p}, nil
}

// msgType names the actor's message type, for TypeError.
func (p *proc[M]) msgType() string { return reflect.TypeFor[M]().String() }

func pathOrRoot(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// Len returns the number of messages queued in the actor's mailbox, read
// without locking (routers use it to find the least loaded actor).
func (r Ref[M]) Len() int {
	if r.p == nil {
		return 0
	}
	return r.p.mb.Len()
}
