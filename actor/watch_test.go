package actor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/actor"
)

// ender ends itself the way its message says.
type ender struct{ failStart *atomic.Bool }

func (e *ender) Start(actor.Context) error {
	if e.failStart.Load() {
		return errBoom
	}
	return nil
}

func (e *ender) Receive(_ actor.Context, m string) error {
	switch m {
	case "normal":
		return actor.StopNormal
	case "shutdown":
		return actor.StopShutdown
	case "panic":
		panic(m)
	}
	return nil
}

// TestWatch checks the Terminated a watcher gets for each way an actor
// stops for good.
func TestWatch(t *testing.T) {
	cases := []struct {
		name    string
		end     func(t *testing.T, ref actor.Ref[string], failStart *atomic.Bool)
		reason  actor.ExitReason
		errIs   error
		errType any // errors.As target, if any
	}{
		{name: "stop", reason: actor.Shutdown, end: func(t *testing.T, ref actor.Ref[string], _ *atomic.Bool) {
			if err := ref.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: got %v; want nil", err)
			}
		}},
		{name: "stop-normal", reason: actor.Normal, end: func(t *testing.T, ref actor.Ref[string], _ *atomic.Bool) {
			mustTell(t, ref, "normal")
		}},
		{name: "stop-shutdown", reason: actor.Shutdown, end: func(t *testing.T, ref actor.Ref[string], _ *atomic.Bool) {
			mustTell(t, ref, "shutdown")
		}},
		{name: "stop-now", reason: actor.Killed, errIs: actor.ErrKilled, end: func(t *testing.T, ref actor.Ref[string], _ *atomic.Bool) {
			if err := ref.StopNow(); err != nil {
				t.Fatalf("StopNow: got %v; want nil", err)
			}
		}},
		{name: "restart-fails", reason: actor.Failed, errIs: errBoom, errType: new(*actor.StartError), end: func(t *testing.T, ref actor.Ref[string], failStart *atomic.Bool) {
			failStart.Store(true)
			mustTell(t, ref, "panic")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			failStart := new(atomic.Bool)
			ref := mustSpawn(t, h.sys, "e", func() actor.Actor[string] { return &ender{failStart: failStart} })
			watch, _ := actor.Watch(ref.PID())
			tc.end(t, ref, failStart)
			term := recv(t, watch, "Terminated")
			if term.Path != ref.Path() || term.Reason != tc.reason {
				t.Errorf("Terminated: got %s %v; want %s %v", term.Path, term.Reason, ref.Path(), tc.reason)
			}
			if tc.errIs == nil && term.Err != nil || tc.errIs != nil && !errors.Is(term.Err, tc.errIs) {
				t.Errorf("Terminated.Err: got %v; want %v", term.Err, tc.errIs)
			}
			if tc.errType != nil && !errors.As(term.Err, tc.errType) {
				t.Errorf("Terminated.Err: got %T; want %T", term.Err, tc.errType)
			}
			recv(t, ref.PID().Done(), "Done")
			if err := ref.Tell(context.Background(), "x"); !errors.Is(err, actor.ErrStopped) {
				t.Errorf("Tell after the end: got %v; want %v", err, actor.ErrStopped)
			}

			// Watching a stopped actor fires at once, on the caller's
			// goroutine.
			late, _ := actor.Watch(ref.PID())
			select {
			case got := <-late:
				if got != term {
					t.Errorf("late Terminated: got %v; want %v", got, term)
				}
			default:
				t.Errorf("Watch after the end: no Terminated; want one at once")
			}
			called := false
			ref.PID().Watch(func(actor.Terminated) { called = true })()
			if !called {
				t.Errorf("PID.Watch after the end: fn not called; want called at once")
			}
		})
	}
}

// TestUnwatch checks that a cancelled watch is never called while the
// others are, in registration order.
func TestUnwatch(t *testing.T) {
	h := newHarness(t)
	ref := mustSpawn(t, h.sys, "e", func() actor.Actor[string] { return &ender{failStart: new(atomic.Bool)} })
	cancelled, unwatch := actor.Watch(ref.PID())
	var order []int
	ref.PID().Watch(func(actor.Terminated) { order = append(order, 1) })
	unwatchFn := ref.PID().Watch(func(actor.Terminated) { order = append(order, 2) })
	last, _ := actor.Watch(ref.PID()) // called after the others: a sync point
	unwatch()
	unwatchFn()
	unwatch() // idempotent
	if err := ref.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	recv(t, last, "Terminated of the last watch")
	none(t, cancelled, "cancelled watch")
	if len(order) != 1 || order[0] != 1 {
		t.Errorf("watch calls: got %v; want [1]", order)
	}
	if ch, _ := actor.Watch(nil); recv(t, ch, "Watch(nil)") != (actor.Terminated{}) {
		t.Errorf("Watch(nil): got a Terminated; want a closed channel")
	}
	ref.PID().Watch(nil)() // a nil fn is ignored
}

// TestWatchWith makes an actor watch others: it receives the converted
// Terminated as a message; a cancelled WatchWith sends nothing.
func TestWatchWith(t *testing.T) {
	h := newHarness(t)
	got := make(chan actor.Terminated, 2)
	watcher := mustSpawn(t, h.sys, "watcher", func() actor.Actor[actor.Terminated] {
		return actor.Func[actor.Terminated](func(_ actor.Context, m actor.Terminated) error {
			got <- m
			return nil
		})
	})
	same := func(t actor.Terminated) actor.Terminated { return t }
	target := mustSpawn(t, h.sys, "target", func() actor.Actor[string] { return &ender{failStart: new(atomic.Bool)} })
	actor.WatchWith(watcher, target.PID(), same)
	other := mustSpawn(t, h.sys, "other", func() actor.Actor[string] { return &ender{failStart: new(atomic.Bool)} })
	actor.WatchWith(watcher, other.PID(), same)() // cancelled at once
	otherDone, _ := actor.Watch(other.PID())      // runs after the cancelled one would have

	mustTell(t, target, "normal")
	term := recv(t, got, "watch note")
	if term.Path != target.Path() || term.Reason != actor.Normal {
		t.Errorf("watch note: got %s %v; want %s normal", term.Path, term.Reason, target.Path())
	}
	if err := other.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: got %v; want nil", err)
	}
	recv(t, otherDone, "Terminated of other")
	// A note would be served ahead of this marker.
	mustTell(t, watcher, actor.Terminated{Path: "marker"})
	if m := recv(t, got, "marker"); m.Path != "marker" {
		t.Errorf("after the cancelled watch: got %v; want the marker", m)
	}
}
