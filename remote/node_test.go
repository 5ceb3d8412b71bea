package remote

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

func TestStartBadAddress(t *testing.T) {
	sys := actor.NewSystem()
	defer sys.Shutdown(context.Background())
	for _, addr := range []string{"", "nohost", "127.0.0.1:x", "127.0.0.1:70000", "256.1.1.1:0"} {
		n, err := Start(sys, addr, WithLogger(quiet()))
		if err == nil {
			n.Close(context.Background())
			t.Errorf("Start(%q): nil error; want one", addr)
		}
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if n, err := Start(sys, busy.Addr().String(), WithLogger(quiet())); err == nil {
		n.Close(context.Background())
		t.Errorf("Start on a port in use: nil error")
	}
	if _, err := Start(nil, "127.0.0.1:0"); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("Start(nil system): %v; want ErrNilRef", err)
	}
}

// TestLoopbackTellInOrder: a node dials an actor exposed on itself; the
// messages arrive in order and every one is acknowledged.
func TestLoopbackTellInOrder(t *testing.T) {
	ctx := deadline(t)
	n, _, _ := shared(t)
	got := make(chan order, 1000)
	ref, err := actor.Spawn(n.System(), uniq(t, "sink"), func() actor.Actor[order] {
		return actor.Func[order](func(_ actor.Context, o order) error { got <- o; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(n, uniq(t, "sink"), ref); err != nil {
		t.Fatal(err)
	}
	if err := Expose(n, uniq(t, "sink"), ref); !errors.Is(err, ErrExposed) {
		t.Errorf("second Expose: %v; want ErrExposed", err)
	}
	h, err := Dial[order](n, n.Addr(), uniq(t, "sink"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := h.Tell(ctx, order{ID: i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		select {
		case o := <-got:
			if o.ID != i {
				t.Fatalf("message %d: got %d", i, o.ID)
			}
		case <-ctx.Done():
			t.Fatalf("message %d: %v", i, ctx.Err())
		}
	}
}

func TestUnregisteredAtSender(t *testing.T) {
	n, _, _ := shared(t)
	if _, err := Dial[unregistered](n, n.Addr(), uniq(t, "x")); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Dial[unregistered]: %v; want ErrUnregistered", err)
	}
	h, err := Dial[any](n, n.Addr(), uniq(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Tell(context.Background(), unregistered{X: 1}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Tell(unregistered): %v; want ErrUnregistered", err)
	}
	if err := h.TryTell(unregistered{X: 1}); !errors.Is(err, ErrUnregistered) {
		t.Errorf("TryTell(unregistered): %v; want ErrUnregistered", err)
	}
	if h.Outstanding() != 0 {
		t.Errorf("Outstanding: %d; want 0", h.Outstanding())
	}
	ref, _ := actor.Spawn(n.System(), uniq(t, "u"), func() actor.Actor[unregistered] {
		return actor.Func[unregistered](func(actor.Context, unregistered) error { return nil })
	})
	if err := Expose(n, uniq(t, "u"), ref); !errors.Is(err, ErrUnregistered) {
		t.Errorf("Expose[unregistered]: %v; want ErrUnregistered", err)
	}
}

// TestLoopbackCredits: with the exposed actor blocked behind a full Block
// mailbox, the handle stops at its window: TryTell says ErrFull, Tell
// waits until ctx ends; when the actor moves on, credits come back.
func TestLoopbackCredits(t *testing.T) {
	ctx := deadline(t)
	const window = DefaultWindow
	n, _, _ := shared(t)
	release := make(chan struct{})
	handled := make(chan int, 100)
	ref, err := actor.Spawn(n.System(), uniq(t, "slow"), func() actor.Actor[order] {
		return actor.Func[order](func(c actor.Context, o order) error {
			select {
			case <-release:
			case <-c.Done():
			}
			handled <- o.ID
			return nil
		})
	}, actor.WithMailbox(1, mailbox.Block), actor.WithThroughput(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(n, uniq(t, "slow"), ref); err != nil {
		t.Fatal(err)
	}
	h, err := Dial[order](n, n.Addr(), uniq(t, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for ; ; sent++ {
		err := h.TryTell(order{ID: sent})
		if errors.Is(err, actor.ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > window+2 {
			t.Fatalf("TryTell accepted %d messages; window %d + 2 the actor can hold", sent+1, window)
		}
	}
	// The actor holds at most 2 (one in Receive, one in its mailbox of
	// 1); those were acknowledged. The rest is the window, unacknowledged.
	if got := h.Outstanding(); got != window || sent-window > 2 {
		t.Fatalf("at ErrFull: %d accepted, %d outstanding; want %d outstanding and at most %d accepted", sent, got, window, window+2)
	}
	short, cancel := context.WithTimeout(ctx, 50*1e6)
	err = h.Tell(short, order{ID: -1})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tell without credit: %v; want DeadlineExceeded", err)
	}
	close(release)
	for i := range sent {
		select {
		case id := <-handled:
			if id != i {
				t.Fatalf("handled %d; want %d", id, i)
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	// Credit came back: Tell does not block (ctx bounds it if it did).
	if err := h.Tell(ctx, order{ID: sent}); err != nil {
		t.Fatal(err)
	}
	if id := <-handled; id != sent {
		t.Fatalf("handled %d; want %d", id, sent)
	}
}

func TestLoopbackAsk(t *testing.T) {
	ctx := deadline(t)
	n, _, _ := shared(t)
	ref, _ := actor.Spawn(n.System(), uniq(t, "orders"), func() actor.Actor[place] {
		return actor.Func[place](func(c actor.Context, p place) error {
			if p.Order.Sku == "" {
				return p.Reply.Fail(c, actor.ErrStopped) // a sentinel that crosses
			}
			return p.Reply.Send(c, orderAck{ID: p.Order.ID * 10})
		})
	})
	if err := Expose(n, uniq(t, "orders"), ref); err != nil {
		t.Fatal(err)
	}
	fw, err := Ref[place](n, n.Addr(), uniq(t, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "remote://" + n.Addr() + "/" + uniq(t, "orders"); fw.Path() != want {
		t.Errorf("Path %q; want %q", fw.Path(), want)
	}
	for i := 1; i <= 50; i++ {
		ack, err := actor.Ask(ctx, fw, func(r actor.Reply[orderAck]) place { return place{Order: order{ID: i, Sku: "a"}, Reply: r} })
		if err != nil || ack.ID != i*10 {
			t.Fatalf("Ask %d: %v, %v; want {%d}", i, ack, err, i*10)
		}
	}
	_, err = actor.Ask(ctx, fw, func(r actor.Reply[orderAck]) place { return place{Order: order{ID: 1}, Reply: r} })
	var re *RemoteError
	if !errors.As(err, &re) || !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("failed Ask: %v; want a *RemoteError matching actor.ErrStopped", err)
	}
}

// TestLoopbackExitReasons: a watcher of a handle gets the real reason the
// exposed actor stopped with.
func TestLoopbackExitReasons(t *testing.T) {
	ctx := deadline(t)
	n, _, _ := shared(t)
	cases := []struct {
		do   string
		want actor.ExitReason
		text string
	}{
		{"normal", actor.Normal, ""},
		{"shutdown", actor.Shutdown, ""},
		{"fail", actor.Failed, "boom"},
		{"kill", actor.Killed, ""},
	}
	for _, c := range cases {
		t.Run(c.do, func(t *testing.T) {
			ref := spawnVictim(t, n.System(), uniq(t, "victim-"+c.do))
			if err := Expose(n, uniq(t, "victim-"+c.do), ref); err != nil {
				t.Fatal(err)
			}
			h, err := Dial[command](n, n.Addr(), uniq(t, "victim-"+c.do))
			if err != nil {
				t.Fatal(err)
			}
			ch := make(chan actor.Terminated, 1)
			h.Watch(func(t actor.Terminated) { ch <- t })
			// Make sure the watch is registered: a round trip through the
			// gateway (its queue is in order).
			if err := h.Tell(ctx, command{Do: "noop"}); err != nil {
				t.Fatal(err)
			}
			waitAcked(ctx, t, h)
			if c.do == "kill" {
				// Owner: the test; StopNow returns when the actor stopped.
				go ref.StopNow()
			} else if err := h.Tell(ctx, command{Do: c.do}); err != nil {
				t.Fatal(err)
			}
			got := recvT(ctx, t, ch, "Terminated")
			if got.Reason != c.want {
				t.Fatalf("Reason: %v (%v); want %v", got.Reason, got.Err, c.want)
			}
			if c.text != "" && (got.Err == nil || !strings.Contains(got.Err.Error(), c.text)) {
				t.Fatalf("Err: %v; want the failure's text %q", got.Err, c.text)
			}
			if err := h.Tell(ctx, command{Do: "noop"}); !errors.Is(err, actor.ErrStopped) {
				t.Fatalf("Tell after exit: %v; want ErrStopped", err)
			}
		})
	}
}

func waitAcked[M any](ctx context.Context, t testing.TB, h *Handle[M]) {
	t.Helper()
	for h.Outstanding() != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("not acknowledged: %d outstanding", h.Outstanding())
		default:
		}
		h.h.mu.Lock()
		w := h.h.credit
		h.h.mu.Unlock()
		if h.Outstanding() == 0 {
			return
		}
		select {
		case <-w:
		case <-ctx.Done():
		}
	}
}

// victim stops the way its command says; "fail" fails every later start
// so that it stops for good with reason Failed.
type victim struct{ failed *bool }

func (v *victim) Start(actor.Context) error {
	if *v.failed {
		return errors.New("boom")
	}
	return nil
}

func (v *victim) Receive(c actor.Context, m command) error {
	switch m.Do {
	case "normal":
		return actor.StopNormal
	case "shutdown":
		return actor.StopShutdown
	case "fail":
		*v.failed = true
		return errors.New("boom")
	case "block":
		<-c.Done()
	case "stopnow":
		// Owner: the test; StopNow kills this incarnation and returns.
		go c.Self().StopNow()
	}
	return nil
}

func spawnVictim(t testing.TB, sys *actor.System, name string) actor.Ref[command] {
	t.Helper()
	failed := new(bool)
	ref, err := actor.Spawn(sys, name, func() actor.Actor[command] { return &victim{failed: failed} }, actor.WithShutdown(actor.BrutalKill))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestHandleClose: a closed handle refuses sends with ErrStopped (the
// message is dead-lettered on this node), does not call its watchers and
// counts nothing lost; the actor behind it keeps running and a new handle
// reaches it.
func TestHandleClose(t *testing.T) {
	ctx := deadline(t)
	n, dead, _ := shared(t)
	got := make(chan order, 1)
	ref, _ := actor.Spawn(n.System(), uniq(t, "sink"), func() actor.Actor[order] {
		return actor.Func[order](func(_ actor.Context, o order) error { got <- o; return nil })
	})
	if err := Expose(n, uniq(t, "sink"), ref); err != nil {
		t.Fatal(err)
	}
	h, err := Dial[order](n, n.Addr(), uniq(t, "sink"))
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan actor.Terminated, 1)
	h.Watch(func(t actor.Terminated) { called <- t })
	lost0 := n.LostInTransit()
	h.Close()
	if err := h.Tell(ctx, order{ID: 1}); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Tell after Close: %v; want ErrStopped", err)
	}
	u := dead.next(ctx, t)
	for u.Name != uniq(t, "sink") {
		u = dead.next(ctx, t)
	}
	if u.Message != (order{ID: 1}) || !errors.Is(u.Err, actor.ErrStopped) {
		t.Errorf("dead letter %+v; want the refused order", u)
	}
	select {
	case v := <-called:
		t.Errorf("watcher called after Close: %v", v)
	default:
	}
	if n.LostInTransit() != lost0 {
		t.Errorf("LostInTransit moved by a Close")
	}
	h2, err := Dial[order](n, n.Addr(), uniq(t, "sink"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.Tell(ctx, order{ID: 2}); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-got:
		if o.ID != 2 {
			t.Fatalf("got %v", o)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}

// TestGatewayForgetsLostNode: the watchers a gateway keeps for a node
// that membership declared dead are dropped (a long-lived exposed actor
// would otherwise keep one per handle of every peer that ever died).
func TestGatewayForgetsLostNode(t *testing.T) {
	ctx := deadline(t)
	n, _, _ := shared(t)
	ref := spawnVictim(t, n.System(), uniq(t, "v"))
	if err := Expose(n, uniq(t, "v"), ref); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	g := n.gateways[uniq(t, "v")]
	n.mu.Unlock()
	const gone = "192.0.2.1:9" // TEST-NET-1: nothing there
	n.send(g.pid, &envelope{Kind: kindWatch, Node: gone, Sender: "h1"})
	h, err := Dial[command](n, n.Addr(), uniq(t, "v"))
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's queue is in order: once this is acknowledged, both
	// watches are registered.
	if err := h.Tell(ctx, command{Do: "noop"}); err != nil {
		t.Fatal(err)
	}
	waitAcked(ctx, t, h)
	count := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.watchers)
	}
	if c := count(); c != 2 {
		t.Fatalf("%d watchers; want 2", c)
	}
	(*events)(n).NotifyLeave(&memberlist.Node{Name: gone})
	if c := count(); c != 1 {
		t.Fatalf("%d watchers after the node was lost; want 1 (this node's handle)", c)
	}
}
