package actor_test

import (
	"context"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// ctxWaiter blocks in Receive until its ctx is cancelled and returns
// ctx.Err(), as well-behaved long handlers do.
type ctxWaiter struct {
	entered chan struct{}
	mu      *sync.Mutex
	reasons *[]actor.ExitReason
}

func (w *ctxWaiter) Receive(ctx actor.Context, _ int) error {
	close(w.entered)
	<-ctx.Done()
	return ctx.Err()
}

func (w *ctxWaiter) Stop(_ actor.Context, r actor.ExitReason) {
	w.mu.Lock()
	*w.reasons = append(*w.reasons, r)
	w.mu.Unlock()
}

// TestReceiveReturnsCtxErrOnStop checks that a Receive returning ctx.Err()
// because the actor is being stopped is not a failure: the Stop hook gets
// Shutdown, no failure is counted, and the interrupted message goes to
// dead letters as stopped.
func TestReceiveReturnsCtxErrOnStop(t *testing.T) {
	ctx := context.Background()
	var dead []actor.DeadLetter
	var mu sync.Mutex
	sys := actor.NewSystem(actor.WithDeadLetters(func(d actor.DeadLetter) { mu.Lock(); dead = append(dead, d); mu.Unlock() }))
	defer sys.Shutdown(ctx)
	var reasons []actor.ExitReason
	entered := make(chan struct{})
	ref, err := actor.Spawn(sys, "w", func() actor.Actor[int] { return &ctxWaiter{entered: entered, mu: &mu, reasons: &reasons} })
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(ctx, 1); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := ref.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || reasons[0] != actor.Shutdown {
		t.Errorf("Stop hook reasons: got %v; want [shutdown]", reasons)
	}
	if st := ref.Stats(); st.Failures != 0 || st.DeadLettered != 1 || st.InFlight != 0 {
		t.Errorf("stats: got %+v; want no failure, 1 dead letter, nothing in flight", st)
	}
	if len(dead) != 1 || dead[0].Reason != actor.DeadStopped || dead[0].Message != 1 {
		t.Errorf("dead letters: got %+v; want message 1 as stopped", dead)
	}
}
