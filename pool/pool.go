package pool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/route"
	"github.com/troupe-go/troupe/supervisor"
)

// Errors of the pool. They are sentinels: compare with errors.Is.
var (
	// ErrInvalid is wrapped by the error New and Spec return for a bad
	// argument or option (an empty name, a nil parent or factory, a
	// router that does not fit the workers), and by Resize out of range.
	ErrInvalid = errors.New("pool: invalid")
	// ErrNotStarted is returned for a message to a pool built by Spec
	// before its supervisor started it.
	ErrNotStarted = errors.New("pool: not started")
	// ErrSupervised is returned by Stop, Wait and Run of a pool built by
	// Spec: its supervisor stops it.
	ErrSupervised = errors.New("pool: stopped by its supervisor")
)

// A Pool of M is one handle in front of its workers, actors of M. It is
// safe for concurrent use. Build one with New or Spec.
type Pool[M any] struct {
	name   string
	cfg    config
	slots  []slot[M]
	active atomic.Int32
	pk     *route.Picker
	hash   func(M) uint64 // ByKey routers
	// track: the workers keep busy (least-loaded routing or an
	// autoscaler reads it).
	track bool

	sup     *supervisor.Supervisor // New only
	ups     atomic.Uint64          // autoscaler decisions
	downs   atomic.Uint64
	scaleMu sync.Mutex
	scaleOn actor.PID     // the worker whose life the autoscaler follows
	scaled  chan struct{} // closed when that autoscaler returned
}

// slot is what the pool knows of worker i. ref is set by the worker's
// Start hook; busy is 1 while its Receive runs (least-loaded and
// autoscaled pools only); busyNs adds up the time spent in Receive
// (autoscaled pools only).
type slot[M any] struct {
	ref    atomic.Pointer[actor.Ref[M]]
	busy   atomic.Int32
	busyNs atomic.Int64
	_      [40]byte // keep workers' counters off each other's cache lines
}

// New starts a pool called name under parent (an *actor.System, or an
// actor's Context): a supervisor (one for one) over its workers, actors
// built by newWorker (called for every start of a worker, so a restart
// gets fresh state). The workers are named worker-1, worker-2, ... It
// returns an error wrapping ErrInvalid for an empty name, a nil parent or
// newWorker, or a bad option, and the supervisor's error if it could not
// start.
func New[M any](parent actor.Spawner, name string, newWorker func() actor.Actor[M], opts ...Option) (*Pool[M], error) {
	if parent == nil {
		return nil, fmt.Errorf("%w: nil parent", ErrInvalid)
	}
	p, err := build(name, newWorker, opts)
	if err != nil {
		return nil, err
	}
	sup, err := supervisor.Start(parent, name, p.specs(newWorker), p.supOptions()...)
	if err != nil {
		return nil, err
	}
	p.sup = sup
	return p, nil
}

// Spec returns a pool that a supervisor runs, and the child spec to give
// that supervisor (supervisor.Start, NewSupervisor or StartChild): a
// nested supervisor, of id id, over the pool's workers. Messages to the
// pool before the supervisor started it return ErrNotStarted. The
// workers' Refs, and so what is queued for them, are kept across restarts
// of that child as for any nested supervisor (see supervisor.NewSupervisor).
// It returns an error wrapping ErrInvalid for an empty id, a nil
// newWorker or a bad option.
func Spec[M any](id string, newWorker func() actor.Actor[M], opts ...Option) (*Pool[M], supervisor.ChildSpec, error) {
	p, err := build(id, newWorker, opts)
	if err != nil {
		return nil, supervisor.ChildSpec{}, err
	}
	return p, supervisor.NewSupervisor(id, p.specs(newWorker), p.supOptions()...), nil
}

func build[M any](name string, newWorker func() actor.Actor[M], opts []Option) (*Pool[M], error) {
	switch {
	case name == "" || strings.Contains(name, "/"):
		return nil, fmt.Errorf("%w: pool name %q", ErrInvalid, name)
	case newWorker == nil:
		return nil, fmt.Errorf("%w: %w", ErrInvalid, actor.ErrNilFactory)
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	hash, err := route.Hasher[M](cfg.router)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w: %w", name, ErrInvalid, err)
	}
	p := &Pool[M]{name: name, cfg: cfg, slots: make([]slot[M], cfg.max), pk: route.NewPicker(cfg.router, 1), hash: hash}
	p.track = cfg.router.Rule() == route.RuleLeastLoaded || cfg.scale != nil
	p.active.Store(int32(cfg.workers))
	return p, nil
}

func (p *Pool[M]) supOptions() []supervisor.Option {
	return append([]supervisor.Option{supervisor.WithIntensity(DefaultIntensity, DefaultPeriod)}, p.cfg.sup...)
}

func (p *Pool[M]) specs(newWorker func() actor.Actor[M]) []supervisor.ChildSpec {
	spawn := append([]actor.SpawnOption{actor.WithMailbox(p.cfg.mailbox, mailbox.Block), actor.WithKind("pool:" + p.name)}, p.cfg.spawn...)
	specs := make([]supervisor.ChildSpec, len(p.slots))
	for i := range specs {
		specs[i] = supervisor.NewWorker(workerName(i), func() actor.Actor[M] {
			a := newWorker()
			if a == nil {
				return nil // the runtime reports ErrNilFactory
			}
			w := &member[M]{p: p, i: i, a: a}
			if d, ok := a.(actor.Describer); ok {
				return &describing[M]{member: w, d: d}
			}
			return w
		}, spawn...)
	}
	return specs
}

func workerName(i int) string { return "worker-" + strconv.Itoa(i+1) }

// Name returns the pool's name (its supervisor's actor name).
func (p *Pool[M]) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// Size returns the number of active workers: the ones new messages are
// routed to.
func (p *Pool[M]) Size() int {
	if p == nil {
		return 0
	}
	return int(p.active.Load())
}

// load is worker i's queued messages, plus the one it is handling.
func (p *Pool[M]) load(i int) int {
	s := &p.slots[i]
	n := int(s.busy.Load())
	if r := s.ref.Load(); r != nil {
		n += r.Len()
	}
	return n
}

// pick returns the worker for m.
func (p *Pool[M]) pick(m M) (actor.Ref[M], error) {
	if p == nil {
		return actor.Ref[M]{}, actor.ErrNilRef
	}
	var i int
	if p.hash != nil {
		i = int(p.hash(m) % uint64(len(p.slots)))
	} else {
		i = p.pk.Pick(int(p.active.Load()), 1, p.load)
	}
	r := p.slots[i].ref.Load()
	if r == nil {
		return actor.Ref[M]{}, fmt.Errorf("pool %s: %w", p.name, ErrNotStarted)
	}
	return *r, nil
}

// Tell sends m to the worker the router picks. It returns once that
// worker's mailbox took m; on a full mailbox it waits for room or for ctx
// to end (then it returns an error matching ctx.Err()). Once the pool
// stopped it returns an error matching actor.ErrStopped.
func (p *Pool[M]) Tell(ctx context.Context, m M) error {
	r, err := p.pick(m)
	if err != nil {
		return err
	}
	return r.Tell(ctx, m)
}

// TryTell is Tell that never waits: if the picked worker's mailbox is
// full it returns actor.ErrFull.
func (p *Pool[M]) TryTell(m M) error {
	r, err := p.pick(m)
	if err != nil {
		return err
	}
	return r.TryTell(m)
}

// Ask sends the request that build makes around a fresh Reply[T] to the
// worker the router picks, and waits for the reply, as actor.Ask does
// (the reply type is checked at compile time). Under a ByKey router the
// worker is chosen by the key of build(zero Reply), so build must make
// the same message whatever Reply it is given (a struct literal does).
func Ask[M, T any](ctx context.Context, p *Pool[M], build func(actor.Reply[T]) M) (T, error) {
	var zero T
	if build == nil {
		return zero, fmt.Errorf("%w: nil build", ErrInvalid)
	}
	var probe M
	if p != nil && p.hash != nil {
		probe = build(actor.Reply[T]{})
	}
	r, err := p.pick(probe)
	if err != nil {
		return zero, err
	}
	return actor.Ask(ctx, r, build)
}

// Broadcast sends m to every worker of the pool, active or not (so a
// worker activated later has it too), in order, waiting on full
// mailboxes as Tell does. It returns the errors of the Tells that failed,
// joined.
func (p *Pool[M]) Broadcast(ctx context.Context, m M) error {
	if p == nil {
		return actor.ErrNilRef
	}
	var errs []error
	for i := range p.slots {
		r := p.slots[i].ref.Load()
		if r == nil {
			errs = append(errs, fmt.Errorf("pool %s: %s: %w", p.name, workerName(i), ErrNotStarted))
			continue
		}
		if err := r.Tell(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Resize sets the number of active workers to n, between 1 and the
// pool's WithMaxWorkers. Workers made inactive finish what is queued for them
// and get no new messages; workers made active get them at once. It
// returns an error wrapping ErrInvalid for n out of range, for an
// autoscaled pool (the autoscaler sets its size) and for a ByKey pool.
func (p *Pool[M]) Resize(n int) error {
	switch {
	case p == nil:
		return actor.ErrNilRef
	case p.cfg.scale != nil:
		return fmt.Errorf("%w: Resize of autoscaled pool %s", ErrInvalid, p.name)
	case p.hash != nil:
		return fmt.Errorf("%w: Resize of ByKey pool %s", ErrInvalid, p.name)
	case n < 1 || n > len(p.slots):
		return fmt.Errorf("%w: Resize(%d) of pool %s with %d workers", ErrInvalid, n, p.name, len(p.slots))
	}
	p.active.Store(int32(n))
	return nil
}

// Stats are a pool's counters.
type Stats struct {
	// Router is the router's name, like "least-loaded".
	Router string
	// Active is the number of active workers (see Size).
	Active int
	// ScaleUps and ScaleDowns count the autoscaler's decisions.
	ScaleUps, ScaleDowns uint64
	// Workers are the workers' counters, in order.
	Workers []WorkerStats
}

// WorkerStats are one worker's counters: its actor.Stats (Processed,
// MailboxLen, Restarts...), whether it is active, and whether it is
// handling a message now.
type WorkerStats struct {
	Name   string
	Active bool
	Busy   bool
	actor.Stats
}

// Stats returns the pool's counters, read without blocking.
func (p *Pool[M]) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	n := int(p.active.Load())
	st := Stats{Router: p.cfg.router.String(), Active: n, ScaleUps: p.ups.Load(), ScaleDowns: p.downs.Load(),
		Workers: make([]WorkerStats, len(p.slots))}
	for i := range p.slots {
		ws := WorkerStats{Name: workerName(i), Active: i < n || p.hash != nil, Busy: p.slots[i].busy.Load() == 1}
		if r := p.slots[i].ref.Load(); r != nil {
			ws.Stats = r.Stats()
		}
		st.Workers[i] = ws
	}
	return st
}

// Stop stops the pool and its workers and waits until they stopped or
// ctx ended: each worker finishes the message it is handling; what is
// still queued goes to dead letters, as when any actor stops. Messages
// sent after it return an error matching actor.ErrStopped.
func (p *Pool[M]) Stop(ctx context.Context) error {
	switch {
	case p == nil:
		return actor.ErrNilRef
	case p.sup == nil:
		return ErrSupervised
	}
	if err := p.sup.Stop(ctx); err != nil {
		return err
	}
	return p.waitScaler(ctx)
}

// Wait waits until the pool stopped (or ctx ended) and returns why, as
// supervisor.Supervisor.Wait does: nil after Stop, a *supervisor.GaveUpError
// if its workers failed more often than its restart intensity allows.
func (p *Pool[M]) Wait(ctx context.Context) error {
	switch {
	case p == nil:
		return actor.ErrNilRef
	case p.sup == nil:
		return ErrSupervised
	}
	err := p.sup.Wait(ctx)
	if werr := p.waitScaler(ctx); err == nil {
		err = werr
	}
	return err
}

// Run blocks while the pool runs, like supervisor.Supervisor.Run: when
// ctx ends it stops the pool and returns ctx.Err(); if the pool stops by
// itself first it returns what Wait returns.
func (p *Pool[M]) Run(ctx context.Context) error {
	switch {
	case p == nil:
		return actor.ErrNilRef
	case p.sup == nil:
		return ErrSupervised
	}
	err := p.sup.Run(ctx)
	if werr := p.waitScaler(context.Background()); err == nil {
		err = werr
	}
	return err
}

// Supervisor returns the supervisor of the workers of a pool built by
// New (nil for one built by Spec: find it with supervisor.LookupSupervisor).
func (p *Pool[M]) Supervisor() *supervisor.Supervisor {
	if p == nil {
		return nil
	}
	return p.sup
}

// String returns "pool NAME".
func (p *Pool[M]) String() string { return "pool " + p.Name() }

// member is one worker's actor: the user's actor, plus what the pool
// needs to know of it.
type member[M any] struct {
	p *Pool[M]
	i int
	a actor.Actor[M]
}

// Start publishes the worker's Ref to the pool (the same Ref across
// restarts, unless the supervisor above had to spawn the worker again),
// starts the autoscaler with the first worker, and runs the user's Start.
func (w *member[M]) Start(ctx actor.Context) error {
	s := &w.p.slots[w.i]
	if ref, ok := actor.Self[M](ctx); ok {
		if old := s.ref.Load(); old == nil || *old != ref {
			s.ref.Store(&ref)
		}
	}
	s.busy.Store(0)
	if w.i == 0 && w.p.cfg.scale != nil {
		w.p.startScaler(ctx.Self())
	}
	if st, ok := w.a.(actor.Starter); ok {
		return st.Start(ctx)
	}
	return nil
}

// Receive runs the user's Receive. A panic goes through to the runtime.
func (w *member[M]) Receive(ctx actor.Context, m M) error {
	if !w.p.track {
		return w.a.Receive(ctx, m) // nothing on the per-message path
	}
	s := &w.p.slots[w.i]
	s.busy.Store(1)
	if w.p.cfg.scale == nil {
		err := w.a.Receive(ctx, m)
		s.busy.Store(0)
		return err
	}
	t0 := time.Now()
	err := w.a.Receive(ctx, m)
	s.busyNs.Add(int64(time.Since(t0)))
	s.busy.Store(0)
	return err
}

// Stop runs the user's Stop hook.
func (w *member[M]) Stop(ctx actor.Context, r actor.ExitReason) {
	if st, ok := w.a.(actor.Stopper); ok {
		st.Stop(ctx, r)
	}
}

// describing is the member of a user actor that is a Describer: it
// passes Describe on (members of other actors are not Describers, so a
// Snapshot does not run a goroutine for each).
type describing[M any] struct {
	*member[M]
	d actor.Describer
}

// Describe calls the user's Describe.
func (w *describing[M]) Describe(ctx context.Context) func(n *observe.Node) { return w.d.Describe(ctx) }
