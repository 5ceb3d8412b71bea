package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// eventPaths returns the paths of the events of kind k, in order.
func (r *rig) eventPaths(k actor.EventKind) []string {
	var out []string
	for _, e := range r.eventsOf(k) {
		out = append(out, e.Path)
	}
	return out
}

// TestIntensityGivesUp checks that more than MaxRestarts restarts within
// the period make the supervisor stop its children in reverse start order
// and stop itself, that Wait then returns a *GaveUpError matching
// ErrGaveUp, and that EventGaveUp and EventEscalated are emitted.
func TestIntensityGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "w", "c"), supervisor.WithIntensity(2, time.Second))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		for i := 1; i <= 2; i++ {
			send(t, w, msg{n: i, failOnce: true})
			synctest.Wait()
			if isClosed(sup.Done()) {
				t.Fatalf("supervisor stopped after %d failures; want it to restart w", i)
			}
		}
		r.log()
		send(t, w, msg{n: 3, failOnce: true})
		awaitDone(t, sup.Done(), "the supervisor giving up")
		if got, want := r.log(), []string{"stop w failure", "stop c shutdown", "stop a shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log of the give-up: got %q; want %q", got, want)
		}
		err = sup.Wait(ctx)
		if !errors.Is(err, supervisor.ErrGaveUp) || errors.Is(err, supervisor.ErrAutoShutdown) {
			t.Fatalf("Wait: got %v; want an error matching ErrGaveUp only", err)
		}
		var gu *supervisor.GaveUpError
		if !errors.As(err, &gu) || gu.Path != "/top" || gu.Child != "w" || gu.Auto {
			t.Errorf("Wait: got %#v; want a *GaveUpError for child w of /top", err)
		}
		if again := sup.Wait(ctx); again != err {
			t.Errorf("second Wait: got %v; want %v", again, err)
		}
		if got, want := r.eventPaths(actor.EventGaveUp), []string{"/top"}; !slices.Equal(got, want) {
			t.Errorf("gave-up events: got %q; want %q", got, want)
		}
		// A root supervisor has no parent to escalate to.
		if got := r.eventPaths(actor.EventEscalated); len(got) != 0 {
			t.Errorf("escalated events: got %q; want none", got)
		}
		for _, e := range r.eventsOf(actor.EventGaveUp) {
			if !errors.Is(e.Err, supervisor.ErrGaveUp) {
				t.Errorf("gave-up event error: got %v; want one matching ErrGaveUp", e.Err)
			}
		}
		if _, err := sup.WhichChildren(ctx); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("WhichChildren after giving up: got %v; want an error matching %v", err, actor.ErrStopped)
		}
		if err := w.Tell(ctx, msg{}); !errors.Is(err, actor.ErrStopped) {
			t.Errorf("Tell to a child of a stopped supervisor: got %v; want an error matching %v", err, actor.ErrStopped)
		}
	})
}

// TestIntensityWindow checks where the restart window lies: failures
// spaced wider than the period never make the supervisor give up, closer
// ones do at the first restart beyond MaxRestarts.
func TestIntensityWindow(t *testing.T) {
	cases := []struct {
		max     int
		period  time.Duration
		spacing time.Duration
		fails   int
		gaveUp  int // the failure after which it gave up; 0 = never
	}{
		{max: 2, period: time.Second, spacing: 0, fails: 3, gaveUp: 3},
		{max: 2, period: time.Second, spacing: 400 * ms, fails: 5, gaveUp: 3},
		{max: 2, period: time.Second, spacing: 600 * ms, fails: 10},
		{max: 2, period: time.Second, spacing: time.Second + ms, fails: 10},
		{max: 0, period: time.Second, spacing: 0, fails: 1, gaveUp: 1},
		{max: 1, period: time.Second, spacing: 999 * ms, fails: 3, gaveUp: 2},
		{max: 1, period: time.Second, spacing: time.Second, fails: 3, gaveUp: 2}, // the window is closed: now-period <= r
		{max: 1, period: time.Second, spacing: time.Second + time.Nanosecond, fails: 10},
		{max: 5, period: time.Minute, spacing: 10 * time.Second, fails: 10, gaveUp: 6},
		{max: 5, period: time.Minute, spacing: 13 * time.Second, fails: 20},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d in %v every %v", tc.max, tc.period, tc.spacing)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				sup, err := supervisor.Start(r.sys, "top", r.specs("w"), supervisor.WithIntensity(tc.max, tc.period))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				w := lookup(t, sup, "w")
				for i := 1; i <= tc.fails; i++ {
					if i > 1 {
						time.Sleep(tc.spacing)
					}
					send(t, w, msg{n: i, failOnce: true})
					synctest.Wait()
					if got, want := isClosed(sup.Done()), i == tc.gaveUp; got != want {
						t.Fatalf("after failure %d: supervisor stopped: got %v; want %v", i, got, want)
					}
					if i == tc.gaveUp {
						break
					}
				}
				if tc.gaveUp == 0 {
					if got, want := len(r.startTimes("w")), tc.fails+1; got != want {
						t.Errorf("starts of w: got %d; want %d", got, want)
					}
					return
				}
				if err := sup.Wait(callCtx(t)); !errors.Is(err, supervisor.ErrGaveUp) {
					t.Errorf("Wait: got %v; want an error matching ErrGaveUp", err)
				}
			})
		})
	}
}

// TestIntensityDefault checks OTP's default intensity: 1 restart in 5s.
func TestIntensityDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		send(t, w, msg{failOnce: true})
		time.Sleep(supervisor.DefaultPeriod + ms)
		send(t, w, msg{failOnce: true})
		synctest.Wait()
		if isClosed(sup.Done()) {
			t.Fatalf("supervisor gave up on failures %v apart; want a restart", supervisor.DefaultPeriod+ms)
		}
		time.Sleep(supervisor.DefaultPeriod - ms)
		send(t, w, msg{failOnce: true})
		awaitDone(t, sup.Done(), "the supervisor giving up")
		if err := sup.Wait(callCtx(t)); !errors.Is(err, supervisor.ErrGaveUp) {
			t.Errorf("Wait: got %v; want an error matching ErrGaveUp", err)
		}
	})
}

// TestIntensityCountsFailedStarts checks that retries after failed starts
// count as restarts, with backoff between them, and that the supervisor
// gives up when they exceed the intensity, at the time the backoffs add up
// to.
func TestIntensityCountsFailedStarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		spec := r.spec("w", hooks{start: func(_ actor.Context, inst int) error {
			if inst > 1 {
				return errBoom
			}
			return nil
		}})
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), spec},
			supervisor.WithIntensity(2, 10*time.Second),
			supervisor.WithBackoff(strategy.Backoff{Min: 100 * ms, Max: time.Second}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		r.log()
		t0 := time.Now()
		send(t, lookup(t, sup, "w"), msg{failOnce: true})
		awaitDone(t, sup.Done(), "the supervisor giving up")
		if got, want := time.Since(t0), 300*ms; got != want {
			t.Errorf("gave up after %v; want %v (100ms + 200ms of backoff)", got, want)
		}
		want := []string{"stop w failure", "start_failed w", "start_failed w", "stop a shutdown"}
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
		if got, want := r.backoffDelays("/top/w"), []time.Duration{100 * ms, 200 * ms}; !slices.Equal(got, want) {
			t.Errorf("backoff delays: got %v; want %v", got, want)
		}
		var gu *supervisor.GaveUpError
		if err := sup.Wait(callCtx(t)); !errors.As(err, &gu) || gu.Child != "w" || !errors.Is(err, supervisor.ErrGaveUp) {
			t.Errorf("Wait: got %v; want a *GaveUpError for w matching ErrGaveUp", err)
		}
	})
}

// TestEscalationThreeLevels checks escalation through a nested tree: the
// innermost supervisor gives up at once, the middle one restarts it until
// its own intensity is exceeded and gives up, the top restarts the middle
// one once and gives up the second time; the top's Wait reports it.
func TestEscalationThreeLevels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		inner := supervisor.NewSupervisor("inner", r.specs("w"), supervisor.WithIntensity(0, time.Minute))
		mid := supervisor.NewSupervisor("mid", []supervisor.ChildSpec{inner}, supervisor.WithIntensity(2, time.Minute))
		top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), mid},
			supervisor.WithIntensity(1, time.Minute))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		started := r.started("w")
		var gaveUp []string
		for i := 1; i <= 6; i++ {
			w := await(t, started, "a start of w")
			if got, want := w.Path(), "/top/mid/inner/w"; got != want {
				t.Fatalf("w's path: got %q; want %q", got, want)
			}
			// failOnce: w's Ref and mailbox survive the restarts of its
			// subtree, so the failed message is redelivered (and handled)
			// by w's next incarnation; each send is one failure.
			send(t, w, msg{n: i, failOnce: true})
			synctest.Wait()
			gaveUp = append(gaveUp, "/top/mid/inner")
			if i%3 == 0 {
				gaveUp = append(gaveUp, "/top/mid")
			}
			if got, want := isClosed(top.Done()), i == 6; got != want {
				t.Fatalf("after failure %d: top stopped: got %v; want %v", i, got, want)
			}
		}
		gaveUp = append(gaveUp, "/top")
		if got := r.eventPaths(actor.EventGaveUp); !slices.Equal(got, gaveUp) {
			t.Errorf("gave-up events: got %q; want %q", got, gaveUp)
		}
		// Every supervisor that gave up escalated, except the root.
		if got, want := r.eventPaths(actor.EventEscalated), gaveUp[:len(gaveUp)-1]; !slices.Equal(got, want) {
			t.Errorf("escalated events: got %q; want %q", got, want)
		}
		var gu *supervisor.GaveUpError
		err = top.Wait(callCtx(t))
		if !errors.As(err, &gu) || gu.Path != "/top" || gu.Child != "mid" || !errors.Is(err, supervisor.ErrGaveUp) {
			t.Errorf("top Wait: got %v; want a *GaveUpError for child mid of /top", err)
		}
		if got, want := len(r.startTimes("a")), 1; got != want {
			t.Errorf("starts of a: got %d; want %d (one-for-one leaves it alone)", got, want)
		}
	})
}

// TestEscalationDepth checks that with intensity 0 at every level one
// failure escalates through a tree of any depth: each level gives up in
// turn, innermost first, stopping its own other children, and the top's
// Wait reports it.
func TestEscalationDepth(t *testing.T) {
	for _, depth := range []int{1, 2, 3, 5, 8} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				zero := supervisor.WithIntensity(0, time.Minute)
				// Level L (1 = top) has a worker sL, then level L+1; the
				// deepest level has sD, then w.
				var kids []supervisor.ChildSpec
				wpath := "/top"
				for l := 2; l <= depth; l++ {
					wpath += fmt.Sprintf("/l%d", l)
				}
				wpath += "/w"
				kids = []supervisor.ChildSpec{r.spec(fmt.Sprintf("s%d", depth), hooks{}), r.spec("w", hooks{})}
				for l := depth; l >= 2; l-- {
					sub := supervisor.NewSupervisor(fmt.Sprintf("l%d", l), kids, zero)
					kids = []supervisor.ChildSpec{r.spec(fmt.Sprintf("s%d", l-1), hooks{}), sub}
				}
				top, err := supervisor.Start(r.sys, "top", kids, zero)
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				w := await(t, r.started("w"), "start of w")
				if w.Path() != wpath {
					t.Fatalf("w's path: got %q; want %q", w.Path(), wpath)
				}
				r.log()
				send(t, w, msg{fail: true})
				awaitDone(t, top.Done(), "the top giving up")

				wantLog := []string{"stop w failure"}
				var wantUp []string
				p := wpath
				for l := depth; l >= 1; l-- {
					wantLog = append(wantLog, fmt.Sprintf("stop s%d shutdown", l))
					p = p[:strings.LastIndex(p, "/")]
					wantUp = append(wantUp, p)
				}
				if got := r.log(); !slices.Equal(got, wantLog) {
					t.Errorf("log: got %q; want %q", got, wantLog)
				}
				if got := r.eventPaths(actor.EventGaveUp); !slices.Equal(got, wantUp) {
					t.Errorf("gave-up events: got %q; want %q", got, wantUp)
				}
				wantChild := "w"
				if depth > 1 {
					wantChild = "l2"
				}
				var gu *supervisor.GaveUpError
				err = top.Wait(callCtx(t))
				if !errors.As(err, &gu) || gu.Child != wantChild || !errors.Is(err, supervisor.ErrGaveUp) {
					t.Errorf("top Wait: got %v; want a *GaveUpError for child %s", err, wantChild)
				}
			})
		})
	}
}

// TestRootFailureFromWait checks that a root supervisor that ends for good
// by a failure, not by giving up, reports that failure from Wait rather
// than nil: here it is killed, the runtime restarts it in place, and its
// init fails on every retry.
func TestRootFailureFromWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		errInit := errors.New("init failed")
		inits := 0
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "b"), supervisor.WithInit(func(actor.Context) error {
			inits++
			if inits > 1 {
				return errInit
			}
			return nil
		}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		r.log()
		sup.PID().Kill()
		awaitDone(t, sup.Done(), "the supervisor stopping")
		if got, want := r.log(), []string{"stop b shutdown", "stop a shutdown", "killed top"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
		err = sup.Wait(callCtx(t))
		if !errors.Is(err, errInit) || errors.Is(err, supervisor.ErrGaveUp) {
			t.Errorf("Wait: got %v; want an error matching %v", err, errInit)
		}
	})
}

// TestWaitAfterStop checks that Wait returns nil after Stop and StopNow,
// and ctx.Err() while the supervisor runs.
func TestWaitAfterStop(t *testing.T) {
	for _, now := range []bool{false, true} {
		t.Run(fmt.Sprint("now=", now), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				sup, err := supervisor.Start(r.sys, "top", r.specs("a"))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				short, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := sup.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Wait on a running supervisor: got %v; want %v", err, context.DeadlineExceeded)
				}
				if now {
					sup.PID().StopNow()
				} else if err := sup.Stop(callCtx(t)); err != nil {
					t.Fatalf("Stop: got %v; want nil", err)
				}
				if err := sup.Wait(callCtx(t)); err != nil {
					t.Errorf("Wait: got %v; want nil", err)
				}
			})
		})
	}
}
