// Hedged: a hedged request across two replica actors.
//
// The client asks the primary replica. If no answer comes within the hedge
// delay, it asks the backup too, and takes whichever answers first. The
// request carries the caller's context, so when one answer wins, the
// cancel of that context tells the loser to stop working on it, and the
// Ask still waiting for the loser returns. Nothing is left running: the
// test checks for leaked goroutines.
//
// What to copy: hedge (one context for both Asks, cancelled when the first
// answer wins, and a WaitGroup so it returns only after both Asks did), and
// a replica that selects on the request's context while it works.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Get asks a replica for the value of Key.
type Get struct {
	// Ctx is the request's context, as in http.Request: the replica stops
	// working on the request when it ends.
	Ctx   context.Context
	Key   string
	Reply actor.Reply[string]
}

// counts is what a replica did, kept outside the actor so that it
// survives restarts and can be read after shutdown.
type counts struct{ served, cancelled atomic.Int64 }

// replica answers after a latency that depends on the key.
type replica struct {
	latency func(key string) time.Duration
	n       *counts
}

func (r *replica) Receive(ctx actor.Context, g Get) error {
	select {
	case <-time.After(r.latency(g.Key)): // simulated lookup
		r.n.served.Add(1)
		_ = g.Reply.Send(ctx, "value of "+g.Key) // a late reply goes to dead letters
	case <-g.Ctx.Done():
		r.n.cancelled.Add(1) // the other replica won
	case <-ctx.Done():
		return ctx.Err() // this replica is stopping
	}
	return nil
}

// hedge asks primary for key and, if it has not answered after delay,
// asks backup too. It returns the first answer and who gave it, after
// cancelling the other request and waiting for its Ask to return: no
// goroutine outlives the call.
func hedge(ctx context.Context, primary, backup actor.Ref[Get], key string, delay time.Duration) (string, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	type answer struct {
		from, v string
		err     error
	}
	answers := make(chan answer, 2) // room for both: a late loser never blocks
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (defers run last in, first out)
	defer cancel()  // the loser's request ends here
	ask := func(r actor.Ref[Get]) {
		// Stopped by cancel (or by an answer); waited for by wg.Wait above.
		wg.Go(func() {
			v, err := actor.Ask(ctx, r, func(rep actor.Reply[string]) Get { return Get{Ctx: ctx, Key: key, Reply: rep} })
			answers <- answer{r.Path(), v, err}
		})
	}

	ask(primary)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	asked, failed := 1, 0
	var errs []error
	for {
		select {
		case a := <-answers:
			if a.err == nil {
				return a.v, a.from, nil
			}
			errs = append(errs, a.err)
			if failed++; failed < asked {
				continue
			}
			if asked == 2 {
				return "", "", errors.Join(errs...)
			}
			ask(backup) // the primary failed before the delay: hedge now
			asked++
			timer.Stop()
		case <-timer.C:
			ask(backup)
			asked++
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
	}
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hedged:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	// The primary is slow on "cold" keys (a cache miss); the backup is
	// steady at 20ms.
	var pn, bn counts
	primary, err := actor.Spawn(sys, "primary", func() actor.Actor[Get] {
		return &replica{n: &pn, latency: func(key string) time.Duration {
			if key == "cold" {
				return time.Second
			}
			return 10 * time.Millisecond
		}}
	})
	if err != nil {
		return err
	}
	backup, err := actor.Spawn(sys, "backup", func() actor.Actor[Get] {
		return &replica{n: &bn, latency: func(string) time.Duration { return 20 * time.Millisecond }}
	})
	if err != nil {
		return err
	}

	const delay = 50 * time.Millisecond
	for _, key := range []string{"warm", "cold"} {
		start := time.Now()
		v, from, err := hedge(ctx, primary, backup, key, delay)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %q from %s after %v\n", key, v, from, time.Since(start).Round(time.Millisecond))
	}
	if err := sys.Shutdown(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "primary: served %d, cancelled %d\n", pn.served.Load(), pn.cancelled.Load())
	fmt.Fprintf(w, "backup:  served %d, cancelled %d\n", bn.served.Load(), bn.cancelled.Load())
	return nil
}
