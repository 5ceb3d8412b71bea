package actor_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/observe"
)

// TestSubscribeNeverBlocks subscribes with a buffer of 2 and never reads
// while an actor fails and restarts 20 times: the runtime goes on, the
// events that did not fit are counted (by the subscription and in the
// Snapshot), the two that fit arrive with their failure IDs, and
// Shutdown closes the channel.
func TestSubscribeNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem()
		sub := sys.Subscribe(2)
		done := make(chan int, 32)
		ref := mustSpawn(t, sys, "flaky", func() actor.Actor[int] {
			return actor.Func[int](func(ctx actor.Context, n int) error {
				if ctx.Attempt() == 1 {
					panic("flaky")
				}
				done <- n
				return nil
			})
		})
		const n = 20
		for i := range n {
			mustTell(t, ref, i)
		}
		for range n {
			brecv(t, done, "a message handled after its restart")
		}
		synctest.Wait()
		// started, then per message: failed, restarted (and started).
		if d := sub.Dropped(); d < 2*n {
			t.Errorf("Dropped: got %d; want at least %d", d, 2*n)
		}
		if snap := sys.Snapshot(context.Background(), observe.SnapshotOptions{}); snap.EventsDropped != sub.Dropped() {
			t.Errorf("Snapshot.EventsDropped: got %d; want %d", snap.EventsDropped, sub.Dropped())
		}
		first := <-sub.Events()
		if first.Kind != "started" || first.Path != ref.Path() {
			t.Errorf("first event: got %+v; want started %s", first, ref.Path())
		}
		second := <-sub.Events()
		if second.Kind != "failed" || second.FailureID == 0 || second.ErrorType != observe.ErrorPanic {
			t.Errorf("second event: got %+v; want a panic failure with an ID", second)
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		for range sub.Events() { // drains to the close
		}
		sub.Close() // idempotent after Shutdown closed it
		late := sys.Subscribe(1)
		if _, ok := <-late.Events(); ok {
			t.Error("a subscription made after Shutdown is open; want it closed")
		}
	})
}

// TestSubscriptionClose closes a subscription while events flow: no
// event arrives after Close returned and the channel is closed.
func TestSubscriptionClose(t *testing.T) {
	h := newHarness(t)
	sub := h.sys.Subscribe(64)
	mustSpawn(t, h.sys, "a", echo)
	sub.Close()
	sub.Close()
	n := 0
	for range sub.Events() {
		n++
	}
	mustSpawn(t, h.sys, "b", echo)
	if n > 1 {
		t.Errorf("events after Close: got %d; want at most the one before it", n)
	}
}
