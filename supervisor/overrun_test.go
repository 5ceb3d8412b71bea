package supervisor_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// stuckJob is handled by stuckWorker; its string field makes every access
// to the runtime's in-flight slot visible to the race detector.
type stuckJob struct {
	id    int
	label string
	block bool
}

// TestSupervisedDeadlineOverruns overruns a supervised child's message
// deadline several times in a row, with nothing ordering the abandoned
// goroutines and the runtime: under -race nothing an abandoned
// incarnation can still touch is reused by its successors, each overrun
// is a restart by the supervisor, and every message is handled once.
func TestSupervisedDeadlineOverruns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem()
		release := make(chan struct{})
		handled := make(chan stuckJob, 16)
		sup, err := supervisor.Start(sys, "sup", []supervisor.ChildSpec{
			supervisor.NewWorker("w", func() actor.Actor[stuckJob] {
				return actor.Func[stuckJob](func(ctx actor.Context, m stuckJob) error {
					if m.block && ctx.Attempt() == 1 {
						<-release
						_ = m.label + m.label
						return nil
					}
					handled <- m
					return nil
				})
			}, actor.WithDeadline(time.Second)),
		}, supervisor.WithIntensity(10, time.Minute))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		ref, ok := supervisor.LookupChild[stuckJob](sup, "w")
		if !ok {
			t.Fatal("LookupChild: not found")
		}
		const n = 5
		for i := range n {
			if err := ref.Tell(context.Background(), stuckJob{id: 2 * i, label: "blocker", block: true}); err != nil {
				t.Fatal(err)
			}
			if err := ref.Tell(context.Background(), stuckJob{id: 2*i + 1, label: "plain"}); err != nil {
				t.Fatal(err)
			}
		}
		for want := range 2 * n {
			select {
			case got := <-handled:
				if got.id != want {
					t.Fatalf("handled: got job %d; want %d", got.id, want)
				}
			case <-time.After(bubbleLimit):
				t.Fatal("timed out waiting for a job")
			}
		}
		synctest.Wait()
		if got := len(sys.Leaked()); got != n {
			t.Errorf("Leaked while stuck: got %d; want %d", got, n)
		}
		close(release)
		synctest.Wait()
		if got := len(sys.Leaked()); got != 0 {
			t.Errorf("Leaked after release: got %d; want 0", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), bubbleLimit)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}
