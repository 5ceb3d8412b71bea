package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

func newDeadSink() *deadSink { return &deadSink{ch: make(chan actor.DeadLetter, 1<<14)} }

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
				var ue *UndecodableError
				want := actor.DeadStopped
				switch {
				case errors.Is(u.Err, ErrLostInTransit):
					want = actor.DeadLost
				case errors.As(u.Err, &ue):
					want = actor.DeadUndecodable
				}
				if l.Reason != want || l.Recipient != u.Node+"/"+u.Name {
					t.Errorf("dead letter of %+v: reason %v, recipient %q; want %v, %q", u, l.Reason, l.Recipient, want, u.Node+"/"+u.Name)
				}
				return u
			}
		case <-ctx.Done():
			t.Fatalf("no Undelivered dead letter: %v", ctx.Err())
		}
	}
}

// The tests of this process share one Node: protoactor's Remote.Start
// resets gRPC's global logger, which races (under -race) with the gRPC
// goroutines of a Node that ran before in the same process, however long
// ago. So this process starts one, other nodes are child processes, and
// Close is tested in a child (TestCloseLeavesNothing).
var sharedNode struct {
	sync.Once
	n     *Node
	sys   *actor.System
	dead  *deadSink
	watch *memberWatch
	err   error
}

// shared returns the Node of this process, its dead letters (drained of
// older ones) and its membership events.
func shared(t testing.TB) (*Node, *deadSink, *memberWatch) {
	t.Helper()
	s := &sharedNode
	s.Do(func() {
		s.dead = newDeadSink()
		s.sys = actor.NewSystem(actor.WithDeadLetters(s.dead.put))
		var hook Option
		s.watch, hook = newMemberWatch()
		s.n, s.err = Start(s.sys, "127.0.0.1:0", WithLogger(quiet()), hook)
	})
	if s.err != nil {
		t.Fatalf("Start: %v", s.err)
	}
	s.dead.drain()
	s.watch.drain()
	return s.n, s.dead, s.watch
}

func closeShared() error {
	s := &sharedNode
	if s.n == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.n.Close(ctx); err != nil {
		return err
	}
	return s.sys.Shutdown(ctx)
}

// uniq makes a name unique to the test, for actors and exposed names on
// the shared node.
// (-count=N runs a test N times against the same node).
func uniq(t testing.TB, base string) string {
	run, _ := uniqRuns.LoadOrStore(t, uniqSeq.Add(1))
	return fmt.Sprintf("%s-%d-%s", strings.NewReplacer("/", "-", "#", "-").Replace(t.Name()), run, base)
}

var (
	uniqRuns sync.Map // testing.TB -> uint64
	uniqSeq  atomic.Uint64
)

func (d *deadSink) drain() {
	for {
		select {
		case <-d.ch:
		default:
			return
		}
	}
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
