package cases

// The protoactor-go side, set up the way its docs recommend for an in-process
// actor and as fast as its public API allows.
//
// System: one actor.NewActorSystem per benchmark run, configured only with
// actor.WithLoggerFactory returning slog.New(slog.DiscardHandler), so its
// default tint logger to stderr is silenced. No metrics provider (metrics
// stay disabled), no middleware, default supervisor.
//
// Actors: actor.PropsFromFunc with the defaults: the unbounded mailbox
// (actor.Unbounded) and the default goroutine dispatcher with throughput
// 300. An actor holds no goroutine while its mailbox is empty; the
// dispatcher starts one when a message arrives.
//
// Messages: protoactor messages are interface{} values; every send here
// passes the same preallocated *protoMsg, so no case pays for boxing a
// payload and the allocations reported are protoactor's own (envelopes,
// queue nodes, futures).
//
//   - tell-1to1 / tell-2to1 / tell-4to1: RootContext.Send from one, two or four sender
//     goroutines (released together by closing a start channel) to one
//     actor that counts messages and closes done at b.N. The mailbox is
//     unbounded, so senders never block.
//   - ask: RootContext.RequestFuture(pid, msg, -1) then Future.Result; the
//     actor answers with Context.Respond. A negative timeout means no timer,
//     the same "wait forever" the troupe and plain sides have.
//   - pingpong: actors A and B, each holding the other's PID. The benchmark
//     sends one message to A; A counts a round trip and Sends to B, B Sends
//     back to A; A closes done after b.N round trips.
//   - spawn-stop: RootContext.Spawn, then RootContext.StopFuture(pid).Wait(),
//     which returns once the actor has terminated. StopFuture's future always
//     arms a 10 s timer; that is part of protoactor's stop.
//   - idle-*: n actors spawned with Spawn; each signals a WaitGroup when it
//     handles *actor.Started, and the spawner returns once all have. Stop is
//     RootContext.Stop on each, waiting until each has handled
//     *actor.Stopped.

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

type protoMsg struct{ n int }

// protoBall is the message every protoactor case sends.
var protoBall = &protoMsg{n: 1}

func protoSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// protoStop stops pid and waits until it has terminated.
func protoStop(b *testing.B, sys *actor.ActorSystem, pid *actor.PID) {
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		b.Fatalf("protoactor stop: %v", err)
	}
}

// protoCounter spawns an actor that closes done after n *protoMsg.
func protoCounter(sys *actor.ActorSystem, n int, done chan struct{}) *actor.PID {
	seen := 0 // touched only by the actor
	return sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*protoMsg); ok {
			seen++
			if seen == n {
				close(done)
			}
		}
	}))
}

func protoTell1(b *testing.B) {
	sys := protoSystem()
	done := make(chan struct{})
	pid := protoCounter(sys, b.N, done)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sys.Root.Send(pid, protoBall)
	}
	<-done
	b.StopTimer()
	protoStop(b, sys, pid)
}

func protoTell2(b *testing.B) { protoTellN(b, 2) }
func protoTell4(b *testing.B) { protoTellN(b, 4) }

// protoTellN is tell-1to1 with senders sender goroutines released together.
func protoTellN(b *testing.B, senders int) {
	sys := protoSystem()
	start, done := make(chan struct{}), make(chan struct{})
	pid := protoCounter(sys, b.N, done)
	var sent sync.WaitGroup
	for s := 0; s < senders; s++ {
		k := split(b.N, senders, s)
		sent.Add(1)
		go func() { // exits after sending k; waited for by sent
			defer sent.Done()
			<-start
			for i := 0; i < k; i++ {
				sys.Root.Send(pid, protoBall)
			}
		}()
	}
	b.ResetTimer()
	close(start)
	<-done
	b.StopTimer()
	sent.Wait()
	protoStop(b, sys, pid)
}

func protoAsk(b *testing.B) {
	sys := protoSystem()
	reply := &protoMsg{n: 2}
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*protoMsg); ok {
			c.Respond(reply)
		}
	}))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := sys.Root.RequestFuture(pid, protoBall, -1).Result()
		if err != nil || v != reply {
			b.Fatalf("protoactor ask: got %v, %v; want %v", v, err, reply)
		}
	}
	b.StopTimer()
	protoStop(b, sys, pid)
}

func protoPingPong(b *testing.B) {
	sys := protoSystem()
	done := make(chan struct{})
	n := b.N
	// pa and pb are written before the first message is sent, and the
	// mailbox hand-off orders that write before every read in the actors.
	var pa, pb *actor.PID
	rounds := 0 // touched only by A
	pa = sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*protoMsg); ok {
			rounds++
			if rounds > n {
				close(done)
				return
			}
			c.Send(pb, protoBall)
		}
	}))
	pb = sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*protoMsg); ok {
			c.Send(pa, protoBall)
		}
	}))
	b.ResetTimer()
	sys.Root.Send(pa, protoBall)
	<-done
	b.StopTimer()
	protoStop(b, sys, pa)
	protoStop(b, sys, pb)
}

func protoSpawnStop(b *testing.B) {
	sys := protoSystem()
	props := actor.PropsFromFunc(func(actor.Context) {})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		protoStop(b, sys, sys.Root.Spawn(props))
	}
}

func protoIdle(b *testing.B, n int) (stop func()) {
	sys := protoSystem()
	var started, stopped sync.WaitGroup
	started.Add(n)
	stopped.Add(n)
	props := actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started:
			started.Done()
		case *actor.Stopped:
			stopped.Done()
		}
	})
	pids := make([]*actor.PID, n)
	for i := range pids {
		pids[i] = sys.Root.Spawn(props)
	}
	started.Wait()
	return func() {
		for _, pid := range pids {
			sys.Root.Stop(pid)
		}
		stopped.Wait()
	}
}
