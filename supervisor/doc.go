// Package supervisor provides Erlang/OTP-style supervisors on troupe's
// actors. A supervisor starts its children (workers and nested
// supervisors, each described by a [ChildSpec] built with [NewWorker] or
// [NewSupervisor]) in order, restarts them by strategy (OneForOne,
// OneForAll, RestForOne) within a restart intensity and with optional
// backoff, stops them in reverse start order, and gives up to its own
// parent when the intensity is exceeded. [Start] returns a [Supervisor]
// handle with OTP's dynamic API (StartChild, TerminateChild,
// RestartChild, DeleteChild, WhichChildren, CountChildren), Wait and Stop,
// and Run, which blocks while the supervisor runs so that a tree can be a
// member of an errgroup.Group (see [Supervisor.Run]); [FindChild] and
// [LookupChild] give the typed Ref of a child.
// docs/otp-mapping.md maps each OTP call and flag to its troupe name.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out.
package supervisor
