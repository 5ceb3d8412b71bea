package cases

// The troupe side, through its public API only.
//
// System: one actor.NewSystem() per benchmark run with the defaults (no-op
// logger, dead letters only counted, no event sink), ended with
// System.Shutdown after the timed part.
//
// Actors: actor.Spawn(sys, "", factory) at the top level (auto-named), with
// actor.Func[int] (or actor.Func[troupeReq] for ask) and the default
// throughput. A troupe actor holds no goroutine while its mailbox is empty;
// a post to an idle mailbox schedules one. Messages are plain ints: a
// Ref[int] is typed, so no case boxes its payload.
//
//   - tell-1to1 / tell-2to1 / tell-4to1: mailbox actor.WithMailbox(1024, mailbox.Block),
//     the same bound as the plain channel; one or two sender goroutines
//     (released together by closing a start channel) call Ref.Tell with
//     context.Background(), which blocks while the mailbox is full. The
//     actor counts messages and closes done at b.N.
//   - ask: same mailbox; actor.Ask(context.Background(), ref, build) where
//     build wraps the actor.Reply[int] into a troupeReq, and the actor
//     answers n+1 with Reply.Send. No deadline, like the other two sides.
//   - pingpong: actors A and B with default (unbounded) mailboxes, each
//     holding the other's Ref. The benchmark Tells A once; A counts a round
//     trip and Tells B with its own Context, B Tells back to A; A closes
//     done after b.N round trips.
//   - spawn-stop: actor.Spawn with the default options and a factory that
//     returns a shared no-op actor.Func, then Ref.Stop(context.Background()),
//     which returns once the actor stopped for good.
//   - idle-*: n actors spawned with the default options; Spawn returns once
//     the actor started, so the spawner returns after the last Spawn. Stop is
//     System.Shutdown, which stops them all and waits for every goroutine
//     the runtime started.

import (
	"context"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// troupeNoop is the actor spawn-stop and the idle cases spawn.
var troupeNoop = actor.Func[int](func(actor.Context, int) error { return nil })

func troupeShutdown(b *testing.B, sys *actor.System) {
	if err := sys.Shutdown(context.Background()); err != nil {
		b.Fatalf("troupe shutdown: %v", err)
	}
}

// troupeCounter spawns an actor with a 1024-slot blocking mailbox that
// closes done after n messages.
func troupeCounter(b *testing.B, sys *actor.System, n int, done chan struct{}) actor.Ref[int] {
	seen := 0 // touched only by the actor
	ref, err := actor.Spawn(sys, "", func() actor.Actor[int] {
		return actor.Func[int](func(_ actor.Context, _ int) error {
			seen++
			if seen == n {
				close(done)
			}
			return nil
		})
	}, actor.WithMailbox(1024, mailbox.Block))
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	return ref
}

func troupeTell1(b *testing.B) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	done := make(chan struct{})
	ref := troupeCounter(b, sys, b.N, done)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ref.Tell(ctx, i); err != nil {
			b.Fatalf("troupe tell: %v", err)
		}
	}
	<-done
	b.StopTimer()
}

func troupeTell2(b *testing.B) { troupeTellN(b, 2) }
func troupeTell4(b *testing.B) { troupeTellN(b, 4) }

// troupeTellN is tell-1to1 with senders sender goroutines released together.
func troupeTellN(b *testing.B, senders int) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	start, done := make(chan struct{}), make(chan struct{})
	ref := troupeCounter(b, sys, b.N, done)
	var sent sync.WaitGroup
	errs := make(chan error, senders)
	for s := 0; s < senders; s++ {
		k := split(b.N, senders, s)
		sent.Add(1)
		go func() { // exits after sending k; waited for by sent
			defer sent.Done()
			<-start
			for i := 0; i < k; i++ {
				if err := ref.Tell(ctx, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	b.ResetTimer()
	close(start)
	select {
	case <-done:
	case err := <-errs:
		b.Fatalf("troupe tell: %v", err)
	}
	b.StopTimer()
	sent.Wait()
}

type troupeReq struct {
	n     int
	reply actor.Reply[int]
}

func troupeAsk(b *testing.B) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	ref, err := actor.Spawn(sys, "", func() actor.Actor[troupeReq] {
		return actor.Func[troupeReq](func(ctx actor.Context, m troupeReq) error {
			return m.reply.Send(ctx, m.n+1)
		})
	}, actor.WithMailbox(1024, mailbox.Block))
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) troupeReq { return troupeReq{i, r} })
		if err != nil || v != i+1 {
			b.Fatalf("troupe ask: got %d, %v; want %d", v, err, i+1)
		}
	}
	b.StopTimer()
}

func troupePingPong(b *testing.B) {
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	done := make(chan struct{})
	n := b.N
	// ra and rb are written before the first Tell, and the mailbox
	// hand-off orders that write before every read in the actors.
	var ra, rb actor.Ref[int]
	rounds := 0 // touched only by A
	ra, err := actor.Spawn(sys, "a", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, m int) error {
			rounds++
			if rounds > n {
				close(done)
				return nil
			}
			return rb.Tell(ctx, m)
		})
	})
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	rb, err = actor.Spawn(sys, "b", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, m int) error {
			return ra.Tell(ctx, m)
		})
	})
	if err != nil {
		b.Fatalf("troupe spawn: %v", err)
	}
	b.ResetTimer()
	if err := ra.Tell(context.Background(), 0); err != nil {
		b.Fatalf("troupe tell: %v", err)
	}
	<-done
	b.StopTimer()
}

func troupeSpawnStop(b *testing.B) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer troupeShutdown(b, sys)
	factory := func() actor.Actor[int] { return troupeNoop }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ref, err := actor.Spawn(sys, "", factory)
		if err != nil {
			b.Fatalf("troupe spawn: %v", err)
		}
		if err := ref.Stop(ctx); err != nil {
			b.Fatalf("troupe stop: %v", err)
		}
	}
	b.StopTimer()
}

func troupeIdle(b *testing.B, n int) (stop func()) {
	sys := actor.NewSystem()
	factory := func() actor.Actor[int] { return troupeNoop }
	refs := make([]actor.Ref[int], n)
	for i := range refs {
		ref, err := actor.Spawn(sys, "", factory)
		if err != nil {
			b.Fatalf("troupe spawn: %v", err)
		}
		refs[i] = ref
	}
	return func() {
		troupeShutdown(b, sys)
		_ = refs // the refs are what a caller keeps; they count as held
	}
}
