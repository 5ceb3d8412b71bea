// Quickstart: one supervised actor, a crash, a restart, an Ask.
//
// A counter actor runs under a one-for-one supervisor. One message makes it
// panic: the supervisor restarts it with fresh state, its Ref and mailbox
// stay the same, and the messages queued behind the crash are handled by
// the new instance. An Ask then reads the count.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// Msg is the counter's message type: add N, or crash, or report the count.
type Msg struct {
	Add   int
	Crash bool
	Get   actor.Reply[int]
}

// Counter counts what it is told to add.
type Counter struct{ n int }

// Receive handles one message.
func (c *Counter) Receive(ctx actor.Context, m Msg) error {
	switch {
	case m.Crash:
		panic("counter: asked to crash")
	case m.Get.Valid():
		// If the asker gave up, the reply goes to dead letters; that is not
		// a failure of this actor, so the error is not returned.
		_ = m.Get.Send(ctx, c.n)
		return nil
	}
	c.n += m.Add
	return nil
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	// Events arrive on the runtime's goroutines: serialize the output.
	out := &lockedWriter{w: w}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	sys := actor.NewSystem(actor.WithEvents(func(e actor.Event) {
		switch e.Kind {
		case actor.EventStarted, actor.EventFailed, actor.EventRestarted:
			fmt.Fprintf(out, "event: %s %s\n", e.Kind, e.Path)
		}
	}))
	defer sys.Shutdown(context.Background())

	sup, err := supervisor.Start(sys, "app", []supervisor.ChildSpec{
		// The crash message is not worth retrying: one attempt, then dead letters.
		supervisor.NewWorker("counter", func() actor.Actor[Msg] { return &Counter{} }, actor.WithMaxAttempts(1)),
	}, supervisor.WithIntensity(3, 5*time.Second))
	if err != nil {
		return err
	}
	counter, ok := supervisor.LookupChild[Msg](sup, "counter")
	if !ok {
		return errors.New("no counter")
	}

	// Queue everything at once: the crash sits in the middle of the mailbox.
	for _, m := range []Msg{{Add: 1}, {Add: 2}, {Crash: true}, {Add: 10}, {Add: 20}} {
		if err := counter.Tell(ctx, m); err != nil {
			return err
		}
	}
	n, err := actor.Ask(ctx, counter, func(r actor.Reply[int]) Msg { return Msg{Get: r} })
	if err != nil {
		return err
	}
	// 1+2 were lost with the crashed instance's state; 10+20 reached the new one.
	fmt.Fprintf(out, "count after restart: %d (same ref %s)\n", n, counter.Path())
	fmt.Fprintf(out, "dead letters: %d (the crash message)\n", sys.DeadLetters())
	return sup.Stop(ctx)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
