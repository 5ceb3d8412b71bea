package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
)

// command is the sealed set of messages a supervisor actor handles.
type command interface{ isCommand() }

type (
	startChildCmd struct {
		spec  ChildSpec
		reply actor.Reply[struct{}]
	}
	idCmd struct {
		op    idOp
		id    string
		reply actor.Reply[struct{}]
	}
	whichCmd struct{ reply actor.Reply[[]ChildInfo] }
	countCmd struct{ reply actor.Reply[Counts] }
	// timerCmd fires a backoff restart (delivered with Ref.Urgent).
	timerCmd struct {
		c   *child
		gen uint64
	}
)

type idOp uint8

const (
	opTerminate idOp = iota + 1
	opRestart
	opDelete
)

func (startChildCmd) isCommand() {}
func (idCmd) isCommand()         {}
func (whichCmd) isCommand()      {}
func (countCmd) isCommand()      {}
func (timerCmd) isCommand()      {}

// ChildInfo describes one child (OTP which_children).
type ChildInfo struct {
	ID     string
	Type   ChildType
	Status strategy.Status // Running, Down, or Restarting (restart pending)
	PID    actor.PID       // nil if the child never started
	// Restarts counts the child's restarts, as its Ref's
	// Stats().Restarts: every start of its actor after the first, whether
	// after its own exit, in a group restart, or by RestartChild. A start
	// that fails is not counted (Stats.Restarts of the supervisor counts
	// restart decisions instead). A child added again after DeleteChild
	// is a new actor and counts from 0.
	Restarts uint64
}

// Counts is OTP's count_children.
type Counts struct {
	Specs, Active, Supervisors, Workers int
}

// child is the supervisor's record of one child spec.
type child struct {
	spec    ChildSpec
	h       actor.Child // nil until first started
	status  strategy.Status
	backoff *strategy.BackoffState
	timer   *time.Timer // pending backoff restart
	tgen    uint64      // invalidates stale timers
	initial bool        // one of the specs the supervisor starts with
	// cause is the failure of the exit being handled (restart, backoff,
	// give-up); exitErr its error.
	cause   observe.FailureID
	exitErr error
	next    time.Time // when a backoff restart is due
	delays  int       // backoff delays since a restart without one, for Snapshot
}

// state is shared by a supervisor actor and its handle: why it stopped.
type state struct {
	mu    sync.Mutex
	cause error
}

func (s *state) set(err error) {
	s.mu.Lock()
	if s.cause == nil {
		s.cause = err
	}
	s.mu.Unlock()
}

func (s *state) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

// sup is one incarnation of a supervisor. Its fields are owned by the
// supervisor's actor goroutine (Start, Receive, HandleExit and Stop all run
// there, one at a time).
type sup struct {
	cfg       *config
	specs     []ChildSpec
	st        *state
	m         *meters // shared with the handles, across incarnations
	children  []*child
	intensity *strategy.Intensity
	ctx       actor.Context
	self      actor.Ref[command]
	nested    bool // a child of another supervisor (NewSupervisor)
}

func newSup(cfg *config, specs []ChildSpec, st *state, m *meters, nested bool) *sup {
	return &sup{cfg: cfg, specs: specs, st: st, m: m, nested: nested}
}

var bg = context.Background()

// Start starts the children in order (OTP init). If one fails to start,
// the ones already started stop in reverse order and the start fails.
func (s *sup) Start(ctx actor.Context) error {
	s.ctx = ctx
	s.self, _ = actor.Self[command](ctx)
	s.intensity = s.m.newIntensity()
	if s.cfg.init != nil {
		if err := s.cfg.init(ctx); err != nil {
			return err
		}
	}
	if err := validateSpecs(s.cfg.auto, s.specs); err != nil {
		return err
	}
	for _, sp := range s.specs {
		c := &child{spec: sp, status: strategy.Down, initial: true}
		s.children = append(s.children, c)
		if err := s.startFn(c); err != nil {
			s.children = s.children[:len(s.children)-1]
			// An initial child keeps its Ref for the next incarnation.
			if c.h != nil && !c.initial {
				_ = c.h.Close(bg)
			}
			s.terminateAll()
			return &ChildStartError{ID: sp.ID, Err: err}
		}
	}
	return nil
}

// Stop runs when the supervisor's incarnation ends. Its children's
// incarnations were already ended by the runtime, last started first
// (its initial children keep their Refs for the next incarnation).
func (s *sup) Stop(actor.Context, actor.ExitReason) {
	for _, c := range s.children {
		s.stopTimer(c)
	}
}

// startFn is the child's OTP start function: create its actor the first
// time, then start an incarnation.
func (s *sup) startFn(c *child) error {
	if c.h == nil {
		// An initial child of an earlier incarnation of this supervisor
		// is taken over with its Ref and mailbox (see
		// actor.WithKeepOnParentRestart); children added by StartChild
		// end with the incarnation, as in OTP, which restarts only the
		// children its init returns.
		h, sub, err := c.spec.spawn(s.ctx, c.spec.ID, c.spec.shutdown(), c.initial)
		if err != nil {
			return err
		}
		c.h = h
		if sub != nil {
			s.m.addNested(h, sub)
		}
	}
	if err := c.h.Start(bg); err != nil {
		return err
	}
	c.status = strategy.Running
	if c.backoff != nil {
		c.backoff.Started(s.cfg.now())
	}
	return nil
}

// shutdown stops a running child's incarnation (OTP shutdown/2).
func (s *sup) shutdown(c *child) {
	if c.status == strategy.Running && c.h != nil {
		c.h.Shutdown(bg)
	}
	s.stopTimer(c)
}

// terminateAll stops every running child, last started first.
func (s *sup) terminateAll() {
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		if c.status == strategy.Running {
			s.shutdown(c)
			c.status = strategy.Down
		}
		s.stopTimer(c)
	}
}

// afterTerminate is what follows a terminate_child or a group stop.
func (s *sup) afterTerminate(c *child) {
	if c.spec.Restart == strategy.Temporary {
		s.remove(c)
		return
	}
	c.status = strategy.Down
	if c.h != nil {
		c.h.Park()
	}
}

// remove deletes a child spec and stops its actor for good.
func (s *sup) remove(c *child) {
	i := slices.Index(s.children, c)
	if i < 0 {
		return
	}
	s.children = slices.Delete(s.children, i, i+1)
	s.stopTimer(c)
	if c.h != nil {
		_ = c.h.Close(bg)
	}
}

func (s *sup) find(id string) *child {
	for _, c := range s.children {
		if c.spec.ID == id {
			return c
		}
	}
	return nil
}

func (s *sup) byHandle(h actor.Child) *child {
	for _, c := range s.children {
		if c.h == h {
			return c
		}
	}
	return nil
}

func toStrategy(r actor.ExitReason) strategy.ExitReason {
	switch r {
	case actor.Normal:
		return strategy.Normal
	case actor.Shutdown:
		return strategy.Shutdown
	case actor.Killed:
		return strategy.Killed
	}
	return strategy.Failed
}

// giveUpStop ends the supervisor's incarnation with reason Shutdown (it
// matches actor.StopShutdown) and tells the runtime which failure made
// it give up, so its parent's handling carries the same failure ID.
type giveUpStop struct{ err *GaveUpError }

func (g giveUpStop) Error() string                { return g.err.Error() }
func (g giveUpStop) Is(target error) bool         { return target == actor.StopShutdown }
func (g giveUpStop) FailureID() observe.FailureID { return g.err.FailureID }

// HandleExit applies the supervisor's rules when a child's incarnation
// ended by itself (OTP: the supervisor got an EXIT from a child).
func (s *sup) HandleExit(ctx actor.Context, e actor.Exit) error {
	c := s.byHandle(e.Child)
	if c == nil || c.status != strategy.Running || e.Incarnation != c.h.Incarnation() {
		return nil // stale: a child we already handled or removed
	}
	c.status = strategy.Down
	c.cause, c.exitErr = e.FailureID, e.Err
	if e.Reason == actor.Failed || e.Reason == actor.Killed {
		if ce := s.ctx.Logger().Check(zap.WarnLevel, "child exited"); ce != nil {
			ce.Write(zap.String("supervisor", s.ctx.Path()), zap.String("child", c.spec.ID),
				zap.String("reason", e.Reason.String()), zap.String("error.type", actor.ErrorType(e.Err)),
				zap.Stringer("failure_id", e.FailureID), zap.Error(e.Err))
		}
	}
	if c.backoff != nil {
		c.backoff.Stopped(s.cfg.now())
	}
	if e.Final {
		// The child's actor was stopped for good by someone else: it cannot
		// be restarted, so its spec goes.
		s.remove(c)
		return s.autoCheck(c)
	}
	switch strategy.OnExit(c.spec.Restart, toStrategy(e.Reason)) {
	case strategy.ActionRestart:
		return s.restart(c)
	case strategy.ActionKeepDown:
		c.h.Park()
	case strategy.ActionRemoveSpec:
		s.remove(c)
	}
	return s.autoCheck(c)
}

func (s *sup) autoCheck(c *child) error {
	list := make([]strategy.ChildState, len(s.children))
	for i, k := range s.children {
		list[i] = k.spec.strategyChild(k.status)
	}
	if strategy.ShouldAutoShutdown(s.cfg.auto, c.spec.strategyChild(strategy.Down), list) {
		return s.giveUp(c, true)
	}
	return nil
}

// giveUp stops all children, last started first, and ends the supervisor
// with reason Shutdown; its parent sees that exit.
func (s *sup) giveUp(c *child, auto bool) error {
	s.terminateAll()
	err := &GaveUpError{Path: s.ctx.Path(), Child: c.spec.ID, Auto: auto, Cause: c.exitErr, FailureID: c.cause}
	s.st.set(err)
	sys := s.ctx.System()
	// Never silent: a supervisor that gives up logs at Error, with the
	// cause chain, whether or not a parent will restart it.
	msg := "supervisor gave up"
	if s.nested {
		msg = "supervisor gave up, escalating to its parent"
	}
	s.ctx.Logger().Error(msg, zap.String("supervisor", s.ctx.Path()), zap.String("child", c.spec.ID),
		zap.Bool("auto_shutdown", auto), zap.Stringer("failure_id", c.cause), zap.Error(err))
	sys.Emit(actor.Event{Kind: actor.EventGaveUp, Path: s.ctx.Path(), Reason: actor.Shutdown, Err: err, FailureID: c.cause})
	if s.nested {
		// A nested supervisor's exit goes to its parent supervisor.
		sys.Emit(actor.Event{Kind: actor.EventEscalated, Path: s.ctx.Path(), Reason: actor.Shutdown, Err: err, FailureID: c.cause})
	}
	return giveUpStop{err}
}

// restart is OTP's restart/2 for child c: intensity check, backoff, then
// the strategy. A failed start retries (with the failed child as c) until
// a start succeeds or the intensity is exceeded.
func (s *sup) restart(c *child) error {
	if !s.m.allow(s.intensity, s.cfg.now()) {
		c.status = strategy.Down
		return s.giveUp(c, false)
	}
	if s.cfg.backoff.Min > 0 {
		if c.backoff == nil {
			c.backoff = strategy.NewBackoffState(s.cfg.backoff)
		}
		if d := c.backoff.Next(s.cfg.rnd); d > 0 {
			return s.schedule(c, d)
		}
	}
	c.delays = 0
	return s.restartNow(c)
}

// schedule delays the restart of c by d; meanwhile c is Restarting and
// its mailbox keeps its messages. For group strategies the group is
// stopped at once and started when the delay ends.
func (s *sup) schedule(c *child, d time.Duration) error {
	if s.cfg.kind != strategy.OneForOne {
		s.stopGroup(c)
	}
	c.status = strategy.Restarting
	c.tgen++
	gen := c.tgen
	self := s.self
	c.next = s.cfg.now().Add(d)
	c.delays++
	s.ctx.Logger().Info("child restart backing off", zap.String("supervisor", s.ctx.Path()), zap.String("child", c.spec.ID),
		zap.Duration("delay", d), zap.Stringer("failure_id", c.cause))
	s.ctx.System().Emit(actor.Event{Kind: actor.EventBackoff, Path: c.h.Path(), Delay: d, FailureID: c.cause})
	// The timer's goroutine only posts a message; the supervisor's
	// goroutine does the restart. stopTimer cancels it.
	c.timer = time.AfterFunc(d, func() { _ = self.Urgent(timerCmd{c: c, gen: gen}) })
	return nil
}

func (s *sup) stopTimer(c *child) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
		c.tgen++
	}
}

// restartNow applies the strategy to restart c.
func (s *sup) restartNow(c *child) error {
	if s.cfg.kind == strategy.OneForOne {
		if err := s.startFn(c); err != nil {
			c.status = strategy.Restarting
			s.startFailed(c, err)
			return s.restart(c)
		}
		s.restarted(c, c.cause)
		return nil
	}
	group := s.stopGroup(c)
	for _, k := range group {
		if err := s.startFn(k); err != nil {
			k.status = strategy.Restarting
			s.startFailed(k, err)
			return s.restart(k)
		}
		s.restarted(k, c.cause)
	}
	return nil
}

// stopGroup runs the terminate phase of a group restart of c and returns
// the children to start, in start order.
func (s *sup) stopGroup(c *child) []*child {
	list := make([]strategy.ChildState, len(s.children))
	idx := -1
	for i, k := range s.children {
		st := k.status
		if k == c {
			idx = i
			st = strategy.Down // c is not running (it failed or waits)
		}
		list[i] = k.spec.strategyChild(st)
	}
	plan := strategy.Group(s.cfg.kind, list, idx)
	snapshot := slices.Clone(s.children)
	for _, i := range plan.Stop {
		s.shutdown(snapshot[i])
	}
	for _, i := range plan.Remove {
		s.remove(snapshot[i])
	}
	start := make([]*child, 0, len(plan.Start))
	for _, i := range plan.Start {
		k := snapshot[i]
		if k.status == strategy.Running {
			k.status = strategy.Down
		}
		start = append(start, k)
	}
	return start
}

// restarted reports the restart of c, caused by the failure cause (of c
// itself, or of the sibling whose exit restarted the group).
func (s *sup) restarted(c *child, cause observe.FailureID) {
	if ce := s.ctx.Logger().Check(zap.InfoLevel, "child restarted"); ce != nil {
		ce.Write(zap.String("supervisor", s.ctx.Path()), zap.String("child", c.spec.ID), zap.Stringer("failure_id", cause))
	}
	s.ctx.System().Emit(actor.Event{Kind: actor.EventRestarted, Path: c.h.Path(), FailureID: cause})
}

// startFailed makes a failed restart of c the failure its next restart
// (or the give-up) follows from.
func (s *sup) startFailed(c *child, err error) {
	var id interface{ FailureID() observe.FailureID }
	if errors.As(err, &id) {
		c.cause = id.FailureID()
	}
	c.exitErr = err
}

// Receive handles the dynamic API and backoff timers.
func (s *sup) Receive(ctx actor.Context, m command) error {
	switch m := m.(type) {
	case timerCmd:
		if m.gen != m.c.tgen || m.c.status != strategy.Restarting || slices.Index(s.children, m.c) < 0 {
			return nil
		}
		m.c.timer = nil
		if s.cfg.kind == strategy.OneForOne {
			return s.restartNow(m.c)
		}
		// The group was stopped when the backoff began; start it now.
		group := s.stopGroup(m.c)
		for _, k := range group {
			if err := s.startFn(k); err != nil {
				k.status = strategy.Restarting
				s.startFailed(k, err)
				return s.restart(k)
			}
			s.restarted(k, m.c.cause)
		}
		return nil
	case startChildCmd:
		if err := s.startChild(m.spec); err != nil {
			_ = m.reply.Fail(ctx, err)
		} else {
			_ = m.reply.Send(ctx, struct{}{})
		}
		return nil
	case idCmd:
		err := s.idCall(m.op, m.id)
		if err != nil {
			_ = m.reply.Fail(ctx, err)
		} else {
			_ = m.reply.Send(ctx, struct{}{})
		}
		return nil
	case describeCmd:
		_ = m.reply.Send(ctx, s.views())
		return nil
	case whichCmd:
		out := make([]ChildInfo, len(s.children))
		for i, c := range s.children {
			out[i] = ChildInfo{ID: c.spec.ID, Type: c.spec.kind, Status: c.status}
			if c.h != nil {
				out[i].PID = c.h
				out[i].Restarts = c.h.Stats().Restarts
			}
		}
		_ = m.reply.Send(ctx, out)
	case countCmd:
		var n Counts
		for _, c := range s.children {
			n.Specs++
			if c.status == strategy.Running {
				n.Active++
			}
			if c.spec.kind == TypeSupervisor {
				n.Supervisors++
			} else {
				n.Workers++
			}
		}
		_ = m.reply.Send(ctx, n)
	}
	return nil
}

func (s *sup) startChild(spec ChildSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if err := strategy.ValidateSpecs(s.cfg.auto, []strategy.ChildState{spec.strategyChild(strategy.Down)}); err != nil {
		return err
	}
	if c := s.find(spec.ID); c != nil {
		if c.status == strategy.Running {
			return ErrAlreadyStarted
		}
		return ErrAlreadyPresent
	}
	c := &child{spec: spec, status: strategy.Down}
	if err := s.startFn(c); err != nil {
		if c.h != nil {
			_ = c.h.Close(bg)
		}
		return &ChildStartError{ID: spec.ID, Err: err}
	}
	s.children = append(s.children, c)
	return nil
}

func (s *sup) idCall(op idOp, id string) error {
	c := s.find(id)
	if c == nil {
		return ErrNotFound
	}
	switch op {
	case opTerminate:
		s.shutdown(c)
		s.afterTerminate(c)
		return nil
	case opRestart, opDelete:
		switch c.status {
		case strategy.Running:
			return ErrRunning
		case strategy.Restarting:
			return ErrRestarting
		}
		if op == opDelete {
			s.remove(c)
			return nil
		}
		if err := s.startFn(c); err != nil {
			c.status = strategy.Down
			if c.h != nil {
				c.h.Park()
			}
			return &ChildStartError{ID: id, Err: err}
		}
		return nil
	}
	return fmt.Errorf("supervisor: unknown operation %d", op)
}

// A Supervisor is the handle of a running supervisor: its dynamic API
// (OTP's start_child, terminate_child, ...), Wait and Stop. Methods are
// safe for concurrent use; each call is served by the supervisor's
// goroutine in turn, so it waits while the supervisor is busy (for
// example stopping a child within its shutdown time). A call on a
// supervisor that stopped, or that stops before serving it, returns an
// error matching ErrStopped. Stats, like PID, Path and Done, does not
// wait for the supervisor.
type Supervisor struct {
	ref    actor.Ref[command]
	st     *state
	root   bool                   // made by Start: Wait also reports a failure
	m      atomic.Pointer[meters] // its counters; for LookupSupervisor found through parent on first use
	parent *Supervisor            // set by LookupSupervisor
}

// Start starts a supervisor named name under parent with the given
// children, started in order. It returns when all of them started; if one
// fails, those already started stop in reverse order and Start returns a
// *ChildStartError. Invalid options and specs (see ChildSpec.Validate)
// are reported before anything starts, with an error matching
// ErrInvalidSpec, ErrBadCombination or ErrDuplicateID.
func Start(parent actor.Spawner, name string, children []ChildSpec, opts ...Option) (*Supervisor, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	children = slices.Clone(children)
	if err := validateSpecs(cfg.auto, children); err != nil {
		return nil, err
	}
	st, m := &state{}, newMeters(cfg)
	ref, err := actor.Spawn(parent, name, func() actor.Actor[command] { return newSup(cfg, children, st, m, false) },
		actor.WithShutdown(cfg.shutdown), actor.WithKind("supervisor"))
	if err != nil {
		var se *actor.StartError
		if errors.As(err, &se) {
			return nil, se.Err
		}
		return nil, err
	}
	s := &Supervisor{ref: ref, st: st, root: true}
	s.m.Store(m)
	return s, nil
}

// PID returns the supervisor's actor handle.
func (s *Supervisor) PID() actor.PID { return s.ref.PID() }

// Path returns the supervisor's path.
func (s *Supervisor) Path() string { return s.ref.Path() }

func (s *Supervisor) call(ctx context.Context, op idOp, id string) error {
	_, err := actor.Ask(ctx, s.ref, func(r actor.Reply[struct{}]) command { return idCmd{op: op, id: id, reply: r} })
	return err
}

// StartChild adds a child at the end of the start order and starts it. It
// returns ErrBadCombination, ErrAlreadyStarted, ErrAlreadyPresent, or a
// *ChildStartError (matching ErrStartFailed), as OTP's start_child.
func (s *Supervisor) StartChild(ctx context.Context, spec ChildSpec) error {
	_, err := actor.Ask(ctx, s.ref, func(r actor.Reply[struct{}]) command { return startChildCmd{spec: spec, reply: r} })
	return err
}

// TerminateChild stops the child (within its shutdown time) and keeps its
// spec, except for a temporary child whose spec is removed. It does not
// count as a restart. Messages sent to a terminated child go to dead
// letters until RestartChild.
func (s *Supervisor) TerminateChild(ctx context.Context, id string) error {
	return s.call(ctx, opTerminate, id)
}

// RestartChild starts a child that is down. It returns ErrRunning,
// ErrRestarting, ErrNotFound or a *ChildStartError.
func (s *Supervisor) RestartChild(ctx context.Context, id string) error {
	return s.call(ctx, opRestart, id)
}

// DeleteChild removes the spec of a child that is down.
func (s *Supervisor) DeleteChild(ctx context.Context, id string) error {
	return s.call(ctx, opDelete, id)
}

// WhichChildren lists the children in start order.
func (s *Supervisor) WhichChildren(ctx context.Context) ([]ChildInfo, error) {
	return actor.Ask(ctx, s.ref, func(r actor.Reply[[]ChildInfo]) command { return whichCmd{reply: r} })
}

// CountChildren counts specs, running children, supervisors and workers.
func (s *Supervisor) CountChildren(ctx context.Context) (Counts, error) {
	return actor.Ask(ctx, s.ref, func(r actor.Reply[Counts]) command { return countCmd{reply: r} })
}

// Stop stops the supervisor: its children stop last started first, each
// within its shutdown time. It waits until done or ctx ends (a nil ctx
// waits as long as it takes).
func (s *Supervisor) Stop(ctx context.Context) error { return s.ref.Stop(orBackground(ctx)) }

// Done returns a channel closed when the supervisor stopped.
func (s *Supervisor) Done() <-chan struct{} { return s.ref.PID().Done() }

// Wait waits until the supervisor stopped and returns why: nil after Stop,
// a *GaveUpError (matching ErrGaveUp or ErrAutoShutdown) if it stopped by
// itself, the failure if it failed and could not be restarted in place
// (for example WithInit failing after it was killed), or ctx.Err() if ctx
// ended first. A nil ctx waits as long as it takes.
func (s *Supervisor) Wait(ctx context.Context) error {
	ctx = orBackground(ctx)
	select {
	case <-s.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.st.get(); err != nil || !s.root {
		return err
	}
	// The actor has stopped for good, so Watch calls fn at once, here,
	// with its final reason.
	var err error
	s.ref.PID().Watch(func(t actor.Terminated) {
		if t.Reason == actor.Failed {
			err = fmt.Errorf("supervisor %s failed: %w", s.ref.Path(), t.Err)
		}
	})
	return err
}

// LookupSupervisor is FindSupervisor with a bool: it reports false both
// when there is no such child and when the child is a worker.
func LookupSupervisor(s *Supervisor, id string) (*Supervisor, bool) {
	sup, err := FindSupervisor(s, id)
	return sup, err == nil
}

// FindSupervisor returns a handle on the nested supervisor child id of s.
// The handle's Wait reports only that it stopped (nil cause); its parent
// reacts to why. Its Stats are the nested supervisor's own, over that
// child's life. It returns an error matching ErrNotFound if s has no
// child id (or s is nil), and a *actor.TypeError matching ErrWrongType if
// child id is a worker.
func FindSupervisor(s *Supervisor, id string) (*Supervisor, error) {
	ref, err := findChild[command](s, id)
	if err != nil {
		return nil, err
	}
	return &Supervisor{ref: ref, st: &state{}, parent: s}, nil
}

// LookupChild is FindChild with a bool: it reports false both when there
// is no such child and when its message type is not M.
func LookupChild[M any](s *Supervisor, id string) (actor.Ref[M], bool) {
	ref, err := FindChild[M](s, id)
	return ref, err == nil
}

// FindChild returns the Ref of the child id of s. The Ref stays valid
// across the child's restarts by s and, for a child s was started with
// (not one added by StartChild), across restarts of s itself and of its
// ancestors: the child's mailbox keeps its queued messages while the
// subtree restarts (a bounded one pushes back on senders meanwhile). A
// child added by StartChild ends with the incarnation of s that added it,
// as in OTP. A Ref to a child that was deleted (DeleteChild) or stopped
// for good refuses messages with actor.ErrStopped. It returns an error
// matching ErrNotFound if s has no child id (or s is nil), and a
// *actor.TypeError matching ErrWrongType, naming both types, if the
// child's message type is not M (a nested supervisor's type is named
// "supervisor").
func FindChild[M any](s *Supervisor, id string) (actor.Ref[M], error) {
	return findChild[M](s, id)
}

var commandType = reflect.TypeFor[command]().String()

func findChild[M any](s *Supervisor, id string) (actor.Ref[M], error) {
	if s == nil {
		return actor.Ref[M]{}, fmt.Errorf("supervisor: nil supervisor: %w", ErrNotFound)
	}
	ref, err := actor.FindChild[M](s.ref.PID(), id)
	var te *actor.TypeError
	switch {
	case err == nil:
		return ref, nil
	case errors.Is(err, actor.ErrNotFound):
		return ref, fmt.Errorf("supervisor %s: child %q: %w", s.Path(), id, ErrNotFound)
	case errors.As(err, &te):
		e := *te
		if e.Have == commandType {
			e.Have = "supervisor"
		}
		if e.Want == commandType {
			e.Want = "supervisor"
		}
		return ref, &e
	}
	return ref, err
}

// orBackground is the package's rule for a nil context: it is
// context.Background().
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
