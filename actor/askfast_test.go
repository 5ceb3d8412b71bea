package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// question is a request to the asked actors below.
type question struct {
	op    string // "crash", "block", "wait" (until ctx is done), "answer"
	reply actor.Reply[string]
}

// asked answers "answer", crashes on "crash", blocks on "block" until
// released, and on "wait" reports its ctx and waits for it to be done.
type asked struct {
	release <-chan struct{}
	blocked chan<- struct{}
	waiting chan<- actor.Context
	seen    chan<- string
}

func (a *asked) Receive(ctx actor.Context, m question) error {
	if a.seen != nil {
		a.seen <- m.op
	}
	switch m.op {
	case "crash":
		panic("crash on " + m.op)
	case "block":
		a.blocked <- struct{}{}
		<-a.release
	case "wait":
		a.waiting <- ctx
		<-ctx.Done()
		return ctx.Err()
	}
	if m.reply.Valid() {
		return m.reply.Send(ctx, "answered "+m.op)
	}
	return nil
}

func askQ(ctx context.Context, ref actor.Ref[question], op string) (string, error) {
	return actor.Ask(ctx, ref, func(r actor.Reply[string]) question { return question{op: op, reply: r} })
}

// TestAskPoisonFailsFast asks with a request that crashes the actor on
// every attempt: the Ask ends as soon as the request is dead-lettered as
// poison, not at its deadline, with an error that says so and wraps the
// last failure.
func TestAskPoisonFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		ref := mustSpawn(t, h.sys, "crasher", func() actor.Actor[question] { return &asked{} }, actor.WithMaxAttempts(2))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		_, err := askQ(ctx, ref, "crash")
		if waited := time.Since(start); waited != 0 {
			t.Errorf("Ask waited %v; want 0 (it fails when the request is dead-lettered)", waited)
		}
		var ue *actor.UndeliveredError
		var f *actor.Failure
		var pe *actor.PanicError
		switch {
		case !errors.Is(err, actor.ErrPoison):
			t.Fatalf("Ask: got %v; want an error matching ErrPoison", err)
		case !errors.As(err, &ue) || ue.Path != ref.Path() || ue.Attempts != 2 || ue.Reason != actor.DeadPoison:
			t.Errorf("Ask: got %#v; want an *UndeliveredError for %s after 2 attempts", err, ref.Path())
		case !errors.As(err, &f) || !errors.As(err, &pe):
			t.Errorf("Ask: got %v; want it to wrap the *Failure and its *PanicError", err)
		}
		checkConservation(t, "after the poison", ref.Stats(), 0)
	})
}

// TestAskDroppedFailsFast fills a bounded mailbox with a drop policy: the
// request the policy discards ends its Ask at once with ErrDropped, with
// DropNewest (the request itself) and with DropOldest (a queued request
// pushed out by a later message).
func TestAskDroppedFailsFast(t *testing.T) {
	for _, policy := range []mailbox.Policy{mailbox.DropNewest, mailbox.DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newBubbleHarness(t)
				release, blocked := make(chan struct{}), make(chan struct{}, 1)
				ref := mustSpawn(t, h.sys, "small", func() actor.Actor[question] {
					return &asked{release: release, blocked: blocked}
				}, actor.WithMailbox(1, policy), actor.WithThroughput(1))
				mustTell(t, ref, question{op: "block"})
				brecv(t, blocked, "the actor to block")
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				defer cancel()
				type answer struct {
					s   string
					err error
				}
				first := make(chan answer, 1)
				if policy == mailbox.DropOldest {
					// The queued request is pushed out by the next message.
					go func() { s, err := askQ(ctx, ref, "answer"); first <- answer{s, err} }()
					synctest.Wait()
					mustTell(t, ref, question{op: "plain"})
				} else {
					mustTell(t, ref, question{op: "plain"}) // fills the mailbox
					go func() { s, err := askQ(ctx, ref, "answer"); first <- answer{s, err} }()
				}
				a := brecv(t, first, "the dropped Ask")
				var ue *actor.UndeliveredError
				if !errors.Is(a.err, actor.ErrDropped) || !errors.As(a.err, &ue) || ue.Reason != actor.DeadDropped {
					t.Errorf("dropped Ask: got %q, %v; want an *UndeliveredError matching ErrDropped", a.s, a.err)
				}
				close(release)
			})
		})
	}
}

// TestAskStoppedFailsFast stops an actor with a request queued: the Ask
// ends with ErrStopped when the request is dead-lettered.
func TestAskStoppedFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		release, blocked := make(chan struct{}), make(chan struct{}, 1)
		ref := mustSpawn(t, h.sys, "stopping", func() actor.Actor[question] {
			return &asked{release: release, blocked: blocked}
		})
		mustTell(t, ref, question{op: "block"})
		brecv(t, blocked, "the actor to block")
		errs := make(chan error, 1)
		go func() { _, err := askQ(context.Background(), ref, "answer"); errs <- err }()
		synctest.Wait()
		stopped := make(chan error, 1)
		go func() { stopped <- ref.Stop(context.Background()) }()
		synctest.Wait()
		close(release)
		if err := brecv(t, errs, "the Ask"); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Ask queued at a stop: got %v; want ErrStopped", err)
		}
		if err := brecv(t, stopped, "Stop"); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// TestAskDeadlineReachesReceive checks that the Context of an asked
// message has the asker's deadline, is done when the asker gives up, and
// that a Receive returning that ctx.Err() is not a failure: the request is
// dead-lettered as expired and the actor goes on.
func TestAskDeadlineReachesReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		waiting := make(chan actor.Context, 1)
		ref := mustSpawn(t, h.sys, "waiter", func() actor.Actor[question] { return &asked{waiting: waiting} })
		deadline := time.Now().Add(time.Minute)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		errs := make(chan error, 1)
		go func() { _, err := askQ(ctx, ref, "wait"); errs <- err }()
		rctx := brecv(t, waiting, "Receive of the request")
		if d, ok := rctx.Deadline(); !ok || !d.Equal(deadline) {
			t.Errorf("Receive ctx.Deadline: got %v, %v; want the asker's %v", d, ok, deadline)
		}
		if rctx.Err() != nil {
			t.Errorf("Receive ctx.Err before the deadline: got %v; want nil", rctx.Err())
		}
		if self, ok := actor.Self[question](rctx); !ok || self.Path() != ref.Path() {
			t.Errorf("Self of the request's ctx: got %v, %v; want %s", self, ok, ref.Path())
		}
		err := brecv(t, errs, "the Ask to time out")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), ref.Path()) {
			t.Errorf("Ask past its deadline: got %v; want an error naming %s that matches context.DeadlineExceeded", err, ref.Path())
		}
		if got := time.Since(deadline); got != 0 {
			t.Errorf("Ask returned %v after its deadline; want at it", got)
		}
		d := h.dead.waitFor(t, "the expired request", deadOf(actor.DeadExpired, ref.Path()))
		if !errors.Is(d.Err, context.DeadlineExceeded) {
			t.Errorf("expired dead letter: got %+v; want Err DeadlineExceeded", d)
		}
		// The actor did not fail and still answers.
		if s, err := askQ(context.Background(), ref, "answer"); err != nil || s != "answered answer" {
			t.Errorf("Ask after: got %q, %v", s, err)
		}
		st := ref.Stats()
		if st.Failures != 0 || st.Expired != 1 || st.DeadLettered != 1 {
			t.Errorf("Stats: got %+v; want 0 failures, 1 expired (dead-lettered)", st)
		}
		checkConservation(t, "after", st, 0)
	})
}

// TestAskerGoneBeforeHandled cancels an Ask while its request is queued:
// when it reaches the head of the mailbox it is not handled but
// dead-lettered as expired, counted in Stats.
func TestAskerGoneBeforeHandled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		release, blocked := make(chan struct{}), make(chan struct{}, 1)
		seen := make(chan string, 8)
		ref := mustSpawn(t, h.sys, "busy", func() actor.Actor[question] {
			return &asked{release: release, blocked: blocked, seen: seen}
		})
		mustTell(t, ref, question{op: "block"})
		brecv(t, blocked, "the actor to block")
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 1)
		go func() { _, err := askQ(ctx, ref, "gone"); errs <- err }()
		synctest.Wait()
		cancel()
		if err := brecv(t, errs, "the cancelled Ask"); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), ref.Path()) {
			t.Errorf("cancelled Ask: got %v; want an error naming %s matching context.Canceled", err, ref.Path())
		}
		mustTell(t, ref, question{op: "after"})
		close(release)
		for _, want := range []string{"block", "after"} {
			if got := brecv(t, seen, "a message handled"); got != want {
				t.Errorf("handled: got %q; want %q (the expired request is not handled)", got, want)
			}
		}
		d := h.dead.waitFor(t, "the expired request", deadOf(actor.DeadExpired, ref.Path()))
		if m, ok := d.Message.(question); !ok || m.op != "gone" || !errors.Is(d.Err, context.Canceled) {
			t.Errorf("dead letter: got %+v; want the gone request with context.Canceled", d)
		}
		synctest.Wait()
		st := ref.Stats()
		if st.Expired != 1 || st.DeadLettered != 1 || st.Processed != 2 {
			t.Errorf("Stats: got %+v; want 1 expired, 1 dead-lettered, 2 processed", st)
		}
		checkConservation(t, "after", st, 0)
	})
}

// TestAskCtxDoneOnStop checks that the Context of a request is also done
// when the actor is asked to stop.
func TestAskCtxDoneOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		waiting := make(chan actor.Context, 1)
		ref := mustSpawn(t, h.sys, "stopwait", func() actor.Actor[question] { return &asked{waiting: waiting} })
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		errs := make(chan error, 1)
		go func() { _, err := askQ(ctx, ref, "wait"); errs <- err }()
		rctx := brecv(t, waiting, "Receive of the request")
		if err := ref.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if !errors.Is(rctx.Err(), context.Canceled) {
			t.Errorf("request ctx after Stop: got %v; want context.Canceled", rctx.Err())
		}
		if err := brecv(t, errs, "the Ask"); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Ask: got %v; want ErrStopped", err)
		}
	})
}

// TestDeadLetterSeesSettledStats reads the actor's Stats from inside its
// WithUndelivered hook when a poison request is dead-lettered: they
// already count it (nothing in flight), so an asker woken by the dead
// letter never reads an InFlight that is about to drop.
func TestDeadLetterSeesSettledStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		var ref actor.Ref[question]
		var seen []actor.Stats
		ref = mustSpawn(t, h.sys, "crasher", func() actor.Actor[question] { return &asked{} },
			actor.WithMaxAttempts(2),
			actor.WithUndelivered(func(actor.DeadLetter) bool {
				seen = append(seen, ref.Stats()) // on the actor's goroutine; read after the Ask below returned
				return true
			}))
		if _, err := askQ(context.Background(), ref, "crash"); !errors.Is(err, actor.ErrPoison) {
			t.Fatalf("Ask: got %v; want ErrPoison", err)
		}
		synctest.Wait()
		if len(seen) != 1 {
			t.Fatalf("hook ran %d times; want 1", len(seen))
		}
		if s := seen[0]; s.InFlight != 0 || s.DeadLettered != 1 {
			t.Errorf("Stats inside the hook: InFlight %d, DeadLettered %d; want 0 and 1 (%+v)", s.InFlight, s.DeadLettered, s)
		}
	})
}
