package actor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// TestAskActorStops checks that an Ask whose request is queued when the
// actor stops for good returns ErrStopped instead of waiting for ctx.
func TestAskActorStops(t *testing.T) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)
	entered, release := make(chan struct{}), make(chan struct{})
	type req struct{ r actor.Reply[int] }
	ref, err := actor.Spawn(sys, "busy", func() actor.Actor[req] {
		return actor.Func[req](func(ctx actor.Context, m req) error {
			if !m.r.Valid() {
				close(entered)
				<-release
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Tell(ctx, req{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	res := make(chan error, 1)
	go func() { // exits when Ask returns; waited for by <-res below
		_, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) req { return req{r} })
		res <- err
	}()
	stopped := make(chan error, 1)
	go func() { stopped <- ref.Stop(ctx) }() // waited for by <-stopped below
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	if err := <-res; !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Ask to an actor that stopped: got %v; want ErrStopped", err)
	}
}

// TestWatchersBeforeDone checks that a watcher has been called when Stop
// returns.
func TestWatchersBeforeDone(t *testing.T) {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)
	ref, err := actor.Spawn(sys, "w", func() actor.Actor[int] { return actor.Func[int](func(actor.Context, int) error { return nil }) })
	if err != nil {
		t.Fatal(err)
	}
	called := false // written by the watcher before Done closes
	ref.PID().Watch(func(actor.Terminated) { called = true })
	if err := ref.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("watcher not called when Stop returned")
	}
}
