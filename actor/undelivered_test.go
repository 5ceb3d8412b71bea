package actor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// uMsg is a message for TestUndeliveredHook: op "wait" waits for the
// asker to give up, "fail" always fails, "block" signals entered and
// waits for the actor's stop; pass makes the hook decline it.
type uMsg struct {
	n     int
	op    string
	pass  bool
	reply actor.Reply[int]
}

type undelivered struct {
	n      int
	reason actor.DeadLetterReason
}

// TestUndeliveredHook: an actor's WithUndelivered hook gets exactly the
// messages it could not handle, for every reason (expired, poison,
// dropped, queued at its stop, told and Urgent after it), instead of the
// System's sink; one the hook declines goes to the sink as usual. The
// System counts only that one; the actor's Stats count all of them.
func TestUndeliveredHook(t *testing.T) {
	h := newHarness(t)
	got := newLog[undelivered](false)
	hook := func(d actor.DeadLetter) bool {
		m := d.Message.(uMsg)
		got.add(undelivered{m.n, d.Reason})
		return !m.pass
	}
	waiting := make(chan struct{}, 1)
	entered := make(chan struct{}, 1)
	ref := mustSpawn(t, h.sys, "u", func() actor.Actor[uMsg] {
		return actor.Func[uMsg](func(ctx actor.Context, m uMsg) error {
			switch m.op {
			case "wait":
				waiting <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			case "fail":
				return fmt.Errorf("message %d: %w", m.n, errBoom)
			case "block":
				entered <- struct{}{}
				<-ctx.Done()
			}
			return nil
		})
	}, actor.WithMailbox(1, mailbox.DropNewest), actor.WithMaxAttempts(2), actor.WithUndelivered(hook))

	// Expired: the asker gives up while the request is handled.
	ctx, cancel := context.WithCancel(context.Background())
	asked := make(chan error, 1)
	go func() { // Owner: the test; it ends when the Ask does (cancel below).
		_, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) uMsg { return uMsg{n: 1, op: "wait", reply: r} })
		asked <- err
	}()
	recv(t, waiting, "Receive of the request")
	cancel()
	if err := recv(t, asked, "the Ask to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("Ask: got %v; want context.Canceled", err)
	}
	got.waitFor(t, "the expired request", func(u undelivered) bool { return u.n == 1 })

	// Poison: fails on both attempts.
	mustTell(t, ref, uMsg{n: 2, op: "fail"})
	got.waitFor(t, "the poison message", func(u undelivered) bool { return u.n == 2 })

	// Dropped: the mailbox (capacity 1) is full while the actor blocks.
	mustTell(t, ref, uMsg{n: 3, op: "block"})
	recv(t, entered, "Receive of the blocking message")
	mustTell(t, ref, uMsg{n: 4})
	mustTell(t, ref, uMsg{n: 5}) // DropNewest: 5 is dropped

	// Stopped: 4 is queued at the stop; 6 and 7 come after it.
	if err := ref.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	if err := ref.Tell(context.Background(), uMsg{n: 6}); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("Tell after Stop: got %v; want ErrStopped", err)
	}
	if err := ref.Urgent(uMsg{n: 7}); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("Urgent after Stop: got %v; want ErrStopped", err)
	}
	// Declined by the hook: goes to the System's sink.
	_ = ref.Tell(context.Background(), uMsg{n: 8, pass: true})

	want := []undelivered{
		{1, actor.DeadExpired}, {2, actor.DeadPoison}, {5, actor.DeadDropped},
		{4, actor.DeadStopped}, {6, actor.DeadStopped}, {7, actor.DeadStopped}, {8, actor.DeadStopped},
	}
	if all := got.all(); !slices.Equal(all, want) {
		t.Errorf("hook got %v; want %v", all, want)
	}
	dead := h.dead.all()
	if len(dead) != 1 || dead[0].Message.(uMsg).n != 8 || dead[0].Reason != actor.DeadStopped {
		t.Errorf("System sink got %+v; want only message 8, stopped", dead)
	}
	if n := h.sys.DeadLetters(); n != 1 {
		t.Errorf("System.DeadLetters: got %d; want 1 (the declined message)", n)
	}
	if n := len(h.events.filter(func(e actor.Event) bool { return e.Kind == actor.EventDeadLetter })); n != 1 {
		t.Errorf("dead-letter events: got %d; want 1 (the declined message)", n)
	}
	st := ref.Stats()
	// Accepted: 1-5 (6-8 were refused, 7 is Urgent); 1, 2, 4 and 5 were
	// not handled.
	if st.Processed != 1 || st.DeadLettered != 3 || st.Dropped != 1 {
		t.Errorf("Stats: got %+v; want 1 processed, 3 dead-lettered (expired, poison, stopped), 1 dropped", st)
	}
	checkConservation(t, "stopped", st, 0)
}
