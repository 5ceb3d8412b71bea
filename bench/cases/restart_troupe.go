package cases

// The troupe side of the supervision cases (see restart.go for what each
// case measures), through the public actor and supervisor APIs.
//
// System: one actor.NewSystem() per benchmark run with the defaults (no-op
// logger, no event sink, dead letters only counted), ended with
// System.Shutdown after the timed part, which stops the supervisor and its
// children.
//
// Supervisor: supervisor.Start(sys, name, children, ...) at the top level
// with WithIntensity(1<<30, time.Second), so it never gives up, and no
// backoff (the default: restart at once). Workers are
// supervisor.NewWorker[string] specs with the default restart (permanent)
// and shutdown (5 s), spawned with actor.WithMaxAttempts(1) so the "panic"
// message is dead-lettered instead of being redelivered to the fresh
// incarnation. The benchmark reaches a worker through
// supervisor.LookupChild, whose Ref stays valid across restarts, and sends
// with Ref.Tell(context.Background(), m).
//
//   - restart-latency-*: WithStrategy(OneForOne), one worker, default
//     (unbounded) mailbox. Its Receive is an actor.Func[string] that panics
//     on "panic" and answers "ping". A panic is recovered by the runtime and
//     becomes a failure; the supervisor, told through its exit handler,
//     starts a fresh incarnation (a new actor from the factory) on the same
//     mailbox, where "ping" is waiting.
//   - restarts-per-sec: as above, with actor.WithMailbox(1024, mailbox.Block),
//     the bound of the plain channel; Tell blocks while the mailbox is full.
//   - rest-for-one-10: WithStrategy(RestForOne), 10 workers w0..w9 started
//     in that order, each an actor with a Start hook (actor.Starter) that
//     signals a WaitGroup; the supervisor calls it for every incarnation.
//     A panic of w0 stops w9..w1 (last started first), then starts w0..w9.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/supervisor"
)

// troupeSupervise starts a supervisor over children under a fresh system
// with the strategy kind and the never-give-up intensity.
func troupeSupervise(b *testing.B, kind supervisor.Option, children ...supervisor.ChildSpec) (*actor.System, *supervisor.Supervisor) {
	sys := actor.NewSystem()
	sup, err := supervisor.Start(sys, "sup", children, kind,
		supervisor.WithIntensity(restartIntensity, time.Second))
	if err != nil {
		troupeShutdown(b, sys)
		b.Fatalf("troupe supervisor: %v", err)
	}
	return sys, sup
}

// troupeWorker returns the Ref of the supervisor's child id.
func troupeWorker(b *testing.B, sup *supervisor.Supervisor, id string) actor.Ref[string] {
	ref, ok := supervisor.LookupChild[string](sup, id)
	if !ok {
		b.Fatalf("troupe: no child %q", id)
	}
	return ref
}

// troupeSender returns a send function for the measuring loops.
func troupeSender(b *testing.B, ref actor.Ref[string]) func(string) {
	ctx := context.Background()
	return func(m string) {
		if err := ref.Tell(ctx, m); err != nil {
			b.Fatalf("troupe tell: %v", err)
		}
	}
}

func troupeRestartLatency(b *testing.B) {
	p := newRestartProbe()
	spec := supervisor.NewWorker("w", func() actor.Actor[string] {
		return actor.Func[string](func(_ actor.Context, m string) error {
			p.handle(m)
			return nil
		})
	}, actor.WithMaxAttempts(1))
	sys, sup := troupeSupervise(b, supervisor.WithStrategy(supervisor.OneForOne), spec)
	defer troupeShutdown(b, sys)
	measureRestartLatency(b, p, troupeSender(b, troupeWorker(b, sup, "w")))
}

func troupeRestartRate(b *testing.B) {
	c := newRestartCounter(b.N)
	spec := supervisor.NewWorker("w", func() actor.Actor[string] {
		return actor.Func[string](func(_ actor.Context, m string) error {
			c.handle(m)
			return nil
		})
	}, actor.WithMaxAttempts(1), actor.WithMailbox(1024, mailbox.Block))
	sys, sup := troupeSupervise(b, supervisor.WithStrategy(supervisor.OneForOne), spec)
	defer troupeShutdown(b, sys)
	measureRestartRate(b, c, troupeSender(b, troupeWorker(b, sup, "w")))
}

// troupeGroupWorker is a rest-for-one-10 worker: every incarnation's Start
// signals started, and "panic" crashes it.
type troupeGroupWorker struct{ started *sync.WaitGroup }

func (w troupeGroupWorker) Start(actor.Context) error {
	w.started.Done()
	return nil
}

func (w troupeGroupWorker) Receive(_ actor.Context, m string) error {
	if m == msgPanic {
		panic(errBenchCrash)
	}
	return nil
}

func troupeRestForOne(b *testing.B) {
	var started sync.WaitGroup
	specs := make([]supervisor.ChildSpec, restartGroupSize)
	for i := range specs {
		specs[i] = supervisor.NewWorker(fmt.Sprintf("w%d", i), func() actor.Actor[string] {
			return troupeGroupWorker{started: &started}
		}, actor.WithMaxAttempts(1))
	}
	started.Add(restartGroupSize)
	sys, sup := troupeSupervise(b, supervisor.WithStrategy(supervisor.RestForOne), specs...)
	defer troupeShutdown(b, sys)
	started.Wait()
	send := troupeSender(b, troupeWorker(b, sup, "w0"))
	b.ResetTimer()
	for range b.N {
		started.Add(restartGroupSize)
		send(msgPanic)
		started.Wait()
	}
	b.StopTimer()
}
