package chaos_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/troupe-go/troupe/chaos"
	"github.com/troupe-go/troupe/internal/apiedge"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// bubble runs it inside a synctest bubble (fake time, hangs fail).
type edge struct {
	name   string
	want   string
	bubble bool
	run    func(t *testing.T)
}

// nilEdges lists every exported function and method of package chaos that
// takes a context.Context (or an actor Context), a variadic option list,
// or is an option constructor taking a value that can be nil.
// TestNilEdgesComplete checks the list against the package's API.
var nilEdges = []edge{
	{"Monkey.Inject", "Background: a Slow hit sleeps its whole Delay", true, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Slow, Rate: 1, Delay: time.Second})
		start := time.Now()
		if err := m.Inject(nil, "s"); err != nil {
			t.Errorf("Inject(nil) with a Slow rule: got %v; want nil", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Inject(nil) with a Slow rule took %v; want the Delay, 1s", d)
		}
	}},
	{"Monkey.InjectItem", "Background: a Slow hit sleeps its whole Delay", true, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Slow, Rate: 1, Delay: time.Second})
		start := time.Now()
		if err := m.InjectItem(nil, "s", 7); err != nil {
			t.Errorf("InjectItem(nil) with a Slow rule: got %v; want nil", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("InjectItem(nil) with a Slow rule took %v; want the Delay, 1s", d)
		}
		if f := m.Faults(); len(f) != 1 || f[0].Item != 7 {
			t.Errorf("faults: got %+v; want one Slow for item 7", f)
		}
	}},
	{"Monkey.BeforeReceive", "a nil actor Context gets no fault", true, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Kill, Rate: 1})
		if err := m.BeforeReceive(nil); err != nil || len(m.Faults()) != 0 {
			t.Errorf("BeforeReceive(nil): got %v and faults %v; want nil, none", err, m.Faults())
		}
	}},
	{"Monkey.BeforeStart", "a nil actor Context gets no fault", true, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.FailStart, Rate: 1})
		if err := m.BeforeStart(nil); err != nil || len(m.Faults()) != 0 {
			t.Errorf("BeforeStart(nil): got %v and faults %v; want nil, none", err, m.Faults())
		}
	}},
	{"Monkey.WithCancel", "Background parent: a Cancel fault cancels the child with the fault as cause", true, func(t *testing.T) {
		m := newMonkey(t, 1, chaos.Rule{Kind: chaos.Cancel, Pattern: "c", Count: 1})
		ctx, cancel := m.WithCancel(nil)
		defer cancel()
		if ctx.Err() != nil {
			t.Fatalf("WithCancel(nil): born cancelled: %v", ctx.Err())
		}
		_ = m.Inject(context.Background(), "c")
		var f *chaos.Fault
		if !errors.Is(ctx.Err(), context.Canceled) || !errors.As(context.Cause(ctx), &f) || f.Kind != chaos.Cancel {
			t.Errorf("after the Cancel fault: Err %v, Cause %v; want Canceled and the *Fault", ctx.Err(), context.Cause(ctx))
		}
	}},
	{"WaitGoroutines", "Background: waits as long as it takes for the count to come back", true, func(t *testing.T) {
		baseline := runtime.NumGoroutine()
		lingerFor(time.Second)
		start := time.Now()
		if n := chaos.WaitGoroutines(nil, baseline); n != 0 {
			t.Errorf("WaitGoroutines(nil, baseline): got %d; want 0", n)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("WaitGoroutines(nil) returned after %v; want it to wait for the 1s goroutine", d)
		}
	}},
	{"Checker.Check", "Background: waits as long as it takes for the goroutine baseline", true, func(t *testing.T) {
		c := chaos.NewChecker[int](chaos.WithGoroutineBaseline(runtime.NumGoroutine()))
		lingerFor(time.Second)
		c.Entered(1)
		c.Delivered(1)
		if r := c.Check(nil, nil); !r.OK() {
			t.Errorf("Check(nil, nil): got %v; want OK", r.String())
		}
	}},
	{"NewChecker", "nil options are skipped", true, func(t *testing.T) {
		c := chaos.NewChecker[int](nil, chaos.AllowDeadLetters(), nil)
		c.Entered(1)
		c.DeadLettered(1)
		if r := c.Check(context.Background(), nil); !r.OK() {
			t.Errorf("Check with AllowDeadLetters among nil options: got %v; want OK", r.String())
		}
	}},
	{"WithGoleak", "nil goleak options are skipped", false, func(t *testing.T) {
		c := chaos.NewChecker[int](chaos.WithGoleak(nil, goleak.IgnoreCurrent(), nil))
		if r := c.Check(context.Background(), nil); !r.OK() {
			t.Errorf("Check with WithGoleak(nil, IgnoreCurrent, nil): got %v; want OK", r.String())
		}
	}},
}

// TestNilEdges calls every entry point of nilEdges with nil and checks
// what the package doc promises: no panic, and the result in want.
func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		t.Run(e.name, func(t *testing.T) {
			run := func(t *testing.T) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s with nil: panicked: %v (want: %s)", e.name, v, e.want)
					}
				}()
				e.run(t)
			}
			if e.bubble {
				synctest.Test(t, run)
			} else {
				run(t)
			}
		})
	}
}

// TestNilEdgesComplete checks that nilEdges lists exactly the exported
// entry points of the package that take a context or options, and that
// the package doc states the rule.
func TestNilEdgesComplete(t *testing.T) {
	names := make([]string, len(nilEdges))
	for i, e := range nilEdges {
		names[i] = e.name
	}
	apiedge.Complete(t, ".", names)
}

// lingerFor starts a goroutine that exits after d (fake time in a bubble).
func lingerFor(d time.Duration) {
	// Owner: the test; it exits by itself after d.
	go func() { <-time.After(d) }()
}
