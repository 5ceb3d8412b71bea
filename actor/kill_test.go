package actor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/actor"
)

// sticky blocks on the first delivery of "stuck", ignoring its ctx, until
// release is closed.
type sticky struct {
	entered chan<- struct{}
	release <-chan struct{}
	handled *log[string]
	trail   *log[string]
}

func (s *sticky) Receive(ctx actor.Context, m string) error {
	if m == "stuck" && ctx.Attempt() == 1 {
		s.entered <- struct{}{}
		<-s.release
		return nil
	}
	s.handled.add(m)
	return nil
}

func (s *sticky) Stop(_ actor.Context, r actor.ExitReason) { s.trail.add(r.String()) }

// TestKill kills an actor stuck in Receive: its goroutine is abandoned
// (leaked until it returns), no Stop hook runs, and the actor restarts in
// place and gets the message again. Killing an idle actor restarts it too.
func TestKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		entered, release := make(chan struct{}, 1), make(chan struct{})
		handled, trail := newLog[string](true), newLog[string](true)
		ref := mustSpawn(t, h.sys, "sticky", func() actor.Actor[string] {
			return &sticky{entered: entered, release: release, handled: handled, trail: trail}
		})
		mustTell(t, ref, "stuck")
		mustTell(t, ref, "next")
		brecv(t, entered, "stuck message")
		ref.PID().Kill()

		killed := h.events.waitFor(t, "EventKilled", eventOf(actor.EventKilled, ref.Path()))
		if killed.Reason != actor.Killed || !errors.Is(killed.Err, actor.ErrKilled) {
			t.Errorf("EventKilled: got %v; want reason killed, error %v", killed, actor.ErrKilled)
		}
		leaked := h.events.waitFor(t, "EventLeaked", eventOf(actor.EventLeaked, ref.Path()))
		if !strings.Contains(string(leaked.Stack), "(*sticky).Receive") {
			t.Errorf("EventLeaked.Stack: got %q; want a stack in (*sticky).Receive", leaked.Stack)
		}
		got := handled.waitN(t, 2, "redelivery and next", func(string) bool { return true })
		if want := []string{"stuck", "next"}; !slices.Equal(got, want) {
			t.Errorf("handled after the kill: got %v; want %v", got, want)
		}
		synctest.Wait()
		if stuck := h.sys.Leaked(); len(stuck) != 1 || !strings.Contains(stuck[0].Stack, "(*sticky).Receive") {
			t.Errorf("Leaked: got %+v; want %s stuck in (*sticky).Receive", stuck, ref.Path())
		}
		if got := trail.all(); len(got) != 0 {
			t.Errorf("Stop hooks of a killed incarnation: got %v; want none", got)
		}
		close(release)
		synctest.Wait()
		if stuck := h.sys.Leaked(); stuck != nil {
			t.Errorf("Leaked after the goroutine returned: got %+v; want none", stuck)
		}

		ref.PID().Kill() // idle: restarts at once
		h.events.waitN(t, 2, "second restart", eventOf(actor.EventRestarted, ref.Path()))
		mustTell(t, ref, "after")
		handled.waitFor(t, "message after the second kill", func(s string) bool { return s == "after" })
		st := ref.Stats()
		if st.Restarts != 2 || st.Processed != 3 {
			t.Errorf("Restarts/Processed: got %d/%d; want 2/3", st.Restarts, st.Processed)
		}
		checkConservation(t, "idle", st, 0)
	})
}

// TestStopNowStuck stops an actor stuck in Receive for good without
// waiting: StopNow returns at once, the actor is killed, its messages go
// to dead letters, and its goroutine is reported leaked until it returns.
func TestStopNowStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		entered, release := make(chan struct{}, 1), make(chan struct{})
		handled, trail := newLog[string](true), newLog[string](true)
		ref := mustSpawn(t, h.sys, "sticky", func() actor.Actor[string] {
			return &sticky{entered: entered, release: release, handled: handled, trail: trail}
		})
		watch, _ := actor.Watch(ref.PID())
		mustTell(t, ref, "stuck")
		mustTell(t, ref, "next")
		brecv(t, entered, "stuck message")
		if err := ref.StopNow(); err != nil {
			t.Fatalf("StopNow: got %v; want nil", err)
		}
		if term := brecv(t, watch, "Terminated"); term.Reason != actor.Killed || !errors.Is(term.Err, actor.ErrKilled) {
			t.Errorf("Terminated: got %v %v; want killed, %v", term.Reason, term.Err, actor.ErrKilled)
		}
		got := deadMessagesOf[string](h, actor.DeadStopped, ref.Path())
		if want := []string{"stuck", "next"}; !slices.Equal(got, want) {
			t.Errorf("dead letters: got %v; want %v", got, want)
		}
		if stuck := h.sys.Leaked(); len(stuck) != 1 {
			t.Errorf("Leaked: got %+v; want the stuck goroutine", stuck)
		}
		if err := ref.Stop(context.Background()); err != nil {
			t.Errorf("Stop after StopNow: got %v; want nil", err)
		}
		close(release)
		synctest.Wait()
		if stuck := h.sys.Leaked(); stuck != nil {
			t.Errorf("Leaked after the goroutine returned: got %+v; want none", stuck)
		}
		if got := append(handled.all(), trail.all()...); len(got) != 0 {
			t.Errorf("handled/Stop hooks: got %v; want none", got)
		}
		checkConservation(t, "stopped", ref.Stats(), 0)
	})
}

// slowStarter blocks in the Start of its second incarnation until release
// is closed; its first incarnation fails on "fail".
type slowStarter struct {
	inc      int
	starting chan<- struct{}
	release  <-chan struct{}
	trail    *log[string]
}

func (s *slowStarter) Start(actor.Context) error {
	if s.inc == 2 {
		s.starting <- struct{}{}
		<-s.release
	}
	return nil
}

func (s *slowStarter) Receive(ctx actor.Context, m string) error {
	if m == "fail" && ctx.Attempt() == 1 {
		return errBoom
	}
	s.trail.add("handled " + m)
	return nil
}

func (s *slowStarter) Stop(_ actor.Context, r actor.ExitReason) {
	s.trail.add(strings.Repeat("I", s.inc) + " stop " + r.String())
}

// TestStopDuringRestart stops an actor while its restart is in its Start
// hook: Stop waits for the start, the fresh incarnation is stopped before
// it handles anything, and the failed message and the queue go to dead
// letters.
func TestStopDuringRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		starting, release, trail := make(chan struct{}, 1), make(chan struct{}), newLog[string](true)
		n := 0
		ref := mustSpawn(t, h.sys, "s", func() actor.Actor[string] {
			n++ // the factory runs on one goroutine at a time
			return &slowStarter{inc: n, starting: starting, release: release, trail: trail}
		})
		mustTell(t, ref, "fail")
		mustTell(t, ref, "queued")
		brecv(t, starting, "restart to enter Start")
		res := make(chan error, 1)
		go func() { res <- ref.Stop(context.Background()) }() // returns once the restart ended
		synctest.Wait()
		none(t, res, "Stop while the restart is starting")
		close(release)
		if err := brecv(t, res, "Stop"); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if got, want := trail.all(), []string{"I stop failure", "II stop shutdown"}; !slices.Equal(got, want) {
			t.Errorf("trail: got %v; want %v", got, want)
		}
		got := deadMessagesOf[string](h, actor.DeadStopped, ref.Path())
		if want := []string{"fail", "queued"}; !slices.Equal(got, want) {
			t.Errorf("dead letters: got %v; want %v", got, want)
		}
		checkConservation(t, "stopped", ref.Stats(), 0)
	})
}

// TestSpawnRacingShutdown spawns an actor whose factory is slow while the
// system shuts down: Shutdown waits for the start, then stops the actor,
// and the Spawn fails with ErrSystemStopped rather than leave a live actor
// behind a finished Shutdown.
func TestSpawnRacingShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := actor.NewSystem()
		inFactory, release := make(chan struct{}, 1), make(chan struct{})
		type result struct {
			ref actor.Ref[run]
			err error
		}
		res := make(chan result, 1)
		first := true
		go func() { // returns when Spawn does
			ref, err := actor.Spawn(sys, "late", func() actor.Actor[run] {
				if first {
					first = false
					inFactory <- struct{}{}
					<-release
				}
				return runner()
			})
			res <- result{ref, err}
		}()
		brecv(t, inFactory, "factory")
		shut := make(chan error, 1)
		go func() { shut <- sys.Shutdown(context.Background()) }() // returns once the late actor stopped
		synctest.Wait()
		none(t, shut, "Shutdown while an actor is starting")
		close(release)
		if err := brecv(t, shut, "Shutdown"); err != nil {
			t.Fatalf("Shutdown: got %v; want nil", err)
		}
		r := brecv(t, res, "Spawn")
		if !errors.Is(r.err, actor.ErrSystemStopped) {
			t.Errorf("Spawn racing Shutdown: got %v; want %v", r.err, actor.ErrSystemStopped)
		}
		if r.err == nil {
			_ = r.ref.Stop(context.Background())
		}
	})
}
