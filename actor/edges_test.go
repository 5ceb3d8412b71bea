package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/apiedge"
	"github.com/troupe-go/troupe/observe"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// run is nil for methods of interfaces that users implement: the runtime
// calls them, always with a real Context.
type edge struct {
	name string
	want string
	run  func(t *testing.T)
}

// nilEdges lists every exported function and method of package actor
// that takes a context.Context or an actor Context, a variadic option
// list, or is an option constructor taking a value that can be nil.
// TestNilEdgesComplete checks the list against the package's API.
var nilEdges = []edge{
	{"Actor.Receive", "implemented by users; the runtime passes the incarnation's Context", nil},
	{"ExitHandler.HandleExit", "implemented by users; the runtime passes the parent's Context", nil},
	{"FaultInjector.BeforeReceive", "implemented by users; the runtime passes the actor's Context", nil},
	{"FaultInjector.BeforeStart", "implemented by users; the runtime passes the actor's Context", nil},
	{"Starter.Start", "implemented by users; the runtime passes the incarnation's Context", nil},
	{"Stopper.Stop", "implemented by users; the runtime passes the incarnation's Context", nil},
	{"Describer.Describe", "implemented by supervisors; Snapshot passes its own (non-nil) ctx", nil},
	{"System.Snapshot", "a nil ctx is Background", func(t *testing.T) {
		h := newHarness(t)
		mustSpawn(t, h.sys, "a", echo)
		if snap := h.sys.Snapshot(nil, observe.SnapshotOptions{}); len(snap.Nodes) != 1 || snap.Nodes[0].Path != "/a" {
			t.Errorf("Snapshot(nil): got %+v; want the one actor /a", snap.Nodes)
		}
	}},

	{"Func.Receive", "calls f with the nil ctx, as documented", func(t *testing.T) {
		var got actor.Context = &fakeCtx{}
		f := actor.Func[int](func(ctx actor.Context, _ int) error { got = ctx; return nil })
		if err := f.Receive(nil, 1); err != nil || got != nil {
			t.Errorf("Func.Receive(nil, 1): got err %v, ctx %v; want nil, nil", err, got)
		}
	}},
	{"Self", "reports false", func(t *testing.T) {
		if ref, ok := actor.Self[int](nil); ok {
			t.Errorf("Self(nil): got %v, true; want false", ref)
		}
	}},
	{"SpawnChild", "a nil Context returns ErrNotParent; nil options are skipped", func(t *testing.T) {
		if _, _, err := actor.SpawnChild[int](nil, "c", echo); !errors.Is(err, actor.ErrNotParent) {
			t.Errorf("SpawnChild(nil ctx): got %v; want ErrNotParent", err)
		}
		h := newHarness(t)
		m := managerWithChild(t, h)
		if err := m.child.Start(context.Background()); err != nil {
			t.Errorf("Start of a child spawned with a nil option: got %v; want nil", err)
		}
	}},
	{"Spawn", "nil options are skipped", func(t *testing.T) {
		h := newHarness(t)
		ref, err := actor.Spawn(h.sys, "a", echo, nil, actor.WithThroughput(2), nil)
		if err != nil {
			t.Fatalf("Spawn with nil options: got %v; want nil", err)
		}
		mustTell(t, ref, 1)
	}},
	{"NewSystem", "nil options are skipped", func(t *testing.T) {
		sys := actor.NewSystem(nil, actor.WithLogger(zap.NewNop()), nil)
		if _, err := actor.Spawn(sys, "a", echo); err != nil {
			t.Errorf("Spawn on NewSystem(nil, ...): got %v; want nil", err)
		}
		if err := sys.Shutdown(nil); err != nil {
			t.Errorf("Shutdown: got %v; want nil", err)
		}
	}},
	{"WithLogger", "nil is skipped: the logger given before stays", func(t *testing.T) {
		l := zap.NewExample()
		sys := actor.NewSystem(actor.WithLogger(l), actor.WithLogger(nil))
		defer sys.Shutdown(context.Background())
		if sys.Logger() != l {
			t.Errorf("Logger after WithLogger(l), WithLogger(nil): got %p; want %p", sys.Logger(), l)
		}
	}},
	{"WithClock", "nil is skipped: events still get a time", func(t *testing.T) {
		events := make(chan actor.Event, 16)
		sys := actor.NewSystem(actor.WithClock(nil), actor.WithEvents(func(e actor.Event) { events <- e }))
		defer sys.Shutdown(context.Background())
		if _, err := actor.Spawn(sys, "a", echo); err != nil {
			t.Fatal(err)
		}
		if e := recv(t, events, "the started event"); e.Time.IsZero() {
			t.Errorf("event %v with WithClock(nil): zero Time; want time.Now", e)
		}
	}},
	{"WithEvents", "nil is skipped: the sink given before stays", func(t *testing.T) {
		events := make(chan actor.Event, 16)
		sys := actor.NewSystem(actor.WithEvents(func(e actor.Event) { events <- e }), actor.WithEvents(nil))
		defer sys.Shutdown(context.Background())
		if _, err := actor.Spawn(sys, "a", echo); err != nil {
			t.Fatal(err)
		}
		if e := recv(t, events, "the started event"); e.Kind != actor.EventStarted {
			t.Errorf("first event: got %v; want started", e)
		}
	}},
	{"WithDeadLetters", "nil is skipped: the sink given before stays", func(t *testing.T) {
		dead := make(chan actor.DeadLetter, 16)
		sys := actor.NewSystem(actor.WithDeadLetters(func(d actor.DeadLetter) { dead <- d }), actor.WithDeadLetters(nil))
		defer sys.Shutdown(context.Background())
		ref, err := actor.Spawn(sys, "a", echo)
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Stop(nil); err != nil {
			t.Fatal(err)
		}
		_ = ref.Tell(nil, 7)
		if d := recv(t, dead, "the dead letter"); d.Message != 7 {
			t.Errorf("dead letter: got %v; want message 7", d)
		}
	}},
	{"After", "a nil ctx returns ErrWrongType", func(t *testing.T) {
		if stop, err := actor.After[int](nil, time.Second, 1); stop != nil || !errors.Is(err, actor.ErrWrongType) {
			t.Errorf("After(nil): got %v; want ErrWrongType", err)
		}
	}},
	{"WithUndelivered", "nil is skipped: the hook given before stays", func(t *testing.T) {
		h := newHarness(t)
		took := make(chan actor.DeadLetter, 16)
		ref := mustSpawn(t, h.sys, "a", echo,
			actor.WithUndelivered(func(d actor.DeadLetter) bool { took <- d; return true }), actor.WithUndelivered(nil))
		if err := ref.Stop(nil); err != nil {
			t.Fatal(err)
		}
		_ = ref.Tell(nil, 7)
		if d := recv(t, took, "the undelivered message"); d.Message != 7 {
			t.Errorf("hook: got %v; want message 7", d)
		}
		if n := len(h.dead.all()); n != 0 {
			t.Errorf("System sink: got %d dead letters; want 0", n)
		}
	}},
	{"WithFailure", "nil is skipped: the hook given before stays", func(t *testing.T) {
		h := newHarness(t)
		got := make(chan *actor.Failure, 16)
		ref := mustSpawn(t, h.sys, "a", func() actor.Actor[int] {
			return actor.Func[int](func(actor.Context, int) error { return errBoom })
		}, actor.WithMaxAttempts(1), actor.WithFailure(func(f *actor.Failure) { got <- f }), actor.WithFailure(nil))
		mustTell(t, ref, 7)
		if f := recv(t, got, "the failure"); f.Message != 7 || !errors.Is(f.Err, errBoom) {
			t.Errorf("hook: got %v; want message 7, errBoom", f)
		}
	}},
	{"WithFaultInjector", "nil is skipped: the injector given before stays", func(t *testing.T) {
		fi := &countingInjector{starts: make(chan struct{}, 16)}
		sys := actor.NewSystem(actor.WithFaultInjector(fi), actor.WithFaultInjector(nil))
		defer sys.Shutdown(context.Background())
		if _, err := actor.Spawn(sys, "a", echo); err != nil {
			t.Fatal(err)
		}
		recv(t, fi.starts, "BeforeStart of the injector given first")
	}},
	{"WithPropagator", "nil is skipped: the propagator given before stays", func(t *testing.T) {
		h := newHarness(t, actor.WithPropagator(&testProp{}), actor.WithPropagator(nil))
		ref := mustSpawn(t, h.sys, "p", prober)
		out := make(chan seen, 1)
		if err := ref.Tell(senderCtx(), probe{out: out}); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, out, "the probe"); got.trace != "span-1" {
			t.Errorf("Receive saw trace %v; want span-1 from the propagator given first", got.trace)
		}
	}},

	{"Ref.Tell", "Background: the message is delivered", func(t *testing.T) {
		h := newHarness(t)
		got := make(chan int, 1)
		ref := mustSpawn(t, h.sys, "a", func() actor.Actor[int] {
			return actor.Func[int](func(_ actor.Context, m int) error { got <- m; return nil })
		})
		if err := ref.Tell(nil, 5); err != nil {
			t.Fatalf("Tell(nil, 5): got %v; want nil", err)
		}
		if m := recv(t, got, "the message"); m != 5 {
			t.Errorf("received %d; want 5", m)
		}
	}},
	{"Endpoint.Tell", "implemented by transports; Ref.Tell passes Background for a nil ctx", func(t *testing.T) {
		ep := &ctxEndpoint{pid: &loopPID{done: make(chan struct{})}}
		if err := actor.RefTo[askMsg](ep).Tell(nil, askMsg{}); err != nil || ep.ctx != context.Background() {
			t.Errorf("RefTo(ep).Tell(nil, m): got %v, endpoint ctx %v; want nil, Background", err, ep.ctx)
		}
	}},
	{"StopAll", "a nil ctx waits as long as it takes; nil PIDs are skipped", func(t *testing.T) {
		h := newHarness(t)
		ref := mustSpawn(t, h.sys, "a", echo)
		if err := actor.StopAll(nil, nil, ref.PID(), nil); err != nil {
			t.Fatalf("StopAll(nil, nil, pid, nil): got %v; want nil", err)
		}
		select {
		case <-ref.PID().Done():
		default:
			t.Error("StopAll(nil, ...) returned before the actor stopped")
		}
	}},
	{"TellRequest", "Background: the request is handled and answered", func(t *testing.T) {
		h := newHarness(t)
		ref, err := actor.Spawn(h.sys, "d", func() actor.Actor[askMsg] { return doubler{} })
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan int, 1)
		r := actor.NewReply(func(v int, _ error) { got <- v })
		if err := actor.TellRequest(nil, ref, r, askMsg{n: 4, reply: r}); err != nil {
			t.Fatalf("TellRequest(nil, ...): got %v; want nil", err)
		}
		if v := recvWithin(t, false, got, "the reply"); v != 8 {
			t.Errorf("TellRequest(nil, ...) answered %d; want 8", v)
		}
	}},
	{"Ask", "Background: the reply comes back", func(t *testing.T) {
		h := newHarness(t)
		ref := mustSpawn(t, h.sys, "a", asker)
		v, err := actor.Ask(nil, ref, func(r actor.Reply[int]) nilQuestion { return nilQuestion{n: 3, reply: r} })
		if err != nil || v != 6 {
			t.Errorf("Ask(nil, ...): got %d, %v; want 6, nil", v, err)
		}
	}},
	{"Reply.Send", "Background: the asker gets the value", func(t *testing.T) {
		h := newHarness(t)
		ref := mustSpawn(t, h.sys, "a", func() actor.Actor[nilQuestion] {
			return actor.Func[nilQuestion](func(_ actor.Context, q nilQuestion) error { return q.reply.Send(nil, q.n) })
		})
		v, err := actor.Ask(context.Background(), ref, func(r actor.Reply[int]) nilQuestion { return nilQuestion{n: 4, reply: r} })
		if err != nil || v != 4 {
			t.Errorf("Ask answered with Send(nil, 4): got %d, %v; want 4, nil", v, err)
		}
	}},
	{"Reply.Fail", "Background: the asker gets the error", func(t *testing.T) {
		h := newHarness(t)
		errNo := errors.New("no")
		ref := mustSpawn(t, h.sys, "a", func() actor.Actor[nilQuestion] {
			return actor.Func[nilQuestion](func(_ actor.Context, q nilQuestion) error { return q.reply.Fail(nil, errNo) })
		})
		_, err := actor.Ask(context.Background(), ref, func(r actor.Reply[int]) nilQuestion { return nilQuestion{reply: r} })
		if !errors.Is(err, errNo) {
			t.Errorf("Ask answered with Fail(nil, errNo): got %v; want errNo", err)
		}
	}},
	{"Ref.Stop", "Background: waits until the busy actor stopped, returns nil", func(t *testing.T) {
		h := newHarness(t)
		ref, entered := spawnBusy(t, h)
		recv(t, entered, "the actor busy in Receive")
		if err := call(t, "Ref.Stop(nil)", func() error { return ref.Stop(nil) }); err != nil {
			t.Errorf("Stop(nil): got %v; want nil", err)
		}
		if err := ref.Tell(nil, 1); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell after Stop(nil): got %v; want ErrStopped", err)
		}
	}},
	{"PID.Stop", "Background: waits until the busy actor stopped, returns nil", func(t *testing.T) {
		h := newHarness(t)
		ref, entered := spawnBusy(t, h)
		recv(t, entered, "the actor busy in Receive")
		if err := call(t, "PID.Stop(nil)", func() error { return ref.PID().Stop(nil) }); err != nil {
			t.Errorf("PID().Stop(nil): got %v; want nil", err)
		}
		recv(t, ref.PID().Done(), "Done after Stop(nil)")
	}},
	{"System.Shutdown", "Background: waits until every actor stopped, returns nil", func(t *testing.T) {
		sys := actor.NewSystem()
		entered := make(chan struct{}, 1)
		ref, err := actor.Spawn(sys, "busy", func() actor.Actor[int] { return busy(entered) })
		if err != nil {
			t.Fatal(err)
		}
		mustTell(t, ref, 1)
		recv(t, entered, "the actor busy in Receive")
		if err := call(t, "Shutdown(nil)", func() error { return sys.Shutdown(nil) }); err != nil {
			t.Errorf("Shutdown(nil): got %v; want nil", err)
		}
		if n := sys.Goroutines(); n != 0 {
			t.Errorf("Goroutines after Shutdown(nil): got %d; want 0", n)
		}
	}},
	{"Child.Start", "Background: starts the incarnation", func(t *testing.T) {
		h := newHarness(t)
		m := managerWithChild(t, h)
		if err := m.child.Start(nil); err != nil {
			t.Fatalf("Child.Start(nil): got %v; want nil", err)
		}
		if !m.child.Running() {
			t.Errorf("Running after Child.Start(nil): got false; want true")
		}
	}},
	{"Child.Shutdown", "Background: ends the busy incarnation gracefully (reason Shutdown)", func(t *testing.T) {
		h := newHarness(t)
		m := managerWithChild(t, h)
		m.startBusy(t)
		var r actor.ExitReason
		_ = call(t, "Child.Shutdown(nil)", func() error { r = m.child.Shutdown(nil); return nil })
		if r != actor.Shutdown || m.child.Running() {
			t.Errorf("Child.Shutdown(nil): got %v, running %v; want shutdown, not running", r, m.child.Running())
		}
	}},
	{"Child.Close", "Background: stops the busy child for good, returns nil", func(t *testing.T) {
		h := newHarness(t)
		m := managerWithChild(t, h)
		m.startBusy(t)
		if err := call(t, "Child.Close(nil)", func() error { return m.child.Close(nil) }); err != nil {
			t.Errorf("Child.Close(nil): got %v; want nil", err)
		}
		recv(t, m.child.Done(), "Done after Close(nil)")
	}},
}

// TestNilEdges calls every entry point of nilEdges with nil and checks
// what the package doc promises: no panic, and the result in want.
func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		if e.run == nil {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("%s with nil: panicked: %v (want: %s)", e.name, v, e.want)
				}
			}()
			e.run(t)
		})
	}
}

// TestNilEdgesComplete checks that nilEdges lists exactly the exported
// entry points of the package that take a context or options, and that
// the package doc states the rule.
func TestNilEdgesComplete(t *testing.T) {
	names := make([]string, len(nilEdges))
	for i, e := range nilEdges {
		names[i] = e.name
	}
	apiedge.Complete(t, ".", names)
}

// call runs f on its own goroutine and waits for it, bounded by the
// test's deadline, so a hang is reported with stacks and a panic fails
// the test instead of crashing the binary.
func call(t *testing.T, what string, f func() error) error {
	t.Helper()
	type result struct {
		err      error
		panicked any
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- result{panicked: v}
			}
		}()
		ch <- result{err: f()}
	}()
	r := recv(t, ch, what)
	if r.panicked != nil {
		t.Fatalf("%s: panicked: %v", what, r.panicked)
	}
	return r.err
}

func echo() actor.Actor[int] { return actor.Func[int](func(actor.Context, int) error { return nil }) }

// busy returns an actor whose Receive signals entered, then blocks until
// its context is cancelled (a stop).
func busy(entered chan<- struct{}) actor.Actor[int] {
	return actor.Func[int](func(ctx actor.Context, _ int) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
}

func spawnBusy(t *testing.T, h *harness) (actor.Ref[int], <-chan struct{}) {
	t.Helper()
	entered := make(chan struct{}, 1)
	ref := mustSpawn(t, h.sys, "busy", func() actor.Actor[int] { return busy(entered) })
	mustTell(t, ref, 1)
	return ref, entered
}

type nilQuestion struct {
	n     int
	reply actor.Reply[int]
}

func asker() actor.Actor[nilQuestion] {
	return actor.Func[nilQuestion](func(ctx actor.Context, q nilQuestion) error { return q.reply.Send(ctx, 2*q.n) })
}

// manager is a parent that handles its children's exits, holding one
// managed busy child spawned (not started) with a nil option.
type manager struct {
	child   actor.Child
	ref     actor.Ref[int]
	entered chan struct{}
}

// startBusy starts the child and makes it busy in Receive.
func (m *manager) startBusy(t *testing.T) {
	t.Helper()
	if err := m.child.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustTell(t, m.ref, 1)
	recv(t, m.entered, "the child busy in Receive")
}

func (m *manager) Receive(ctx actor.Context, f run) error     { return f(ctx) }
func (m *manager) HandleExit(actor.Context, actor.Exit) error { return nil }

func managerWithChild(t *testing.T, h *harness) *manager {
	t.Helper()
	m := &manager{entered: make(chan struct{}, 1)}
	ref := mustSpawn(t, h.sys, "manager", func() actor.Actor[run] { return m })
	inActor(t, ref, func(ctx actor.Context) {
		r, c, err := actor.SpawnChild(ctx, "child", func() actor.Actor[int] { return busy(m.entered) }, nil)
		if err != nil {
			t.Errorf("SpawnChild with a nil option: got %v; want nil", err)
			return
		}
		m.child, m.ref = c, r
	})
	if m.child == nil {
		t.FailNow()
	}
	return m
}

type countingInjector struct{ starts chan struct{} }

func (c *countingInjector) BeforeReceive(actor.Context) error { return nil }
func (c *countingInjector) BeforeStart(actor.Context) error {
	c.starts <- struct{}{}
	return nil
}

// fakeCtx is a non-nil actor.Context placeholder; its methods are never
// called.
type fakeCtx struct{ actor.Context }

// ctxEndpoint records the ctx its Tell got.
type ctxEndpoint struct {
	pid *loopPID
	ctx context.Context
}

func (e *ctxEndpoint) Tell(ctx context.Context, _ askMsg) error { e.ctx = ctx; return nil }
func (e *ctxEndpoint) TryTell(askMsg) error                     { return nil }
func (e *ctxEndpoint) PID() actor.PID                           { return e.pid }
func (e *ctxEndpoint) System() *actor.System                    { return nil }
