package cases

// The pool case, pool-4workers: one sender goroutine (the benchmark's)
// sends b.N small ints to a pool of 4 workers; each worker adds 1 to a
// shared atomic counter per message, and the one that counts the b.N-th
// closes done. The unit is ns/msg: the time from the first send to the
// last message handled, per message. The same counter runs on every side,
// so its cost (one contended atomic add per message) is in every column.
//
//   - troupe: pool.New with pool.WithWorkers(4) and route.RoundRobin() (the
//     router protoactor's pool has), each worker's mailbox bounded to
//     pool.DefaultMailbox (1024) with the Block policy; Pool.Tell with
//     context.Background(), which blocks while the picked worker's
//     mailbox is full. The workers are actor.Func[int] under the pool's
//     supervisor.
//   - protoactor: router.NewRoundRobinPool(4, actor.WithFunc(...)) on
//     protoSystem(); RootContext.Send of the shared *protoMsg. The routees'
//     mailboxes are unbounded, so the sender never waits.
//   - plain: the hand-written channel worker pool: one `chan int` of
//     capacity 1024 and 4 goroutines ranging over it; the sender closes the
//     channel after the last value and waits for the workers to exit.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	pactor "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/router"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/route"
)

const poolWorkers = 4

// poolCounter counts handled messages and closes done at the n-th.
type poolCounter struct {
	n    int64
	seen atomic.Int64
	done chan struct{}
}

func newPoolCounter(n int) *poolCounter { return &poolCounter{n: int64(n), done: make(chan struct{})} }

func (c *poolCounter) add() {
	if c.seen.Add(1) == c.n {
		close(c.done)
	}
}

func troupePool(b *testing.B) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	c := newPoolCounter(b.N)
	p, err := pool.New(sys, "pool", func() actor.Actor[int] {
		return actor.Func[int](func(actor.Context, int) error { c.add(); return nil })
	}, pool.WithWorkers(poolWorkers), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		b.Fatalf("troupe pool: %v", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Tell(ctx, i); err != nil {
			b.Fatalf("troupe pool tell: %v", err)
		}
	}
	<-c.done
	b.StopTimer()
}

func protoPool(b *testing.B) {
	sys := protoSystem()
	c := newPoolCounter(b.N)
	pid := sys.Root.Spawn(router.NewRoundRobinPool(poolWorkers, pactor.WithFunc(func(ctx pactor.Context) {
		if _, ok := ctx.Message().(*protoMsg); ok {
			c.add()
		}
	})))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sys.Root.Send(pid, protoBall)
	}
	<-c.done
	b.StopTimer()
	protoStop(b, sys, pid)
}

func plainPool(b *testing.B) {
	c := newPoolCounter(b.N)
	ch := make(chan int, 1024)
	var wg sync.WaitGroup
	for range poolWorkers {
		wg.Add(1)
		go func() { // exits when ch is closed; waited for by wg
			defer wg.Done()
			for range ch {
				c.add()
			}
		}()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ch <- i
	}
	<-c.done
	b.StopTimer()
	close(ch)
	wg.Wait()
}
