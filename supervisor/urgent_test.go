// TestUrgentToWaitingActorIsLostOnStop was found by the pipeline package:
// an Urgent message to an actor waiting for a backoff restart must be
// dead-lettered when the actor is then stopped for good.
package supervisor_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// An Urgent message accepted (nil error) by an actor that is waiting for a
// backoff restart is neither delivered nor dead-lettered when the actor is
// then stopped for good: it stays in the system lane of a closed mailbox.
// A Tell in the same situation is dead-lettered. Semantics 4: "Messages to
// a stopped actor go to dead letters."
func TestUrgentToWaitingActorIsLostOnStop(t *testing.T) {
	var mu sync.Mutex
	var dead []any
	backoff := make(chan struct{}, 1)
	sys := actor.NewSystem(actor.WithDeadLetters(func(d actor.DeadLetter) {
		mu.Lock()
		dead = append(dead, d.Message)
		mu.Unlock()
	}), actor.WithEvents(func(e actor.Event) {
		if e.Kind == actor.EventBackoff {
			backoff <- struct{}{}
		}
	}))
	defer sys.Shutdown(context.Background())
	failed := make(chan struct{}, 10)
	delivered := make(chan string, 10)
	sup, err := supervisor.Start(sys, "sup", []supervisor.ChildSpec{
		supervisor.NewWorker("w", func() actor.Actor[string] {
			return actor.Func[string](func(ctx actor.Context, m string) error {
				if m == "boom" {
					failed <- struct{}{}
					panic("boom")
				}
				delivered <- m
				return nil
			})
		}, actor.WithMaxAttempts(1)),
	}, supervisor.WithIntensity(10, time.Second), supervisor.WithBackoff(strategy.Backoff{Min: time.Hour, Max: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := supervisor.LookupChild[string](sup, "w")
	if err := ref.Tell(context.Background(), "boom"); err != nil {
		t.Fatal(err)
	}
	<-failed
	<-backoff // the child is down, its restart an hour away; its mailbox is open
	if err := ref.Urgent("urgent"); err != nil {
		t.Fatalf("Urgent: %v", err)
	}
	if err := ref.Tell(context.Background(), "told"); err != nil {
		t.Fatalf("Tell: %v", err)
	}
	if err := sup.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	close(delivered)
	var got []string
	for m := range delivered {
		got = append(got, m)
	}
	lost := true
	for _, m := range append(dead, stringsToAny(got)...) {
		if m == "urgent" {
			lost = false
		}
	}
	t.Logf("delivered %v, dead letters %v", got, dead)
	if lost {
		t.Fatal(`Urgent returned nil for "urgent", but it was neither delivered nor dead-lettered`)
	}
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
