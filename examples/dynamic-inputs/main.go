// Dynamic-inputs: feeds added to and removed from a running pipeline.
//
// pipeline.Dynamic makes a merge whose inputs are channels that can be
// added (Inputs.Add) and removed (Inputs.Remove) while the pipeline runs;
// each input is read by its own goroutine. Here a service merges the
// event feeds of its tenants: tenant "acme" is there from the start,
// "globex" joins while the pipeline runs, and "acme" leaves: Remove
// returns once its feed is no longer read, and what it did not read
// stays in its channel. "initech" joins last and ends its feed by closing
// its channel. Close says no more feeds will come: the stream ends once
// the feeds still there ended, and Run returns.
//
// What to copy: Add, Remove and Close on the Inputs; a feed that ends by
// itself closes its channel; Close is what lets the pipeline end.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/troupe-go/troupe/pipeline"
)

// Event is one event of a tenant's feed.
type Event struct {
	Tenant string
	N      int
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dynamic-inputs:", err)
		os.Exit(1)
	}
}

// send sends n events of tenant on ch, numbered from first.
func send(ctx context.Context, ch chan<- Event, tenant string, first, n int) error {
	for i := first; i < first+n; i++ {
		select {
		case ch <- Event{tenant, i}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p := pipeline.New()
	events, feeds := pipeline.Dynamic[Event](p, "feeds")
	counted := map[string]int{} // the sink's only goroutine writes; read after Run
	var got []Event
	pipeline.ToFunc(events, "store", func(_ context.Context, e Event) error {
		counted[e.Tenant]++
		got = append(got, e)
		return nil
	})

	acme := make(chan Event) // unbuffered: a send returns once the feed read it
	if err := feeds.Add("acme", acme); err != nil {
		return err
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	if err := send(ctx, acme, "acme", 0, 5); err != nil {
		return err
	}

	// A tenant joins while the pipeline runs.
	globex := make(chan Event)
	if err := feeds.Add("globex", globex); err != nil {
		return err
	}
	if err := send(ctx, globex, "globex", 0, 3); err != nil {
		return err
	}
	if err := send(ctx, acme, "acme", 5, 2); err != nil {
		return err
	}

	// A tenant leaves: once Remove returns, nothing reads its channel.
	if err := feeds.Remove(ctx, "acme"); err != nil {
		return err
	}
	select {
	case acme <- Event{"acme", 99}:
		return fmt.Errorf("acme's feed was read after Remove")
	default:
		fmt.Fprintln(w, "acme removed: its channel is no longer read")
	}

	// Another joins, sends and ends its feed by closing its channel.
	initech := make(chan Event, 4)
	if err := feeds.Add("initech", initech); err != nil {
		return err
	}
	if err := send(ctx, initech, "initech", 0, 4); err != nil {
		return err
	}
	close(initech)
	if err := send(ctx, globex, "globex", 3, 3); err != nil {
		return err
	}
	close(globex)

	// No more tenants: the stream ends when the remaining feeds have.
	feeds.Close()
	if err := feeds.Add("late", make(chan Event)); err != nil {
		fmt.Fprintln(w, "adding a feed after Close:", err)
	}
	if err := p.Wait(ctx); err != nil {
		return err
	}

	for _, t := range []string{"acme", "globex", "initech"} {
		var ns []int
		for _, e := range got {
			if e.Tenant == t {
				ns = append(ns, e.N)
			}
		}
		fmt.Fprintf(w, "%-7s %d events %v\n", t, counted[t], ns)
	}
	s, _ := p.StageStats("feeds")
	fmt.Fprintf(w, "merge: %d in, %d out; the stream ended after Close and the last feed\n", s.In, s.Out)
	return nil
}
