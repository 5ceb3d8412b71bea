package supervisor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// This example crashes a worker twice and reads the counters a service
// can alert on: the supervisor's restarts and intensity usage (read
// without waiting for the supervisor) and the worker's own restarts.
func ExampleSupervisor_Stats() {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)

	started := make(chan string, 8)
	spec := supervisor.NewWorker("cache", func() actor.Actor[string] {
		return &exampleWorker{id: "cache", started: started}
	}, actor.WithMaxAttempts(1))
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(3, time.Minute))
	if err != nil {
		fmt.Println(err)
		return
	}
	<-started
	cache, _ := supervisor.LookupChild[string](sup, "cache")
	for range 2 {
		_ = cache.Tell(ctx, "crash")
		<-started
	}

	st := sup.Stats()
	fmt.Printf("restarts %d, intensity %d of %d in %v, gave up %d\n",
		st.Restarts, st.IntensityUsed, st.IntensityLimit, st.Period, st.GaveUp)
	// WhichChildren is served once the restart is complete.
	kids, _ := sup.WhichChildren(ctx)
	fmt.Println(kids[0].ID, "restarts:", kids[0].Restarts, cache.Stats().Restarts)
	// Output:
	// restarts 2, intensity 2 of 3 in 1m0s, gave up 0
	// cache restarts: 2 2
}
