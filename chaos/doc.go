// Package chaos injects faults into actors, supervision trees and
// pipelines, and checks that a run under those faults kept its
// invariants: nothing lost, poison in dead letters only, restarts that
// match the faults, correct aggregates, no goroutine left behind.
//
// # The monkey
//
// A [Monkey] is built from a seed and [Rule]s. Each rule names a fault
// kind (Kill, FailStart, Slow, Stall, Cancel), the actors or points it
// targets by a [path.Match] pattern, and how often it fires: a rate per
// hit, a rate per second, or a fixed count. The same seed gives the same
// schedule (see [Monkey] for the exact promise under concurrency), and
// every fault is recorded ([Monkey.Faults]).
//
// Point it at actors by installing it in their system:
//
//	m, err := chaos.New(seed,
//		chaos.Rule{Kind: chaos.Kill, Pattern: "/app/workers/*", Rate: 0.01},
//		chaos.Rule{Kind: chaos.FailStart, Pattern: "/app/db", Count: 1},
//	)
//	sys := actor.NewSystem(actor.WithFaultInjector(m), actor.WithEvents(checker.Event))
//
// Without a fault injector the runtime pays one nil check per message;
// a nil *Monkey is also valid everywhere and injects nothing.
//
// A pipeline builds its own system: give it the monkey with
// pipeline.WithFaultInjector(m), and rules match its workers by path
// ("/<pipeline>/<stage>/w<i>"). To fault a chosen point of your own code,
// and to make the decision depend on the item rather than on the order of
// hits, call [Monkey.Inject] or [Monkey.InjectItem] there:
//
//	pipeline.Map(in, "decode", func(ctx context.Context, r Raw) (Event, error) {
//		if err := m.InjectItem(ctx, "decode", r.ID); err != nil {
//			return Event{}, err // a FailStart or Stall; a Kill panics
//		}
//		return decode(r)
//	})
//
// # Attempts and kills
//
// A kill fails the message (or item) being handled; the runtime redelivers
// it, and a message that failed on every allowed attempt is dead-lettered
// as poison. So that kills alone never turn a healthy item into a dead
// letter, a rule gives one message, or one item at one site, at most
// Rule.MaxPerItem faults (default 1). Keep actor.WithMaxAttempts, or a
// pipeline stage's Retry attempts, above the most kills one item can get
// in that actor or stage: MaxPerItem for each Kill rule and each site
// inside the stage that it matches.
//
// # The checker
//
// A [Checker] collects what entered, what came out, what was
// dead-lettered and the event stream, then [Checker.Check] compares them
// with each other and with the monkey's record. It works for any id type
// and needs nothing from the code under test but those calls.
//
// # Nil contexts and options
//
// A nil [context.Context] is treated as [context.Background]: no call
// panics or fails because of it, and a call that waits for its context
// waits as long as it takes. A nil option in an option list is skipped,
// and so is an option given a nil value (a nil logger, clock, function,
// store or injector), as if it were left out. Here that means a Slow hit
// with a nil ctx sleeps its whole Delay and a Stall hit blocks for good;
// BeforeReceive and BeforeStart, which the runtime calls with the actor's
// Context, inject nothing for a nil one.
package chaos
