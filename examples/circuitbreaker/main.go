// Circuitbreaker: an actor that wraps a flaky backend with a circuit
// breaker.
//
// Closed, the breaker passes calls through and remembers the outcome of
// the last few. When too many of them failed it opens: calls fail fast with
// ErrOpen, without touching the backend. After a cooldown the next call is
// a probe (half-open): if it succeeds the breaker closes, if it fails the
// breaker opens again for another cooldown.
//
// The breaker is an actor, so its state needs no lock: calls are handled
// one at a time, and the probe is naturally the only call in flight while
// half-open. Backend errors are answers (Reply.Fail), not failures of the
// actor: a failure would restart it and forget the breaker's state.
//
// What to copy: Breaker. The clock is time.Now, so the test runs the
// example in a synctest bubble, where time is virtual and exact.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// ErrOpen is the answer of an open breaker.
var ErrOpen = errors.New("circuit open")

// State is a breaker state.
type State int

const (
	Closed   State = iota // calls go through; outcomes are counted
	Open                  // calls fail fast with ErrOpen until the cooldown ends
	HalfOpen              // the next call probes the backend
)

func (s State) String() string { return [...]string{"closed", "open", "half-open"}[s] }

// Call asks the backend through the breaker.
type Call struct{ Reply actor.Reply[string] }

// Breaker guards backend. It opens when at least Trip of the last Window
// calls failed, and probes again after Cooldown.
type Breaker struct {
	Backend      func(context.Context) (string, error)
	Window, Trip int
	Cooldown     time.Duration
	OnChange     func(from, to State, why string) // called on the actor's goroutine

	// Written only by the actor's goroutine.
	state    State
	recent   []bool // outcomes while closed, oldest first; true = failed
	openedAt time.Time
}

func (b *Breaker) Receive(ctx actor.Context, c Call) error {
	if b.state == Open {
		if time.Since(b.openedAt) < b.Cooldown {
			_ = c.Reply.Fail(ctx, ErrOpen) // the asker may be gone: nothing to do
			return nil
		}
		b.set(HalfOpen, "cooldown over, next call probes")
	}
	v, err := b.Backend(ctx)
	switch {
	case b.state == HalfOpen && err != nil:
		b.set(Open, "probe failed")
	case b.state == HalfOpen:
		b.set(Closed, "probe succeeded")
	default:
		b.record(err != nil)
	}
	if err != nil {
		_ = c.Reply.Fail(ctx, err)
	} else {
		_ = c.Reply.Send(ctx, v)
	}
	return nil
}

// record adds an outcome while closed and opens on too many failures.
func (b *Breaker) record(failed bool) {
	if b.recent = append(b.recent, failed); len(b.recent) > b.Window {
		b.recent = b.recent[1:]
	}
	n := 0
	for _, f := range b.recent {
		if f {
			n++
		}
	}
	if n >= b.Trip {
		b.set(Open, fmt.Sprintf("%d of the last %d calls failed", n, len(b.recent)))
	}
}

func (b *Breaker) set(to State, why string) {
	from := b.state
	b.state = to
	switch to {
	case Open:
		b.openedAt = time.Now()
	case Closed:
		b.recent = b.recent[:0]
	}
	if b.OnChange != nil {
		b.OnChange(from, to, why)
	}
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "circuitbreaker:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())

	// The backend is down from 95ms to 295ms after start.
	start := time.Now()
	backend := func(context.Context) (string, error) {
		if t := time.Since(start); t >= 95*time.Millisecond && t < 295*time.Millisecond {
			return "", errors.New("backend: 503")
		}
		return "ok", nil
	}
	breaker, err := actor.Spawn(sys, "breaker", func() actor.Actor[Call] {
		return &Breaker{Backend: backend, Window: 5, Trip: 3, Cooldown: 95 * time.Millisecond,
			// It writes only while run waits for its answer: no overlap.
			OnChange: func(from, to State, why string) {
				fmt.Fprintf(w, "%5v  %s -> %s: %s\n", time.Since(start).Round(time.Millisecond), from, to, why)
			}}
	})
	if err != nil {
		return err
	}

	// One call every 10ms for half a second.
	var ok, failed, rejected int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range 50 {
		if i > 0 {
			<-tick.C
		}
		_, err := actor.Ask(ctx, breaker, func(r actor.Reply[string]) Call { return Call{Reply: r} })
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrOpen):
			rejected++
		case ctx.Err() != nil:
			return err
		default:
			failed++
		}
	}
	fmt.Fprintf(w, "calls: ok %d, failed %d, failed fast %d\n", ok, failed, rejected)
	return nil
}
