package pool_test

import (
	"context"
	"fmt"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/route"
)

// Square is a request: the worker replies n².
type Square struct {
	N     int
	Reply actor.Reply[int]
}

// A pool of three workers, asked through its one handle.
func Example() {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	p, err := pool.New(sys, "squares", func() actor.Actor[Square] {
		return actor.Func[Square](func(ctx actor.Context, s Square) error {
			return s.Reply.Send(ctx, s.N*s.N)
		})
	}, pool.WithWorkers(3), pool.WithRouter(route.RoundRobin()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sum := 0
	for n := 1; n <= 4; n++ {
		v, err := pool.Ask(ctx, p, func(r actor.Reply[int]) Square { return Square{N: n, Reply: r} })
		if err != nil {
			fmt.Println(err)
			return
		}
		sum += v
	}
	fmt.Println("sum of squares:", sum)
	fmt.Println(p.Stats().Router, p.Size(), "workers")
	fmt.Println(p.Stop(ctx))
	// Output:
	// sum of squares: 30
	// round-robin 3 workers
	// <nil>
}
