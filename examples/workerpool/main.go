// Workerpool: a one-for-one supervisor over a pool of workers fed by a
// dispatcher, with jittered exponential backoff and a poison message.
//
// A dispatcher actor hands jobs round-robin to three workers that run under
// a one-for-one supervisor. One job is poison: it panics on every delivery.
// Each panic restarts only that worker, after a delay that doubles from
// Backoff.Min with ±20% jitter; the worker's mailbox keeps the jobs queued
// behind the poison one meanwhile. The job is redelivered to the fresh
// worker until WithMaxAttempts is used up, then it goes to the dead-letter
// sink with its error. Every other job is done.
//
// What to copy: the supervisor options (WithBackoff, WithIntensity sized
// for the expected restarts), the worker spawn options (WithMaxAttempts,
// a bounded mailbox), the dead-letter sink, and a dispatcher that holds
// the workers' Refs, which stay valid across restarts.
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
	"github.com/troupe-go/troupe/mailbox"
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

// newWorker returns the factory of worker id: every restart gets a fresh
// worker, as the supervisor calls the factory again.
// It reports each job done by sending its id to results.
func newWorker(id string, results chan<- string) func() actor.Actor[Job] {
	return func() actor.Actor[Job] {
		return actor.Func[Job](func(ctx actor.Context, j Job) error {
			if j.ID == poison {
				panic(fmt.Sprintf("job %d: corrupt payload", j.ID))
			}
			results <- id // room for every job: never blocks
			return nil
		})
	}
}

// dispatcher hands jobs to the workers in turn. A Tell to a full worker
// mailbox waits: the backpressure reaches whoever tells the dispatcher.
type dispatcher struct {
	workers []actor.Ref[Job]
	next    int
}

func (d *dispatcher) Receive(ctx actor.Context, j Job) error {
	w := d.workers[d.next%len(d.workers)]
	d.next++
	return w.Tell(ctx, j)
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

	specs := make([]supervisor.ChildSpec, workers)
	for i := range specs {
		id := fmt.Sprintf("worker-%d", i+1)
		specs[i] = supervisor.NewWorker(id, newWorker(id, results),
			actor.WithMaxAttempts(attempts), actor.WithMailbox(4, mailbox.Block))
	}
	sup, err := supervisor.Start(sys, "pool", specs, supervisor.WithBackoff(backoff), supervisor.WithRand(rnd),
		supervisor.WithIntensity(attempts, time.Second)) // room for the poison job's restarts
	if err != nil {
		return err
	}
	refs := make([]actor.Ref[Job], workers)
	for i, s := range specs {
		refs[i], _ = supervisor.LookupChild[Job](sup, s.ID)
	}
	disp, err := actor.Spawn(sys, "dispatcher", func() actor.Actor[Job] { return &dispatcher{workers: refs} })
	if err != nil {
		return err
	}

	for id := 1; id <= jobs; id++ {
		if err := disp.Tell(ctx, Job{ID: id}); err != nil {
			return err
		}
	}
	// Wait for every good job and the poison job's dead letter. Jobs 8 and
	// 11 queue behind the poison job in worker-2's mailbox, which survives
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

	for _, s := range specs {
		printf("%s: %d jobs done\n", s.ID, counts[s.ID])
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
