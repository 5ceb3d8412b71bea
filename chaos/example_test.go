package chaos_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/pipeline"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// This example installs a monkey in an actor system to kill a supervised
// worker twice, and checks that every message was handled and every kill
// was answered by a restart.
func ExampleNew() {
	m, err := chaos.New(1, chaos.Rule{Kind: chaos.Kill, Pattern: "/app/worker", Count: 2})
	if err != nil {
		panic(err)
	}
	c := chaos.NewChecker[int]()
	sys := actor.NewSystem(actor.WithFaultInjector(m), actor.WithEvents(c.Event))
	ctx := context.Background()

	done := make(chan struct{})
	worker := func() actor.Actor[int] {
		return actor.Func[int](func(_ actor.Context, v int) error {
			c.Delivered(v)
			if v == 9 {
				close(done)
			}
			return nil
		})
	}
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{supervisor.NewWorker("worker", worker)},
		supervisor.WithIntensity(10, time.Second))
	if err != nil {
		panic(err)
	}
	ref, _ := supervisor.LookupChild[int](sup, "worker")
	for i := range 10 {
		c.Entered(i)
		_ = ref.Tell(ctx, i)
	}
	<-done
	_ = sys.Shutdown(ctx)

	rep := c.Check(ctx, m)
	fmt.Println("problems:", rep.Err())
	fmt.Println("delivered:", rep.Delivered, "kills:", m.Count(chaos.Kill), "restarts:", rep.Restarts)
	// Output:
	// problems: <nil>
	// delivered: 10 kills: 2 restarts: 2
}

// This example kills the workers of a pipeline stage through a fault
// point in the stage's own function (a pipeline builds its own actor
// system), and checks that nothing was lost. InjectItem decides by item
// id, so the seed fixes which items are killed, whatever the workers do.
func ExampleMonkey_InjectItem() {
	m, err := chaos.New(7, chaos.Rule{Kind: chaos.Kill, Pattern: "square", Rate: 0.01})
	if err != nil {
		panic(err)
	}
	c := chaos.NewChecker[int]()
	p := pipeline.New(pipeline.WithEvents(c.Event))

	type sq struct{ id, v int }
	src := pipeline.FromSeq(p, "numbers", func(yield func(int) bool) {
		for i := range 10000 {
			c.Entered(i)
			if !yield(i) {
				return
			}
		}
	})
	squares := pipeline.Map(src, "square", func(ctx context.Context, i int) (sq, error) {
		if err := m.InjectItem(ctx, "square", uint64(i)); err != nil {
			return sq{}, err
		}
		return sq{i, i * i}, nil
	},
		pipeline.WithWorkers(4),
		// About 100 kills in a fraction of a second: allow them.
		pipeline.WithSupervision(strategy.OneForOne, 1000, time.Second, strategy.Backoff{}),
		// One kill per item at most (MaxPerItem), so 2 attempts suffice.
		pipeline.WithRetry(2, strategy.Backoff{}))
	pipeline.ToFunc(squares, "sink", func(_ context.Context, s sq) error {
		c.Delivered(s.id)
		return nil
	})
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}

	rep := c.Check(context.Background(), m)
	fmt.Println("problems:", rep.Err())
	fmt.Println("delivered:", rep.Delivered, "lost:", len(rep.Lost))
	fmt.Println("kills:", m.Count(chaos.Kill), "restarts:", rep.Restarts)
	// Output:
	// problems: <nil>
	// delivered: 10000 lost: 0
	// kills: 83 restarts: 83
}
