package actor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// stopper handles "slow" by waiting for its ctx to be cancelled (a stop
// request) and then finishing normally; it records what happens in order.
type stopper struct {
	entered chan<- struct{}
	trail   *log[string]
}

func (s *stopper) Receive(ctx actor.Context, m string) error {
	if m == "slow" {
		s.entered <- struct{}{}
		<-ctx.Done()
	}
	s.trail.add("handled " + m)
	return nil
}

func (s *stopper) Stop(_ actor.Context, r actor.ExitReason) { s.trail.add("stop " + r.String()) }

// TestGracefulStop stops an actor in the middle of a message: the message
// finishes, the Stop hook runs with Shutdown, the queued messages go to
// dead letters, and later tells are refused with ErrStopped.
func TestGracefulStop(t *testing.T) {
	h := newHarness(t)
	entered, trail := make(chan struct{}, 1), newLog[string](false)
	ref := mustSpawn(t, h.sys, "s", func() actor.Actor[string] { return &stopper{entered: entered, trail: trail} })
	mustTell(t, ref, "first")
	mustTell(t, ref, "slow")
	recv(t, entered, "slow message to start")
	queued := []string{"a", "b", "c"}
	for _, m := range queued {
		mustTell(t, ref, m)
	}
	if err := ref.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	select {
	case <-ref.PID().Done():
	default:
		t.Errorf("Done after Stop returned: not closed; want closed")
	}
	if got, want := trail.all(), []string{"handled first", "handled slow", "stop shutdown"}; !slices.Equal(got, want) {
		t.Errorf("trail: got %v; want %v", got, want)
	}
	var got []string
	for _, d := range h.dead.filter(deadOf(actor.DeadStopped, ref.Path())) {
		got = append(got, d.Message.(string))
	}
	if !slices.Equal(got, queued) {
		t.Errorf("dead letters: got %v; want %v", got, queued)
	}
	st := ref.Stats()
	if st.Processed != 2 || st.DeadLettered != 3 {
		t.Errorf("Processed/DeadLettered: got %d/%d; want 2/3", st.Processed, st.DeadLettered)
	}
	checkConservation(t, "stopped", st, 0)

	if err := ref.Tell(context.Background(), "late"); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("Tell after Stop: got %v; want %v", err, actor.ErrStopped)
	}
	if err := ref.TryTell("later"); !errors.Is(err, actor.ErrStopped) {
		t.Errorf("TryTell after Stop: got %v; want %v", err, actor.ErrStopped)
	}
	got = got[:0]
	for _, d := range h.dead.filter(deadOf(actor.DeadStopped, ref.Path())) {
		got = append(got, d.Message.(string))
	}
	if want := append(queued, "late", "later"); !slices.Equal(got, want) {
		t.Errorf("dead letters: got %v; want %v", got, want)
	}
	if st2 := ref.Stats(); st2.Accepted != st.Accepted {
		t.Errorf("Accepted after refused tells: got %d; want %d", st2.Accepted, st.Accepted)
	}
	if err := ref.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: got %v; want nil", err)
	}
	if got := trail.filter(func(s string) bool { return strings.HasPrefix(s, "stop") }); len(got) != 1 {
		t.Errorf("Stop hook calls: got %v; want one", got)
	}
	stopped := h.events.filter(eventOf(actor.EventStopped, ref.Path()))
	if len(stopped) != 1 || stopped[0].Reason != actor.Shutdown {
		t.Errorf("EventStopped: got %v; want one with reason shutdown", stopped)
	}
}

// TestConcurrentStop calls Stop from 10 goroutines at once, on actors
// idle, busy and with a Stop hook: every call returns nil once the actor
// stopped, and the actor stops once.
func TestConcurrentStop(t *testing.T) {
	cases := []struct {
		name string
		busy bool
	}{{"idle", false}, {"busy", true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			entered, trail := make(chan struct{}, 1), newLog[string](false)
			ref := mustSpawn(t, h.sys, "s", func() actor.Actor[string] { return &stopper{entered: entered, trail: trail} })
			if tc.busy {
				mustTell(t, ref, "slow")
				recv(t, entered, "slow message to start")
			}
			watch, _ := actor.Watch(ref.PID())
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() { // ends when Stop returns; joined below
					<-start
					if err := ref.Stop(context.Background()); err != nil {
						t.Errorf("Stop: got %v; want nil", err)
					}
					select {
					case <-ref.PID().Done():
					default:
						t.Errorf("Done after Stop returned: not closed; want closed")
					}
				})
			}
			close(start)
			recv(t, done(wg.Wait), "concurrent Stops")
			term := recv(t, watch, "Terminated")
			if term.Reason != actor.Shutdown {
				t.Errorf("Terminated.Reason: got %v; want %v", term.Reason, actor.Shutdown)
			}
			if got := trail.filter(func(s string) bool { return strings.HasPrefix(s, "stop") }); !slices.Equal(got, []string{"stop shutdown"}) {
				t.Errorf("Stop hook calls: got %v; want [stop shutdown]", got)
			}
			if n := len(h.events.filter(eventOf(actor.EventStopped, ref.Path()))); n != 1 {
				t.Errorf("EventStopped: got %d; want 1", n)
			}
		})
	}
}

// TestStopReleasesBlockedTell stops an actor while a sender waits on its
// full mailbox: the sender gets ErrStopped and its message, like the
// queued one, goes to dead letters.
func TestStopReleasesBlockedTell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		entered, trail := make(chan struct{}, 1), newLog[string](true)
		ref := mustSpawn(t, h.sys, "s", func() actor.Actor[string] { return &stopper{entered: entered, trail: trail} },
			actor.WithMailbox(1, mailbox.Block))
		mustTell(t, ref, "slow")
		brecv(t, entered, "slow message to start")
		mustTell(t, ref, "queued")
		res := make(chan error, 1)
		go func() { res <- ref.Tell(context.Background(), "blocked") }() // returns when the actor stops
		synctest.Wait()
		none(t, res, "Tell on the full mailbox")
		if err := ref.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if err := brecv(t, res, "blocked Tell"); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("blocked Tell: got %v; want %v", err, actor.ErrStopped)
		}
		var got []string
		for _, d := range h.dead.filter(deadOf(actor.DeadStopped, ref.Path())) {
			got = append(got, d.Message.(string))
		}
		slices.Sort(got) // the refused sender and the stopping actor race
		if want := []string{"blocked", "queued"}; !slices.Equal(got, want) {
			t.Errorf("dead letters: got %v; want %v", got, want)
		}
		if got, want := trail.all(), []string{"handled slow", "stop shutdown"}; !slices.Equal(got, want) {
			t.Errorf("trail: got %v; want %v", got, want)
		}
		checkConservation(t, "stopped", ref.Stats(), 0)
	})
}

// stuckActor blocks in Receive ignoring its ctx until release is closed.
type stuckActor struct {
	entered chan<- struct{}
	release <-chan struct{}
	stopped chan<- actor.ExitReason
}

func (s *stuckActor) Receive(_ actor.Context, _ int) error {
	s.entered <- struct{}{}
	<-s.release
	return nil
}

func (s *stuckActor) Stop(_ actor.Context, r actor.ExitReason) { s.stopped <- r }

// TestShutdownAbandonsStuckActor shuts a system down while an actor is
// stuck in Receive ignoring its ctx: past the actor's shutdown time it is
// killed and reported leaked (with its stack), Shutdown returns when its
// ctx ends, and the leak clears once the goroutine returns.
func TestShutdownAbandonsStuckActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		entered, release, stopped := make(chan struct{}, 1), make(chan struct{}), make(chan actor.ExitReason, 1)
		const grace = 2 * time.Second
		ref := mustSpawn(t, h.sys, "stuck", func() actor.Actor[int] {
			return &stuckActor{entered: entered, release: release, stopped: stopped}
		}, actor.WithShutdown(grace))
		watch, _ := actor.Watch(ref.PID())
		mustTell(t, ref, 1)
		mustTell(t, ref, 2)
		brecv(t, entered, "Receive to block")

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := h.sys.Shutdown(ctx)
		var se *actor.ShutdownError
		if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: got %v; want a *ShutdownError for %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("Shutdown returned after %v; want 10s", d)
		}
		if len(se.Stuck) != 1 || se.Stuck[0].Path != ref.Path() || !strings.Contains(se.Stuck[0].Stack, "(*stuckActor).Receive") {
			t.Errorf("ShutdownError.Stuck: got %+v; want %s with a stack in (*stuckActor).Receive", se.Stuck, ref.Path())
		}

		killed := h.events.waitFor(t, "EventKilled", eventOf(actor.EventKilled, ref.Path()))
		if killed.Reason != actor.Killed || !errors.Is(killed.Err, actor.ErrKilled) {
			t.Errorf("EventKilled: got %v; want reason killed, error %v", killed, actor.ErrKilled)
		}
		if at := killed.Time.Sub(start); at != grace {
			t.Errorf("killed after %v; want %v", at, grace)
		}
		leaked := h.events.waitFor(t, "EventLeaked", eventOf(actor.EventLeaked, ref.Path()))
		if !strings.Contains(string(leaked.Stack), "(*stuckActor).Receive") {
			t.Errorf("EventLeaked.Stack: got %q; want a stack in (*stuckActor).Receive", leaked.Stack)
		}
		stuck := h.sys.Leaked()
		if len(stuck) != 1 || stuck[0].Path != ref.Path() || !strings.Contains(stuck[0].Stack, "(*stuckActor).Receive") {
			t.Errorf("Leaked: got %+v; want %s with a stack in (*stuckActor).Receive", stuck, ref.Path())
		}
		if term := brecv(t, watch, "Terminated"); term.Reason != actor.Killed {
			t.Errorf("Terminated.Reason: got %v; want %v", term.Reason, actor.Killed)
		}
		none(t, stopped, "Stop hook of a killed incarnation")
		if got := deadMessagesOf[int](h, actor.DeadStopped, ref.Path()); !slices.Equal(got, []int{1, 2}) {
			t.Errorf("dead letters: got %v; want [1 2]", got)
		}
		if n := h.sys.Goroutines(); n != 1 {
			t.Errorf("Goroutines while stuck: got %d; want 1", n)
		}

		close(release)
		synctest.Wait()
		if got := h.sys.Leaked(); got != nil {
			t.Errorf("Leaked after the goroutine returned: got %+v; want none", got)
		}
		if n := h.sys.Goroutines(); n != 0 {
			t.Errorf("Goroutines after the goroutine returned: got %d; want 0", n)
		}
		if err := h.sys.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: got %v; want nil", err)
		}
		checkConservation(t, "stopped", ref.Stats(), 0)
	})
}

// slowpoke blocks on its first delivery of a "block" message until
// release is closed, then reports what its (by then fenced) ctx can do.
type slowpoke struct {
	entered chan<- struct{}
	release <-chan struct{}
	after   chan<- fencedReport
	handled *log[string]
	other   actor.Ref[int]
}

type fencedReport struct {
	tellSelf, tellOther, reply, spawn error
	ctxErr                            error
	attempt                           int
}

type slowMsg struct {
	name  string
	block bool
	reply actor.Reply[int]
}

func (s *slowpoke) Receive(ctx actor.Context, m slowMsg) error {
	if m.block && ctx.Attempt() == 1 {
		s.entered <- struct{}{}
		<-s.release
		self, _ := actor.Self[slowMsg](ctx)
		_, spawnErr := actor.Spawn(ctx, "", runner)
		s.after <- fencedReport{
			tellSelf:  self.Tell(ctx, slowMsg{name: "from the fenced one"}),
			tellOther: s.other.Tell(ctx, 1),
			reply:     m.reply.Send(ctx, 1),
			spawn:     spawnErr,
			ctxErr:    ctx.Err(),
			attempt:   ctx.Attempt(),
		}
		return nil
	}
	s.handled.add(m.name)
	if m.reply.Valid() {
		return m.reply.Send(ctx, ctx.Attempt())
	}
	return nil
}

// TestDeadline overruns a message deadline: the overrun is a failure
// (ErrDeadline), the actor restarts and handles the redelivered message
// and the next one while the old goroutine is still stuck; once that one
// returns, its ctx is fenced and every send through it fails.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		entered, release, after := make(chan struct{}, 1), make(chan struct{}), make(chan fencedReport, 1)
		handled := newLog[string](true)
		otherGot := newLog[int](true)
		other := mustSpawn(t, h.sys, "other", func() actor.Actor[int] {
			return actor.Func[int](func(_ actor.Context, m int) error { otherGot.add(m); return nil })
		})
		const deadline = time.Second
		ref := mustSpawn(t, h.sys, "slow", func() actor.Actor[slowMsg] {
			return &slowpoke{entered: entered, release: release, after: after, handled: handled, other: other}
		}, actor.WithDeadline(deadline))

		start := time.Now()
		type answer struct {
			n   int
			err error
		}
		ask := make(chan answer, 1)
		go func() { // returns with the reply of the redelivery
			n, err := actor.Ask(context.Background(), ref, func(r actor.Reply[int]) slowMsg {
				return slowMsg{name: "blocker", block: true, reply: r}
			})
			ask <- answer{n, err}
		}()
		brecv(t, entered, "blocker to block")
		mustTell(t, ref, slowMsg{name: "next"})

		failed := h.events.waitFor(t, "EventFailed", eventOf(actor.EventFailed, ref.Path()))
		if !errors.Is(failed.Err, actor.ErrDeadline) {
			t.Errorf("EventFailed.Err: got %v; want %v", failed.Err, actor.ErrDeadline)
		}
		if at := failed.Time.Sub(start); at != deadline {
			t.Errorf("failed after %v; want %v", at, deadline)
		}
		var f *actor.Failure
		if !errors.As(failed.Err, &f) || f.Attempt != 1 || f.Message.(slowMsg).name != "blocker" {
			t.Errorf("EventFailed.Err: got %#v; want a *Failure of the blocker's attempt 1", failed.Err)
		} else if !strings.Contains(string(f.Stack()), "(*slowpoke).Receive") {
			t.Errorf("Failure.Stack: got %q; want the stuck goroutine in (*slowpoke).Receive", f.Stack())
		}
		got := handled.waitN(t, 2, "redelivery and next message", func(string) bool { return true })
		if want := []string{"blocker", "next"}; !slices.Equal(got, want) {
			t.Errorf("handled by the fresh incarnation: got %v; want %v", got, want)
		}
		h.events.waitFor(t, "EventRestarted", eventOf(actor.EventRestarted, ref.Path()))
		if a := brecv(t, ask, "Ask of the blocker"); a.n != 2 || a.err != nil {
			t.Errorf("Ask of the blocker: got %d, %v; want the reply of attempt 2, nil", a.n, a.err)
		}
		// The old goroutine is still stuck, and counted.
		synctest.Wait()
		if stuck := h.sys.Leaked(); len(stuck) != 1 || stuck[0].Path != ref.Path() {
			t.Errorf("Leaked while stuck: got %+v; want %s", stuck, ref.Path())
		}
		if n := h.sys.Goroutines(); n != 1 {
			t.Errorf("Goroutines while stuck: got %d; want 1", n)
		}

		close(release)
		rep := brecv(t, after, "fenced goroutine to report")
		for what, err := range map[string]error{"Tell to self": rep.tellSelf, "Tell to another": rep.tellOther, "Reply.Send": rep.reply, "Spawn": rep.spawn} {
			if !errors.Is(err, actor.ErrFenced) {
				t.Errorf("%s from a fenced ctx: got %v; want %v", what, err, actor.ErrFenced)
			}
		}
		if !errors.Is(rep.ctxErr, context.Canceled) {
			t.Errorf("fenced ctx.Err: got %v; want %v", rep.ctxErr, context.Canceled)
		}
		if rep.attempt != 1 {
			t.Errorf("fenced ctx.Attempt: got %d; want 1", rep.attempt)
		}
		synctest.Wait()
		if stuck := h.sys.Leaked(); stuck != nil {
			t.Errorf("Leaked after the goroutine returned: got %+v; want none", stuck)
		}
		if got := otherGot.all(); len(got) != 0 {
			t.Errorf("messages from the fenced goroutine: got %v; want none", got)
		}
		st := ref.Stats()
		if st.Failures != 1 || st.Restarts != 1 || st.Processed != 2 {
			t.Errorf("Failures/Restarts/Processed: got %d/%d/%d; want 1/1/2", st.Failures, st.Restarts, st.Processed)
		}
		checkConservation(t, "idle", st, 0)
	})
}

// TestStopCtxEnds gives Stop a ctx that ends before the actor stops: Stop
// returns the ctx's error and the stop goes on, gracefully while the
// message finishes within the shutdown time, by a kill past it.
func TestStopCtxEnds(t *testing.T) {
	cases := []struct {
		name        string
		releaseAt   time.Duration // when the stuck Receive returns
		reason      actor.ExitReason
		stoppedAt   time.Duration
		stopHookRan bool
	}{
		{"finishes-in-time", 3 * time.Second, actor.Shutdown, 3 * time.Second, true},
		{"killed-at-shutdown-time", 20 * time.Second, actor.Killed, 10 * time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newBubbleHarness(t)
				entered, release, stopped := make(chan struct{}, 1), make(chan struct{}), make(chan actor.ExitReason, 1)
				ref := mustSpawn(t, h.sys, "stuck", func() actor.Actor[int] {
					return &stuckActor{entered: entered, release: release, stopped: stopped}
				}, actor.WithShutdown(10*time.Second))
				watch, _ := actor.Watch(ref.PID())
				mustTell(t, ref, 1)
				brecv(t, entered, "Receive to block")
				start := time.Now()
				time.AfterFunc(tc.releaseAt, func() { close(release) })

				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := ref.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Stop with a 1s ctx: got %v; want %v", err, context.DeadlineExceeded)
				}
				if d := time.Since(start); d != time.Second {
					t.Errorf("Stop returned after %v; want 1s", d)
				}
				term := brecv(t, watch, "Terminated")
				if term.Reason != tc.reason {
					t.Errorf("Terminated.Reason: got %v; want %v", term.Reason, tc.reason)
				}
				if d := time.Since(start); d != tc.stoppedAt {
					t.Errorf("stopped after %v; want %v", d, tc.stoppedAt)
				}
				select {
				case r := <-stopped:
					if !tc.stopHookRan || r != actor.Shutdown {
						t.Errorf("Stop hook: got %v; want it to run: %v", r, tc.stopHookRan)
					}
				default:
					if tc.stopHookRan {
						t.Errorf("Stop hook: did not run; want it with reason shutdown")
					}
				}
				if err := ref.Stop(context.Background()); err != nil {
					t.Errorf("Stop after the end: got %v; want nil", err)
				}
			})
		})
	}
}
