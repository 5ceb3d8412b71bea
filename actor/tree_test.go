package actor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
)

// node is a run actor whose Stop hook records its name.
type node struct {
	name  string
	trail *log[string]
}

func (n *node) Receive(ctx actor.Context, f run) error { return f(ctx) }

func (n *node) Stop(_ actor.Context, r actor.ExitReason) { n.trail.add(n.name + " " + r.String()) }

func nodeFactory(name string, trail *log[string]) func() actor.Actor[run] {
	return func() actor.Actor[run] { return &node{name: name, trail: trail} }
}

// TestChildren spawns children from inside Receive: their paths extend
// the parent's, names are checked, and stopping the parent stops its
// subtree first, last spawned first, each child's Stop hook before its
// parent's.
func TestChildren(t *testing.T) {
	h := newHarness(t)
	trail := newLog[string](false)
	parent := mustSpawn(t, h.sys, "parent", nodeFactory("parent", trail))
	var kid1, kid2, grandkid actor.Ref[run]
	inActor(t, parent, func(ctx actor.Context) {
		var err error
		if kid1, err = actor.Spawn(ctx, "kid1", nodeFactory("kid1", trail)); err != nil {
			t.Errorf("Spawn(kid1): got %v; want nil", err)
			return
		}
		if kid2, err = actor.Spawn(ctx, "kid2", nodeFactory("kid2", trail)); err != nil {
			t.Errorf("Spawn(kid2): got %v; want nil", err)
			return
		}
		if _, err := actor.Spawn(ctx, "kid1", nodeFactory("dup", trail)); !errors.Is(err, actor.ErrNameTaken) {
			t.Errorf("Spawn of a taken name: got %v; want %v", err, actor.ErrNameTaken)
		}
		if _, err := actor.Spawn(ctx, "a/b", nodeFactory("bad", trail)); !errors.Is(err, actor.ErrInvalidName) {
			t.Errorf("Spawn(\"a/b\"): got %v; want %v", err, actor.ErrInvalidName)
		}
		if _, err := actor.Spawn[run](ctx, "nil", nil); !errors.Is(err, actor.ErrNilFactory) {
			t.Errorf("Spawn with a nil factory: got %v; want %v", err, actor.ErrNilFactory)
		}
		if _, err := actor.Spawn(ctx, "nil-actor", func() actor.Actor[run] { return nil }); !errors.Is(err, actor.ErrNilFactory) {
			t.Errorf("Spawn with a factory returning nil: got %v; want %v", err, actor.ErrNilFactory)
		}
		auto, err := actor.Spawn(ctx, "", runner)
		if err != nil || !strings.HasPrefix(auto.Path(), "/parent/") || strings.Count(auto.Path(), "/") != 2 {
			t.Errorf("Spawn with no name: got %q, %v; want a path under /parent", auto.Path(), err)
		}
		if got, ok := actor.Lookup[run](ctx, "kid2"); !ok || got != kid2 {
			t.Errorf("Lookup(kid2): got %v, %v; want %v, true", got, ok, kid2)
		}
		if _, ok := actor.Lookup[int](ctx, "kid2"); ok {
			t.Errorf("Lookup(kid2) with the wrong message type: got true; want false")
		}
	})
	inActor(t, kid1, func(ctx actor.Context) {
		var err error
		if grandkid, err = actor.Spawn(ctx, "g", nodeFactory("g", trail)); err != nil {
			t.Errorf("Spawn(g): got %v; want nil", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	for ref, want := range map[actor.Ref[run]]string{kid1: "/parent/kid1", kid2: "/parent/kid2", grandkid: "/parent/kid1/g"} {
		if ref.Path() != want {
			t.Errorf("path: got %q; want %q", ref.Path(), want)
		}
	}
	if kid1.PID().Name() != "kid1" {
		t.Errorf("Name: got %q; want %q", kid1.PID().Name(), "kid1")
	}
	// Restarting the parent stops its children too (a fresh incarnation
	// starts without them); here we stop it for good.
	if err := parent.Stop(context.Background()); err != nil {
		t.Fatalf("Stop(parent): got %v; want nil", err)
	}
	want := []string{"kid2 shutdown", "g shutdown", "kid1 shutdown", "parent shutdown"}
	if got := trail.all(); !slices.Equal(got, want) {
		t.Errorf("stop order: got %v; want %v", got, want)
	}
	for _, ref := range []actor.Ref[run]{kid1, kid2, grandkid} {
		select {
		case <-ref.PID().Done():
		default:
			t.Errorf("%s: not stopped after its parent stopped", ref.Path())
		}
	}
	if _, ok := actor.Lookup[run](h.sys, "parent"); ok {
		t.Errorf("Lookup(parent) after it stopped: got true; want false")
	}
	// The name is free again.
	mustSpawn(t, h.sys, "parent", runner)
}

// TestShutdownOrder checks that System.Shutdown stops top-level actors in
// reverse spawn order and that Spawn fails afterwards.
func TestShutdownOrder(t *testing.T) {
	trail := newLog[string](false)
	sys := actor.NewSystem()
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		mustSpawn(t, sys, n, nodeFactory(n, trail))
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: got %v; want nil", err)
	}
	want := []string{"d shutdown", "c shutdown", "b shutdown", "a shutdown"}
	if got := trail.all(); !slices.Equal(got, want) {
		t.Errorf("stop order: got %v; want %v", got, want)
	}
	if _, err := actor.Spawn(sys, "late", runner); !errors.Is(err, actor.ErrSystemStopped) {
		t.Errorf("Spawn after Shutdown: got %v; want %v", err, actor.ErrSystemStopped)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: got %v; want nil", err)
	}
}

// TestSpawnErrors checks Spawn's argument errors at the top level.
func TestSpawnErrors(t *testing.T) {
	h := newHarness(t)
	mustSpawn(t, h.sys, "x", runner)
	cases := []struct {
		name    string
		factory func() actor.Actor[run]
		opts    []actor.SpawnOption
		want    error
	}{
		{"x", runner, nil, actor.ErrNameTaken},
		{"a/b", runner, nil, actor.ErrInvalidName},
		{"nil", nil, nil, actor.ErrNilFactory},
		{"nil-actor", func() actor.Actor[run] { return nil }, nil, actor.ErrNilFactory},
		{"throughput", runner, []actor.SpawnOption{actor.WithThroughput(0)}, actor.ErrInvalidOption},
		{"attempts", runner, []actor.SpawnOption{actor.WithMaxAttempts(0)}, actor.ErrInvalidOption},
		{"deadline", runner, []actor.SpawnOption{actor.WithDeadline(-1)}, actor.ErrInvalidOption},
		{"shutdown", runner, []actor.SpawnOption{actor.WithShutdown(-5)}, actor.ErrInvalidOption},
		{"capacity", runner, []actor.SpawnOption{actor.WithMailbox(-1, mailbox.Block)}, actor.ErrInvalidOption},
		{"policy", runner, []actor.SpawnOption{actor.WithMailbox(1, mailbox.Policy(99))}, actor.ErrInvalidOption},
	}
	for _, tc := range cases {
		ref, err := actor.Spawn(h.sys, tc.name, tc.factory, tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("Spawn(%q): got %v; want %v", tc.name, err, tc.want)
		}
		if ref != (actor.Ref[run]{}) {
			t.Errorf("Spawn(%q): got ref %v; want the zero Ref", tc.name, ref)
		}
	}
	if _, err := actor.Spawn[run](nil, "orphan", runner); !errors.Is(err, actor.ErrNilRef) {
		t.Errorf("Spawn with a nil parent: got %v; want %v", err, actor.ErrNilRef)
	}
	// Failed spawns left no names behind.
	for _, n := range []string{"throughput", "nil-actor"} {
		mustSpawn(t, h.sys, n, runner)
	}
}

// TestZeroRef checks that every method of the zero Ref refuses.
func TestZeroRef(t *testing.T) {
	var ref actor.Ref[int]
	ctx := context.Background()
	for what, err := range map[string]error{
		"Tell":    ref.Tell(ctx, 1),
		"TryTell": ref.TryTell(1),
		"Stop":    ref.Stop(ctx),
		"StopNow": ref.StopNow(),
	} {
		if !errors.Is(err, actor.ErrNilRef) {
			t.Errorf("zero Ref.%s: got %v; want %v", what, err, actor.ErrNilRef)
		}
	}
	if ref.Path() != "" || ref.PID() != nil || ref.Stats() != (actor.Stats{}) {
		t.Errorf("zero Ref: got path %q, PID %v, stats %+v; want empty", ref.Path(), ref.PID(), ref.Stats())
	}
}

// TestRestartStopsChildren fails a parent: its children stop (before its
// Stop hook runs with Failed), and the fresh incarnation starts without
// them, under the same Ref.
func TestRestartStopsChildren(t *testing.T) {
	h := newHarness(t)
	trail := newLog[string](false)
	parent := mustSpawn(t, h.sys, "parent", nodeFactory("parent", trail))
	var kid actor.Ref[run]
	inActor(t, parent, func(ctx actor.Context) {
		var err error
		if kid, err = actor.Spawn(ctx, "kid", nodeFactory("kid", trail)); err != nil {
			t.Errorf("Spawn(kid): got %v; want nil", err)
		}
	})
	watch, _ := actor.Watch(kid.PID())
	failOnce := func(ctx actor.Context) error {
		if ctx.Attempt() == 1 {
			return errBoom
		}
		return nil
	}
	if err := parent.Tell(context.Background(), failOnce); err != nil {
		t.Fatalf("Tell: got %v; want nil", err)
	}
	if term := recv(t, watch, "kid to stop"); term.Reason != actor.Shutdown {
		t.Errorf("kid Terminated.Reason: got %v; want %v", term.Reason, actor.Shutdown)
	}
	inActor(t, parent, func(ctx actor.Context) {
		if _, ok := actor.Lookup[run](ctx, "kid"); ok {
			t.Errorf("Lookup(kid) in the fresh incarnation: got true; want false")
		}
		if _, err := actor.Spawn(ctx, "kid", runner); err != nil {
			t.Errorf("Spawn(kid) in the fresh incarnation: got %v; want nil", err)
		}
	})
	if got, want := trail.all(), []string{"kid shutdown", "parent failure"}; !slices.Equal(got, want) {
		t.Errorf("stop order: got %v; want %v", got, want)
	}
	h.events.waitFor(t, "parent restarted", eventOf(actor.EventRestarted, parent.Path()))
	if st := parent.Stats(); st.Restarts != 1 || st.Failures != 1 {
		t.Errorf("parent Restarts/Failures: got %d/%d; want 1/1", st.Restarts, st.Failures)
	}
}
