package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// notifier is a child that records what it handled; each Receive waits
// for gate to open or for its ctx to be done (then it returns ctx.Err(),
// which is not a failure on a stop, so the message stays in flight).
type notifier struct {
	id      string
	gate    <-chan struct{}
	handled chan<- string
}

func (n *notifier) Receive(ctx actor.Context, m msg) error {
	select {
	case <-n.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	n.handled <- fmt.Sprintf("%s:%d", n.id, m.n)
	return nil
}

// TestRefsSurviveSubtreeRestart is the notifier service of the issue: four
// notifiers under a nested supervisor, after a worker in a rest-for-one
// root. Failing that worker restarts the notifier subtree while messages
// are queued for the notifiers: the Refs looked up before stay valid (the
// same Refs are found again), nothing is dead-lettered, and every queued
// message is handled once, by the notifiers' next incarnations.
func TestRefsSurviveSubtreeRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		var dead []actor.DeadLetter
		r.sys = actor.NewSystem(actor.WithEvents(r.onEvent), actor.WithDeadLetters(func(d actor.DeadLetter) { dead = append(dead, d) }))
		gate, open := r.gate()
		handled := make(chan string, 64)
		ids := []string{"n1", "n2", "n3", "n4"}
		var notifiers []supervisor.ChildSpec
		for _, id := range ids {
			notifiers = append(notifiers, supervisor.NewWorker(id, func() actor.Actor[msg] {
				return &notifier{id: id, gate: gate, handled: handled}
			}))
		}
		root, err := supervisor.Start(r.sys, "orders", []supervisor.ChildSpec{
			r.spec("db", hooks{}),
			supervisor.NewSupervisor("notify", notifiers),
		}, supervisor.WithStrategy(strategy.RestForOne))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		sub, ok := supervisor.LookupSupervisor(root, "notify")
		if !ok {
			t.Fatal("LookupSupervisor(notify): not found")
		}
		refs := make([]actor.Ref[msg], len(ids))
		for i, id := range ids {
			refs[i] = lookup(t, sub, id)
		}
		const perNotifier = 5
		for i := range refs {
			for k := range perNotifier {
				send(t, refs[i], msg{n: k})
			}
		}
		synctest.Wait() // each notifier is blocked in its first message

		send(t, lookup(t, root, "db"), msg{failOnce: true})
		synctest.Wait() // the subtree restarted
		if got := r.eventPaths(actor.EventRestarted); !slices.Contains(got, "/orders/notify") {
			t.Fatalf("restarted: got %q; want /orders/notify among them", got)
		}
		sub2, _ := supervisor.LookupSupervisor(root, "notify")
		for i, id := range ids {
			if again := lookup(t, sub2, id); again != refs[i] {
				t.Errorf("LookupChild(%s) after the subtree restart: got a new Ref; want the same", id)
			}
			// The old Ref still takes messages.
			send(t, refs[i], msg{n: perNotifier})
		}
		open()
		var got []string
		for range len(ids) * (perNotifier + 1) {
			got = append(got, await(t, handled, "a notification"))
		}
		for _, id := range ids {
			var mine []string
			for _, g := range got {
				if g[:2] == id {
					mine = append(mine, g)
				}
			}
			var want []string
			for k := range perNotifier + 1 {
				want = append(want, fmt.Sprintf("%s:%d", id, k))
			}
			if !slices.Equal(mine, want) {
				t.Errorf("%s handled %v; want %v (every message once, in order)", id, mine, want)
			}
		}
		synctest.Wait()
		for _, d := range dead {
			if d.Recipient != "/orders/db" {
				t.Errorf("dead letter to a notifier: %+v; want none", d)
			}
		}
		for i, ref := range refs {
			if st := ref.Stats(); st.DeadLettered != 0 || st.InFlight != 0 {
				t.Errorf("%s stats: %+v; want nothing dead-lettered or in flight", ids[i], st)
			}
		}
	})
}

// TestRefsSurviveAncestorRestart restarts a subtree from two levels up
// (one-for-all at the top) and checks that a worker three levels down
// keeps its Ref; a child added with StartChild ends for good with the
// incarnation that added it, and a deleted child refuses messages.
func TestRefsSurviveAncestorRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		inner := supervisor.NewSupervisor("inner", r.specs("w", "gone"))
		mid := supervisor.NewSupervisor("mid", []supervisor.ChildSpec{inner})
		top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("x", hooks{}), mid},
			supervisor.WithStrategy(strategy.OneForAll))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		midS, _ := supervisor.LookupSupervisor(top, "mid")
		innerS, _ := supervisor.LookupSupervisor(midS, "inner")
		w := lookup(t, innerS, "w")
		gone := lookup(t, innerS, "gone")
		if err := innerS.StartChild(callCtx(t), r.spec("dyn", hooks{})); err != nil {
			t.Fatalf("StartChild: %v", err)
		}
		dyn := lookup(t, innerS, "dyn")
		if err := innerS.TerminateChild(callCtx(t), "gone"); err != nil {
			t.Fatal(err)
		}
		if err := innerS.DeleteChild(callCtx(t), "gone"); err != nil {
			t.Fatal(err)
		}
		if err := gone.Tell(callCtx(t), msg{}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to a deleted child: got %v; want ErrStopped", err)
		}
		starts := len(r.startTimes("w"))

		send(t, lookup(t, top, "x"), msg{failOnce: true})
		synctest.Wait()
		if got := len(r.startTimes("w")); got != starts+1 {
			t.Fatalf("starts of w: got %d; want %d (restarted with its ancestors)", got, starts+1)
		}
		midS2, _ := supervisor.LookupSupervisor(top, "mid")
		innerS2, _ := supervisor.LookupSupervisor(midS2, "inner")
		if again := lookup(t, innerS2, "w"); again != w {
			t.Error("LookupChild(w) after the ancestors' restart: got a new Ref; want the same")
		}
		send(t, w, msg{n: 42})
		synctest.Wait()
		if d := r.deliveries("w"); len(d) == 0 || d[len(d)-1].n != 42 || d[len(d)-1].inst != starts+1 {
			t.Errorf("w's deliveries: got %+v; want the last one (42) by incarnation %d", d, starts+1)
		}
		// The restarted inner supervisor re-ran its initial specs only.
		if got := ids(mustWhich(t, innerS2)); !slices.Equal(got, []string{"w", "gone"}) {
			t.Errorf("inner's children after restart: got %v; want [w gone]", got)
		}
		if err := dyn.Tell(callCtx(t), msg{}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to a dynamic child after its supervisor restarted: got %v; want ErrStopped", err)
		}
		if err := gone.Tell(callCtx(t), msg{}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to the deleted child's old Ref: got %v; want ErrStopped", err)
		}
		if again := lookup(t, innerS2, "gone"); again == gone {
			t.Error("the deleted child came back with its old Ref; want a fresh one")
		}
	})
}

func mustWhich(t *testing.T, s *supervisor.Supervisor) []supervisor.ChildInfo {
	t.Helper()
	kids, err := s.WhichChildren(callCtx(t))
	if err != nil {
		t.Fatalf("WhichChildren: %v", err)
	}
	return kids
}

// TestKeptMailboxPushesBack backs off the restart of a subtree: while it is
// down, its worker's bounded mailbox keeps queued messages and pushes back
// (TryTell is refused with ErrFull); after the backoff every queued
// message is handled.
func TestKeptMailboxPushesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		inner := supervisor.NewSupervisor("inner", []supervisor.ChildSpec{
			r.spec("w", hooks{}, actor.WithMailbox(2, mailbox.Block)),
		})
		top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{inner},
			supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Second}))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		innerS, _ := supervisor.LookupSupervisor(top, "inner")
		w := lookup(t, innerS, "w")
		innerS.PID().Kill()
		synctest.Wait() // inner is down, in its backoff
		if got := r.eventPaths(actor.EventBackoff); !slices.Equal(got, []string{"/top/inner"}) {
			t.Fatalf("backoff events: got %q; want [/top/inner]", got)
		}
		send(t, w, msg{n: 1})
		send(t, w, msg{n: 2})
		if err := w.TryTell(msg{n: 3}); !errors.Is(err, actor.ErrFull) {
			t.Errorf("TryTell to a full kept mailbox: got %v; want ErrFull", err)
		}
		time.Sleep(time.Second) // fake time: the backoff runs out
		synctest.Wait()
		d := r.deliveries("w")
		if len(d) != 2 || d[0].n != 1 || d[1].n != 2 || d[0].inst != 2 {
			t.Errorf("w's deliveries: got %+v; want 1 and 2 by incarnation 2", d)
		}
	})
}

// TestAskParkedFailsFast asks a transient child with a request queued
// behind the message that makes it exit normally: the child is parked
// (kept down), and the queued Ask ends at once with ErrStopped instead of
// waiting out its deadline.
func TestAskParkedFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, open := r.gate()
		spec := supervisor.NewWorker("t", func() actor.Actor[question] { return &parkable{gate: gate} })
		spec.Restart = strategy.Transient
		sup, err := supervisor.Start(r.sys, "sup", []supervisor.ChildSpec{spec})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		ref, ok := supervisor.LookupChild[question](sup, "t")
		if !ok {
			t.Fatal("LookupChild: not found")
		}
		if err := ref.Tell(callCtx(t), question{exit: true}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		errs := make(chan error, 1)
		go func() {
			_, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) question { return question{reply: r} })
			errs <- err
		}()
		synctest.Wait()
		start := time.Now()
		open()
		err = await(t, errs, "the Ask")
		if !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Ask queued at a park: got %v; want ErrStopped", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("Ask waited %v after the park; want 0", waited)
		}
	})
}

type question struct {
	exit  bool
	reply actor.Reply[int]
}

type parkable struct{ gate <-chan struct{} }

func (p *parkable) Receive(ctx actor.Context, m question) error {
	if m.exit {
		<-p.gate
		return actor.StopNormal
	}
	return m.reply.Send(ctx, 1)
}
