package actor_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// TestManyActors spawns 100k actors (20k under the race detector or
// -short), has each handle a message, stops half of them one by one from
// several goroutines and the rest with System.Shutdown: no goroutine of
// the runtime is left (and goleak checks the process in TestMain).
func TestManyActors(t *testing.T) {
	n := 100_000
	if raceEnabled || testing.Short() {
		n = 20_000
	}
	sys := actor.NewSystem()
	var handled atomic.Int64
	all := make(chan struct{})
	factory := func() actor.Actor[int] {
		return actor.Func[int](func(actor.Context, int) error {
			if handled.Add(1) == int64(n) {
				close(all)
			}
			return nil
		})
	}
	refs := make([]actor.Ref[int], n)
	for i := range refs {
		refs[i] = mustSpawn(t, sys, "", factory)
	}
	for i, ref := range refs {
		mustTell(t, ref, i)
	}
	recv(t, all, "every actor to handle its message")

	const stoppers = 4
	var wg sync.WaitGroup
	for s := range stoppers {
		wg.Go(func() { // ends after its share of Stops; joined below
			for i := s; i < n/2; i += stoppers {
				if err := refs[i].Stop(context.Background()); err != nil {
					t.Errorf("Stop(%s): got %v; want nil", refs[i].Path(), err)
					return
				}
			}
		})
	}
	recv(t, done(wg.Wait), "Stops")
	ctx, cancel := context.WithTimeout(context.Background(), budget(t, false))
	defer cancel()
	if err := sys.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: got %v; want nil", err)
	}
	if g := sys.Goroutines(); g != 0 {
		t.Errorf("Goroutines after Shutdown: got %d; want 0", g)
	}
	for _, ref := range refs {
		select {
		case <-ref.PID().Done():
		default:
			t.Fatalf("%s: not stopped after Shutdown", ref.Path())
		}
		if st := ref.Stats(); st.Processed != 1 || st.InFlight != 0 {
			t.Fatalf("%s: Processed/InFlight: got %d/%d; want 1/0", ref.Path(), st.Processed, st.InFlight)
		}
	}
}
