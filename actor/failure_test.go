package actor_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

var errBoom = errors.New("boom")

// panicker panics in a named method, so the stack can be checked for it.
type panicker struct{ handled chan<- string }

type panicMsg struct {
	value any // panic value; nil means handle normally
	name  string
}

func (p *panicker) Receive(_ actor.Context, m panicMsg) error {
	if m.value != nil {
		p.explode(m.value)
	}
	p.handled <- m.name
	return nil
}

//go:noinline
func (p *panicker) explode(v any) { panic(v) }

// TestPanicBecomesFailure checks that a panic in Receive is reported as an
// EventFailed whose error is a *Failure wrapping a *PanicError with the
// panicking goroutine's stack, and that the actor goes on.
func TestPanicBecomesFailure(t *testing.T) {
	cases := []struct {
		name  string
		value any
		is    error // errors.Is target through PanicError.Unwrap, if any
	}{
		{"string", "kaboom", nil},
		{"error", fmt.Errorf("wrapped: %w", errBoom), errBoom},
		{"runtime-error", runtimeError(), nil},
	}
	h := newHarness(t)
	handled := make(chan string, 1)
	ref := mustSpawn(t, h.sys, "panicker", func() actor.Actor[panicMsg] { return &panicker{handled: handled} },
		actor.WithMaxAttempts(1))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := panicMsg{value: tc.value, name: tc.name}
			mustTell(t, ref, msg)
			evs := h.events.waitN(t, i+1, "EventFailed", eventOf(actor.EventFailed, ref.Path()))
			ev := evs[i]
			var f *actor.Failure
			if !errors.As(ev.Err, &f) {
				t.Fatalf("EventFailed.Err: got %T %v; want a *actor.Failure", ev.Err, ev.Err)
			}
			if f.Path != ref.Path() || f.Attempt != 1 {
				t.Errorf("Failure path/attempt: got %q/%d; want %q/1", f.Path, f.Attempt, ref.Path())
			}
			if got, ok := f.Message.(panicMsg); !ok || got.name != msg.name {
				t.Errorf("Failure.Message: got %v; want %v", f.Message, msg)
			}
			var pe *actor.PanicError
			if !errors.As(ev.Err, &pe) {
				t.Fatalf("EventFailed.Err: got %v; want it to wrap a *actor.PanicError", ev.Err)
			}
			if pe.Value != tc.value {
				t.Errorf("PanicError.Value: got %v; want %v", pe.Value, tc.value)
			}
			if tc.is != nil && !errors.Is(ev.Err, tc.is) {
				t.Errorf("errors.Is(EventFailed.Err, %v): got false; want true", tc.is)
			}
			if _, isRuntime := tc.value.(runtime.Error); isRuntime && !errors.As(ev.Err, new(runtime.Error)) {
				t.Errorf("errors.As(EventFailed.Err, runtime.Error): got false; want true")
			}
			for what, stack := range map[string][]byte{"PanicError.Stack": pe.Stack(), "Failure.Stack": f.Stack(), "Event.Stack": ev.Stack} {
				if !strings.Contains(string(stack), "(*panicker).explode") {
					t.Errorf("%s: got %q; want a stack mentioning (*panicker).explode", what, stack)
				}
			}
			if ev.Reason != actor.Failed {
				t.Errorf("EventFailed.Reason: got %v; want %v", ev.Reason, actor.Failed)
			}
			// The actor restarted and handles the next message.
			mustTell(t, ref, panicMsg{name: "after " + tc.name})
			if got := recv(t, handled, "message after the panic"); got != "after "+tc.name {
				t.Errorf("handled: got %q; want %q", got, "after "+tc.name)
			}
		})
	}
	// A restart is counted after the fresh incarnation started: wait for
	// its event before reading the counter.
	h.events.waitN(t, len(cases), "EventRestarted", eventOf(actor.EventRestarted, ref.Path()))
	st := ref.Stats()
	if st.Failures != uint64(len(cases)) || st.Restarts != uint64(len(cases)) {
		t.Errorf("Failures/Restarts: got %d/%d; want %d/%d", st.Failures, st.Restarts, len(cases), len(cases))
	}
}

func runtimeError() (err any) {
	defer func() { err = recover() }()
	var m map[string]int
	m["x"] = 1 // assignment to entry in nil map
	return nil
}

// step is what one incarnation of a tracker saw.
type step struct {
	inc     int64 // which factory call built the incarnation
	msg     int
	attempt int
	count   int // messages this incarnation handled before, this one included
	selfOK  bool
}

type trackMsg struct {
	n        int
	failOnce bool // fail on the first attempt only
	block    bool // block until release is closed
}

// tracker records every delivery; its state (count) lives in the
// incarnation, so a restart resets it.
type tracker struct {
	id      int64
	count   int
	ref     *actor.Ref[trackMsg]
	steps   *log[step]
	entered chan<- struct{}
	release <-chan struct{}
	stops   *log[string]
}

func (tr *tracker) Receive(ctx actor.Context, m trackMsg) error {
	tr.count++
	self, ok := actor.Self[trackMsg](ctx)
	tr.steps.add(step{inc: tr.id, msg: m.n, attempt: ctx.Attempt(), count: tr.count, selfOK: ok && self == *tr.ref})
	if m.block {
		tr.entered <- struct{}{}
		<-tr.release
	}
	if m.failOnce && ctx.Attempt() == 1 {
		return errBoom
	}
	return nil
}

func (tr *tracker) Stop(_ actor.Context, r actor.ExitReason) {
	tr.stops.add(fmt.Sprintf("%d:%v", tr.id, r))
}

// TestRestartKeepsRefMailboxAndOrder fails an actor while messages are
// queued behind the failing one: the fresh incarnation (new state) gets
// the failed message again, then every queued message in order, through
// the same Ref.
func TestRestartKeepsRefMailboxAndOrder(t *testing.T) {
	h := newHarness(t)
	var built atomic.Int64
	steps, stops := newLog[step](false), newLog[string](false)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var ref actor.Ref[trackMsg]
	ref = mustSpawn(t, h.sys, "tracker", func() actor.Actor[trackMsg] {
		return &tracker{id: built.Add(1), ref: &ref, steps: steps, entered: entered, release: release, stops: stops}
	})
	first := built.Load()
	if first != 1 {
		t.Fatalf("factory calls after Spawn: got %d; want 1 (one per incarnation)", first)
	}
	const queued = 20
	mustTell(t, ref, trackMsg{n: 0, block: true, failOnce: true})
	recv(t, entered, "first message to block")
	for i := 1; i <= queued; i++ {
		mustTell(t, ref, trackMsg{n: i})
	}
	close(release)
	got := steps.waitN(t, queued+2, "all deliveries", func(step) bool { return true })

	want := []step{{inc: first, msg: 0, attempt: 1, count: 1, selfOK: true}}
	want = append(want, step{inc: first + 1, msg: 0, attempt: 2, count: 1, selfOK: true})
	for i := 1; i <= queued; i++ {
		want = append(want, step{inc: first + 1, msg: i, attempt: 1, count: i + 1, selfOK: true})
	}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries:\ngot  %v\nwant %v", got, want)
	}
	if got, want := stops.all(), []string{fmt.Sprintf("%d:%v", first, actor.Failed)}; !slices.Equal(got, want) {
		t.Errorf("Stop hooks: got %v; want %v", got, want)
	}
	h.events.waitFor(t, "EventRestarted", eventOf(actor.EventRestarted, ref.Path()))
	if err := ref.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	st := ref.Stats()
	if st.Failures != 1 || st.Restarts != 1 || st.Processed != queued+1 {
		t.Errorf("Failures/Restarts/Processed: got %d/%d/%d; want 1/1/%d", st.Failures, st.Restarts, st.Processed, queued+1)
	}
	checkConservation(t, "stopped", st, 0)
	if got, want := stops.all(), []string{fmt.Sprintf("%d:%v", first, actor.Failed), fmt.Sprintf("%d:%v", first+1, actor.Shutdown)}; !slices.Equal(got, want) {
		t.Errorf("Stop hooks: got %v; want %v", got, want)
	}
}

// poisonMsg fails on every delivery when poison is set, by error or panic.
type poisonMsg struct {
	n      int
	poison bool
	panics bool
}

// TestPoisonMessage delivers a message that always fails exactly
// WithMaxAttempts times (Attempt 1..n), then dead-letters it with reason
// DeadPoison and its last failure; the messages behind it still run.
func TestPoisonMessage(t *testing.T) {
	cases := []struct {
		max    int
		panics bool
	}{{1, false}, {2, false}, {3, true}, {5, false}}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("max=%d/panic=%v", tc.max, tc.panics), func(t *testing.T) {
			h := newHarness(t)
			attempts, handled := newLog[int](false), newLog[int](false)
			ref := mustSpawn(t, h.sys, "p", func() actor.Actor[poisonMsg] {
				return actor.Func[poisonMsg](func(ctx actor.Context, m poisonMsg) error {
					if !m.poison {
						handled.add(m.n)
						return nil
					}
					attempts.add(ctx.Attempt())
					if m.panics {
						panic(errBoom)
					}
					return fmt.Errorf("attempt %d: %w", ctx.Attempt(), errBoom)
				})
			}, actor.WithMaxAttempts(tc.max))
			bad := poisonMsg{n: 1, poison: true, panics: tc.panics}
			mustTell(t, ref, poisonMsg{n: 0})
			mustTell(t, ref, bad)
			mustTell(t, ref, poisonMsg{n: 2})
			mustTell(t, ref, poisonMsg{n: 3})
			got := handled.waitN(t, 3, "messages behind the poison one", func(int) bool { return true })
			if want := []int{0, 2, 3}; !slices.Equal(got, want) {
				t.Errorf("handled: got %v; want %v", got, want)
			}
			var want []int
			for i := 1; i <= tc.max; i++ {
				want = append(want, i)
			}
			if got := attempts.all(); !slices.Equal(got, want) {
				t.Errorf("attempts of the poison message: got %v; want %v", got, want)
			}
			dls := h.dead.filter(deadOf(actor.DeadPoison, ref.Path()))
			if len(dls) != 1 {
				t.Fatalf("poison dead letters: got %v; want 1", dls)
			}
			d := dls[0]
			if d.Message != bad || d.Attempts != tc.max || !errors.Is(d.Err, errBoom) {
				t.Errorf("poison dead letter: got %+v; want message %v, %d attempts, error %v", d, bad, tc.max, errBoom)
			}
			var f *actor.Failure
			if !errors.As(d.Err, &f) || f.Attempt != tc.max {
				t.Errorf("poison dead letter error: got %v; want a *Failure of attempt %d", d.Err, tc.max)
			}
			if n := len(h.dead.all()); n != 1 {
				t.Errorf("dead letters: got %d; want 1", n)
			}
			if err := ref.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: got %v; want nil", err)
			}
			st := ref.Stats()
			if st.Failures != uint64(tc.max) || st.Processed != 3 || st.DeadLettered != 1 {
				t.Errorf("Failures/Processed/DeadLettered: got %d/%d/%d; want %d/3/1", st.Failures, st.Processed, st.DeadLettered, tc.max)
			}
			checkConservation(t, "stopped", st, 0)
		})
	}
}
