// Package actor provides typed actors: an [Actor] of M handles messages of
// type M one at a time, on a goroutine the runtime owns, behind a [Ref]
// that stays valid across the actor's restarts.
//
// A program builds one [System] with [NewSystem], starts actors in it with
// [Spawn], talks to them through their [Ref] and ends it all with
// [System.Shutdown]:
//
//	sys := actor.NewSystem()
//	defer sys.Shutdown(context.Background())
//	ref, err := actor.Spawn(sys, "greeter", func() actor.Actor[string] {
//		return actor.Func[string](func(ctx actor.Context, name string) error {
//			ctx.Logger().Info("hello, " + name)
//			return nil
//		})
//	})
//	if err == nil {
//		err = ref.Tell(ctx, "world")
//	}
//
// These are the names a user needs: [System] ([NewSystem], [Option]),
// [Spawn] with its options ([SpawnOption]), [Actor] (or [Func]) and its
// [Context], [Ref] ([Ref.Tell], [Ref.TryTell], [Ref.Stop]), [Ask] with a
// [Reply], [Watch], and the hooks [Starter] and [Stopper]. The rest of
// the package is either detail of those (errors, [Stats], [Event]) or
// the extension kit described at the end, for code that builds
// supervisors, pools, pipelines and transports.
//
// # Sending
//
// [Ref.Tell] returns once the actor's mailbox took the message. Messages
// from one sender are handled in the order they were sent, and a Tell
// that returned nil "synchronizes before" the Receive of its message.
// The default mailbox is unbounded; [WithMailbox] bounds it with a
// [mailbox.Policy]: under Block a Tell on a full mailbox waits for space
// or for its ctx to end (backpressure), under Reject it returns
// [ErrFull], and the drop policies accept the message and discard one,
// counted and dead-lettered with reason [DeadDropped]. [Ref.TryTell]
// never waits: on a full mailbox it returns [ErrFull]. A message to an
// actor that stopped returns [ErrStopped] and goes to dead letters.
// [Ref.Urgent] and [After] post control messages (timers, notices) through
// the system lane, ahead of queued messages and past the mailbox bound.
// [Find] and [Lookup] give the Ref of a child of a System or of an actor
// by name, and [Self] gives an actor its own Ref.
//
// # Asking
//
// [Ask] sends a request that carries a fresh [Reply] and waits for the
// answer or for its ctx to end; the reply type is checked at compile
// time. The receiver answers once, with [Reply.Send] or [Reply.Fail].
// Ask does not wait for an answer that cannot come: a request that goes
// to dead letters (poison, dropped, or queued when the actor stopped)
// ends the Ask at once with an [*UndeliveredError]. A request whose
// asker gave up before it was due is not handled ([DeadExpired]), and a
// reply that comes too late goes to dead letters ([DeadReply]).
//
// # Failures
//
// An error returned by Receive, or a panic in Receive, Start or another
// hook, is a failure of the actor's current incarnation (the actor value
// its factory built, from its start to its end), described by a
// [*Failure] (its error a [*PanicError] for a panic). The incarnation
// ends, its children stop, its [Stopper] hook runs with reason [Failed],
// and its parent decides what follows: a
// supervisor (package supervisor) applies its OTP strategy; without one
// the actor restarts in place with a fresh actor from its factory,
// keeping its Ref and mailbox. The message that failed is redelivered
// to the next incarnation up to [WithMaxAttempts] times, then goes to
// dead letters as poison ([DeadPoison]); [Context.Attempt] tells a
// Receive which attempt it is. [WithDeadline] makes a Receive that runs
// too long a failure ([ErrDeadline]). Returning [StopNormal] or
// [StopShutdown] stops the actor by itself without a failure.
//
// Every failure has an ID (observe.FailureID) that the events, restarts
// and dead letters it causes carry. Nothing is lost silently: each
// message an actor accepted is handled, dead-lettered or dropped by an
// explicit policy, and the counters in [Stats] add up at every quiescent
// point. [WithDeadLetters] installs the System's dead-letter sink and
// [WithUndelivered] an actor's own.
//
// # Stopping
//
// [Ref.Stop] stops an actor for good and gracefully: the message being
// handled finishes, its children stop (last spawned first), its Stop hook
// runs, and what is still queued goes to dead letters. A goroutine cannot
// be killed: an actor that does not stop within its shutdown time
// ([WithShutdown]; [BrutalKill], [Infinity]) is abandoned, reported
// killed ([Killed]) and counted as leaked ([System.Leaked]) until its
// goroutine returns. [PID.Kill] kills only the current incarnation, which
// its parent treats as a failure. [System.Shutdown] stops every actor,
// children before their parents, and waits for every goroutine the
// runtime started.
//
// # Watching
//
// [Watch] returns a channel that gets one [Terminated] when an actor
// stops for good, [WatchWith] makes another actor receive it as a
// message (through its system lane, so it is never lost to
// backpressure), and [PID.Watch] calls a function; [PID.Done] is a
// channel closed when the actor has stopped for good. Restarts are not terminations: a watcher hears only
// the end of the actor, not of an incarnation.
//
// # Observing
//
// [System.Snapshot] and [System.Subscribe] show the tree and its events
// (package observe is their contract). Three opt-in System options reach
// into the per-message path, and cost nothing when left out:
// [WithPropagator] carries a sender's trace context from Tell or Ask to
// the Receive (and to the failure it may cause), [WithMessageTiming] times
// each message's wait in its mailbox and its Receive into per-kind
// histograms, and [WithProfilerLabels] runs actors under runtime/pprof
// labels (kind, supervisor, and [WithExtraProfilerLabels]).
//
// # Nil contexts and options
//
// One rule holds for the whole package: nil means "left out", and
// anything else that cannot be used is an error, never a panic or a hang.
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. A zero [Ref] is invalid:
// its methods return [ErrNilRef] (or do nothing), [Ask] on it returns
// ErrNilRef, and [Spawn] and [Find] given a nil parent return an error
// matching ErrNilRef. A nil factory, or
// one that returns a nil actor, fails with [ErrNilFactory]. [Watch] of a
// nil [PID] returns a closed channel and [WatchWith] with a nil argument
// watches nothing. [RefTo] of a nil Endpoint gives the zero Ref, and
// [NewReply] of a nil function the zero Reply. An actor [Context] is not a plain context: [SpawnChild]
// given a nil one returns [ErrNotParent], and [Self] reports false.
// Invalid option values are reported with [ErrInvalidOption].
//
// # Extension kit
//
// The following names are an extension point for code that builds
// supervisors, pools, pipelines and transports on the runtime (package
// supervisor and package pipeline use them); an application rarely needs
// them.
//
//   - [SpawnChild] makes a managed child that its parent starts itself,
//     through the [Child] handle ([Child.Start], [Child.Shutdown],
//     [Child.Park], [Child.Close]; [ErrRunning], [ErrNotParent]), and
//     whose ends reach the parent as an [Exit] through its [ExitHandler].
//     [WithKeepOnParentRestart] makes such a child outlive its parent's
//     incarnations. [FindChild] and [LookupChild] find a child from its
//     parent's [PID].
//   - [WithFailure] lets a layer see each failure before the runtime acts
//     on it (to resume a batch where it failed); [WithUndelivered] lets it
//     take back the messages an actor could not handle.
//   - [System.Emit] publishes a layer's own events ([Event]),
//     [Describer] adds to an actor's node in a [System.Snapshot],
//     [System.RegisterPipeline] adds a pipeline to it, and
//     [System.AddTimingSink] feeds an exporter the message timings of
//     [WithMessageTiming]. [ErrorType] classifies
//     an error for metrics.
//   - [RefTo] turns an [Endpoint], the far end a transport implements (its
//     lifecycle handle embeds [ExternalPID]), into an ordinary Ref to an
//     actor of another process; [NewReply] and [TellRequest] let the
//     transport hand a remote asker's request to a local actor. How such
//     an actor ended may be unknown: reason [NoConnection].
//   - [NewPanicError] turns a panic a layer recovered itself into the same
//     failure the runtime makes; [Ref.Len] reads a mailbox's length for
//     routers; [FaultInjector] ([WithFaultInjector]) is the hook package
//     chaos injects faults through; [WithPassThroughPanics] is for
//     debugging.
package actor
