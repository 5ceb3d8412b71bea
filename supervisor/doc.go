// Package supervisor provides Erlang/OTP-style supervisors on troupe's
// actors. A supervisor starts its children in order, restarts them by
// strategy when they exit, stops them in reverse start order, and gives
// up to its own parent when they fail too often.
//
// A tree is a list of child specs ([ChildSpec]), each built with
// [NewWorker] (an actor) or [NewSupervisor] (a nested supervisor), given
// to [Start]:
//
//	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{
//		supervisor.NewWorker("db", newDB),
//		supervisor.NewWorker("api", newAPI),
//	}, supervisor.WithStrategy(supervisor.RestForOne))
//
// Start returns when every child started, with a [Supervisor] handle:
// [FindChild] and [LookupChild] give the typed Ref of a child, [Supervisor.Run]
// blocks while the supervisor runs so that a tree can be a member of an
// errgroup.Group, and [Supervisor.Wait] and [Supervisor.Stop] wait for it
// and stop it. docs/otp-mapping.md maps each OTP call and flag to its
// troupe name.
//
// # Restarts
//
// A child's restart type ([Permanent], [Transient], [Temporary], as in
// OTP) decides whether it is restarted when it exits by itself: a
// permanent child always, a transient one only after an abnormal exit
// (a failure or a kill), a temporary one never (its spec is removed). The strategy ([WithStrategy]: [OneForOne],
// [OneForAll], [RestForOne]) picks which children a restart affects; the
// affected running children stop in reverse start order, then start
// again in start order. Each restart starts a fresh actor from the
// child's factory; its Ref and its mailbox, with the messages queued in
// it, stay the same. [WithBackoff] delays restarts (exponentially, with
// jitter, reset after the child ran stably), a troupe addition: the zero
// Backoff restarts at once, as OTP does. The defaults are OTP's:
// one-for-one, at most [DefaultIntensity] restarts in [DefaultPeriod], no
// auto shutdown, no backoff.
//
// # Giving up and escalation
//
// The restart intensity ([WithIntensity]) bounds how often a supervisor
// restarts: more than maxRestarts restarts within period make it give
// up. It then stops all its children in reverse start order and exits:
// a nested supervisor is an exiting child of its own parent, which
// applies its own strategy to it (escalation); a top-level one stops,
// and [Supervisor.Wait] and [Supervisor.Run] return a [*GaveUpError]
// matching [ErrGaveUp]. With [WithAutoShutdown], the exit of significant
// children ([ChildSpec.Significant]) also stops the supervisor and its
// children, as OTP's auto_shutdown does; Wait then returns a
// [*GaveUpError] matching [ErrAutoShutdown].
//
// # Stopping
//
// [Supervisor.Stop] stops the children last started first, each within
// its shutdown time ([ChildSpec.Shutdown]: [DefaultShutdown] for a worker,
// actor.Infinity for a nested supervisor), then the supervisor. Go cannot
// kill a goroutine: a child past its shutdown time is reported killed,
// abandoned and counted as leaked.
//
// # Dynamic children
//
// The handle has OTP's dynamic API: [Supervisor.StartChild],
// [Supervisor.TerminateChild], [Supervisor.RestartChild],
// [Supervisor.DeleteChild], [Supervisor.WhichChildren] and
// [Supervisor.CountChildren], with OTP's results as errors ([ErrRunning],
// [ErrNotFound], ...). Each call is served by the supervisor's goroutine
// in turn; [Supervisor.Stats] does not wait for it.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. An invalid spec or option
// is reported before any child starts, with an error matching
// [ErrInvalidSpec], [ErrBadCombination] or [ErrDuplicateID] (see
// [ChildSpec.Validate]); a nil parent given to [Start] is an error
// matching actor.ErrNilRef, and a nil *Supervisor given to [FindChild]
// or [FindSupervisor] one matching [ErrNotFound].
package supervisor
