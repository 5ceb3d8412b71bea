package actor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
)

// hooked is an actor with a Stop hook that waits on gate, so a test can
// see whether stops run one after the other or together.
type hooked struct {
	gate    chan struct{}
	inHook  *sync.WaitGroup
	stopped *atomic.Int32
}

func (h hooked) Receive(actor.Context, int) error { return nil }
func (h hooked) Stop(actor.Context, actor.ExitReason) {
	h.inHook.Done()
	<-h.gate
	h.stopped.Add(1)
}

// StopAll starts every stop before it waits for any: all Stop hooks are
// running at once (with PID.Stop in a loop the second would not start
// before the first returned), and StopAll returns once all are gone.
func TestStopAllConcurrent(t *testing.T) {
	const n = 20
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	gate := make(chan struct{})
	var inHook sync.WaitGroup
	var stopped atomic.Int32
	inHook.Add(n)
	pids := make([]actor.PID, 0, n+1)
	for range n {
		ref, err := actor.Spawn(sys, "", func() actor.Actor[int] { return hooked{gate, &inHook, &stopped} },
			actor.WithShutdown(actor.Infinity))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, ref.PID())
	}
	pids = append(pids, nil) // skipped
	done := make(chan error, 1)
	go func() { done <- actor.StopAll(nil, pids...) }() // Owner: this test; ends when every actor stopped.
	allIn := make(chan struct{})
	go func() { inHook.Wait(); close(allIn) }() // Owner: this test; ends when all hooks run.
	recvWithin(t, false, allIn, "all Stop hooks running at once")
	close(gate)
	if err := recvWithin(t, false, done, "StopAll"); err != nil {
		t.Fatal(err)
	}
	if got := stopped.Load(); got != n {
		t.Fatalf("StopAll returned with %d of %d stopped", got, n)
	}
	for _, pid := range pids[:n] {
		select {
		case <-pid.Done():
		default:
			t.Fatalf("%s not done after StopAll", pid.Path())
		}
	}
}

// A ctx that ends first makes StopAll return ctx's error; the stops go on.
func TestStopAllContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem()
		gate := make(chan struct{})
		var inHook sync.WaitGroup
		var stopped atomic.Int32
		inHook.Add(1)
		ref, err := actor.Spawn(sys, "slow", func() actor.Actor[int] { return hooked{gate, &inHook, &stopped} },
			actor.WithShutdown(actor.Infinity))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := actor.StopAll(ctx, ref.PID()); !errors.Is(err, context.Canceled) {
			t.Fatalf("StopAll with an ended ctx: got %v; want context.Canceled", err)
		}
		close(gate)
		<-ref.PID().Done()
		if stopped.Load() != 1 {
			t.Fatal("the stop did not go on after StopAll returned")
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
