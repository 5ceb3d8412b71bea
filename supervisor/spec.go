package supervisor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
	"github.com/troupe-go/troupe/strategy"
)

// Errors of the dynamic API, matching OTP's results. They are sentinels:
// compare with errors.Is.
var (
	// ErrNotFound is returned by TerminateChild, RestartChild and
	// DeleteChild when no child has that id (OTP {error,not_found}), and
	// matched by the errors of FindChild and FindSupervisor.
	// It is actor.ErrNotFound, the error of actor.Find for the same miss.
	ErrNotFound = actor.ErrNotFound
	// ErrRunning is returned by RestartChild and DeleteChild when the
	// child runs (OTP {error,running}).
	// It is actor.ErrRunning, the error of Child.Start for the same refusal.
	ErrRunning = actor.ErrRunning
	// ErrRestarting is returned by RestartChild and DeleteChild when a
	// restart of the child is pending (OTP {error,restarting}).
	ErrRestarting = errors.New("supervisor: child restarting")
	// ErrAlreadyStarted is returned by StartChild given the id of a
	// running child (OTP {error,{already_started,Pid}}).
	ErrAlreadyStarted = errors.New("supervisor: child already started")
	// ErrAlreadyPresent is returned by StartChild given the id of a child
	// that is down (OTP {error,already_present}).
	ErrAlreadyPresent = errors.New("supervisor: child already present")
	// ErrStartFailed is matched by a *ChildStartError: the child's start
	// function failed.
	ErrStartFailed = errors.New("supervisor: child start failed")
	// ErrBadCombination is returned for a significant child that is
	// permanent, or any significant child when auto shutdown is Never.
	ErrBadCombination = strategy.ErrBadCombination
	// ErrDuplicateID is returned when two child specs share an id.
	ErrDuplicateID = strategy.ErrDuplicateID
	// ErrInvalidSpec is returned for a child spec or option that is
	// unusable (missing id or start, invalid value).
	ErrInvalidSpec = errors.New("supervisor: invalid spec")
	// ErrGaveUp is matched by the *GaveUpError that Wait returns when the
	// supervisor stopped because its restart intensity was exceeded.
	ErrGaveUp = errors.New("supervisor: restart intensity exceeded")
	// ErrAutoShutdown is matched by the *GaveUpError that Wait returns
	// when the supervisor stopped because of auto shutdown on significant
	// children.
	ErrAutoShutdown = errors.New("supervisor: auto shutdown")
	// ErrStopped is returned by a call on a supervisor that is not
	// running.
	ErrStopped = actor.ErrStopped
	// ErrWrongType is matched by the *actor.TypeError that FindChild
	// returns when it found the child but the child handles another
	// message type.
	ErrWrongType = actor.ErrWrongType
)

// A ChildStartError says which child failed to start while the supervisor
// itself started (OTP {shutdown,{failed_to_start_child,Id,Reason}}), or
// which start failed in StartChild/RestartChild. It matches ErrStartFailed.
type ChildStartError struct {
	ID  string
	Err error
}

// Error returns "supervisor: failed to start child ID: ERR".
func (e *ChildStartError) Error() string {
	return fmt.Sprintf("supervisor: failed to start child %q: %v", e.ID, e.Err)
}

// Unwrap returns the child's start error.
func (e *ChildStartError) Unwrap() error { return e.Err }

// Is reports whether target is ErrStartFailed.
func (e *ChildStartError) Is(target error) bool { return target == ErrStartFailed }

// A GaveUpError is why a supervisor stopped by itself: the child whose
// restart exceeded the intensity (matches ErrGaveUp) or whose exit
// triggered auto shutdown (matches ErrAutoShutdown).
type GaveUpError struct {
	Path  string // the supervisor
	Child string // the child id
	Auto  bool   // auto shutdown rather than intensity
	// Cause is the child's exit error that led to it (nil after a normal
	// exit); FailureID names that failure.
	Cause     error
	FailureID observe.FailureID
}

// Unwrap returns the cause, so the whole chain is visible to errors.Is
// and errors.As.
func (e *GaveUpError) Unwrap() error { return e.Cause }

// Error names the supervisor, the child and why it gave up.
func (e *GaveUpError) Error() string {
	s := fmt.Sprintf("supervisor %s: restart intensity exceeded by child %q", e.Path, e.Child)
	if e.Auto {
		s = fmt.Sprintf("supervisor %s: auto shutdown after child %q exited", e.Path, e.Child)
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Is matches ErrGaveUp or ErrAutoShutdown.
func (e *GaveUpError) Is(target error) bool {
	return (target == ErrGaveUp && !e.Auto) || (target == ErrAutoShutdown && e.Auto)
}

// Re-exported strategy values, so most users need not import strategy.
const (
	OneForOne  = strategy.OneForOne
	OneForAll  = strategy.OneForAll
	RestForOne = strategy.RestForOne

	Permanent = strategy.Permanent
	Transient = strategy.Transient
	Temporary = strategy.Temporary

	Never          = strategy.Never
	AnySignificant = strategy.AnySignificant
	AllSignificant = strategy.AllSignificant
)

// ChildType tells workers from supervisors.
type ChildType uint8

const (
	// TypeWorker is a child actor.
	TypeWorker ChildType = iota + 1
	// TypeSupervisor is a nested supervisor.
	TypeSupervisor
)

// String returns "worker" or "supervisor".
func (k ChildType) String() string {
	if k == TypeSupervisor {
		return "supervisor"
	}
	return "worker"
}

// A ChildSpec describes one child (OTP child_spec). Build it with
// NewWorker or NewSupervisor, then set the exported fields. Defaults: restart
// Permanent; Shutdown DefaultShutdown for workers and actor.Infinity for
// supervisors.
type ChildSpec struct {
	// ID names the child among its siblings; it is also its actor name.
	ID string
	// Restart is permanent, transient or temporary (see OTP).
	Restart strategy.Restart
	// Shutdown is how long stopping the child may take before it is
	// killed: a duration, actor.BrutalKill or actor.Infinity. Zero means
	// the default. Go cannot kill a goroutine: past the time the child is
	// reported killed, abandoned and counted as leaked.
	Shutdown time.Duration
	// Significant children trigger auto shutdown (see AutoShutdown).
	Significant bool

	kind ChildType
	// spawn makes the child's actor (with keep it is one of the
	// supervisor's initial children, which outlive its restarts); for a
	// nested supervisor it also returns that supervisor's meters.
	spawn func(ctx actor.Context, id string, shutdown time.Duration, keep bool) (actor.Child, *meters, error)
	err   error // what NewWorker found wrong; Validate reports it
}

// DefaultShutdown is the shutdown time of a worker whose spec leaves it 0.
const DefaultShutdown = 5 * time.Second

// NewWorker returns the spec of a worker child running actors built by
// factory (called for every start, so each restart gets fresh state). The
// child's Ref, found with LookupChild, stays the same across its restarts
// and, for a child given to Start or NewSupervisor (not StartChild),
// across restarts of its supervisor and of that supervisor's ancestors. A
// nil factory makes the spec invalid: Validate, Start and StartChild
// report it (ErrInvalidSpec) before any child starts.
func NewWorker[M any](id string, factory func() actor.Actor[M], opts ...actor.SpawnOption) ChildSpec {
	var bad error
	if factory == nil {
		bad = fmt.Errorf("%w: child %q has a nil factory", ErrInvalidSpec, id)
	}
	return ChildSpec{
		ID:   id,
		kind: TypeWorker,
		err:  bad,
		spawn: func(ctx actor.Context, id string, shutdown time.Duration, keep bool) (actor.Child, *meters, error) {
			if factory == nil {
				return nil, nil, fmt.Errorf("%w: child %q has a nil factory", ErrInvalidSpec, id)
			}
			all := append(append([]actor.SpawnOption(nil), opts...), actor.WithShutdown(shutdown))
			if keep {
				all = append(all, actor.WithKeepOnParentRestart())
			}
			_, c, err := actor.SpawnChild(ctx, id, factory, all...)
			return c, nil, err
		},
	}
}

// NewSupervisor returns the spec of a nested supervisor child. Every start
// of it builds a fresh supervisor with these children and options (and an
// empty restart history), as OTP does; the children's actors, and so their
// Refs and queued messages, are kept from one start to the next (see
// LookupChild). Its options and children are checked when it starts, as
// OTP checks them in the nested supervisor's init: to its parent an
// invalid one is an ordinary start failure (ErrStartFailed), after the
// children before it started.
func NewSupervisor(id string, children []ChildSpec, opts ...Option) ChildSpec {
	children = append([]ChildSpec(nil), children...)
	return ChildSpec{
		ID:   id,
		kind: TypeSupervisor,
		spawn: func(ctx actor.Context, id string, shutdown time.Duration, keep bool) (actor.Child, *meters, error) {
			cfg, err := buildConfig(opts)
			if err != nil {
				return nil, nil, err
			}
			st, m := &state{}, newMeters(cfg)
			all := []actor.SpawnOption{actor.WithShutdown(shutdown), actor.WithKind("supervisor")}
			if keep {
				all = append(all, actor.WithKeepOnParentRestart())
			}
			// When a kept child is taken over, SpawnChild returns it with
			// the factory (and so the meters) it was first spawned with;
			// the supervisor's addNested then keeps those meters.
			_, c, err := actor.SpawnChild(ctx, id, func() actor.Actor[command] { return newSup(cfg, children, st, m, true) }, all...)
			if err != nil {
				return nil, nil, err
			}
			return c, m, nil
		},
	}
}

// Type returns TypeWorker or TypeSupervisor.
func (c ChildSpec) Type() ChildType { return c.kind }

func (c ChildSpec) shutdown() time.Duration {
	if c.Shutdown != 0 {
		return c.Shutdown
	}
	if c.kind == TypeSupervisor {
		return actor.Infinity
	}
	return DefaultShutdown
}

// Validate reports a spec that cannot be used, with an error matching
// ErrInvalidSpec: an empty id, a spec not built with NewWorker or
// NewSupervisor, a nil factory, an invalid restart type or shutdown. Start
// and StartChild run the same checks on every spec they are given, and
// check the list (ErrBadCombination, ErrDuplicateID), before they start
// any child. (The options and children of a nested supervisor are the
// nested supervisor's own: see NewSupervisor.)
func (c ChildSpec) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("%w: empty child id", ErrInvalidSpec)
	case c.err != nil:
		return c.err
	case c.spawn == nil:
		return fmt.Errorf("%w: child %q has no start (build specs with NewWorker or NewSupervisor)", ErrInvalidSpec, c.ID)
	case c.Restart < strategy.Permanent || c.Restart > strategy.Temporary:
		return fmt.Errorf("%w: child %q has restart type %d", ErrInvalidSpec, c.ID, c.Restart)
	case c.Shutdown < 0 && c.Shutdown != actor.BrutalKill:
		return fmt.Errorf("%w: child %q has shutdown %v", ErrInvalidSpec, c.ID, c.Shutdown)
	}
	return nil
}

// validateSpecs checks each spec and then the list (significant children
// against auto shutdown, duplicate ids).
func validateSpecs(auto strategy.AutoShutdown, specs []ChildSpec) error {
	ids := make([]strategy.ChildState, len(specs))
	for i, sp := range specs {
		if err := sp.Validate(); err != nil {
			return err
		}
		ids[i] = sp.strategyChild(strategy.Down)
	}
	return strategy.ValidateSpecs(auto, ids)
}

func (c ChildSpec) strategyChild(st strategy.Status) strategy.ChildState {
	return strategy.ChildState{ID: c.ID, Restart: c.Restart, Significant: c.Significant, Status: st}
}

// config holds a supervisor's flags.
type config struct {
	kind        strategy.Strategy
	intensity   int
	period      time.Duration
	auto        strategy.AutoShutdown
	backoff     strategy.Backoff
	rnd         strategy.Rand
	now         func() time.Time
	init        func(actor.Context) error
	shutdownSet bool
	shutdown    time.Duration
}

// An Option configures a supervisor.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// Defaults are OTP's: one-for-one, at most 1 restart in 5 seconds, no auto
// shutdown, no backoff.
const (
	DefaultIntensity = 1
	DefaultPeriod    = 5 * time.Second
)

// WithStrategy sets the restart strategy. Default OneForOne.
func WithStrategy(k strategy.Strategy) Option {
	return optionFunc(func(c *config) error {
		if k < strategy.OneForOne || k > strategy.RestForOne {
			return fmt.Errorf("%w: strategy %d", ErrInvalidSpec, k)
		}
		c.kind = k
		return nil
	})
}

// WithIntensity sets the restart intensity: more than maxRestarts restarts
// within period make the supervisor give up. Default 1 in 5 s (OTP).
func WithIntensity(maxRestarts int, period time.Duration) Option {
	return optionFunc(func(c *config) error {
		if maxRestarts < 0 || period <= 0 {
			return fmt.Errorf("%w: intensity %d in %v", ErrInvalidSpec, maxRestarts, period)
		}
		c.intensity, c.period = maxRestarts, period
		return nil
	})
}

// WithAutoShutdown sets when significant children's exits stop the
// supervisor. Default Never.
func WithAutoShutdown(a strategy.AutoShutdown) Option {
	return optionFunc(func(c *config) error {
		if a < strategy.Never || a > strategy.AllSignificant {
			return fmt.Errorf("%w: auto shutdown %d", ErrInvalidSpec, a)
		}
		c.auto = a
		return nil
	})
}

// WithBackoff delays restarts: exponentially from b.Min to b.Max with
// jitter, reset after a child ran b.ResetAfter (see strategy.Backoff).
// While a child waits its mailbox keeps its messages. The zero Backoff (the
// default) restarts at once, as OTP does.
func WithBackoff(b strategy.Backoff) Option {
	return optionFunc(func(c *config) error {
		if err := b.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		c.backoff = b
		return nil
	})
}

// WithRand sets the random source of the backoff jitter (for tests). A
// nil r is skipped.
func WithRand(r strategy.Rand) Option {
	return optionFunc(func(c *config) error {
		if r != nil {
			c.rnd = r
		}
		return nil
	})
}

// WithClock sets the clock used for restart intensity and backoff resets
// (for tests; testing/synctest works with the default). Supervisor.Stats
// calls it too, on the caller's goroutine, so it must be safe for
// concurrent use. A nil now is skipped.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error {
		if now != nil {
			c.now = now
		}
		return nil
	})
}

// WithInit runs f at the start of every incarnation of the supervisor,
// before its children start; an error fails the start (OTP init/1
// returning an error). A nil f is skipped.
func WithInit(f func(actor.Context) error) Option {
	return optionFunc(func(c *config) error {
		if f != nil {
			c.init = f
		}
		return nil
	})
}

// WithShutdown sets the shutdown time of a top-level supervisor started
// with Start. Default actor.Infinity.
func WithShutdown(d time.Duration) Option {
	return optionFunc(func(c *config) error { c.shutdownSet, c.shutdown = true, d; return nil })
}

func buildConfig(opts []Option) (*config, error) {
	c := &config{intensity: DefaultIntensity, period: DefaultPeriod, now: time.Now, shutdown: actor.Infinity}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if c.rnd == nil {
		c.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return c, nil
}
