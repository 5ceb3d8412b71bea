// Graceful: a service that drains its work on SIGTERM and exits 0, or
// exits 1 when the drain takes longer than its timeout.
//
// A front door actor hands jobs to two supervised workers; a client
// submits one every 10ms, faster than the workers finish them, so a
// backlog builds up. On SIGTERM (or Ctrl-C) the service
//  1. closes the door: later jobs are refused, and since the door handles
//     messages in order, every job it accepted is already queued;
//  2. drains: it asks each worker for a flush reply, which comes once the
//     jobs queued before it are done, within the drain timeout;
//  3. stops the supervisor. Stop finishes the job in hand and dead-letters
//     what is still queued: nothing after a good drain, the abandoned jobs
//     after a timeout.
//
// The demo sends itself SIGTERM after -after (0 waits for a real signal).
// Try -drain=100ms to see a drain time out.
//
// What to copy: run's shutdown sequence, signal.NotifyContext in serve,
// and the flush request (Stop alone would drop the queued work).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/supervisor"
)

var (
	// ErrClosed is the door's answer once the service is shutting down.
	ErrClosed = errors.New("shutting down")
	// errDrainTimeout is returned by run when the drain timed out.
	errDrainTimeout = errors.New("drain timed out")
)

// task is a worker's message: a job, or a flush request.
type task struct {
	job   int
	flush actor.Reply[struct{}] // answered once everything queued before it is done
}

// worker does a job in 40ms, or gives it up when it is told to stop.
func worker(done *atomic.Int64) actor.Actor[task] {
	return actor.Func[task](func(ctx actor.Context, t task) error {
		if t.flush.Valid() {
			_ = t.flush.Send(ctx, struct{}{}) // a late reply goes to dead letters
			return nil
		}
		select {
		case <-time.After(40 * time.Millisecond):
			done.Add(1)
			return nil
		case <-ctx.Done():
			return ctx.Err() // stopping: the job goes to dead letters
		}
	})
}

// submit is the door's message: a job to accept, or (with close) the
// order to refuse every later job. The reply is the number accepted.
type submit struct {
	job   int
	close bool
	reply actor.Reply[int]
}

// door hands accepted jobs to the workers in turn. Its Tell waits while a
// worker's mailbox is full, which slows the client down. Replies are
// best effort: an asker that gave up is not a failure of the door.
type door struct {
	workers  []actor.Ref[task]
	accepted int
	closed   bool
}

func (d *door) Receive(ctx actor.Context, s submit) error {
	switch {
	case s.close:
		d.closed = true
		_ = s.reply.Send(ctx, d.accepted)
	case d.closed:
		_ = s.reply.Fail(ctx, ErrClosed)
	default:
		if err := d.workers[d.accepted%len(d.workers)].Tell(ctx, task{job: s.job}); err != nil {
			_ = s.reply.Fail(ctx, err)
			return nil
		}
		d.accepted++
		_ = s.reply.Send(ctx, d.accepted)
	}
	return nil
}

func main() { os.Exit(serve(os.Args[1:], os.Stdout, os.Stderr)) }

// serve parses the flags, runs until SIGTERM or Ctrl-C and returns the
// exit code: 0 if the work was drained, 1 otherwise.
func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graceful", flag.ContinueOnError)
	fs.SetOutput(stderr)
	after := fs.Duration("after", 200*time.Millisecond, "send SIGTERM to self after this long (0: wait for a real signal)")
	drain := fs.Duration("drain", time.Second, "drain timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *after > 0 {
		// The timer's goroutine sends one signal and ends; Stop cancels it
		// if run returned first. Nobody waits for it.
		t := time.AfterFunc(*after, func() {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(syscall.SIGTERM)
			}
		})
		defer t.Stop()
	}
	if err := run(ctx, stdout, *drain); err != nil {
		fmt.Fprintln(stderr, "graceful:", err)
		return 1
	}
	return 0
}

// run serves until ctx ends, then shuts down, draining within drain.
func run(ctx context.Context, w io.Writer, drain time.Duration) error {
	var mu sync.Mutex // guards abandoned: the sink runs on the runtime's goroutines
	var abandoned []int
	sys := actor.NewSystem(actor.WithDeadLetters(func(d actor.DeadLetter) {
		if t, ok := d.Message.(task); ok && t.job > 0 {
			mu.Lock()
			abandoned = append(abandoned, t.job)
			mu.Unlock()
		}
	}))
	defer sys.Shutdown(context.Background())

	var done atomic.Int64 // jobs done
	var specs []supervisor.ChildSpec
	for _, id := range []string{"w1", "w2"} {
		specs = append(specs, supervisor.NewWorker(id, func() actor.Actor[task] { return worker(&done) },
			actor.WithMailbox(4, mailbox.Block)))
	}
	sup, err := supervisor.Start(sys, "svc", specs)
	if err != nil {
		return err
	}
	w1, _ := supervisor.LookupChild[task](sup, "w1")
	w2, _ := supervisor.LookupChild[task](sup, "w2")
	workers := []actor.Ref[task]{w1, w2}
	front, err := actor.Spawn(sys, "door", func() actor.Actor[submit] { return &door{workers: workers} })
	if err != nil {
		return err
	}

	// The client submits a job every 10ms until the door refuses one
	// (refused is read after client.Wait). It stops on that refusal, or
	// on stopClient if run returns early; run waits for it either way.
	clientCtx, stopClient := context.WithCancel(context.Background())
	var client sync.WaitGroup
	var refused int
	defer client.Wait()
	defer stopClient()
	client.Go(func() {
		for job := 1; ; job++ {
			if _, err := actor.Ask(clientCtx, front, func(r actor.Reply[int]) submit { return submit{job: job, reply: r} }); err != nil {
				refused = job
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	<-ctx.Done()
	fmt.Fprintln(w, "signal: closing the door")
	accepted, err := actor.Ask(context.Background(), front, func(r actor.Reply[int]) submit { return submit{close: true, reply: r} })
	if err != nil {
		return err
	}
	client.Wait()
	before := done.Load()
	fmt.Fprintf(w, "accepted %d jobs (job %d refused): %d done, %d to drain\n", accepted, refused, before, int64(accepted)-before)

	drainCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	start := time.Now()
	var drainErr error
	for _, wk := range workers {
		_, drainErr = actor.Ask(drainCtx, wk, func(r actor.Reply[struct{}]) task { return task{flush: r} })
		if drainErr != nil {
			break
		}
	}
	elapsed := time.Since(start).Round(time.Millisecond)

	// Stop within a bound of its own: the workers give up their jobs on stop.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), time.Second)
	defer cancelStop()
	if err := errors.Join(front.Stop(stopCtx), sup.Stop(stopCtx)); err != nil {
		return err
	}
	// Counted once the workers stopped: a job that ended at the very
	// moment the drain timed out is done, not abandoned.
	drained := done.Load() - before
	if drainErr != nil {
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(abandoned)
		fmt.Fprintf(w, "drain timed out after %v: %d jobs done, jobs %v abandoned\n", elapsed, drained, abandoned)
		return fmt.Errorf("%w: %v", errDrainTimeout, drainErr)
	}
	fmt.Fprintf(w, "drained %d jobs in %v\n", drained, elapsed)
	return nil
}
