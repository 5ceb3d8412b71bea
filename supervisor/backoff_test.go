package supervisor_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/mailbox"
	"github.com/troupe-go/troupe/strategy"
	"github.com/troupe-go/troupe/supervisor"
)

const ms = time.Millisecond

// backoffDelays returns the delays of the EventBackoff events of path.
func (r *rig) backoffDelays(path string) []time.Duration {
	var out []time.Duration
	for _, e := range r.eventsOf(actor.EventBackoff) {
		if e.Path == path {
			out = append(out, e.Delay)
		}
	}
	return out
}

// attempts records the time of every start attempt of a child, the failed
// ones included.
type attempts struct {
	mu sync.Mutex
	at []time.Time
}

func (a *attempts) add() {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

func (a *attempts) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}

// gaps returns the durations between consecutive times.
func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// TestBackoffDelaysGrow checks, on the fake clock, that the restart delays
// of a child that keeps failing grow from Min by Factor up to Max, that
// each is announced by an EventBackoff, and that each restart happens
// exactly when its delay has elapsed: not before, and not later.
func TestBackoffDelaysGrow(t *testing.T) {
	const good = 8 // the start attempt (or delivery attempt) that succeeds
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}
	cases := []struct {
		name      string
		hk        func(a *attempts) hooks
		restarted int // EventRestarted: successful restarts
	}{
		{
			name: "fails on every start",
			hk: func(a *attempts) hooks {
				return hooks{
					start: func(_ actor.Context, inst int) error {
						a.add()
						if inst > 1 && inst < good {
							return errBoom
						}
						return nil
					},
					receive: func(ctx actor.Context, _ int, m msg) error {
						if m.fail && ctx.Attempt() == 1 {
							return errBoom
						}
						return nil
					},
				}
			},
			restarted: 1,
		},
		{
			name:      "fails on every message",
			restarted: good - 1,
			hk: func(a *attempts) hooks {
				return hooks{
					start: func(actor.Context, int) error { a.add(); return nil },
					receive: func(ctx actor.Context, _ int, m msg) error {
						if m.fail && ctx.Attempt() < good {
							return errBoom
						}
						return nil
					},
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				a := &attempts{}
				spec := r.spec("w", tc.hk(a), actor.WithMaxAttempts(100))
				sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{spec},
					supervisor.WithIntensity(100, time.Hour),
					supervisor.WithBackoff(strategy.Backoff{Min: 100 * ms, Max: time.Second, Factor: 2}))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				await(t, r.started("w"), "first start of w")
				failedAt := time.Now()
				send(t, lookup(t, sup, "w"), msg{n: 1, fail: true})
				for len(a.times()) < good {
					await(t, r.started("w"), "start of w after the backoffs")
				}
				synctest.Wait()

				if got := r.backoffDelays("/top/w"); !slices.Equal(got, want) {
					t.Errorf("backoff delays: got %v; want %v", got, want)
				}
				// Attempt k+1 happened exactly want[k] after attempt k (or
				// after the failure, for the first restart).
				ts := a.times()
				if len(ts) != good {
					t.Fatalf("start attempts: got %d; want %d", len(ts), good)
				}
				got := gaps(append([]time.Time{failedAt}, ts[1:]...))
				if !slices.Equal(got, want) {
					t.Errorf("time between start attempts: got %v; want %v", got, want)
				}
				if got, want := len(r.eventsOf(actor.EventRestarted)), tc.restarted; got != want {
					t.Errorf("restarted events: got %d; want %d", got, want)
				}
			})
		})
	}
}

// TestBackoffJitter checks that with jitter every delay stays within the
// documented bounds [base×(1−J), min(base×(1+J), Max)], that the jitter
// really spreads them, that a seeded source makes them reproducible, and
// that the restarts still happen exactly when the jittered delays end.
func TestBackoffJitter(t *testing.T) {
	const fails = 10
	b := strategy.Backoff{Min: 100 * ms, Max: time.Second, Factor: 2, Jitter: 0.5}
	run := func(t *testing.T, seed uint64) []time.Duration {
		var delays []time.Duration
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t)
			a := &attempts{}
			spec := r.spec("w", hooks{
				start: func(actor.Context, int) error { a.add(); return nil },
				receive: func(ctx actor.Context, _ int, m msg) error {
					if m.fail && ctx.Attempt() <= fails {
						return errBoom
					}
					return nil
				},
			}, actor.WithMaxAttempts(100))
			sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{spec},
				supervisor.WithIntensity(100, time.Hour),
				supervisor.WithBackoff(b),
				supervisor.WithRand(rand.New(rand.NewPCG(seed, seed+1))))
			if err != nil {
				t.Fatalf("Start: got %v; want nil", err)
			}
			send(t, lookup(t, sup, "w"), msg{fail: true})
			for range fails + 1 {
				await(t, r.started("w"), "start of w")
			}
			synctest.Wait()
			delays = r.backoffDelays("/top/w")
			if got := gaps(a.times()); !slices.Equal(got, delays) {
				t.Errorf("time between starts: got %v; want the backoff delays %v", got, delays)
			}
		})
		return delays
	}
	delays := run(t, 1)
	if len(delays) != fails {
		t.Fatalf("backoff events: got %d; want %d", len(delays), fails)
	}
	base := b.Min
	spread := false
	for i, d := range delays {
		lo := time.Duration(float64(base) * (1 - b.Jitter))
		hi := min(time.Duration(float64(base)*(1+b.Jitter)), b.Max)
		if d < lo || d > hi {
			t.Errorf("delay %d: got %v; want within [%v, %v]", i, d, lo, hi)
		}
		if d != base {
			spread = true
		}
		base = min(2*base, b.Max)
	}
	if !spread {
		t.Errorf("delays %v: every one equals its un-jittered base; want jitter", delays)
	}
	if again := run(t, 1); !slices.Equal(again, delays) {
		t.Errorf("same seed: got delays %v; want %v", again, delays)
	}
	if other := run(t, 99); slices.Equal(other, delays) {
		t.Errorf("another seed: got the same delays %v; want different ones", other)
	}
}

// TestBackoffReset checks that the delay keeps growing while the child
// fails soon after each restart, and goes back to Min once the child ran
// for ResetAfter; also that a restart does not happen one tick early.
func TestBackoffReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"),
			supervisor.WithIntensity(100, time.Hour),
			supervisor.WithBackoff(strategy.Backoff{Min: 100 * ms, Max: time.Second, ResetAfter: 2 * time.Second}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		started := r.started("w")
		await(t, started, "first start")
		ref := lookup(t, sup, "w")

		// The first restart: not at 99ms, at 100ms.
		t0 := time.Now()
		send(t, ref, msg{failOnce: true})
		time.Sleep(99 * ms)
		synctest.Wait()
		if len(started) != 0 {
			t.Fatalf("w restarted after %v; want not before 100ms", time.Since(t0))
		}
		await(t, started, "restart 1")
		if got, want := time.Since(t0), 100*ms; got != want {
			t.Errorf("restart 1 after: got %v; want %v", got, want)
		}

		steps := []struct {
			ran  time.Duration // how long the child runs before it fails
			want time.Duration // the next delay
		}{
			{0, 200 * ms},
			{0, 400 * ms},
			{time.Second, 800 * ms},           // shorter than ResetAfter
			{2*time.Second - ms, time.Second}, // still shorter
			{2 * time.Second, 100 * ms},       // reset
			{0, 200 * ms},
			{5 * time.Second, 100 * ms}, // reset
		}
		for i, st := range steps {
			time.Sleep(st.ran)
			t0 := time.Now()
			send(t, ref, msg{failOnce: true})
			await(t, started, "restart")
			if got := time.Since(t0); got != st.want {
				t.Errorf("step %d: ran %v, restarted after %v; want %v", i, st.ran, got, st.want)
			}
		}
		want := []time.Duration{100 * ms}
		for _, st := range steps {
			want = append(want, st.want)
		}
		if got := r.backoffDelays("/top/w"); !slices.Equal(got, want) {
			t.Errorf("backoff delays: got %v; want %v", got, want)
		}
	})
}

// TestBackoffRestartingChild checks the dynamic API on a child waiting in
// backoff: it is reported restarting and not active, RestartChild and
// DeleteChild refuse with ErrRestarting, and TerminateChild cancels the
// pending restart.
func TestBackoffRestartingChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		ctx := callCtx(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "w"),
			supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Second}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		send(t, lookup(t, sup, "w"), msg{failOnce: true})
		synctest.Wait()
		if got, want := which(t, sup), []string{"a:running", "w:restarting"}; !slices.Equal(got, want) {
			t.Errorf("WhichChildren in backoff: got %q; want %q", got, want)
		}
		n, err := sup.CountChildren(ctx)
		if want := (supervisor.Counts{Specs: 2, Active: 1, Workers: 2}); err != nil || n != want {
			t.Errorf("CountChildren in backoff: got %+v, %v; want %+v, nil", n, err, want)
		}
		if err := sup.RestartChild(ctx, "w"); !errors.Is(err, supervisor.ErrRestarting) {
			t.Errorf("RestartChild in backoff: got %v; want an error matching %v", err, supervisor.ErrRestarting)
		}
		if err := sup.DeleteChild(ctx, "w"); !errors.Is(err, supervisor.ErrRestarting) {
			t.Errorf("DeleteChild in backoff: got %v; want an error matching %v", err, supervisor.ErrRestarting)
		}
		if err := sup.StartChild(ctx, r.spec("w", hooks{})); !errors.Is(err, supervisor.ErrAlreadyPresent) {
			t.Errorf("StartChild in backoff: got %v; want an error matching %v", err, supervisor.ErrAlreadyPresent)
		}
		r.log()
		if err := sup.TerminateChild(ctx, "w"); err != nil {
			t.Fatalf("TerminateChild in backoff: got %v; want nil", err)
		}
		time.Sleep(time.Hour) // long past the backoff
		synctest.Wait()
		if got := r.log(); len(got) != 0 {
			t.Errorf("log after terminating a child in backoff: got %q; want nothing", got)
		}
		if got, want := which(t, sup), []string{"a:running", "w:down"}; !slices.Equal(got, want) {
			t.Errorf("WhichChildren: got %q; want %q", got, want)
		}
		if err := sup.RestartChild(ctx, "w"); err != nil {
			t.Errorf("RestartChild: got %v; want nil", err)
		}
		if got, want := r.log(), []string{"start w"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q", got, want)
		}
	})
}

// TestBackoffKeepsMessages checks DESIGN semantic 6: during backoff the
// child's mailbox keeps its messages, which the fresh incarnation handles
// in order when the delay ends; a bounded mailbox pushes back on senders
// until then (Tell blocks, TryTell reports ErrFull, a Tell whose context
// ends first gives up).
func TestBackoffKeepsMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		const delay = time.Second
		spec := r.spec("w", hooks{}, actor.WithMailbox(2, mailbox.Block))
		sup, err := supervisor.Start(r.sys, "top", []supervisor.ChildSpec{spec},
			supervisor.WithBackoff(strategy.Backoff{Min: delay, Max: delay}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		started := r.started("w")
		await(t, started, "first start")
		ref := lookup(t, sup, "w")
		t0 := time.Now()
		send(t, ref, msg{n: 0, failOnce: true})
		synctest.Wait() // w failed and waits in backoff
		send(t, ref, msg{n: 1})
		send(t, ref, msg{n: 2})
		if err := ref.TryTell(msg{n: 99}); !errors.Is(err, actor.ErrFull) {
			t.Errorf("TryTell on the full mailbox in backoff: got %v; want an error matching %v", err, actor.ErrFull)
		}
		short, cancel := context.WithTimeout(context.Background(), delay/4)
		defer cancel()
		if err := ref.Tell(short, msg{n: 98}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Tell whose context ends during backoff: got %v; want %v", err, context.DeadlineExceeded)
		}
		if got, want := time.Since(t0), delay/4; got != want {
			t.Errorf("that Tell returned after %v; want %v", got, want)
		}
		told := make(chan time.Duration, 1)
		go func() {
			if err := ref.Tell(callCtx(t), msg{n: 3}); err != nil {
				t.Errorf("blocked Tell: got %v; want nil", err)
			}
			told <- time.Since(t0)
		}()
		synctest.Wait()
		if len(told) != 0 {
			t.Fatalf("Tell on the full mailbox returned during backoff; want it blocked")
		}
		if got := await(t, told, "the blocked Tell"); got != delay {
			t.Errorf("the blocked Tell returned after %v; want %v (when the child came back)", got, delay)
		}
		synctest.Wait()
		want := []delivery{{1, 0, 1}, {2, 0, 2}, {2, 1, 1}, {2, 2, 1}, {2, 3, 1}}
		if got := r.deliveries("w"); !slices.Equal(got, want) {
			t.Errorf("deliveries {inst n attempt}: got %v; want %v", got, want)
		}
		if got, want := r.startTimes("w")[1].Sub(t0), delay; got != want {
			t.Errorf("restart after: got %v; want %v", got, want)
		}
		if got := r.sys.DeadLetters(); got != 0 {
			t.Errorf("dead letters: got %d; want 0", got)
		}
	})
}

// TestBackoffGroup checks that under one-for-all and rest-for-one with
// backoff the affected children stop at once, in reverse start order, and
// restart in start order when the delay ends; meanwhile the failed child
// is restarting, the others of the group are down, and messages sent to
// them are kept for their fresh incarnations.
func TestBackoffGroup(t *testing.T) {
	cases := []struct {
		name    string
		kind    strategy.Strategy
		stopped []string // log at the failure
		waiting []string // WhichChildren during the backoff
		started []string // log when the delay ends
	}{
		{
			name:    "one_for_all",
			kind:    supervisor.OneForAll,
			stopped: []string{"stop b failure", "stop c shutdown", "stop a shutdown"},
			waiting: []string{"a:down", "b:restarting", "c:down"},
			started: []string{"start a", "start b", "start c"},
		},
		{
			name:    "rest_for_one",
			kind:    supervisor.RestForOne,
			stopped: []string{"stop b failure", "stop c shutdown"},
			waiting: []string{"a:running", "b:restarting", "c:down"},
			started: []string{"start b", "start c"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t)
				sup, err := supervisor.Start(r.sys, "top", r.specs("a", "b", "c"),
					supervisor.WithStrategy(tc.kind),
					supervisor.WithBackoff(strategy.Backoff{Min: 100 * ms, Max: time.Second}))
				if err != nil {
					t.Fatalf("Start: got %v; want nil", err)
				}
				r.log()
				t0 := time.Now()
				send(t, lookup(t, sup, "b"), msg{failOnce: true})
				synctest.Wait()
				if got := r.log(); !slices.Equal(got, tc.stopped) {
					t.Errorf("log at the failure: got %q; want %q", got, tc.stopped)
				}
				if got := which(t, sup); !slices.Equal(got, tc.waiting) {
					t.Errorf("WhichChildren in backoff: got %q; want %q", got, tc.waiting)
				}
				c := lookup(t, sup, "c")
				send(t, c, msg{n: 1})
				send(t, c, msg{n: 2})
				time.Sleep(100*ms - 1)
				synctest.Wait()
				if got := r.log(); len(got) != 0 {
					t.Errorf("log before the delay ended: got %q; want nothing", got)
				}
				time.Sleep(1)
				synctest.Wait()
				if got := r.log(); !slices.Equal(got, tc.started) {
					t.Errorf("log after the delay: got %q; want %q", got, tc.started)
				}
				for _, id := range []string{"b", "c"} {
					ts := r.startTimes(id)
					if got, want := ts[len(ts)-1].Sub(t0), 100*ms; got != want {
						t.Errorf("%s restarted after %v; want %v", id, got, want)
					}
				}
				if got, want := which(t, sup), []string{"a:running", "b:running", "c:running"}; !slices.Equal(got, want) {
					t.Errorf("WhichChildren after the delay: got %q; want %q", got, want)
				}
				if got, want := r.deliveries("c"), []delivery{{2, 1, 1}, {2, 2, 1}}; !slices.Equal(got, want) {
					t.Errorf("deliveries of c: got %v; want %v", got, want)
				}
			})
		})
	}
}

// TestStopDuringBackoff checks that stopping a supervisor while a child
// waits in backoff cancels the restart, and that the messages the child
// kept go to dead letters, counted: nothing is silently lost.
func TestStopDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("a", "w"),
			supervisor.WithBackoff(strategy.Backoff{Min: time.Second, Max: time.Second}))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		w := lookup(t, sup, "w")
		send(t, w, msg{n: 0, failOnce: true})
		synctest.Wait()
		send(t, w, msg{n: 1})
		send(t, w, msg{n: 2})
		r.log()
		t0 := time.Now()
		if err := sup.Stop(callCtx(t)); err != nil {
			t.Fatalf("Stop: got %v; want nil", err)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("Stop took %v; want 0 (it must not wait for the backoff)", d)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got, want := r.log(), []string{"stop a shutdown"}; !slices.Equal(got, want) {
			t.Errorf("log: got %q; want %q (no restart of w)", got, want)
		}
		if got, want := r.sys.DeadLetters(), uint64(3); got != want {
			t.Errorf("dead letters: got %d; want %d (the failed message and the two queued)", got, want)
		}
		st := w.Stats()
		if st.Accepted != st.Processed+st.DeadLettered+st.Dropped+uint64(st.InFlight) || st.DeadLettered != 3 {
			t.Errorf("Stats of w: got %+v; want 3 dead-lettered and the books balanced", st)
		}
	})
}

// TestBackoffZeroIsOTP checks that without backoff restarts are immediate
// and no EventBackoff is emitted.
func TestBackoffZeroIsOTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		sup, err := supervisor.Start(r.sys, "top", r.specs("w"), supervisor.WithIntensity(10, time.Second))
		if err != nil {
			t.Fatalf("Start: got %v; want nil", err)
		}
		t0 := time.Now()
		for range 3 {
			send(t, lookup(t, sup, "w"), msg{failOnce: true})
			synctest.Wait()
		}
		if got := len(r.startTimes("w")); got != 4 {
			t.Errorf("starts: got %d; want 4", got)
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("restarts took %v; want 0", d)
		}
		if got := r.eventsOf(actor.EventBackoff); len(got) != 0 {
			t.Errorf("backoff events: got %v; want none", got)
		}
	})
}
