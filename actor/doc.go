// Package actor provides typed actors: an [Actor] of M handles messages of
// type M one at a time, on a goroutine the runtime owns, behind a [Ref]
// that stays valid across the actor's restarts.
//
// Build a [System] with [NewSystem], [Spawn] actors under it (or under an
// actor, through its [Context]), send with [Ref.Tell] and [Ref.TryTell],
// ask with [Ask] and a [Reply], stop one actor with [Ref.Stop] and every
// actor with [System.Shutdown]. A panic or an error from Receive or a hook
// is a failure of that incarnation: its parent decides what follows
// (package supervisor applies OTP strategies; without one the actor
// restarts in place). [Watch] and [WatchWith] report when an actor stopped
// for good; [Find] and [Lookup] find a child by name.
//
// # Observing
//
// [System.Snapshot] and [System.Subscribe] show the tree and its events
// (package observe is their contract). Three opt-in System options reach
// into the per-message path, and cost nothing when left out:
// [WithPropagator] carries a sender's trace context from Tell or Ask to
// the Receive (and to the failure it may cause), [WithMessageTiming] times each
// message's wait in its mailbox and its Receive into per-kind histograms,
// and [WithProfilerLabels] runs actors under runtime/pprof labels (kind,
// supervisor, and [WithExtraProfilerLabels]).
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. An actor [Context] is not a
// plain context: [SpawnChild] given a nil one returns ErrNotParent, and
// [Self] reports false.
package actor
