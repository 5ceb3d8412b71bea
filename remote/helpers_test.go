package remote

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/actor"
)

// Message types of the tests, registered on every node (each process runs
// these init functions).
type (
	order struct {
		ID  int    `json:"id"`
		Sku string `json:"sku"`
	}
	orderAck struct {
		ID int `json:"id"`
	}
	place struct {
		Order order                 `json:"order"`
		Reply actor.Reply[orderAck] `json:"-"`
	}
	command struct {
		Do string `json:"do"` // "normal", "shutdown", "fail", "block"
	}
	unregistered struct{ X int }
)

func init() {
	must(Register[order]("test.Order"))
	must(Register[orderAck]("test.OrderAck"))
	must(RegisterAsk("test.Place", func(p place) actor.Reply[orderAck] { return p.Reply }, func(p *place, r actor.Reply[orderAck]) { p.Reply = r }))
	must(Register[command]("test.Command"))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// deadline is the bound of every wait in a test: the test's deadline (a
// bit before it), or 30 s.
func deadline(t testing.TB) context.Context {
	t.Helper()
	d := 30 * time.Second
	if tt, ok := t.(*testing.T); ok {
		if dl, ok := tt.Deadline(); ok {
			if r := time.Until(dl) - 5*time.Second; r < d {
				d = r
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// quiet is the logger of test nodes (REMOTE_LOG=1 shows protoactor's and
// memberlist's logs).
func quiet() *slog.Logger {
	if os.Getenv("REMOTE_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// deadSink collects a System's dead letters.
type deadSink struct{ ch chan actor.DeadLetter }

func newDeadSink() *deadSink { return &deadSink{ch: make(chan actor.DeadLetter, 1<<12)} }

func (d *deadSink) put(l actor.DeadLetter) {
	select {
	case d.ch <- l:
	default:
	}
}

// next returns the next dead letter whose message is an Undelivered.
func (d *deadSink) next(ctx context.Context, t testing.TB) Undelivered {
	t.Helper()
	for {
		select {
		case l := <-d.ch:
			if u, ok := l.Message.(Undelivered); ok {
				return u
			}
		case <-ctx.Done():
			t.Fatalf("no Undelivered dead letter: %v", ctx.Err())
		}
	}
}

// startNode starts a System and a Node on 127.0.0.1:0 and closes both at
// the end of the test.
func startNode(t testing.TB, opts ...Option) (*Node, *deadSink) {
	t.Helper()
	dead := newDeadSink()
	sys := actor.NewSystem(actor.WithDeadLetters(dead.put))
	n, err := Start(sys, "127.0.0.1:0", append([]Option{WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		// Close leaves nothing running (gRPC's goroutines end shortly
		// after it; the next node's Start must not race with them).
		if err := goleak.Find(); err != nil {
			t.Errorf("goroutines left after Close: %v", err)
		}
	})
	return n, dead
}

func recvT(ctx context.Context, t testing.TB, ch <-chan actor.Terminated, what string) actor.Terminated {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("%s: nothing: %v", what, ctx.Err())
	}
	return actor.Terminated{}
}
