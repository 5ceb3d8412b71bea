package cases

// The protoactor-go side of the supervision cases (see restart.go for what
// each case measures), with its own supervision API.
//
// System: protoSystem(), as in protoactor.go (logger silenced, no metrics).
//
// Supervision: protoactor has no supervisor process; a parent actor
// supervises the children it spawns with Context.Spawn, using the strategy
// given by actor.WithSupervisor in its props. The parent here spawns its
// children when it handles *actor.Started and hands their PIDs to the
// benchmark over a channel; the benchmark then sends to the children with
// RootContext.Send. Messages are untyped; the string constants "panic" and
// "ping" are sent as is (a constant in an interface does not allocate).
//
// A panic in a child is recovered by its mailbox and escalated to the
// parent as a *actor.Failure; the child's mailbox is suspended until the
// parent's decision. The failing message is not redelivered. On restart the
// child gets *actor.Restarting, a fresh actor from its producer, then
// *actor.Started, and its mailbox resumes with "ping" waiting.
//
// Strategies are built with maxNrOfRetries 1<<30 (never give up, as on the
// troupe side), actor.DefaultDecider (restart on any failure) and a window
// of 0, not the 1 s troupe gets. This is deliberate: protoactor keeps every
// failure time of a child in its RestartStatistics and never trims the list
// (child_restart_stats.go), and with a non-zero window every failure scans
// the whole list, so a run of b.N restarts would cost O(b.N²) and the number
// would depend on b.N. (With a 1 s window, restarts-per-sec measured about
// 35 µs per restart at b.N = 3000 and 86 µs at b.N = 30000 on the 2-core
// dev machine; with 0, 17 µs at both.) With a window of 0 the check is the
// list's length, which is the cheapest protoactor can do; the list still
// grows by one time.Time per restart.
//
//   - restart-latency-* and restarts-per-sec: the parent uses
//     actor.NewOneForOneStrategy and has one child, with the default
//     (unbounded) mailbox, that panics on "panic" and answers "ping".
//   - rest-for-one-10: protoactor has no rest-for-one strategy. The closest
//     equivalent is actor.NewAllForOneStrategy, which restarts every child of
//     the parent when one fails: with the failing child first among 10, as
//     here, rest-for-one restarts the same 10. The parent spawns 10 children
//     c0..c9; each signals a WaitGroup when it handles *actor.Started (once
//     at spawn, once per restart), and c0 panics on "panic". Unlike
//     rest-for-one, protoactor does not stop c9..c1 first and then start
//     them in order: it sends each child a restart system message and the
//     children restart concurrently on their own mailbox goroutines.

import (
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// protoWindow is the withinDuration of the strategies; see the file comment.
const protoWindow = 0

// protoSupervise spawns a parent with strategy that spawns n children from
// child when it starts, and returns the parent's and the children's PIDs.
func protoSupervise(sys *actor.ActorSystem, strategy actor.SupervisorStrategy, n int, child *actor.Props) (parent *actor.PID, kids []*actor.PID) {
	spawned := make(chan []*actor.PID, 1)
	parent = sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actor.Started); ok {
			pids := make([]*actor.PID, n)
			for i := range pids {
				pids[i] = c.Spawn(child)
			}
			spawned <- pids
		}
	}, actor.WithSupervisor(strategy)))
	return parent, <-spawned
}

// protoOneForOne spawns a one-for-one parent with one child whose Receive
// is handle, and returns the parent and a send function to the child.
func protoOneForOne(sys *actor.ActorSystem, handle func(string)) (parent *actor.PID, send func(string)) {
	child := actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(string); ok {
			handle(m)
		}
	})
	strategy := actor.NewOneForOneStrategy(restartIntensity, protoWindow, actor.DefaultDecider)
	parent, kids := protoSupervise(sys, strategy, 1, child)
	return parent, func(m string) { sys.Root.Send(kids[0], m) }
}

func protoRestartLatency(b *testing.B) {
	sys := protoSystem()
	p := newRestartProbe()
	parent, send := protoOneForOne(sys, p.handle)
	measureRestartLatency(b, p, send)
	protoStop(b, sys, parent)
}

func protoRestartRate(b *testing.B) {
	sys := protoSystem()
	c := newRestartCounter(b.N)
	parent, send := protoOneForOne(sys, c.handle)
	measureRestartRate(b, c, send)
	protoStop(b, sys, parent)
}

func protoAllForOne(b *testing.B) {
	sys := protoSystem()
	var started sync.WaitGroup
	child := actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			started.Done()
		case string:
			if m == msgPanic {
				panic(errBenchCrash)
			}
		}
	})
	strategy := actor.NewAllForOneStrategy(restartIntensity, protoWindow, actor.DefaultDecider)
	started.Add(restartGroupSize)
	parent, kids := protoSupervise(sys, strategy, restartGroupSize, child)
	started.Wait()
	b.ResetTimer()
	for range b.N {
		started.Add(restartGroupSize)
		sys.Root.Send(kids[0], msgPanic)
		started.Wait()
	}
	b.StopTimer()
	protoStop(b, sys, parent)
}
