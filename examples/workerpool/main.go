// Workerpool: a pool of supervised workers behind one handle, with
// jittered exponential backoff and a poison message.
//
// A pool.Pool hands jobs round-robin to three workers that run under the
// pool's one-for-one supervisor. One job is poison: it panics on every
// delivery. Each panic restarts only that worker, after a delay that
// doubles from Backoff.Min with ±20% jitter; the worker's mailbox keeps
// the jobs queued behind the poison one meanwhile. The job is redelivered
// to the fresh worker until WithMaxAttempts is used up, then it goes to
// the dead-letter sink with its error. Every other job is done.
//
// What to copy: the pool options (Route, a bounded Mailbox, WorkerOptions
// with WithMaxAttempts, Supervise with WithBackoff and WithIntensity sized
// for the expected restarts) and the dead-letter sink. The pool replaces
// a hand-written dispatcher: Tell picks the worker and waits when its
// mailbox is full, so the backpressure reaches the caller.
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/pool"
	"github.com/troupe-go/troupe/route"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

const (
	workers  = 3
	jobs     = 12
	poison   = 5 // the job that always panics
	attempts = 3 // deliveries of a failing job before it is dead-lettered
)

// backoff is the restart delay: 10ms, 20ms, 40ms... up to 100ms, ±20%.
var backoff = strategy.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2, Jitter: 0.2}

// Job is one unit of work.
type Job struct{ ID int }

// newWorker is the factory of the pool's workers: every restart gets a
// fresh worker, as the supervisor calls the factory again. It reports
// each job done by sending the worker's name to results.
func newWorker(results chan<- string) func() actor.Actor[Job] {
	return func() actor.Actor[Job] {
		return actor.Func[Job](func(ctx actor.Context, j Job) error {
			if j.ID == poison {
				panic(fmt.Sprintf("job %d: corrupt payload", j.ID))
			}
			results <- ctx.Self().Name() // room for every job: never blocks
			return nil
		})
	}
}

func main() {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	if err := run(os.Stdout, rnd); err != nil {
		fmt.Fprintln(os.Stderr, "workerpool:", err)
		os.Exit(1)
	}
}

// run runs the pool; rnd draws the backoff jitter (the test fixes its seed).
func run(w io.Writer, rnd strategy.Rand) error {
	// Events arrive on the runtime's goroutines: serialize the output.
	var mu sync.Mutex
	printf := func(format string, a ...any) { mu.Lock(); defer mu.Unlock(); fmt.Fprintf(w, format, a...) }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	results := make(chan string, jobs)
	dead := make(chan actor.DeadLetter, jobs)
	sys := actor.NewSystem(
		actor.WithDeadLetters(func(d actor.DeadLetter) {
			select { // a sink must not block; room for every job
			case dead <- d:
			default:
			}
		}),
		actor.WithEvents(func(e actor.Event) {
			switch e.Kind {
			case actor.EventFailed:
				printf("failed    %s: %v\n", e.Path, e.Err)
			case actor.EventBackoff:
				printf("backoff   %s: restart in %v\n", e.Path, e.Delay.Round(time.Microsecond))
			}
		}))
	defer sys.Shutdown(context.Background())

	p, err := pool.New(sys, "pool", newWorker(results),
		pool.WithWorkers(workers), pool.WithRouter(route.RoundRobin()), pool.WithMailbox(4),
		pool.WithWorkerOptions(actor.WithMaxAttempts(attempts)),
		pool.WithSupervisor(supervisor.WithBackoff(backoff), supervisor.WithRand(rnd),
			supervisor.WithIntensity(attempts, time.Second))) // room for the poison job's restarts
	if err != nil {
		return err
	}

	for id := 1; id <= jobs; id++ {
		if err := p.Tell(ctx, Job{ID: id}); err != nil {
			return err
		}
	}
	// Wait for every good job and the poison job's dead letter. Round-robin
	// starts after worker-1, so the poison job 5 goes to worker-3; jobs 8
	// and 11 queue behind it in worker-3's mailbox, which survives
	// the restarts: they are done by the worker's last incarnation, so
	// every failure and backoff has been printed by then.
	counts := map[string]int{}
	for range jobs - 1 {
		id, err := recv(ctx, results)
		if err != nil {
			return err
		}
		counts[id]++
	}
	dl, err := recv(ctx, dead)
	if err != nil {
		return err
	}

	for i := 1; i <= workers; i++ {
		id := fmt.Sprintf("worker-%d", i)
		printf("%s: %d jobs done\n", id, counts[id])
	}
	printf("dead letter: %+v to %s, %s after %d attempts: %v\n", dl.Message, dl.Recipient, dl.Reason, dl.Attempts, dl.Err)
	return sys.Shutdown(ctx) // the deferred call is then a no-op
}

// recv waits for a value from ch, or for ctx to end.
func recv[T any](ctx context.Context, ch <-chan T) (T, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
