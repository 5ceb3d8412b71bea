package actor_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// fhMsg is a message for TestFailureHook: op "once" panics on its first
// delivery and then reports what the hook recorded, "fail" always fails,
// "stop" ends the actor normally.
type fhMsg struct {
	n  int
	op string
}

// fhCall is one call of the failure hook, as the test sees it.
type fhCall struct {
	msg     any
	attempt int
	panic   bool
	err     error
	id      uint64
}

// fhState outlives the incarnations of the actor of TestFailureHook. It
// is touched without locks by the hook, the incarnations (Receive, Stop)
// and the undelivered hook: all on the actor's goroutine, one after the
// other, which -race checks.
type fhState struct {
	calls    []fhCall
	lastFail any // the message of the last failure, set by the hook

	hook     chan fhCall // each hook call
	stopSaw  chan int    // len(calls) when a Stop hook ran
	resumed  chan any    // what a redelivered "once" found in lastFail
	poisoned chan int    // len(calls) when a message was dead-lettered as poison
}

type fhActor struct{ st *fhState }

func (a *fhActor) Receive(ctx actor.Context, m fhMsg) error {
	switch m.op {
	case "once":
		if ctx.Attempt() == 1 {
			panic(fmt.Sprintf("message %d", m.n))
		}
		a.st.resumed <- a.st.lastFail
	case "fail":
		return fmt.Errorf("message %d: %w", m.n, errBoom)
	case "stop":
		return actor.StopNormal
	}
	return nil
}

func (a *fhActor) Stop(ctx actor.Context, r actor.ExitReason) { a.st.stopSaw <- len(a.st.calls) }

// TestFailureHook: the WithFailure hook gets every failure of the actor's
// code (a panic, an error, an Urgent message's) with the failed message
// and its attempt, on the actor's goroutine before the Stop hook, the
// redelivery and the poison decision follow from it; its failure is the
// one the runtime reports (same ID). A normal stop is not a failure.
func TestFailureHook(t *testing.T) {
	h := newHarness(t)
	st := &fhState{
		hook: make(chan fhCall, 16), stopSaw: make(chan int, 16),
		resumed: make(chan any, 1), poisoned: make(chan int, 1),
	}
	hook := func(f *actor.Failure) {
		var pe *actor.PanicError
		c := fhCall{msg: f.Message, attempt: f.Attempt, panic: errors.As(f.Err, &pe), err: f.Err, id: uint64(f.ID)}
		st.calls = append(st.calls, c)
		st.lastFail = f.Message
		st.hook <- c
	}
	undelivered := func(d actor.DeadLetter) bool {
		if d.Reason == actor.DeadPoison {
			st.poisoned <- len(st.calls)
		}
		return false
	}
	ref := mustSpawn(t, h.sys, "fh", func() actor.Actor[fhMsg] { return &fhActor{st: st} },
		actor.WithMaxAttempts(3), actor.WithFailure(hook), actor.WithUndelivered(undelivered))

	// A panic: the hook sees it before the Stop hook, and the redelivered
	// message finds what the hook recorded.
	mustTell(t, ref, fhMsg{n: 1, op: "once"})
	c := recv(t, st.hook, "the hook for the panic")
	if c.msg != (fhMsg{n: 1, op: "once"}) || c.attempt != 1 || !c.panic || c.id == 0 {
		t.Errorf("hook: got %+v; want message 1, attempt 1, a *PanicError and an ID", c)
	}
	if n := recv(t, st.stopSaw, "the Stop hook of the failed incarnation"); n != 1 {
		t.Errorf("Stop hook: saw %d hook calls; want 1 (the hook runs first)", n)
	}
	if got := recv(t, st.resumed, "the redelivery"); got != (fhMsg{n: 1, op: "once"}) {
		t.Errorf("redelivery: found %v in the hook's state; want message 1", got)
	}
	ev := h.events.waitFor(t, "EventFailed of the panic", eventOf(actor.EventFailed, "/fh"))
	if uint64(ev.FailureID) != c.id {
		t.Errorf("EventFailed: got failure %v; want the hook's %v", ev.FailureID, c.id)
	}

	// An error on every attempt: one call per attempt, then poison.
	mustTell(t, ref, fhMsg{n: 2, op: "fail"})
	for want := 1; want <= 3; want++ {
		c := recv(t, st.hook, "the hook for the failing message")
		if c.msg != (fhMsg{n: 2, op: "fail"}) || c.attempt != want || c.panic || !errors.Is(c.err, errBoom) {
			t.Errorf("hook: got %+v; want message 2, attempt %d, errBoom", c, want)
		}
		recv(t, st.stopSaw, "the Stop hook")
	}
	if n := recv(t, st.poisoned, "the poison dead letter"); n != 4 {
		t.Errorf("poison: dead-lettered after %d hook calls; want 4 (after the last attempt's)", n)
	}

	// An Urgent message: no mailbox message, no attempt.
	if err := ref.Urgent(fhMsg{n: 3, op: "fail"}); err != nil {
		t.Fatalf("Urgent: got %v; want nil", err)
	}
	c = recv(t, st.hook, "the hook for the Urgent message")
	if c.msg != nil || c.attempt != 0 || !errors.Is(c.err, errBoom) {
		t.Errorf("hook: got %+v; want no message, attempt 0, errBoom", c)
	}
	recv(t, st.stopSaw, "the Stop hook")

	// A normal stop is not a failure.
	mustTell(t, ref, fhMsg{n: 4, op: "stop"})
	recv(t, st.stopSaw, "the Stop hook of the normal stop")
	recv(t, ref.PID().Done(), "the actor to stop")
	select {
	case c := <-st.hook:
		t.Errorf("hook after StopNormal: got %+v; want no call", c)
	default:
	}
}

// TestFailureHookPanics: a hook that panics does not take the actor down
// with it; the failure is handled as usual (the message redelivered).
func TestFailureHookPanics(t *testing.T) {
	h := newHarness(t)
	done := make(chan int, 4)
	ref := mustSpawn(t, h.sys, "fp", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, m int) error {
			if ctx.Attempt() == 1 {
				return errBoom
			}
			done <- ctx.Attempt()
			return nil
		})
	}, actor.WithFailure(func(*actor.Failure) { panic("hook") }))
	mustTell(t, ref, 1)
	if a := recv(t, done, "the redelivery"); a != 2 {
		t.Errorf("redelivery: got attempt %d; want 2", a)
	}
}
