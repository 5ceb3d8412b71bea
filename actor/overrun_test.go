package actor_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// job is a message an overrunning actor handles. Its fields are not
// word-sized, so the race detector sees every access to the in-flight
// slot that holds it.
type job struct {
	id    int
	label string
	block bool // the first attempt blocks until released
}

// overrunner blocks on the first attempt of a blocking job without
// telling anyone (so the test adds no happens-before edge between the
// stuck goroutine and the runtime), and records what it handled.
type overrunner struct {
	release <-chan struct{}
	handled chan<- job
}

func (o *overrunner) Receive(ctx actor.Context, m job) error {
	if m.block && ctx.Attempt() == 1 {
		<-o.release
		// The fenced goroutine reads its message again after it comes
		// back: nothing the runtime reuses may have been handed to it.
		_ = m.label + m.label
		return nil
	}
	o.handled <- m
	return nil
}

// TestDeadlineOverrunRedelivery overruns a deadline with nothing else
// ordering the stuck goroutine and the runtime, so that under -race any
// state shared between the abandoned incarnation and its successor (the
// in-flight message slot above all) is reported. The redelivered message
// and the next ones are handled by the fresh incarnation while the old
// goroutine is still stuck; then it returns and vanishes.
func TestDeadlineOverrunRedelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		release := make(chan struct{})
		handled := make(chan job, 16)
		ref := mustSpawn(t, h.sys, "overrun", func() actor.Actor[job] {
			return &overrunner{release: release, handled: handled}
		}, actor.WithDeadline(time.Second))
		mustTell(t, ref, job{id: 1, label: "one", block: true})
		mustTell(t, ref, job{id: 2, label: "two"})
		for _, want := range []int{1, 2} {
			if got := brecv(t, handled, "fresh incarnation to handle a job"); got.id != want {
				t.Fatalf("handled: got job %d; want %d", got.id, want)
			}
		}
		synctest.Wait()
		if n := len(h.sys.Leaked()); n != 1 {
			t.Errorf("Leaked while stuck: got %d; want 1", n)
		}
		st := ref.Stats()
		if st.Failures != 1 || st.Restarts != 1 || st.Processed != 2 {
			t.Errorf("Stats: got %+v; want 1 failure, 1 restart, 2 processed", st)
		}
		checkConservation(t, "after the overrun", st, 0)
		close(release)
		synctest.Wait()
		if n := len(h.sys.Leaked()); n != 0 {
			t.Errorf("Leaked after the stuck goroutine returned: got %d; want 0", n)
		}
	})
}

// TestDeadlineOverrunsInARow overruns the deadline many times in a row,
// each on a different message, while later messages keep arriving:
// every overrun is one failure and one restart, every message is handled
// exactly once by a live incarnation, and every abandoned goroutine
// vanishes once released.
func TestDeadlineOverrunsInARow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		release := make(chan struct{})
		const n = 20
		handled := make(chan job, 2*n)
		ref := mustSpawn(t, h.sys, "overruns", func() actor.Actor[job] {
			return &overrunner{release: release, handled: handled}
		}, actor.WithDeadline(time.Second))
		for i := range n {
			mustTell(t, ref, job{id: 2 * i, label: fmt.Sprint("blocker ", i), block: true})
			mustTell(t, ref, job{id: 2*i + 1, label: fmt.Sprint("plain ", i)})
		}
		for want := range 2 * n {
			if got := brecv(t, handled, "a job handled"); got.id != want {
				t.Fatalf("handled: got job %d; want %d (in order)", got.id, want)
			}
		}
		synctest.Wait()
		if got := len(h.sys.Leaked()); got != n {
			t.Errorf("Leaked while stuck: got %d; want %d", got, n)
		}
		st := ref.Stats()
		if st.Failures != n || st.Restarts != n || st.Processed != 2*n {
			t.Errorf("Stats: got %+v; want %d failures, %d restarts, %d processed", st, n, n, 2*n)
		}
		checkConservation(t, "after the overruns", st, 0)
		if d := h.dead.all(); len(d) != 0 {
			t.Errorf("dead letters: got %v; want none", d)
		}
		close(release)
		synctest.Wait()
		if got := len(h.sys.Leaked()); got != 0 {
			t.Errorf("Leaked after release: got %d; want 0", got)
		}
	})
}

// TestDeadlineOverrunPoison overruns the deadline on every attempt of one
// message: after WithMaxAttempts it is dead-lettered as poison with the
// deadline failure, and the message behind it is handled.
func TestDeadlineOverrunPoison(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newBubbleHarness(t)
		release := make(chan struct{})
		handled := make(chan job, 4)
		ref := mustSpawn(t, h.sys, "poisoned", func() actor.Actor[job] {
			return actor.Func[job](func(ctx actor.Context, m job) error {
				if m.block {
					<-release
					_ = m.label + m.label
					return nil
				}
				handled <- m
				return nil
			})
		}, actor.WithDeadline(time.Second), actor.WithMaxAttempts(2))
		mustTell(t, ref, job{id: 1, label: "always stuck", block: true})
		mustTell(t, ref, job{id: 2, label: "after"})
		if got := brecv(t, handled, "the job behind the poison"); got.id != 2 {
			t.Fatalf("handled: got job %d; want 2", got.id)
		}
		d := h.dead.waitFor(t, "the poison dead letter", deadOf(actor.DeadPoison, ref.Path()))
		if m := d.Message.(job); m.id != 1 || d.Attempts != 2 || !errors.Is(d.Err, actor.ErrDeadline) {
			t.Errorf("poison: got %+v; want job 1 after 2 attempts with ErrDeadline", d)
		}
		close(release)
		synctest.Wait()
		checkConservation(t, "after the poison", ref.Stats(), 0)
		if got := len(h.sys.Leaked()); got != 0 {
			t.Errorf("Leaked after release: got %d; want 0", got)
		}
	})
}
