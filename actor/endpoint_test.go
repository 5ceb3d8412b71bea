package actor_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// loopEndpoint is an Endpoint standing for a transport: it "sends" a
// message by handing a copy to a local actor, the way a remote gateway
// would after decoding it. A request's Reply is swapped for one made by
// NewReply that answers the original, as a transport answers over the
// wire.
type loopEndpoint struct {
	sys    *actor.System
	target actor.Ref[askMsg]
	pid    *loopPID
	tells  int
	mu     sync.Mutex
}

type askMsg struct {
	n     int
	reply actor.Reply[int]
}

func (e *loopEndpoint) forward(ctx context.Context, m askMsg, try bool) error {
	e.mu.Lock()
	e.tells++
	e.mu.Unlock()
	if !m.reply.Valid() {
		if try {
			return e.target.TryTell(m)
		}
		return e.target.Tell(ctx, m)
	}
	orig := m.reply
	m.reply = actor.NewReply(func(v int, err error) {
		// The answer "comes back over the wire".
		if err != nil {
			_ = orig.Fail(context.Background(), err)
			return
		}
		_ = orig.Send(context.Background(), v)
	})
	return actor.TellRequest(ctx, e.target, m.reply, m)
}

func (e *loopEndpoint) Tell(ctx context.Context, m askMsg) error { return e.forward(ctx, m, false) }
func (e *loopEndpoint) TryTell(m askMsg) error                   { return e.forward(context.Background(), m, true) }
func (e *loopEndpoint) PID() actor.PID                           { return e.pid }
func (e *loopEndpoint) System() *actor.System                    { return e.sys }

// loopPID is the remote actor's lifecycle handle as a transport keeps it.
type loopPID struct {
	actor.ExternalPID
	done    chan struct{}
	stopped int
}

func (p *loopPID) Path() string                                  { return "node-b/echo" }
func (p *loopPID) Name() string                                  { return "echo" }
func (p *loopPID) Stop(context.Context) error                    { p.stopped++; return nil }
func (p *loopPID) StopNow()                                      { p.stopped++ }
func (p *loopPID) Kill()                                         {}
func (p *loopPID) Done() <-chan struct{}                         { return p.done }
func (p *loopPID) Watch(func(actor.Terminated)) (unwatch func()) { return func() {} }
func (p *loopPID) Stats() actor.Stats                            { return actor.Stats{Accepted: 7} }

type doubler struct{}

func (doubler) Receive(ctx actor.Context, m askMsg) error {
	if m.n < 0 {
		return actor.StopNormal
	}
	if m.reply.Valid() {
		return m.reply.Send(ctx, 2*m.n)
	}
	return nil
}

func TestRefToEndpoint(t *testing.T) {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	target, err := actor.Spawn(sys, "echo", func() actor.Actor[askMsg] { return doubler{} })
	if err != nil {
		t.Fatal(err)
	}
	ep := &loopEndpoint{sys: sys, target: target, pid: &loopPID{done: make(chan struct{})}}
	ref := actor.RefTo[askMsg](ep)
	ctx := context.Background()

	if got, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) askMsg { return askMsg{n: 21, reply: r} }); err != nil || got != 42 {
		t.Fatalf("Ask through an endpoint = %d, %v; want 42, nil", got, err)
	}
	if err := ref.Tell(ctx, askMsg{n: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ref.TryTell(askMsg{n: 2}); err != nil {
		t.Fatal(err)
	}
	if ep.tells != 3 {
		t.Fatalf("endpoint saw %d sends, want 3", ep.tells)
	}
	if ref.Path() != "node-b/echo" || ref.Name() != "echo" || ref.PID() != actor.PID(ep.pid) || ref.Stats().Accepted != 7 {
		t.Fatalf("identity not from the endpoint: %q %q %v %+v", ref.Path(), ref.Name(), ref.PID(), ref.Stats())
	}
	if err := ref.Urgent(askMsg{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Urgent = %v, want ErrUnsupported", err)
	}
	if ref.Len() != 0 {
		t.Fatalf("Len = %d", ref.Len())
	}
	if err := ref.Stop(nil); err != nil || ref.StopNow() != nil || ep.pid.stopped != 2 {
		t.Fatalf("Stop/StopNow not passed to the PID (%d)", ep.pid.stopped)
	}
	if z := actor.RefTo[askMsg](nil); z.Tell(ctx, askMsg{}) != actor.ErrNilRef || z.PID() != nil {
		t.Fatal("RefTo(nil) is not the zero Ref")
	}
}

// A request the local actor can no longer answer reaches the remote asker
// at once as an *UndeliveredError, through the Reply from NewReply.
func TestTellRequestUndelivered(t *testing.T) {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	target, err := actor.Spawn(sys, "echo", func() actor.Actor[askMsg] { return doubler{} })
	if err != nil {
		t.Fatal(err)
	}
	ep := &loopEndpoint{sys: sys, target: target, pid: &loopPID{done: make(chan struct{})}}
	ref := actor.RefTo[askMsg](ep)
	if err := target.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = actor.Ask(context.Background(), ref, func(r actor.Reply[int]) askMsg { return askMsg{n: 1, reply: r} })
	if !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Ask to a stopped actor through an endpoint = %v, want ErrStopped", err)
	}

	// A request accepted and then dead-lettered (queued when the actor
	// stopped) completes the NewReply with an *UndeliveredError.
	gate := make(chan struct{})
	got := make(chan error, 1)
	blocker, err := actor.Spawn(sys, "blocker", func() actor.Actor[askMsg] {
		return actor.Func[askMsg](func(ctx actor.Context, m askMsg) error {
			if m.n == 0 {
				<-gate
				return actor.StopNormal
			}
			return m.reply.Send(ctx, m.n)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := blocker.Tell(context.Background(), askMsg{}); err != nil {
		t.Fatal(err)
	}
	r := actor.NewReply(func(_ int, err error) { got <- err })
	if err := actor.TellRequest(context.Background(), blocker, r, askMsg{n: 5, reply: r}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	err = recvWithin(t, false, got, "the undelivered request's reply")
	var ue *actor.UndeliveredError
	if !errors.As(err, &ue) || !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("reply of a dead-lettered request = %v, want *UndeliveredError matching ErrStopped", err)
	}
	if r.Send(context.Background(), 1) != actor.ErrAlreadyReplied {
		t.Fatal("a NewReply completed twice")
	}
	if actor.NewReply[int](nil).Valid() {
		t.Fatal("NewReply(nil) is valid")
	}
}

// The endpoint's PID ending (node lost) ends a pending Ask.
func TestAskExternalPIDDone(t *testing.T) {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	pid := &loopPID{done: make(chan struct{})}
	ep := &swallow{pid: pid, sys: sys, got: make(chan struct{})}
	ref := actor.RefTo[askMsg](ep)
	res := make(chan error, 1)
	go func() { // Owner: this test; ends when Ask returns.
		_, err := actor.Ask(context.Background(), ref, func(r actor.Reply[int]) askMsg { return askMsg{reply: r} })
		res <- err
	}()
	recvWithin(t, false, ep.got, "the request at the endpoint")
	close(pid.done)
	if err := recvWithin(t, false, res, "Ask's end"); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Ask after the PID ended = %v, want ErrStopped", err)
	}
}

// swallow accepts every message and never answers.
type swallow struct {
	pid *loopPID
	sys *actor.System
	got chan struct{}
}

func (s *swallow) Tell(context.Context, askMsg) error { close(s.got); return nil }
func (s *swallow) TryTell(askMsg) error               { return nil }
func (s *swallow) PID() actor.PID                     { return s.pid }
func (s *swallow) System() *actor.System              { return s.sys }
