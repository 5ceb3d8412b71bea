package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// leakedPaths returns the paths of the system's leaked incarnations.
func (r *rig) leakedPaths() []string {
	var out []string
	for _, s := range r.sys.Leaked() {
		out = append(out, s.Path)
	}
	slices.Sort(out)
	return out
}

// TestShutdownTimes checks DESIGN semantic 7 for TerminateChild: a child
// gets its shutdown time to stop, past it it is reported killed, abandoned
// and counted as leaked while its goroutine runs on; BrutalKill kills at
// once without the Stop hook; Infinity waits as long as it takes.
func TestShutdownTimes(t *testing.T) {
	stuck := func(gate <-chan struct{}) func(actor.Context, int, actor.ExitReason) {
		return func(actor.Context, int, actor.ExitReason) { <-gate } // ignores ctx
	}
	cases := []struct {
		name     string
		shutdown time.Duration
		stop     func(gate <-chan struct{}) func(actor.Context, int, actor.ExitReason)
		took     time.Duration
		log      []string
		leaked   bool
	}{
		{
			name: "default", shutdown: 0, stop: stuck, took: supervisor.DefaultShutdown,
			log: []string{"stop x shutdown", "killed x"}, leaked: true,
		},
		{
			name: "100ms", shutdown: 100 * ms, stop: stuck, took: 100 * ms,
			log: []string{"stop x shutdown", "killed x"}, leaked: true,
		},
		{
			name: "brutal kill", shutdown: actor.BrutalKill, stop: stuck, took: 0,
			log: []string{"killed x"},
		},
		{
			name: "infinity", shutdown: actor.Infinity, took: time.Hour,
			stop: func(<-chan struct{}) func(actor.Context, int, actor.ExitReason) {
				return func(actor.Context, int, actor.ExitReason) { time.Sleep(time.Hour) }
			},
			log: []string{"stop x shutdown"},
		},
		{
			name: "in time", shutdown: time.Second, took: 500 * ms,
			stop: func(<-chan struct{}) func(actor.Context, int, actor.ExitReason) {
				return func(actor.Context, int, actor.ExitReason) { time.Sleep(500 * ms) }
			},
			log: []string{"stop x shutdown"},
		},
		{
			name: "hook that watches its context", shutdown: time.Minute, took: 0,
			stop: func(<-chan struct{}) func(actor.Context, int, actor.ExitReason) {
				return func(ctx actor.Context, _ int, _ actor.ExitReason) { <-ctx.Done() }
			},
			log: []string{"stop x shutdown"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				ctx := callCtx(t)
				gate, release := r.gate()
				x := r.spec("x", hooks{stop: func(ctx actor.Context, inst int, reason actor.ExitReason) {
					if inst == 1 {
						tc.stop(gate)(ctx, inst, reason)
					}
				}})
				x.Shutdown = tc.shutdown
				sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), x, r.spec("c", hooks{})})
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				r.log()
				t0 := time.Now()
				if err := sup.TerminateChild(ctx, "x"); err != nil {
					t.Fatalf("TerminateChild: got %v; want nil", err)
				}
				if got := time.Since(t0); got != tc.took {
					t.Errorf("TerminateChild took %v; want %v", got, tc.took)
				}
				if got := r.log(); !slices.Equal(got, tc.log) {
					t.Errorf("log: got %q; want %q", got, tc.log)
				}
				var wantLeaked []string
				if tc.leaked {
					wantLeaked = []string{"/top/x"}
				}
				if got := r.leakedPaths(); !slices.Equal(got, wantLeaked) {
					t.Errorf("Leaked: got %q; want %q", got, wantLeaked)
				}
				// The supervisor goes on: x restarts while its abandoned
				// incarnation (if any) still runs, and everything stops.
				if err := sup.RestartChild(ctx, "x"); err != nil {
					t.Errorf("RestartChild: got %v; want nil", err)
				}
				if err := sup.Stop(ctx); err != nil {
					t.Errorf("Stop: got %v; want nil", err)
				}
				xStop := "stop x shutdown"
				if tc.shutdown == actor.BrutalKill {
					xStop = "killed x"
				}
				want := []string{"start x", "stop c shutdown", xStop, "stop a shutdown"}
				if got := r.log(); !slices.Equal(got, want) {
					t.Errorf("log of restart and Stop: got %q; want %q", got, want)
				}
				release()
				synctest.Wait()
				if got := r.leakedPaths(); len(got) != 0 {
					t.Errorf("Leaked after the hook returned: got %q; want none", got)
				}
			})
		})
	}
}

// TestShutdownStuckChild checks that when the supervisor stops, a child
// stuck in its Stop hook is killed after its shutdown time and the others
// still stop in reverse order; and that the abandoned incarnation is
// fenced: a Tell it makes with its own context returns actor.ErrFenced and
// delivers nothing.
func TestShutdownStuckChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		gate1, release1 := r.gate()
		gate2, release2 := r.gate()
		gates := []<-chan struct{}{gate1, gate2}
		fenced := make(chan error, 2)
		var a actor.Ref[msg] // set before x can stop
		x := r.spec("x", hooks{stop: func(ctx actor.Context, inst int, _ actor.ExitReason) {
			<-gates[inst-1]
			self, _ := actor.Self[msg](ctx)
			fenced <- self.Tell(ctx, msg{n: 1})
			fenced <- a.Tell(ctx, msg{n: 2})
		}})
		x.Shutdown = 100 * ms
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), x, r.spec("c", hooks{})})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		a = lookup(t, sup, "a")
		r.log()
		t0 := time.Now()
		if err := sup.TerminateChild(ctx, "x"); err != nil {
			t.Fatalf("TerminateChild: got %v; want nil", err)
		}
		if got, want := time.Since(t0), 100*ms; got != want {
			t.Errorf("TerminateChild took %v; want %v", got, want)
		}
		if got, want := r.leakedPaths(), []string{"/top/x"}; !slices.Equal(got, want) {
			t.Errorf("Leaked: got %q; want %q", got, want)
		}
		release1()
		for range 2 {
			if err := await(t, fenced, "a Tell from the abandoned incarnation"); !errors.Is(err, actor.ErrFenced) {
				t.Errorf("Tell from the abandoned incarnation: got %v; want an error matching %v", err, actor.ErrFenced)
			}
		}
		synctest.Wait()
		if got := r.deliveries("a"); len(got) != 0 {
			t.Errorf("a handled %v from the fenced incarnation; want nothing", got)
		}
		if got := r.leakedPaths(); len(got) != 0 {
			t.Errorf("Leaked after the hook returned: got %q; want none", got)
		}
		if got, want := len(r.eventsOf(actor.EventLeaked)), 1; got != want {
			t.Errorf("leaked events: got %d; want %d", got, want)
		}

		// Now stop the whole supervisor with x stuck again in the middle.
		if err := sup.RestartChild(ctx, "x"); err != nil {
			t.Fatalf("RestartChild: got %v; want nil", err)
		}
		r.log()
		t0 = time.Now()
		if err := sup.Stop(ctx); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if got, want := time.Since(t0), 100*ms; got != want {
			t.Errorf("Stop took %v; want %v", got, want)
		}
		want := []string{"stop c shutdown", "stop x shutdown", "killed x", "stop a shutdown"}
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("log of Stop: got %q; want %q", got, want)
		}
		if got, want := r.leakedPaths(), []string{"/top/x"}; !slices.Equal(got, want) {
			t.Errorf("Leaked after Stop: got %q; want %q", got, want)
		}
		if err := sup.Wait(ctx); err != nil {
			t.Errorf("Wait: got %v; want nil", err)
		}
		release2()
		for range 2 {
			if err := await(t, fenced, "a Tell from the abandoned incarnation"); !errors.Is(err, actor.ErrFenced) {
				t.Errorf("Tell from the abandoned incarnation after Stop: got %v; want an error matching %v", err, actor.ErrFenced)
			}
		}
	})
}

// TestBrutalKillBusyChild checks that BrutalKill kills a child at once even
// while it is stuck in Receive: the supervisor does not wait, the
// incarnation is leaked until its Receive returns, and it is fenced.
func TestBrutalKillBusyChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		gate, release := r.gate()
		fenced := make(chan error, 1)
		x := r.spec("x", hooks{receive: func(ctx actor.Context, _ int, _ msg) error {
			<-gate
			self, _ := actor.Self[msg](ctx)
			fenced <- self.Tell(ctx, msg{n: 2})
			return nil
		}})
		x.Shutdown = actor.BrutalKill
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), x})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		send(t, lookup(t, sup, "x"), msg{n: 1})
		synctest.Wait() // x is stuck in Receive
		r.log()
		t0 := time.Now()
		if err := sup.TerminateChild(ctx, "x"); err != nil {
			t.Fatalf("TerminateChild: got %v; want nil", err)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("TerminateChild of a brutal-kill child took %v; want 0", d)
		}
		if got, want := r.log(), []string{"killed x"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
		if got, want := r.leakedPaths(), []string{"/top/x"}; !slices.Equal(got, want) {
			t.Errorf("Leaked: got %q; want %q", got, want)
		}
		release()
		if err := await(t, fenced, "the fenced Tell"); !errors.Is(err, actor.ErrFenced) {
			t.Errorf("Tell from the killed incarnation: got %v; want an error matching %v", err, actor.ErrFenced)
		}
		synctest.Wait()
		if got := r.leakedPaths(); len(got) != 0 {
			t.Errorf("Leaked after Receive returned: got %q; want none", got)
		}
		if got, want := r.deliveries("x"), []delivery{{1, 1, 1}}; !slices.Equal(got, want) {
			t.Errorf("deliveries of x: got %v; want %v", got, want)
		}
	})
}

// TestNestedSupervisorShutdownTime checks that a nested supervisor child
// gets its own shutdown time, as any child: past it the parent reports it
// killed and proceeds, even though a grandchild takes longer to stop.
func TestNestedSupervisorShutdownTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		gate, release := r.gate()
		x := r.spec("x", hooks{stop: func(actor.Context, int, actor.ExitReason) { <-gate }})
		x.Shutdown = time.Hour
		sub := supervisor.NewSupervisor("sub", []supervisor.ChildSpec{x})
		sub.Shutdown = 50 * ms
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{sub})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		t0 := time.Now()
		if err := sup.TerminateChild(callCtx(t), "sub"); err != nil {
			t.Errorf("TerminateChild: got %v; want nil", err)
		}
		if got, want := time.Since(t0), 50*ms; got != want {
			t.Errorf("TerminateChild of a supervisor with shutdown %v took %v", want, got)
		}
		release()
	})
}

// TestStopContextBoundsWait checks that Supervisor.Stop returns ctx.Err()
// when ctx ends while its children are still stopping.
func TestStopContextBoundsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		x := r.spec("x", hooks{stop: func(actor.Context, int, actor.ExitReason) { time.Sleep(time.Hour) }})
		x.Shutdown = actor.Infinity
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), x})
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		if err := sup.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop: got %v; want %v", err, context.DeadlineExceeded)
		}
		if got, want := time.Since(t0), time.Second; got != want {
			t.Errorf("Stop returned after %v; want %v", got, want)
		}
		awaitDone(t, sup.Done(), "the supervisor stopping")
	})
}

// TestStartAfterStopSameName checks that once Stop returned, the
// supervisor's name is free for a new Start.
func TestStartAfterStopSameName(t *testing.T) {
	sys := actor.NewSystem()
	defer func() {
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Errorf("system shutdown: %v", err)
		}
	}()
	for i := range 1000 {
		sup, err := supervisor.Start(sys, "top", nil)
		if err != nil {
			t.Fatalf("Start %d right after Stop returned: got %v; want nil", i, err)
		}
		if err := sup.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
	}
}
