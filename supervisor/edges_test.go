package supervisor_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/apiedge"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// An edge is one exported entry point that takes a context or options,
// called with nil there, and what the package doc's rule says happens.
// Each run is inside a synctest bubble, so a hang fails the test.
type edge struct {
	name string
	want string
	run  func(t *testing.T, r *rig)
}

// nilEdges lists every exported function and method of package
// supervisor that takes a context.Context, a variadic option list, or is
// an option constructor taking a value that can be nil.
// TestNilEdgesComplete checks the list against the package's API.
var nilEdges = []edge{
	{"Start", "nil options are skipped", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"), nil, supervisor.WithIntensity(3, time.Second), nil)
		stopSup(t, sup)
	}},
	{"NewWorker", "nil spawn options are skipped", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, []supervisor.ChildSpec{r.spec("a", hooks{}, nil)})
		stopSup(t, sup)
		if got, want := r.log(), []string{"start a", "stop a shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	}},
	{"NewSupervisor", "nil options are skipped", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, []supervisor.ChildSpec{supervisor.NewSupervisor("s", r.specs("x"), nil, supervisor.WithIntensity(2, time.Second))})
		stopSup(t, sup)
		if got, want := r.log(), []string{"start x", "stop x shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	}},
	{"WithClock", "nil is skipped: the clock given before is used", func(t *testing.T, r *rig) {
		var calls atomic.Int64
		now := func() time.Time { calls.Add(1); return time.Now() }
		sup := mustStart(t, r, r.specs("a"), supervisor.WithClock(now), supervisor.WithClock(nil), supervisor.WithIntensity(5, time.Second))
		first := await(t, r.started("a"), "the first start of a")
		send(t, first, msg{failOnce: true})
		await(t, r.started("a"), "the restart of a")
		stopSup(t, sup)
		if calls.Load() == 0 {
			t.Errorf("the clock given before WithClock(nil) was never read")
		}
	}},
	{"WithRand", "nil is skipped: the random source given before is used", func(t *testing.T, r *rig) {
		var draws atomic.Int64
		sup := mustStart(t, r, r.specs("a"), supervisor.WithRand(countingRand{&draws}), supervisor.WithRand(nil),
			supervisor.WithIntensity(5, time.Second),
			supervisor.WithBackoff(strategy.Backoff{Min: time.Millisecond, Max: time.Second, Jitter: 0.5}))
		first := await(t, r.started("a"), "the first start of a")
		send(t, first, msg{failOnce: true})
		await(t, r.started("a"), "the restart of a after its backoff")
		stopSup(t, sup)
		if draws.Load() == 0 {
			t.Errorf("the random source given before WithRand(nil) was never drawn from")
		}
	}},
	{"WithInit", "nil is skipped: the init given before runs", func(t *testing.T, r *rig) {
		ran := 0
		sup := mustStart(t, r, r.specs("a"), supervisor.WithInit(func(actor.Context) error { ran++; return nil }), supervisor.WithInit(nil))
		stopSup(t, sup)
		if ran != 1 {
			t.Errorf("init runs: got %d; want 1", ran)
		}
	}},
	{"Supervisor.StartChild", "Background: the child starts", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, nil)
		if err := sup.StartChild(nil, r.spec("b", hooks{})); err != nil {
			t.Errorf("StartChild(nil, b): got %v; want nil", err)
		}
		if got, want := which(t, sup), []string{"b:running"}; !slices.Equal(got, want) {
			t.Errorf("children: got %q; want %q", got, want)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.TerminateChild", "Background: the child stops, its spec stays", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"))
		if err := sup.TerminateChild(nil, "a"); err != nil {
			t.Errorf("TerminateChild(nil, a): got %v; want nil", err)
		}
		if got, want := which(t, sup), []string{"a:down"}; !slices.Equal(got, want) {
			t.Errorf("children: got %q; want %q", got, want)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.RestartChild", "Background: the child starts again", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"))
		if err := sup.TerminateChild(callCtx(t), "a"); err != nil {
			t.Fatal(err)
		}
		if err := sup.RestartChild(nil, "a"); err != nil {
			t.Errorf("RestartChild(nil, a): got %v; want nil", err)
		}
		if got, want := which(t, sup), []string{"a:running"}; !slices.Equal(got, want) {
			t.Errorf("children: got %q; want %q", got, want)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.DeleteChild", "Background: the spec goes", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"))
		if err := sup.TerminateChild(callCtx(t), "a"); err != nil {
			t.Fatal(err)
		}
		if err := sup.DeleteChild(nil, "a"); err != nil {
			t.Errorf("DeleteChild(nil, a): got %v; want nil", err)
		}
		if got := which(t, sup); len(got) != 0 {
			t.Errorf("children: got %q; want none", got)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.WhichChildren", "Background: the children in start order", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a", "b"))
		kids, err := sup.WhichChildren(nil)
		if err != nil || !slices.Equal(ids(kids), []string{"a", "b"}) {
			t.Errorf("WhichChildren(nil): got %v, %v; want [a b], nil", ids(kids), err)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.CountChildren", "Background: the counts", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a", "b"))
		n, err := sup.CountChildren(nil)
		if err != nil || n.Specs != 2 || n.Active != 2 {
			t.Errorf("CountChildren(nil): got %+v, %v; want 2 specs, 2 active, nil", n, err)
		}
		stopSup(t, sup)
	}},
	{"Supervisor.Stop", "Background: waits until every child stopped, returns nil", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a", "b"))
		if err := guarded(t, "Stop(nil)", func() error { return sup.Stop(nil) }); err != nil {
			t.Errorf("Stop(nil): got %v; want nil", err)
		}
		if got, want := r.log(), []string{"start a", "start b", "stop b shutdown", "stop a shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	}},
	{"Supervisor.Run", "Background: waits until the supervisor stopped by itself, returns nil after Stop", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"))
		res := make(chan error, 1)
		go func() { res <- guarded(t, "Run(nil)", func() error { return sup.Run(nil) }) }()
		synctest.Wait()
		select {
		case err := <-res:
			t.Fatalf("Run(nil) on a running supervisor: returned %v; want it to wait", err)
		default:
		}
		stopSup(t, sup)
		if err := await(t, res, "Run(nil) after Stop"); err != nil {
			t.Errorf("Run(nil): got %v; want nil", err)
		}
	}},
	{"Supervisor.Wait", "Background: waits until the supervisor stopped, returns nil after Stop", func(t *testing.T, r *rig) {
		sup := mustStart(t, r, r.specs("a"))
		res := make(chan error, 1)
		go func() { res <- guarded(t, "Wait(nil)", func() error { return sup.Wait(nil) }) }()
		synctest.Wait()
		select {
		case err := <-res:
			t.Fatalf("Wait(nil) on a running supervisor: returned %v; want it to wait", err)
		default:
		}
		stopSup(t, sup)
		if err := await(t, res, "Wait(nil) after Stop"); err != nil {
			t.Errorf("Wait(nil): got %v; want nil", err)
		}
	}},
}

// TestNilEdges calls every entry point of nilEdges with nil and checks
// what the package doc promises: no panic, and the result in want.
func TestNilEdges(t *testing.T) {
	for _, e := range nilEdges {
		t.Run(e.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s with nil: panicked: %v (want: %s)", e.name, v, e.want)
					}
				}()
				e.run(t, newRig(t))
			})
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

func mustStart(t *testing.T, r *rig, specs []supervisor.ChildSpec, opts ...supervisor.Option) *supervisor.Supervisor {
	t.Helper()
	sup, err := supervisor.Start(r.sys, "top", specs, opts...)
	if err != nil {
		t.Fatalf("Start: got %v; want nil", err)
	}
	return sup
}

func stopSup(t *testing.T, sup *supervisor.Supervisor) {
	t.Helper()
	if err := sup.Stop(callCtx(t)); err != nil {
		t.Errorf("Stop: got %v; want nil", err)
	}
}

// guarded runs f and turns a panic into a test failure (f may run on a
// goroutine of its own).
func guarded(t *testing.T, what string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s: panicked: %v", what, v)
			err = errors.New("panicked")
		}
	}()
	return f()
}

type countingRand struct{ n *atomic.Int64 }

func (c countingRand) Float64() float64 { c.n.Add(1); return 0.5 }
