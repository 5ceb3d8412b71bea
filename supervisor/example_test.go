package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// exampleWorker says when it starts; the message "crash" makes it fail.
type exampleWorker struct {
	id      string
	started chan<- string
}

func (w *exampleWorker) Start(actor.Context) error {
	w.started <- w.id
	return nil
}

func (w *exampleWorker) Receive(_ actor.Context, m string) error {
	if m == "crash" {
		return errors.New("crash requested")
	}
	return nil
}

// This example starts a one-for-one supervisor with two workers, crashes
// one of them, and lists the children once the supervisor restarted it.
func ExampleStart() {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)

	started := make(chan string, 8)
	worker := func(id string) supervisor.ChildSpec {
		// WithMaxAttempts(1): the crash message is not redelivered to the
		// restarted worker.
		return supervisor.NewWorker(id, func() actor.Actor[string] {
			return &exampleWorker{id: id, started: started}
		}, actor.WithMaxAttempts(1))
	}
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{worker("db"), worker("cache")},
		supervisor.WithStrategy(supervisor.OneForOne),
		supervisor.WithIntensity(3, time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("started", <-started, <-started)

	cache, _ := supervisor.LookupChild[string](sup, "cache")
	_ = cache.Tell(ctx, "crash")
	fmt.Println("restarted", <-started)

	kids, err := sup.WhichChildren(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range kids {
		fmt.Println(k.ID, k.Type, k.Status, k.PID.Path())
	}
	fmt.Println("stop:", sup.Stop(ctx))
	// Output:
	// started db cache
	// restarted cache
	// db worker running /app/db
	// cache worker running /app/cache
	// stop: <nil>
}

// addReq asks for the sum of a and b.
type addReq struct {
	a, b  int
	reply actor.Reply[int]
}

// This example adds a worker to a running supervisor, asks it something,
// and shows what a second StartChild with the same id returns.
func ExampleSupervisor_StartChild() {
	ctx := context.Background()
	sys := actor.NewSystem()
	defer sys.Shutdown(ctx)

	sup, err := supervisor.Start(sys, "jobs", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	spec := supervisor.NewWorker("adder", func() actor.Actor[addReq] {
		return actor.Func[addReq](func(ctx actor.Context, m addReq) error {
			return m.reply.Send(ctx, m.a+m.b)
		})
	})
	spec.Restart = supervisor.Transient
	if err := sup.StartChild(ctx, spec); err != nil {
		fmt.Println(err)
		return
	}

	adder, _ := supervisor.LookupChild[addReq](sup, "adder")
	sum, err := actor.Ask(ctx, adder, func(r actor.Reply[int]) addReq { return addReq{a: 2, b: 3, reply: r} })
	fmt.Println("2 + 3 =", sum, err)

	err = sup.StartChild(ctx, spec)
	fmt.Println(err, errors.Is(err, supervisor.ErrAlreadyStarted))

	n, _ := sup.CountChildren(ctx)
	fmt.Printf("%+v\n", n)
	// Output:
	// 2 + 3 = 5 <nil>
	// supervisor: child already started true
	// {Specs:1 Active:1 Supervisors:0 Workers:1}
}

// exampleFlaky fails to start on its second and third starts.
type exampleFlaky struct{ starts *atomic.Int32 }

func (f *exampleFlaky) Start(actor.Context) error {
	if n := f.starts.Add(1); n == 2 || n == 3 {
		return errors.New("not ready")
	}
	return nil
}

func (f *exampleFlaky) Receive(_ actor.Context, m string) error {
	if m == "crash" {
		return errors.New("crash requested")
	}
	return nil
}

// This example delays the restarts of a worker: after its crash, and after
// each failed start, the delay doubles from Min, as the backoff events
// show. The worker's Ref and mailbox stay the same throughout.
func ExampleWithBackoff() {
	ctx := context.Background()
	events := make(chan actor.Event, 16)
	sys := actor.NewSystem(actor.WithEvents(func(e actor.Event) {
		if e.Kind == actor.EventBackoff || e.Kind == actor.EventRestarted {
			events <- e // the sink must not block: the channel has room
		}
	}))
	defer sys.Shutdown(ctx)

	var starts atomic.Int32
	spec := supervisor.NewWorker("flaky", func() actor.Actor[string] {
		return &exampleFlaky{starts: &starts}
	}, actor.WithMaxAttempts(1))
	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{spec},
		supervisor.WithIntensity(5, time.Minute),
		supervisor.WithBackoff(strategy.Backoff{Min: 10 * time.Millisecond, Max: time.Second, Factor: 2}))
	if err != nil {
		fmt.Println(err)
		return
	}
	flaky, _ := supervisor.LookupChild[string](sup, "flaky")
	_ = flaky.Tell(ctx, "crash")
	for e := range events {
		if e.Kind == actor.EventBackoff {
			fmt.Println("restart", e.Path, "in", e.Delay)
			continue
		}
		fmt.Println("restarted", e.Path)
		break
	}
	fmt.Println("starts:", starts.Load())
	// Output:
	// restart /app/flaky in 10ms
	// restart /app/flaky in 20ms
	// restart /app/flaky in 40ms
	// restarted /app/flaky
	// starts: 4
}
