package cases

// The hook cases: actors with a Start and a Stop hook, on all three sides.
//
//   - spawn-100k-hooks: spawn n live actors with both hooks, wait until
//     every Start hook ran, then stop them all the way a user of each side
//     stops many, and wait until all are gone. The unit is ns/actor for the
//     whole (spawn+stop); spawn-ns/actor, stop-ns/actor and B/actor (as in
//     measureIdle, read after runtime.GC while all are live, outside the
//     timed parts) are extra metrics.
//   - spawn-100k-hooks-shutdown: troupe only, the same actors stopped with
//     one System.Shutdown instead of one Ref.Stop each.
//   - spawn-100k-hooks-stopall: troupe only, the same actors stopped with
//     one actor.StopAll (every stop started before any is waited for).
//   - idle-hooks-bytes-100k: measureIdle over the same spawners.
//
// The hooks do the same work on every side: the start hook signals a
// started WaitGroup, the stop hook a stopped one.

import (
	"context"
	"sync"
	"testing"
	"time"

	proto "github.com/asynkron/protoactor-go/actor"
	"github.com/troupe-go/troupe/actor"
)

// measureSpawnStop spawns n actors with spawn and stops them b.N times and
// reports ns/actor (spawn+stop), spawn-ns/actor, stop-ns/actor and B/actor.
func measureSpawnStop(b *testing.B, n int, spawn idleSpawner) {
	var spawnNS, stopNS, bytes float64
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		before := settle()
		t0 := time.Now()
		stop := spawn(b, n)
		spawnNS += float64(time.Since(t0).Nanoseconds())
		after := settle()
		bytes += float64(after.mem) - float64(before.mem)
		t1 := time.Now()
		stop()
		stopNS += float64(time.Since(t1).Nanoseconds())
	}
	per := float64(b.N) * float64(n)
	b.ReportMetric((spawnNS+stopNS)/per, "ns/actor")
	b.ReportMetric(spawnNS/per, "spawn-ns/actor")
	b.ReportMetric(stopNS/per, "stop-ns/actor")
	b.ReportMetric(bytes/per, "B/actor")
	b.ReportMetric(0, "ns/op")
}

// troupeHooked is a troupe actor with a Start and a Stop hook.
type troupeHooked struct{ started, stopped *sync.WaitGroup }

func (a troupeHooked) Receive(actor.Context, int) error     { return nil }
func (a troupeHooked) Start(actor.Context) error            { a.started.Done(); return nil }
func (a troupeHooked) Stop(actor.Context, actor.ExitReason) { a.stopped.Done() }

// troupeHooks spawns n hooked actors; Spawn returns after the Start hook ran.
// How troupeHooks stops its actors.
const (
	stopEach     = iota // Ref.Stop on each, in spawn order: one round trip each
	stopAll             // one actor.StopAll
	stopShutdown        // one System.Shutdown
)

// troupeHooks spawns n hooked actors; Spawn returns after the Start hook
// ran. stop stops them as how says, then shuts the emptied system down.
func troupeHooks(how int) idleSpawner {
	return func(b *testing.B, n int) (stop func()) {
		sys := actor.NewSystem()
		var started, stopped sync.WaitGroup
		started.Add(n)
		stopped.Add(n)
		a := troupeHooked{&started, &stopped}
		factory := func() actor.Actor[int] { return a }
		refs := make([]actor.Ref[int], n)
		for i := range refs {
			ref, err := actor.Spawn(sys, "", factory)
			if err != nil {
				b.Fatalf("troupe spawn: %v", err)
			}
			refs[i] = ref
		}
		started.Wait()
		return func() {
			ctx := context.Background()
			switch how {
			case stopEach:
				for _, ref := range refs {
					if err := ref.Stop(ctx); err != nil {
						b.Fatalf("troupe stop: %v", err)
					}
				}
			case stopAll:
				pids := make([]actor.PID, len(refs))
				for i, ref := range refs {
					pids[i] = ref.PID()
				}
				if err := actor.StopAll(ctx, pids...); err != nil {
					b.Fatalf("troupe StopAll: %v", err)
				}
			}
			troupeShutdown(b, sys)
			stopped.Wait()
		}
	}
}

// protoHooks spawns n actors that run the start hook on *actor.Started and
// the stop hook on *actor.Stopping; stop is StopFuture on each, then a Wait
// on every future.
func protoHooks(b *testing.B, n int) (stop func()) {
	sys := protoSystem()
	var started, stopped sync.WaitGroup
	started.Add(n)
	stopped.Add(n)
	props := proto.PropsFromFunc(func(c proto.Context) {
		switch c.Message().(type) {
		case *proto.Started:
			started.Done()
		case *proto.Stopping:
			stopped.Done()
		}
	})
	pids := make([]*proto.PID, n)
	for i := range pids {
		pids[i] = sys.Root.Spawn(props)
	}
	started.Wait()
	return func() {
		futures := make([]*proto.Future, n)
		for i, pid := range pids {
			futures[i] = sys.Root.StopFuture(pid)
		}
		for _, f := range futures {
			if err := f.Wait(); err != nil {
				b.Fatalf("protoactor stop: %v", err)
			}
		}
		stopped.Wait()
	}
}

// plainHooks runs n goroutines that each run a start function, range over
// their own unbuffered channel and run a stop function; stop closes every
// channel and waits on a WaitGroup.
func plainHooks(b *testing.B, n int) (stop func()) {
	chans := make([]chan int, n)
	var started, stopped, exited sync.WaitGroup
	started.Add(n)
	stopped.Add(n)
	exited.Add(n)
	start, end := started.Done, stopped.Done
	for i := range chans {
		ch := make(chan int)
		chans[i] = ch
		go func() { // Owner: stop closes ch; waited for by exited
			defer exited.Done()
			start()
			for range ch {
			}
			end()
		}()
	}
	started.Wait()
	return func() {
		for _, ch := range chans {
			close(ch)
		}
		exited.Wait()
	}
}
