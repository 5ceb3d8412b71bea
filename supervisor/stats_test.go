package supervisor_test

import (
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

// childRestarts returns the Restarts of every child of s in WhichChildren,
// by id.
func childRestarts(t *testing.T, s *supervisor.Supervisor) map[string]uint64 {
	t.Helper()
	kids, err := s.WhichChildren(callCtx(t))
	if err != nil {
		t.Fatalf("WhichChildren: got %v; want nil", err)
	}
	out := map[string]uint64{}
	for _, k := range kids {
		out[k.ID] = k.Restarts
	}
	return out
}

// checkStats compares the supervisor's Stats with want.
func checkStats(t *testing.T, what string, s *supervisor.Supervisor, want supervisor.Stats) {
	t.Helper()
	if got := s.Stats(); got != want {
		t.Errorf("%s: Stats: got %+v; want %+v", what, got, want)
	}
}

// TestStatsOneForOne checks the counters of a child that failed N times
// under one-for-one: its Ref's Stats().Restarts and its ChildInfo show N,
// its sibling 0, and the supervisor N restarts, all N inside the window.
func TestStatsOneForOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 7
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "w"), supervisor.WithIntensity(10, time.Minute))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		checkStats(t, "at start", sup, supervisor.Stats{IntensityLimit: 10, Period: time.Minute})
		w := lookup(t, sup, "w")
		for i := 1; i <= n; i++ {
			send(t, w, msg{n: i, failOnce: true})
			synctest.Wait()
			if got := w.Stats().Restarts; got != uint64(i) {
				t.Fatalf("after failure %d: w's Ref Stats().Restarts: got %d; want %d", i, got, i)
			}
		}
		if st := w.Stats(); st.Failures != n {
			t.Errorf("w's Failures: got %d; want %d", st.Failures, n)
		}
		if got := lookup(t, sup, "a").Stats().Restarts; got != 0 {
			t.Errorf("a's Ref Stats().Restarts: got %d; want 0", got)
		}
		if got := childRestarts(t, sup); got["w"] != n || got["a"] != 0 {
			t.Errorf("WhichChildren restarts: got %v; want w:%d a:0", got, n)
		}
		checkStats(t, "after the failures", sup,
			supervisor.Stats{Restarts: n, IntensityUsed: n, IntensityLimit: 10, Period: time.Minute})
	})
}

// TestStatsWindowSlides checks that IntensityUsed counts only the restarts
// inside the last period at the time of the call, so it falls as time
// passes while Restarts keeps counting.
func TestStatsWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const s = time.Second
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"), supervisor.WithIntensity(3, 10*s))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		t0 := time.Now()
		sleepUntil := func(d time.Duration) { time.Sleep(time.Until(t0.Add(d))) }
		for i, d := range []time.Duration{0, 4 * s, 8 * s} { // restarts at 0, 4 s, 8 s
			sleepUntil(d)
			send(t, w, msg{n: i, failOnce: true})
			synctest.Wait()
			if got := sup.Stats().IntensityUsed; got != i+1 {
				t.Fatalf("after the restart at +%v: IntensityUsed: got %d; want %d", d, got, i+1)
			}
		}
		for _, c := range []struct {
			at   time.Duration
			used int
		}{
			{10 * s, 3},    // the restart at 0 is exactly one period old: inside
			{10*s + 1, 2},  // 1 ns later it is out
			{14*s + 1, 1},  // the one at 4 s is out
			{18*s + 1, 0},  // all out
			{time.Hour, 0}, // and stay out
		} {
			sleepUntil(c.at)
			checkStats(t, "at +"+c.at.String(), sup,
				supervisor.Stats{Restarts: 3, IntensityUsed: c.used, IntensityLimit: 3, Period: 10 * s})
		}
		// The window is empty again: three more restarts are allowed.
		for i := range 3 {
			send(t, w, msg{n: 10 + i, failOnce: true})
			synctest.Wait()
		}
		if isClosed(sup.Done()) {
			t.Fatalf("supervisor gave up; want 3 more restarts allowed once the window slid")
		}
		checkStats(t, "after 3 more", sup, supervisor.Stats{Restarts: 6, IntensityUsed: 3, IntensityLimit: 3, Period: 10 * s})
		if got := w.Stats().Restarts; got != 6 {
			t.Errorf("w's Ref Stats().Restarts: got %d; want 6", got)
		}
	})
}

// TestStatsGroupRestart pins what a group restart counts: one restart of
// the supervisor (one entry against its intensity), and one restart of
// every child it restarted.
func TestStatsGroupRestart(t *testing.T) {
	for _, tc := range []struct {
		kind strategy.Strategy
		want map[string]uint64
	}{
		{supervisor.OneForAll, map[string]uint64{"a": 1, "b": 1, "c": 1}},
		{supervisor.RestForOne, map[string]uint64{"a": 0, "b": 1, "c": 1}},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				sup, err := supervisor.Start(r.sys, "top", r.specs("a", "b", "c"),
					supervisor.WithStrategy(tc.kind), supervisor.WithIntensity(5, time.Minute))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				send(t, lookup(t, sup, "b"), msg{failOnce: true})
				synctest.Wait()
				checkStats(t, "after b failed", sup,
					supervisor.Stats{Restarts: 1, IntensityUsed: 1, IntensityLimit: 5, Period: time.Minute})
				got := childRestarts(t, sup)
				for id, want := range tc.want {
					if got[id] != want {
						t.Errorf("WhichChildren restarts of %s: got %d; want %d", id, got[id], want)
					}
					if ref := lookup(t, sup, id).Stats().Restarts; ref != want {
						t.Errorf("%s's Ref Stats().Restarts: got %d; want %d", id, ref, want)
					}
				}
			})
		})
	}
}

// TestStatsFailedRestartRetried pins that a restart whose start fails
// counts against the intensity, and so does its retry, while the child
// counts only the restart that succeeded.
func TestStatsFailedRestartRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		spec := r.spec("w", hooks{start: func(_ actor.Context, inst int) error {
			if inst == 2 || inst == 3 { // the first restart and its first retry fail
				return errBoom
			}
			return nil
		}})
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(5, time.Minute))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		send(t, w, msg{failOnce: true})
		synctest.Wait()
		checkStats(t, "after the retried restart", sup,
			supervisor.Stats{Restarts: 3, IntensityUsed: 3, IntensityLimit: 5, Period: time.Minute})
		if got := w.Stats().Restarts; got != 1 {
			t.Errorf("w's Ref Stats().Restarts: got %d; want 1 (failed starts do not count)", got)
		}
		if got := childRestarts(t, sup)["w"]; got != 1 {
			t.Errorf("WhichChildren restarts of w: got %d; want 1", got)
		}
	})
}

// TestStatsRestartChild pins that RestartChild restarts the child (its
// count grows) without counting against the supervisor's intensity.
func TestStatsRestartChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		ctx := callCtx(t)
		for range 2 {
			if err := sup.TerminateChild(ctx, "w"); err != nil {
				t.Fatalf("TerminateChild: got %v; want nil", err)
			}
			if err := sup.RestartChild(ctx, "w"); err != nil {
				t.Fatalf("RestartChild: got %v; want nil", err)
			}
		}
		if got := childRestarts(t, sup)["w"]; got != 2 {
			t.Errorf("WhichChildren restarts of w: got %d; want 2", got)
		}
		if got := lookup(t, sup, "w").Stats().Restarts; got != 2 {
			t.Errorf("w's Ref Stats().Restarts: got %d; want 2", got)
		}
		checkStats(t, "after RestartChild", sup,
			supervisor.Stats{IntensityLimit: supervisor.DefaultIntensity, Period: supervisor.DefaultPeriod})
	})
}

// TestStatsBackoff pins that a delayed restart counts for the supervisor
// when it is decided, and for the child when it starts.
func TestStatsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"),
			supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Second}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		send(t, w, msg{failOnce: true})
		synctest.Wait()
		if got := which(t, sup); len(got) != 1 || got[0] != "w:restarting" {
			t.Fatalf("WhichChildren during the backoff: got %q; want [w:restarting]", got)
		}
		checkStats(t, "during the backoff", sup,
			supervisor.Stats{Restarts: 1, IntensityUsed: 1, IntensityLimit: supervisor.DefaultIntensity, Period: supervisor.DefaultPeriod})
		if got := w.Stats().Restarts; got != 0 {
			t.Errorf("w's Ref Stats().Restarts during the backoff: got %d; want 0", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := w.Stats().Restarts; got != 1 {
			t.Errorf("w's Ref Stats().Restarts after the backoff: got %d; want 1", got)
		}
	})
}

// TestStatsGaveUp checks a top-level supervisor that gave up: GaveUp is 1
// and IntensityUsed exceeds the limit by the refused restart, read after
// it stopped.
func TestStatsGaveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"), supervisor.WithIntensity(2, time.Minute))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		for i := range 3 {
			send(t, w, msg{n: i, failOnce: true})
			synctest.Wait()
		}
		awaitDone(t, sup.Done(), "the supervisor giving up")
		checkStats(t, "after giving up", sup,
			supervisor.Stats{Restarts: 2, GaveUp: 1, IntensityUsed: 3, IntensityLimit: 2, Period: time.Minute})
	})
}

// TestStatsEscalation checks the counters of a nested supervisor that
// gave up, as seen through LookupSupervisor, and of its parent that
// restarted it.
func TestStatsEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		inner := supervisor.NewSupervisor("inner", r.specs("w"), supervisor.WithIntensity(1, time.Minute))
		top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{r.spec("a", hooks{}), inner},
			supervisor.WithIntensity(3, time.Minute))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		in, ok := supervisor.LookupSupervisor(top, "inner")
		if !ok {
			t.Fatalf("LookupSupervisor(inner): not found")
		}
		checkStats(t, "inner at start", in, supervisor.Stats{IntensityLimit: 1, Period: time.Minute})
		started := r.started("w")
		for i := 1; i <= 2; i++ { // the second failure exceeds inner's intensity
			send(t, await(t, started, "a start of w"), msg{n: i, failOnce: true})
			synctest.Wait()
		}
		await(t, started, "w started by the restarted inner")
		synctest.Wait()
		if isClosed(top.Done()) {
			t.Fatalf("top stopped; want it to restart inner")
		}
		// inner restarted once, then gave up; top restarted it with an
		// empty history.
		checkStats(t, "inner, by the old handle", in, supervisor.Stats{Restarts: 1, GaveUp: 1, IntensityLimit: 1, Period: time.Minute})
		again, ok := supervisor.LookupSupervisor(top, "inner")
		if !ok {
			t.Fatalf("LookupSupervisor(inner) after its restart: not found")
		}
		checkStats(t, "inner, by a new handle", again, supervisor.Stats{Restarts: 1, GaveUp: 1, IntensityLimit: 1, Period: time.Minute})
		checkStats(t, "top", top, supervisor.Stats{Restarts: 1, IntensityUsed: 1, IntensityLimit: 3, Period: time.Minute})
		kids, err := top.WhichChildren(callCtx(t))
		if err != nil {
			t.Fatalf("WhichChildren: got %v; want nil", err)
		}
		for _, k := range kids {
			want := uint64(0)
			if k.ID == "inner" {
				want = 1
			}
			if k.Restarts != want || k.PID.Stats().Restarts != want {
				t.Errorf("child %s: ChildInfo.Restarts %d, PID Stats().Restarts %d; want %d", k.ID, k.Restarts, k.PID.Stats().Restarts, want)
			}
		}
	})
}

// TestStatsDoNotWait checks that Stats returns at once while the
// supervisor's goroutine is stuck: in a child's Start during a restart,
// and in HandleExit stopping a sibling for a group restart. A
// WhichChildren call, which the supervisor serves, waits meanwhile.
func TestStatsDoNotWait(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *rig, gate <-chan struct{}) (*supervisor.Supervisor, actor.Ref[msg], error)
	}{
		{"in a child's Start", func(r *rig, gate <-chan struct{}) (*supervisor.Supervisor, actor.Ref[msg], error) {
			spec := r.spec("w", hooks{start: func(_ actor.Context, inst int) error {
				if inst == 2 {
					<-gate
				}
				return nil
			}})
			sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{spec}, supervisor.WithIntensity(5, time.Minute))
			if err != nil {
				return nil, actor.Ref[msg]{}, err
			}
			return sup, lookup(r.t, sup, "w"), nil
		}},
		{"in HandleExit", func(r *rig, gate <-chan struct{}) (*supervisor.Supervisor, actor.Ref[msg], error) {
			a := r.spec("a", hooks{stop: func(_ actor.Context, inst int, _ actor.ExitReason) {
				if inst == 1 {
					<-gate
				}
			}})
			a.Shutdown = actor.Infinity
			sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{a, r.spec("w", hooks{})},
				supervisor.WithStrategy(supervisor.OneForAll), supervisor.WithIntensity(5, time.Minute))
			if err != nil {
				return nil, actor.Ref[msg]{}, err
			}
			return sup, lookup(r.t, sup, "w"), nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				gate, release := r.gate()
				sup, w, err := tc.setup(r, gate)
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				send(t, w, msg{failOnce: true})
				synctest.Wait() // the supervisor is now stuck on the gate
				which := make(chan []supervisor.ChildInfo, 1)
				ctx := callCtx(t)
				// Owner: this goroutine waits for WhichChildren, which the
				// stuck supervisor serves once the gate opens.
				go func() {
					kids, _ := sup.WhichChildren(ctx)
					which <- kids
				}()
				stats := make(chan supervisor.Stats, 1)
				// Owner: this goroutine reads Stats and ends at once.
				go func() { stats <- sup.Stats() }()
				synctest.Wait()
				select {
				case <-which:
					t.Fatalf("WhichChildren returned; want it to wait for the stuck supervisor")
				default:
				}
				select {
				case st := <-stats:
					if want := (supervisor.Stats{Restarts: 1, IntensityUsed: 1, IntensityLimit: 5, Period: time.Minute}); st != want {
						t.Errorf("Stats while stuck: got %+v; want %+v", st, want)
					}
				default:
					t.Fatalf("Stats did not return while the supervisor is stuck")
				}
				release()
				kids := await(t, which, "WhichChildren after the gate opened")
				for _, k := range kids {
					if k.Restarts != 1 {
						t.Errorf("child %s restarts: got %d; want 1", k.ID, k.Restarts)
					}
				}
			})
		})
	}
}

// TestStatsConcurrentReads reads the counters of a supervisor and of a
// nested one from other goroutines while they restart children (for the
// race detector), and checks that they only grow.
func TestStatsConcurrentReads(t *testing.T) {
	const n = 200
	r := newRig(t)
	inner := supervisor.NewSupervisor("inner", r.specs("w"), supervisor.WithIntensity(n, time.Hour))
	top, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{inner}, supervisor.WithIntensity(1, time.Hour))
	if err != nil {
		t.Fatalf("Start: got %v; want nil", err)
	}
	in, ok := supervisor.LookupSupervisor(top, "inner")
	if !ok {
		t.Fatalf("LookupSupervisor(inner): not found")
	}
	w, ok := supervisor.LookupChild[msg](in, "w")
	if !ok {
		t.Fatalf("LookupChild(w): not found")
	}
	stop := make(chan struct{})
	done := make(chan error, 2)
	for _, s := range []*supervisor.Supervisor{top, in} {
		// Owner: this goroutine reads s's counters until stop is closed.
		go func() {
			var last supervisor.Stats
			for {
				st := s.Stats()
				if st.Restarts < last.Restarts || st.IntensityUsed > st.IntensityLimit+1 {
					done <- fmt.Errorf("%s: Stats went from %+v to %+v", s.Path(), last, st)
					return
				}
				last = st
				runtime.Gosched()
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
			}
		}()
	}
	started := r.started("w")
	within(t, 10*time.Second, started, "the first start of w")
	for i := 1; i <= n; i++ {
		send(t, w, msg{n: i, failOnce: true})
		within(t, 10*time.Second, started, "a restart of w")
	}
	close(stop)
	for range 2 {
		if err := within(t, 10*time.Second, done, "a reader"); err != nil {
			t.Error(err)
		}
	}
	// w's Start hook signals before its start is complete; WhichChildren
	// is served after it.
	if got := childRestarts(t, in)["w"]; got != n {
		t.Errorf("WhichChildren restarts of w: got %d; want %d", got, n)
	}
	if st := in.Stats(); st.Restarts != n || st.IntensityUsed != n {
		t.Errorf("inner Stats: got %+v; want %d restarts, all inside the window", st, n)
	}
	if got := w.Stats().Restarts; got != n {
		t.Errorf("w's Ref Stats().Restarts: got %d; want %d", got, n)
	}
}
