package chaos_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/supervisor"
)

// counter counts deliveries and closes done when n distinct messages
// were handled.
type counter struct {
	c    *chaos.Checker[int]
	n    int64
	got  atomic.Int64
	done chan struct{}
}

func newCounter(c *chaos.Checker[int], n int) *counter {
	return &counter{c: c, n: int64(n), done: make(chan struct{})}
}

func (k *counter) worker() actor.Actor[int] {
	return actor.Func[int](func(ctx actor.Context, m int) error {
		k.c.Delivered(m)
		if k.got.Add(1) == k.n {
			close(k.done)
		}
		return nil
	})
}

// Kills at the receive hook of supervised workers chosen by pattern: every
// message is handled once (a killed one is redelivered), nothing is
// dead-lettered, each kill shows as one failure and one restart, and the
// actor outside the pattern is never hit.
func TestKillSupervisedWorkers(t *testing.T) {
	const n = 3000
	c := chaos.NewChecker[int]()
	m := newMonkey(t, 5, chaos.Rule{Kind: chaos.Kill, Pattern: "/sup/w*", Rate: 0.05})
	sys := actor.NewSystem(actor.WithFaultInjector(m), actor.WithEvents(c.Event),
		actor.WithDeadLetters(func(d actor.DeadLetter) {
			if v, ok := d.Message.(int); ok {
				c.DeadLettered(v)
			}
		}))
	defer sys.Shutdown(context.Background())
	k := newCounter(c, n)
	specs := []supervisor.ChildSpec{
		supervisor.NewWorker("w1", k.worker),
		supervisor.NewWorker("w2", k.worker),
		supervisor.NewWorker("w3", k.worker),
		supervisor.NewWorker("other", k.worker),
	}
	sup, err := supervisor.Start(sys, "sup", specs, supervisor.WithIntensity(n, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var refs []actor.Ref[int]
	for _, id := range []string{"w1", "w2", "w3", "other"} {
		r, _ := supervisor.LookupChild[int](sup, id)
		refs = append(refs, r)
	}
	ctx := testCtx(t)
	for i := range n {
		c.Entered(i)
		if err := refs[i%len(refs)].Tell(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, k.done, "every message handled")
	if err := sys.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rep := c.Check(ctx, m)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	kills := m.Count(chaos.Kill)
	if kills == 0 || rep.FaultFailures != kills || rep.Restarts != kills || rep.Delivered != n || rep.Duplicates != 0 {
		t.Fatalf("kills %d; report %v", kills, &rep)
	}
	for _, f := range m.Faults() {
		if !strings.HasPrefix(f.Path, "/sup/w") {
			t.Errorf("fault at %s, outside the pattern", f.Path)
		}
	}
}

// With one actor the receive hook's hits arrive in message order, so a
// seed names exactly which messages are killed.
func TestKillScheduleOfOneActor(t *testing.T) {
	killed := func(seed uint64) []int {
		m := newMonkey(t, seed, chaos.Rule{Kind: chaos.Kill, Pattern: "/a", Rate: 0.1})
		sys := actor.NewSystem(actor.WithFaultInjector(m))
		defer sys.Shutdown(context.Background())
		var mu sync.Mutex
		var out []int
		done := make(chan struct{})
		ref, err := actor.Spawn(sys, "a", func() actor.Actor[int] {
			return actor.Func[int](func(ctx actor.Context, v int) error {
				if ctx.Attempt() > 1 {
					mu.Lock()
					out = append(out, v)
					mu.Unlock()
				}
				if v == 499 {
					close(done)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 500 {
			if err := ref.Tell(testCtx(t), i); err != nil {
				t.Fatal(err)
			}
		}
		wait(t, done, "the last message")
		mu.Lock()
		defer mu.Unlock()
		if len(out) != m.Count(chaos.Kill) {
			t.Fatalf("%d redeliveries, %d kills", len(out), m.Count(chaos.Kill))
		}
		return slices.Clone(out)
	}
	a, b := killed(11), killed(11)
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Fatalf("same seed killed %v, then %v", a, b)
	}
	if c := killed(12); slices.Equal(a, c) {
		t.Fatalf("seeds 11 and 12 killed the same messages %v", a)
	}
}

// A kill, then two failed restarts: the supervisor retries until a start
// succeeds; the checker matches all three faults with failure events and
// sees one restart.
func TestFailStart(t *testing.T) {
	c := chaos.NewChecker[int]()
	m := newMonkey(t, 1,
		chaos.Rule{Kind: chaos.Kill, Pattern: "/sup/w", Count: 1},
		chaos.Rule{Kind: chaos.FailStart, Pattern: "/sup/w", Count: 2},
	)
	sys := actor.NewSystem(actor.WithFaultInjector(m), actor.WithEvents(c.Event))
	defer sys.Shutdown(context.Background())
	k := newCounter(c, 1)
	m.Disarm() // let the first start through
	sup, err := supervisor.Start(sys, "sup", []supervisor.ChildSpec{supervisor.NewWorker("w", k.worker)},
		supervisor.WithIntensity(5, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m.Arm()
	ref, _ := supervisor.LookupChild[int](sup, "w")
	c.Entered(1)
	if err := ref.Tell(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	wait(t, k.done, "the message")
	if err := sys.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rep := c.Check(testCtx(t), m)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if rep.Faults[chaos.Kill] != 1 || rep.Faults[chaos.FailStart] != 2 || rep.FaultFailures != 3 || rep.Restarts != 1 {
		t.Fatalf("report %v, faults %v", &rep, rep.Faults)
	}
}

// A stall blocks a receive until the actor is stopped. Without a Delay
// the stop is prompt and the message is dead-lettered as stopped; with a
// Delay past the shutdown time the runtime abandons the incarnation and
// reports it killed.
func TestStallShutdown(t *testing.T) {
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Stall, Pattern: "/a", Count: 1, Delay: delay})
			var mu sync.Mutex
			var kinds []actor.EventKind
			var dead []actor.DeadLetterReason
			sys := actor.NewSystem(actor.WithFaultInjector(m),
				actor.WithEvents(func(e actor.Event) { mu.Lock(); kinds = append(kinds, e.Kind); mu.Unlock() }),
				actor.WithDeadLetters(func(d actor.DeadLetter) { mu.Lock(); dead = append(dead, d.Reason); mu.Unlock() }))
			stalled := make(chan chaos.Fault, 1)
			m.OnFault(func(f chaos.Fault) { stalled <- f })
			ref, err := actor.Spawn(sys, "a", func() actor.Actor[int] {
				return actor.Func[int](func(actor.Context, int) error { return nil })
			}, actor.WithShutdown(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if err := ref.Tell(testCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			// OnFault runs just before the hook blocks. Shutdown may
			// begin before it blocks: it still has to wait for it.
			wait(t, stalled, "the stall")
			if err := sys.Shutdown(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			killed := slices.Contains(kinds, actor.EventKilled)
			if killed != (delay > 0) {
				t.Errorf("events %v: killed %v; want %v", kinds, killed, delay > 0)
			}
			if slices.Contains(kinds, actor.EventFailed) {
				t.Errorf("events %v: a stall ended by a stop is not a failure", kinds)
			}
			if !slices.Contains(dead, actor.DeadStopped) {
				t.Errorf("dead letters %v; want the stalled message, stopped", dead)
			}
		})
	}
}

// A kill at the receive hook is a panic of that message: the failure
// event carries a PanicError wrapping the fault, and the message is
// redelivered.
func TestHookErrorsAreFailures(t *testing.T) {
	m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Pattern: "/a", Count: 1})
	var mu sync.Mutex
	var failed []error
	sys := actor.NewSystem(actor.WithFaultInjector(m), actor.WithEvents(func(e actor.Event) {
		if e.Kind == actor.EventFailed {
			mu.Lock()
			failed = append(failed, e.Err)
			mu.Unlock()
		}
	}))
	defer sys.Shutdown(context.Background())
	done := make(chan int, 1)
	ref, _ := actor.Spawn(sys, "a", func() actor.Actor[int] {
		return actor.Func[int](func(ctx actor.Context, v int) error { done <- ctx.Attempt(); return nil })
	})
	_ = ref.Tell(testCtx(t), 1)
	if a := wait(t, done, "the redelivery"); a != 2 {
		t.Fatalf("handled at attempt %d; want 2 (after the kill)", a)
	}
	mu.Lock()
	defer mu.Unlock()
	var pe *actor.PanicError
	var f *chaos.Fault
	if len(failed) != 1 || !errors.As(failed[0], &pe) || !errors.As(failed[0], &f) || f.Path != "/a" {
		t.Fatalf("failures %v; want one panic carrying the fault", failed)
	}
}
