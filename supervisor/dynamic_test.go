package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// TestDynamicChildren walks the dynamic API (OTP start_child,
// terminate_child, restart_child, delete_child, which_children,
// count_children) through its results, checked with errors.Is.
func TestDynamicChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a"))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		r.log()
		failing := false
		flaky := r.spec("flaky", hooks{start: func(actor.Context, int) error {
			if failing {
				return errBoom
			}
			return nil
		}})
		steps := []struct {
			name string
			call func() error
			want error // nil, or a sentinel the error must match
			log  []string
		}{
			{"start_child running id", func() error { return sup.StartChild(ctx, r.spec("a", hooks{})) }, supervisor.ErrAlreadyStarted, nil},
			{"start_child b", func() error { return sup.StartChild(ctx, r.spec("b", hooks{})) }, nil, []string{"start b"}},
			{"restart_child running", func() error { return sup.RestartChild(ctx, "a") }, supervisor.ErrRunning, nil},
			{"delete_child running", func() error { return sup.DeleteChild(ctx, "a") }, supervisor.ErrRunning, nil},
			{"terminate_child a", func() error { return sup.TerminateChild(ctx, "a") }, nil, []string{"stop a shutdown"}},
			{"terminate_child a again", func() error { return sup.TerminateChild(ctx, "a") }, nil, nil},
			{"start_child down id", func() error { return sup.StartChild(ctx, r.spec("a", hooks{})) }, supervisor.ErrAlreadyPresent, nil},
			{"restart_child a", func() error { return sup.RestartChild(ctx, "a") }, nil, []string{"start a"}},
			{"terminate_child missing", func() error { return sup.TerminateChild(ctx, "nope") }, supervisor.ErrNotFound, nil},
			{"restart_child missing", func() error { return sup.RestartChild(ctx, "nope") }, supervisor.ErrNotFound, nil},
			{"delete_child missing", func() error { return sup.DeleteChild(ctx, "nope") }, supervisor.ErrNotFound, nil},
			{"start_child failing", func() error {
				return sup.StartChild(ctx, r.spec("bad", hooks{start: func(actor.Context, int) error { return errBoom }}))
			}, supervisor.ErrStartFailed, []string{"start_failed bad"}},
			{"start_child after a failed one", func() error { return sup.StartChild(ctx, r.spec("bad", hooks{})) }, nil, []string{"start bad"}},
			{"start_child flaky", func() error { return sup.StartChild(ctx, flaky) }, nil, []string{"start flaky"}},
			{"terminate_child flaky", func() error { failing = true; return sup.TerminateChild(ctx, "flaky") }, nil, []string{"stop flaky shutdown"}},
			{"restart_child failing", func() error { return sup.RestartChild(ctx, "flaky") }, supervisor.ErrStartFailed, []string{"start_failed flaky"}},
			{"delete_child flaky", func() error { return sup.DeleteChild(ctx, "flaky") }, nil, nil},
			{"start_child bad combination", func() error {
				s := r.spec("sig", hooks{})
				s.Restart, s.Significant = supervisor.Transient, true
				return sup.StartChild(ctx, s)
			}, supervisor.ErrBadCombination, nil},
			{"start_child invalid", func() error { return sup.StartChild(ctx, supervisor.ChildSpec{ID: "raw"}) }, supervisor.ErrInvalidSpec, nil},
			{"start_child temporary", func() error {
				s := r.spec("tmp", hooks{})
				s.Restart = supervisor.Temporary
				return sup.StartChild(ctx, s)
			}, nil, []string{"start tmp"}},
			{"terminate_child temporary", func() error { return sup.TerminateChild(ctx, "tmp") }, nil, []string{"stop tmp shutdown"}},
			{"restart_child removed temporary", func() error { return sup.RestartChild(ctx, "tmp") }, supervisor.ErrNotFound, nil},
			{"start_child supervisor", func() error {
				return sup.StartChild(ctx, supervisor.NewSupervisor("sub", r.specs("x", "y")))
			}, nil, []string{"start x", "start y"}},
		}
		for _, st := range steps {
			err := st.call()
			switch {
			case st.want == nil && err != nil:
				t.Errorf("%s: got %v; want nil", st.name, err)
			case st.want != nil && !errors.Is(err, st.want):
				t.Errorf("%s: got %v; want an error matching %v", st.name, err, st.want)
			}
			if got := r.log(); !slices.Equal(got, st.log) {
				t.Errorf("%s: log got %q; want %q", st.name, got, st.log)
			}
		}

		var cse *supervisor.ChildStartError
		err = sup.RestartChild(ctx, "nope")
		if errors.As(err, &cse) {
			t.Errorf("RestartChild(nope): got a *ChildStartError %v; want ErrNotFound alone", err)
		}
		failing = true
		err = sup.StartChild(ctx, r.spec("bad2", hooks{start: func(actor.Context, int) error { return errBoom }}))
		if !errors.As(err, &cse) || cse.ID != "bad2" || !errors.Is(err, errBoom) {
			t.Errorf("StartChild(bad2): got %v; want a *ChildStartError for bad2 wrapping %v", err, errBoom)
		}
		r.log()

		kids, err := sup.WhichChildren(ctx)
		if err != nil {
			t.Fatalf("WhichChildren: got %v; want nil", err)
		}
		if got, want := ids(kids), []string{"a", "b", "bad", "sub"}; !slices.Equal(got, want) {
			t.Fatalf("WhichChildren ids: got %q; want %q", got, want)
		}
		for _, k := range kids {
			wantKind := supervisor.TypeWorker
			if k.ID == "sub" {
				wantKind = supervisor.TypeSupervisor
			}
			if k.Type != wantKind || k.Status != strategy.Running {
				t.Errorf("child %s: got kind %v status %v; want %v %v", k.ID, k.Type, k.Status, wantKind, strategy.Running)
			}
			if k.PID == nil || k.PID.Path() != "/top/"+k.ID {
				t.Errorf("child %s: got PID %v; want one with path /top/%s", k.ID, k.PID, k.ID)
			}
		}
		// a's Ref from LookupChild is the PID WhichChildren reports.
		if ref := lookup(t, sup, "a"); ref.PID() != kids[0].PID {
			t.Errorf("LookupChild(a).PID(): got %v; want %v", ref.PID(), kids[0].PID)
		}

		if err := sup.TerminateChild(ctx, "b"); err != nil {
			t.Fatalf("TerminateChild(b): got %v; want nil", err)
		}
		if got, want := r.log(), []string{"stop b shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log of TerminateChild(b): got %q; want %q", got, want)
		}
		if got, want := which(t, sup), []string{"a:running", "b:down", "bad:running", "sub:running"}; !slices.Equal(got, want) {
			t.Errorf("WhichChildren: got %q; want %q", got, want)
		}
		n, err := sup.CountChildren(ctx)
		if err != nil {
			t.Fatalf("CountChildren: got %v; want nil", err)
		}
		if want := (supervisor.Counts{Specs: 4, Active: 3, Supervisors: 1, Workers: 3}); n != want {
			t.Errorf("CountChildren: got %+v; want %+v", n, want)
		}
		sub, ok := supervisor.LookupSupervisor(sup, "sub")
		if !ok {
			t.Fatalf("LookupSupervisor(sub): not found")
		}
		if got, want := which(t, sub), []string{"x:running", "y:running"}; !slices.Equal(got, want) {
			t.Errorf("sub WhichChildren: got %q; want %q", got, want)
		}
		if _, ok := supervisor.LookupSupervisor(sup, "nope"); ok {
			t.Errorf("LookupSupervisor(nope): found; want not found")
		}
		if _, ok := supervisor.LookupChild[int](sup, "a"); ok {
			t.Errorf("LookupChild[int](a): found; want not found (a handles msg)")
		}

		// A terminated child refuses messages until it is restarted.
		b := lookup(t, sup, "b")
		if err := b.Tell(ctx, msg{n: 1}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to a terminated child: got %v; want an error matching %v", err, actor.ErrStopped)
		}
		if err := sup.DeleteChild(ctx, "b"); err != nil {
			t.Errorf("DeleteChild(b): got %v; want nil", err)
		}
		if err := b.Tell(ctx, msg{n: 2}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to a deleted child: got %v; want an error matching %v", err, actor.ErrStopped)
		}
		if err := sup.RestartChild(ctx, "b"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Errorf("RestartChild(deleted b): got %v; want an error matching %v", err, supervisor.ErrNotFound)
		}
		if got := r.deliveries("b"); len(got) != 0 {
			t.Errorf("b handled %v; want nothing", got)
		}

		// Stop stops the children last started first.
		if err := sup.Stop(ctx); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		want := []string{"stop y shutdown", "stop x shutdown", "stop bad shutdown", "stop a shutdown"}
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("log of Stop: got %q; want %q", got, want)
		}
		if err := sup.Wait(ctx); err != nil {
			t.Errorf("Wait after Stop: got %v; want nil", err)
		}
	})
}

// TestCallsOnStoppedSupervisor checks that every call on a stopped
// supervisor returns an error matching actor.ErrStopped at once.
func TestCallsOnStoppedSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a"))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		if err := sup.Stop(ctx); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if err := sup.Stop(ctx); err != nil {
			t.Errorf("second Stop: got %v; want nil", err)
		}
		start := time.Now()
		calls := map[string]func() error{
			"StartChild":     func() error { return sup.StartChild(ctx, r.spec("b", hooks{})) },
			"TerminateChild": func() error { return sup.TerminateChild(ctx, "a") },
			"RestartChild":   func() error { return sup.RestartChild(ctx, "a") },
			"DeleteChild":    func() error { return sup.DeleteChild(ctx, "a") },
			"WhichChildren":  func() error { _, err := sup.WhichChildren(ctx); return err },
			"CountChildren":  func() error { _, err := sup.CountChildren(ctx); return err },
		}
		for name, call := range calls {
			err := call()
			if !errors.Is(err, actor.ErrStopped) || !errors.Is(err, supervisor.ErrStopped) {
				t.Errorf("%s: got %v; want an error matching %v", name, err, actor.ErrStopped)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("calls on a stopped supervisor took %v; want no wait", d)
		}
		if got := r.log(); !slices.Equal(got, []string{"start a", "stop a shutdown"}) {
			t.Errorf("log: got %q; want only a's start and stop", got)
		}
	})
}

// TestCallDuringStop checks that a call queued behind a busy supervisor
// that is then stopped returns an error instead of waiting for its
// context: the supervisor never serves it, and the caller must hear so.
func TestCallDuringStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, release := r.gate()
		slow := r.spec("slow", hooks{stop: func(actor.Context, int, actor.ExitReason) { <-gate }})
		slow.Shutdown = actor.Infinity
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{slow})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()

		// The supervisor is busy stopping slow, which waits for the gate.
		terminated := make(chan error, 1)
		go func() { terminated <- sup.TerminateChild(ctx, "slow") }()
		synctest.Wait()
		// A call queues behind it, then a stop comes in.
		counted := make(chan error, 1)
		go func() { _, err := sup.CountChildren(ctx); counted <- err }()
		synctest.Wait()
		stopped := make(chan error, 1)
		go func() { stopped <- sup.Stop(ctx) }()
		synctest.Wait()
		release()

		if err := await(t, terminated, "TerminateChild"); err != nil {
			t.Errorf("TerminateChild: got %v; want nil", err)
		}
		if err := await(t, stopped, "Stop"); err != nil {
			t.Errorf("Stop: got %v; want nil", err)
		}
		start := time.Now()
		err = await(t, counted, "CountChildren")
		if !errors.Is(err, actor.ErrStopped) {
			t.Errorf("CountChildren during Stop: got %v; want an error matching %v", err, actor.ErrStopped)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("CountChildren returned %v after the supervisor stopped; want at once", d)
		}
	})
}

// TestChildStoppedFromOutside checks what happens when someone other than
// the supervisor stops a child's actor for good (its Ref's Stop): the Ref
// is dead, so the child cannot be restarted in place, and the supervisor
// drops its spec (an Exit with Final set), instead of listing it running.
func TestChildStoppedFromOutside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "w", "c"))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		if err := lookup(t, sup, "w").Stop(ctx); err != nil {
			t.Fatalf("Stop of w's Ref: got %v; want nil", err)
		}
		synctest.Wait()
		if got, want := which(t, sup), []string{"a:running", "c:running"}; !slices.Equal(got, want) {
			t.Errorf("WhichChildren: got %q; want %q", got, want)
		}
		if err := sup.RestartChild(ctx, "w"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Errorf("RestartChild(w): got %v; want an error matching %v", err, supervisor.ErrNotFound)
		}
		if err := sup.StartChild(ctx, r.spec("w", hooks{})); err != nil {
			t.Errorf("StartChild(w) again: got %v; want nil", err)
		}
	})
}
