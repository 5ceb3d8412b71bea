package cases

// The protoactor-go side of the pipeline cases (see pipeline.go): the same
// shape with protoactor actors, set up once per benchmark run on
// protoSystem() (logger silenced, no metrics) and reused by every
// iteration.
//
//   - source: the benchmark goroutine sends each item of the shared input
//     slice to the map actor with RootContext.Send.
//   - map: an actor (actor.PropsFromFunc, default unbounded mailbox) that
//     Sends 2v to the router.
//   - work: router.NewRoundRobinPool(4) over worker actors that Send v+1 to
//     the sink. protoactor's router is a process that picks the next routee
//     on the sending goroutine (here the map actor's), with no mailbox of
//     its own in between; its router actor only manages the routees.
//   - sink: an actor that adds up the items and, after the n-th of an
//     iteration, sends the sum to the benchmark goroutine on a channel and
//     starts over.
//
// Every mailbox is unbounded, so the source never waits: up to n items can
// queue in front of the map actor. Items travel as interface{} values, one
// per message; boxing an int of 256 or more allocates, which is part of
// what protoactor's untyped messages cost. After the timed part the three
// actors (the router with its routees) are stopped with StopFuture.

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/router"
)

func protoPipeline(b *testing.B, n int) {
	items := pipelineInput(n)
	sys := protoSystem()
	sums := make(chan int)
	seen, sum := 0, 0 // touched only by the sink
	sink := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if v, ok := c.Message().(int); ok {
			sum += v
			seen++
			if seen == n {
				sums <- sum
				seen, sum = 0, 0
			}
		}
	}))
	pool := sys.Root.Spawn(router.NewRoundRobinPool(4, actor.WithFunc(func(c actor.Context) {
		if v, ok := c.Message().(int); ok {
			c.Send(sink, pipelineWork(v))
		}
	})))
	mapper := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if v, ok := c.Message().(int); ok {
			c.Send(pool, pipelineMap(v))
		}
	}))
	b.ResetTimer()
	for range b.N {
		for _, v := range items {
			sys.Root.Send(mapper, v)
		}
		checkPipelineSum(b, "protoactor", n, <-sums)
	}
	b.StopTimer()
	reportItemsPerSec(b, n)
	protoStop(b, sys, mapper)
	protoStop(b, sys, pool)
	protoStop(b, sys, sink)
}
