package actor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// injector fails the next receive or start of every actor when armed.
type injector struct {
	failReceive, failStart atomic.Int32
}

var errInjected = errors.New("injected")

func (f *injector) BeforeReceive(actor.Context) error {
	if f.failReceive.Add(-1) >= 0 {
		panic(errInjected)
	}
	return nil
}

func (f *injector) BeforeStart(actor.Context) error {
	if f.failStart.Add(-1) >= 0 {
		return errInjected
	}
	return nil
}

// TestFaultInjector checks that an injected receive panic is a failure of
// the message (redelivered to the fresh incarnation) and that an injected
// start failure fails Spawn with the injected error.
func TestFaultInjector(t *testing.T) {
	ctx := context.Background()
	fi := &injector{}
	sys := actor.NewSystem(actor.WithFaultInjector(fi))
	defer sys.Shutdown(ctx)

	fi.failStart.Store(1)
	_, err := actor.Spawn(sys, "a", func() actor.Actor[int] { return actor.Func[int](func(actor.Context, int) error { return nil }) })
	if !errors.Is(err, errInjected) {
		t.Fatalf("Spawn with an injected start failure: got %v; want %v", err, errInjected)
	}

	got := make(chan int, 1)
	ref, err := actor.Spawn(sys, "b", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, m int) error {
			if ctx.Attempt() == 2 {
				got <- m
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	fi.failReceive.Store(1)
	if err := ref.Tell(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != 7 {
		t.Fatalf("redelivered message: got %d; want 7", m)
	}
	if st := ref.Stats(); st.Failures != 1 || st.Restarts != 1 || st.Processed != 1 {
		t.Fatalf("stats: got %+v; want 1 failure, 1 restart, 1 processed", st)
	}
}
