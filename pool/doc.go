// Package pool puts one handle in front of N supervised worker actors:
// a [Pool] of M is told, tried and asked like an actor.Ref[M], and spreads
// the messages over its workers with a route.Router (least-loaded by
// default, round-robin, weighted, or by key), the same routers pipeline
// stages use. Its size moves with Resize, or with an autoscaler
// (route.Scale, the pipeline's autoscaler).
//
// The workers are ordinary actors under a supervisor of their own (one
// for one; see [WithSupervisor]): a worker that fails is restarted by it, and
// the runtime redelivers the failed message up to the worker's attempt
// limit, then dead-letters it as poison, as for every actor. What is
// queued for a worker is in its mailbox, which survives the worker's
// restarts and backoff: nothing accepted by the pool is dead-lettered
// because a worker restarted. Each worker's mailbox is bounded
// ([WithMailbox]), so Tell blocks (until its ctx ends) when the chosen worker
// is full, and TryTell returns actor.ErrFull.
//
// Start a pool with [New] under an actor.System or an actor, or make it
// one child of a supervisor tree with [Spec]. In a Snapshot a pool is a
// supervisor node with its workers as children.
//
// Errors are sentinels or wrap them: [ErrInvalid] for bad arguments and
// options, [ErrNotStarted] for a pool built by Spec whose supervisor has
// not started it, [ErrSupervised] for Stop or Wait on such a pool, and
// the actor package's errors from the workers (actor.ErrStopped once the
// pool stopped, actor.ErrFull, ...). Methods of a nil *Pool return
// actor.ErrNilRef.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out.
package pool
