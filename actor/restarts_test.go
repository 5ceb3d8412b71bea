package actor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// managerActor spawns one managed child and starts it again after each
// exit, telling restarted when that start returned.
type managerActor struct {
	child     chan<- actor.Ref[bool]
	restarted chan<- error
}

func (m *managerActor) Start(ctx actor.Context) error {
	// WithMaxAttempts(1): a failed message is not redelivered, so each
	// one fails once.
	ref, c, err := actor.SpawnChild(ctx, "kid", func() actor.Actor[bool] { return failingKid{} }, actor.WithMaxAttempts(1))
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	m.child <- ref
	return nil
}

func (m *managerActor) Receive(actor.Context, struct{}) error { return nil }

func (m *managerActor) HandleExit(ctx actor.Context, e actor.Exit) error {
	err := e.Child.Start(ctx)
	select {
	case m.restarted <- err:
	case <-ctx.Done(): // stopping: the test is over
	}
	return nil
}

// failingKid fails on true.
type failingKid struct{}

func (failingKid) Receive(_ actor.Context, fail bool) error {
	if fail {
		return errors.New("kid failed")
	}
	return nil
}

// TestManagedChildRestarts checks that Stats().Restarts counts the
// restarts of a managed child by its parent, as it counts restarts in
// place: every start after the first.
func TestManagedChildRestarts(t *testing.T) {
	sys := actor.NewSystem()
	defer func() { _ = sys.Shutdown(context.Background()) }()
	child := make(chan actor.Ref[bool], 1)
	restarted := make(chan error, 1)
	_, err := actor.Spawn(sys, "manager", func() actor.Actor[struct{}] {
		return &managerActor{child: child, restarted: restarted}
	})
	if err != nil {
		t.Fatalf("Spawn: got %v; want nil", err)
	}
	kid := recvWithin(t, false, child, "the child")
	if got := kid.Stats().Restarts; got != 0 {
		t.Fatalf("Restarts after the first start: got %d; want 0", got)
	}
	const n = 3
	for i := 1; i <= n; i++ {
		if err := kid.Tell(context.Background(), true); err != nil {
			t.Fatalf("Tell: got %v; want nil", err)
		}
		if err := recvWithin(t, false, restarted, "a restart by the parent"); err != nil {
			t.Fatalf("restart %d: got %v; want nil", i, err)
		}
		if st := kid.Stats(); st.Restarts != uint64(i) || st.Failures != uint64(i) {
			t.Fatalf("after restart %d: Restarts/Failures: got %d/%d; want %d/%d", i, st.Restarts, st.Failures, i, i)
		}
	}
}
