// Package strategy provides the pure decisions of an Erlang/OTP-style
// supervisor: what happens when a child exits by itself, which children a
// restart affects and in which order, when the restart intensity is
// exceeded, when a supervisor shuts itself down because significant
// children ended, and how long to wait before a restart (backoff, which
// goes beyond OTP).
//
// The package starts no goroutines, never reads the clock and never draws
// random numbers on its own: callers pass the current time and a [Rand].
// Every result depends only on the arguments and on the state of the
// [Intensity] or [BackoffState] it is called on, so a supervisor built on
// it can reproduce the traces of the OTP 25 supervisor module, and tests
// can drive it without sleeping. References such as "FORMAT §4.5" in the
// docs are to FORMAT.md, the description of the OTP conformance scenarios
// kept in supervisor/testdata/otp. None of the types are safe for concurrent
// use; a supervisor keeps them in the one goroutine that owns its state.
//
// # Handling the exit of a child
//
// The supervisor owns the ordered child list (start order) and builds a
// []Child from it whenever it needs a decision. When a running child exits
// by itself:
//
//  1. [OnExit] maps the child's [Restart] type and [ExitReason] to an
//     [ExitAction].
//  2. For [ActionKeepDown] the child is marked [Down], for [ActionRemoveSpec] its spec is
//     removed. Then [ShouldAutoShutdown] says whether the supervisor
//     terminates (OTP auto_shutdown).
//  3. For [ActionRestart], [Intensity.Allow] is asked first. If it reports
//     false the supervisor gives up: it stops all running children in
//     reverse start order and exits with reason shutdown. Otherwise
//     [Group] returns a [Plan]: stop Plan.Stop in the given order, remove
//     Plan.Remove, mark the rest of the group Down, then start Plan.Start in
//     the given order.
//  4. If a start in step 3 fails at child F, F becomes [Restarting], the
//     children started before it keep running, the later ones stay Down,
//     and step 3 runs again with F as the failed child. That retry counts
//     as a restart for the intensity.
//
// terminate_child, restart_child and the other API calls are not restarts:
// they neither consult [Intensity] nor trigger an auto shutdown.
//
// # Backoff
//
// A [BackoffState] per child gives the delay to wait before that child is
// started again. It grows exponentially from [Backoff.Min] to [Backoff.Max],
// is jittered, and goes back to Min after the child ran stably for
// [Backoff.ResetAfter]. The zero [Backoff] always gives a delay of 0, which
// is exactly the OTP behaviour.
//
// # Names
//
// The String methods of [Strategy], [Restart], [AutoShutdown] and [ExitReason]
// return the OTP atoms (one_for_all, transient, any_significant, shutdown,
// ...), and [ParseStrategy], [ParseRestart] and [ParseAutoShutdown] accept them.
//
// # Nil contexts and options
//
// Nothing here takes a context or options (the rule the other packages
// state for them does not arise); a nil [Rand] gives a backoff without
// jitter.
package strategy
